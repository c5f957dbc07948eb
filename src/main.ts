import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Logger } from './core/ports.js';
import { createLogger } from './log.js';
import { createMetrics, webLoginResult } from './metrics.js';
import { createServices } from './services.js';
import { openDatabase, type Db } from './store/sqlite/db.js';
import { createSqliteStore } from './store/sqlite/sqlite-store.js';
import { startSmtp } from './smtp/server.js';
import { createApp } from './web/app.js';

export interface RunningServer {
  httpPort: number;
  smtpPorts: { smtp: number; smtps: number };
  services: ReturnType<typeof createServices>;
  /** The server's own database connection: fault tests set pragmas on it (query_only, max_page_count). */
  db: Db;
  close(): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
  /** Where the initial admin password line goes (stdout by default). */
  print?: (line: string) => void;
  /** SMTP ports to bind instead of the configured ones (null: off, 0: any free port). */
  smtpBind?: { smtp: number | null; smtps: number | null };
}

const SHUTDOWN_GRACE_MS = 10_000;

/** The composition root: config → store → services → web (+ SMTP); returns a handle that closes it all. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const db = openDatabase(config.dbFile);
  const store = createSqliteStore(db);
  const metrics = config.metricsToken ? createMetrics({ token: config.metricsToken, spoolDir: path.join(config.dataDir, 'spool') }) : null;
  const services = createServices({ config, store, log, observeHash: metrics?.observeHash, onAuthVerify: metrics?.observeAuthVerify });

  // In the background: from the first request on, an unknown login costs what a wrong password costs.
  services.auth.warmUp().catch((err: unknown) => log.warn({ err }, 'auth warm-up failed'));
  const initial = await services.admins.ensureInitialAdmin(config.initialAdminPassword);
  if (initial.generatedPassword) print(`Initial admin password: ${initial.generatedPassword}`);

  const smtp = await startSmtp({
    config,
    services,
    log: log.child({ component: 'smtp' }),
    bind: options.smtpBind,
    onLogin: metrics ? (result) => metrics.login('smtp', result) : undefined,
  });
  const app = await createApp({
    services,
    log: log.child({ component: 'web' }),
    healthChecks: [smtp.healthy],
    mounts: metrics ? [{ path: '/metrics', handler: metrics.handler }] : [],
    observeRequest: metrics
      ? (method, route, status, seconds) => {
          metrics.observeRequest(method, route, status, seconds);
          const login = webLoginResult(method, route, status);
          if (login) metrics.login('web', login);
        }
      : undefined,
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
    store.pruneSessions(services.clock.now()).catch((err: unknown) => log.warn({ err }, 'session prune failed'));
  }, 60_000);
  prune.unref();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(prune);
      stopping = true;
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await Promise.all([httpClosed, smtp.close(SHUTDOWN_GRACE_MS)]);
      clearTimeout(grace);
      await services.batcher.stop();
      await services.estimator.close();
      store.close();
      log.info({}, 'stopped');
    })());
  return { httpPort, smtpPorts: smtp.ports, services, db, close };
}

/** `npm start` and `mailpass serve`: start, then stop gracefully on SIGTERM or SIGINT. */
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
  const log = createLogger(config.logLevel);
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
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await serve();
}
