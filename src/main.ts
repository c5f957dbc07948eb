import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Logger } from './core/ports.js';
import { createLogger } from './log.js';
import { readFileSync } from 'node:fs';
import { createRelay } from './adapters/relay.js';
import { createRelayMailer } from './adapters/relay-mailer.js';
import type { SendLimitStore } from './core/ports/send-limits.js';
import { createMetrics } from './metrics.js';
import { openServices } from './compose.js';
import type { Adapters, Services } from './services.js';
import type { Db } from './store/sqlite/db.js';
import { startSmtp } from './smtp/server.js';
import { loadTls } from './smtp/tls.js';
import { runPrimary } from './cluster.js';
import { createApp } from './web/app.js';

export interface RunningServer {
  httpPort: number;
  smtpPorts: { smtp: number; smtps: number };
  services: Services;
  /** The adapters under the services, for tests that set up data or look beneath the use cases. */
  adapters: Adapters;
  /** The server's own SQLite connection (null on PostgreSQL): fault tests set pragmas on it (query_only, max_page_count). */
  db: Db | null;
  /** Its connection for web sessions (null on PostgreSQL): a fault that hits the file hits both. */
  sessionsDb: Db | null;
  close(): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
  /** Where the initial admin password line goes: the terminal (stderr), never the JSON log stream on stdout. */
  print?: (line: string) => void;
  /** SMTP ports to bind instead of the configured ones (null: off, 0: any free port). */
  smtpBind?: { smtp: number | null; smtps: number | null };
  /** Benchmarks only: sending limits over another store (`npm run bench` compares against one that counts nothing). */
  sendLimits?: SendLimitStore;
}

const SHUTDOWN_GRACE_MS = 10_000;

const readCa = (file: string) => {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`RELAY_TLS_CA_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
};

/** The composition root: config → store → services → web (+ SMTP); returns a handle that closes it all. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const metrics = config.metricsToken ? createMetrics({ token: config.metricsToken, spoolDir: path.join(config.dataDir, 'spool') }) : null;
  const relay = config.relay
    ? createRelay({
        target: {
          host: config.relay.host,
          port: config.relay.port,
          implicitTls: config.relay.implicitTls,
          starttls: config.relay.starttls,
          auth: config.relay.auth,
          ca: config.relay.caFile ? readCa(config.relay.caFile) : undefined,
          heloName: config.smtpHostname,
          timeoutMs: config.relay.timeoutSeconds * 1000,
        },
        maxConnections: config.relay.maxConnections,
        log: log.child({ component: 'relay', relay: config.relay.shown }),
        onResult: metrics?.relayed,
      })
    : null;
  const { services, adapters, db, sessionsDb, close: closeServices } = await openServices(config, log, {
    relay,
    sendLimits: options.sendLimits,
    onSendLimitReached: metrics?.sendLimitReached,
    mailer: relay ? createRelayMailer(relay, config.smtpHostname) : null,
    observeHash: metrics?.observeHash,
    onAuthVerify: metrics?.observeAuthVerify,
    onLogin: metrics ? (e) => metrics.login(e.protocol, e.result) : undefined,
  });

  // In the background: from the first request on, an unknown login costs what a wrong password costs.
  services.logins.warmUp().catch((err: unknown) => log.warn({ err }, 'auth warm-up failed'));
  await services.logins.prepare();
  // 'avx2' where the processor has AVX2 and the build made dist/native/argon2-avx2.node, else 'package'.
  log.info({ component: 'argon2', build: await adapters.hasher.build() }, 'argon2 build chosen');
  const initial = await services.admins.ensureInitialAdmin(config.initialAdminPassword);
  if (initial.generatedPassword) print(`Initial admin password: ${initial.generatedPassword}`);

  if (!relay) log.warn({ component: 'smtp' }, 'RELAY_URL is not set: accepted mail is only spooled in data/spool/');
  const smtp = await startSmtp({
    config,
    services,
    log: log.child({ component: 'smtp' }),
    bind: options.smtpBind,
  });
  const app = await createApp({
    services,
    log: log.child({ component: 'web' }),
    healthChecks: [smtp.healthy],
    mounts: metrics ? [{ path: '/metrics', handler: metrics.handler }] : [],
    observeRequest: metrics?.observeRequest,
  });
  const server = http.createServer(app);
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  let stopping = false;
  // While stopping, a keep-alive connection ends once its response is out, not keepAliveTimeout later.
  server.on('request', (_req, res: http.ServerResponse) => {
    res.once('finish', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const httpPort = (server.address() as AddressInfo).port;
  log.info({ component: 'web', host: config.host, port: httpPort }, 'web panel listening');

  const prune = setInterval(() => {
    services.sessions.prune().catch((err: unknown) => log.warn({ err }, 'session prune failed'));
    adapters.counters.prune().catch((err: unknown) => log.warn({ err }, 'login limit prune failed'));
    services.database.prune().catch((err: unknown) => log.warn({ err }, 'login history and audit prune failed'));
  }, 60_000);
  prune.unref();
  // SPEC §19: every node and worker polls the outbox; a webhook's lease makes one of them its sender.
  services.webhookDeliveries.start();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(prune);
      stopping = true;
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await Promise.all([httpClosed, smtp.close(SHUTDOWN_GRACE_MS)]);
      await services.recovery.settled();
      await services.alerts.settled();
      await relay?.close();
      clearTimeout(grace);
      await closeServices();
      log.info({}, 'stopped');
    })());
  return { httpPort, smtpPorts: smtp.ports, services, adapters, db, sessionsDb, close };
}

export async function prepareOnce(config: Config, log: Logger) {
  const { services, close } = await openServices(config, log);
  try {
    const initial = await services.admins.ensureInitialAdmin(config.initialAdminPassword);
    if (initial.generatedPassword) process.stderr.write(`Initial admin password: ${initial.generatedPassword}\n`);
  } finally {
    await close();
  }
  if (config.smtpPort !== 0 || config.smtpsPort !== 0) {
    await loadTls({ dataDir: config.dataDir, hostname: config.smtpHostname, certFile: config.tlsCertFile, keyFile: config.tlsKeyFile });
  }
}

/** `npm start` and `mailpass serve`: start, then stop gracefully on SIGTERM or SIGINT (WORKERS=N: a primary and its workers). */
export async function serve(env = process.env): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mailpass: invalid configuration: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  // Signals are taken from the first moment, before anything is started or logged: a SIGTERM that
  // comes while a process starts (a worker the primary replaced a moment before it was told to stop,
  // a primary told to stop as soon as it said it started) stops it once started, with exit 0,
  // instead of killing it half-started by the signal's default action.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // Each worker's lines say which process wrote them.
  const log = cluster.isWorker ? createLogger(config.logLevel).child({ pid: process.pid }) : createLogger(config.logLevel);
  if (config.workers > 1 && cluster.isPrimary) {
    // What must happen once, before the workers race for it: migrations, the first admin (its
    // password printed once) and the self-signed certificate.
    try {
      await prepareOnce(config, log);
    } catch (err) {
      log.error({ err }, 'start failed');
      process.stderr.write(`mailpass: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    return runPrimary({ workers: config.workers, log, stopSignal });
  }
  let running: RunningServer;
  try {
    running = await startServer(config, { log });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ err }, 'start failed');
    process.stderr.write(`mailpass: could not start: ${message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      running.close().then(
        () => {
          // A worker's channel to its primary would keep it alive: it goes with the listeners.
          if (cluster.isWorker) cluster.worker?.disconnect();
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.stderr.write(`mailpass: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
          resolve(1);
        },
      );
    };
    void stopSignal.then(stop);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await serve();
}
