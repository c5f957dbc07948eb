import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { Config } from '../config.js';
import type { Logger } from '../core/ports.js';
import type { Services } from '../services.js';
import { createHooks } from './hooks.js';
import { createLiveSessions } from './live-sessions.js';
import { netServerOf, setCloseTimeout } from './internals.js';
import { loadTls } from './tls.js';

/** smtp-server's own log calls, routed into ours at debug level (they name users, never passwords). */
function libraryLogger(log: Logger) {
  const write = (level: 'debug' | 'warn' | 'error') => (obj: unknown, ...rest: unknown[]) => {
    const meta = typeof obj === 'object' && obj !== null ? obj : {};
    const msg = typeof obj === 'string' ? obj : typeof rest[0] === 'string' ? rest[0] : '';
    log[level]({ lib: meta }, msg);
  };
  return { info: write('debug'), debug: write('debug'), trace: write('debug'), warn: write('warn'), error: write('error'), fatal: write('error') };
}

export interface SmtpListeners {
  /** Ports bound (0 when that listener is off). */
  ports: { smtp: number; smtps: number };
  /** True while every configured listener accepts connections. */
  healthy(): boolean;
  /** Stops accepting, lets sessions finish (at most `graceMs`), then closes the rest with 421. */
  close(graceMs?: number): Promise<void>;
}

export interface SmtpDeps {
  config: Config;
  services: Services;
  log: Logger;
  /** Ports to bind instead of the configured ones (null: off, 0: any free port), for tests and benchmarks. */
  bind?: { smtp: number | null; smtps: number | null };
}

/** STARTTLS on SMTP_PORT and implicit TLS on SMTPS_PORT, sharing one set of hooks over the core. */
export async function startSmtp({ config, services, log, bind }: SmtpDeps): Promise<SmtpListeners> {
  const tls = await loadTls({
    dataDir: config.dataDir,
    hostname: config.smtpHostname,
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
  });
  await services.submission.ready();
  const live = createLiveSessions({ readStates: services.logins.accountStates, events: services.events, log });
  const servers: SMTPServer[] = [];
  const hooks = createHooks(() => servers, { services, live, log, maxMessageBytes: config.smtp.maxMessageBytes, maxClientsPerIp: config.smtp.maxClientsPerIp });

  const base: SMTPServerOptions = {
    name: config.smtpHostname,
    banner: 'mailpass ESMTP submission',
    key: tls.key,
    cert: tls.cert,
    minVersion: 'TLSv1.2',
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    // AUTH is required for MAIL FROM; the hook answers 530 5.7.0 itself.
    authOptional: true,
    size: config.smtp.maxMessageBytes,
    maxClients: config.smtp.maxClients,
    socketTimeout: config.smtp.socketTimeoutSeconds * 1000,
    closeTimeout: 10_000,
    disableReverseLookup: !config.smtp.reverseDns,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    disabledCommands: [],
    // An AUTH PLAIN line of the longest login and password is about 1.6 kB; nothing valid is longer.
    maxCommandLength: 4096,
    logger: libraryLogger(log) as never,
    ...hooks,
  } as SMTPServerOptions;

  const listen = (port: number, secure: boolean) =>
    new Promise<{ server: SMTPServer; port: number }>((resolve, reject) => {
      const server = new SMTPServer({ ...base, secure });
      server.on('error', (err) => log.warn({ err, secure }, 'smtp connection error'));
      const net = netServerOf(server);
      net.once('error', reject);
      server.listen(port, config.smtpHost, () => {
        net.off('error', reject);
        servers.push(server);
        resolve({ server, port: (net.address() as AddressInfo).port });
      });
    });

  const ports = { smtp: 0, smtps: 0 };
  const started: SMTPServer[] = [];
  const wanted = bind ?? { smtp: config.smtpPort || null, smtps: config.smtpsPort || null };
  if (wanted.smtp !== null) {
    const { server, port } = await listen(wanted.smtp, false);
    started.push(server);
    ports.smtp = port;
  }
  if (wanted.smtps !== null) {
    const { server, port } = await listen(wanted.smtps, true);
    started.push(server);
    ports.smtps = port;
  }
  log.info({ ...ports, host: config.smtpHost, selfSigned: tls.selfSigned }, 'smtp listening');

  return {
    ports,
    healthy: () => started.every((s) => netServerOf(s).listening),
    async close(graceMs = 10_000) {
      live.stop();
      await Promise.all(
        started.map(
          (s) =>
            new Promise<void>((resolve) => {
              setCloseTimeout(s, graceMs);
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
