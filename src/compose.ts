import cluster from 'node:cluster';
import type { Config } from './config.js';
import type { HashObserver } from './adapters/argon2-hasher.js';
import { createHasherThread, type HasherThread } from './adapters/argon2-thread.js';
import { createDkimSigner } from './adapters/dkim-signer.js';
import { createDnsResolver } from './adapters/dns-resolver.js';
import { createDoveadmKicker } from './adapters/doveadm.js';
import { createTranslator } from './adapters/i18n.js';
import { createOidcClient } from './adapters/oidc.js';
import { createSpool } from './adapters/spool.js';
import { createWebhookSender } from './adapters/webhook-sender.js';
import { createLoginBatcher } from './adapters/login-batcher.js';
import { createStrengthEstimator } from './adapters/strength-estimator.js';
import { createWorkerAccountEvents } from './cluster.js';
import type { Clock, Logger, Mailer, Relay } from './core/ports.js';
import type { SendLimitStore } from './core/ports/send-limits.js';
import { createServices, type Adapters, type ServiceDeps, type Services } from './services.js';
import type { StoredLimitCounters } from './store/limit-counters.js';
import { openStore } from './store/open.js';
import { createPgAccountEvents } from './store/postgres/notify.js';
import type { Db } from './store/sqlite/db.js';

// The composition root of every process (the server in main.ts, each CLI command): it opens the
// store and builds the adapters, and hands them to the services. Nothing below it builds either.

export interface Opened {
  services: Services;
  adapters: Adapters & { counters: StoredLimitCounters; hasher: HasherThread };
  /** The main SQLite connection (null on PostgreSQL): fault tests set pragmas on it. */
  db: Db | null;
  /** The SQLite connection that writes web sessions (see createSqliteStores; null on PostgreSQL). */
  sessionsDb: Db | null;
  /** Writes what is pending, stops the workers and closes the database. */
  close(): Promise<void>;
}

/** Opens the database of `config` with every adapter, and the services over them. */
export async function openServices(
  config: Config,
  log: Logger,
  options: {
    observeHash?: HashObserver;
    onLogin?: ServiceDeps['onLogin'];
    onAuthVerify?: ServiceDeps['onAuthVerify'];
    onSendLimitReached?: ServiceDeps['onSendLimitReached'];
    clock?: Clock;
    /** SPEC §9: the relay of accepted mail and alerts (null: none; mail is spooled, alerts become notices). */
    relay?: Relay | null;
    mailer?: Mailer | null;
    /** In place of the store's own (benchmarks compare against one that counts nothing). */
    sendLimits?: SendLimitStore;
  } = {},
): Promise<Opened> {
  const { stores, counters, db, sessionsDb, pool, end } = await openStore(config);
  // On PostgreSQL, a change made by any node reaches every node's live sessions (SPEC §12).
  const events = pool && config.database ? createPgAccountEvents({ url: config.database.url, pool, log: log.child({ component: 'listen' }) }) : null;
  await events?.start();
  // A worker of WORKERS=N on SQLite hears the other workers' changes through the primary.
  const workerEvents = !events && cluster.isWorker ? createWorkerAccountEvents() : undefined;
  const adapters = {
    stores: options.sendLimits ? { ...stores, sendLimits: options.sendLimits } : stores,
    hasher: createHasherThread(config.argon2, undefined, options.observeHash),
    estimator: createStrengthEstimator(),
    // New networks are told once the batch that holds them is written.
    batcher: createLoginBatcher({ stores, log: log.child({ component: 'login-batcher' }), onNewNetworks: (seen) => services.alerts.newNetworks(seen) }),
    counters,
    mailer: options.mailer ?? null,
    dkimSigner: createDkimSigner(log.child({ component: 'dkim' })),
    dns: createDnsResolver({ servers: config.dnsServers }),
    imap: config.doveadm ? createDoveadmKicker({ url: config.doveadm.url, apiKey: config.doveadm.apiKey, log: log.child({ component: 'doveadm' }) }) : null,
    relay: options.relay ?? null,
    spool: createSpool(config.dataDir, config.smtp.maxMessageBytes),
    translator: createTranslator(),
    oidc: config.oidc ? createOidcClient(config.oidc) : null,
    webhookSender: createWebhookSender({ allowPrivate: config.webhookAllowPrivate, dnsServers: config.dnsServers }),
  };
  const services = createServices({ config, adapters, log, clock: options.clock, events: events ?? workerEvents, onLogin: options.onLogin, onAuthVerify: options.onAuthVerify, onSendLimitReached: options.onSendLimitReached });
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await services.webhookDeliveries.stop();
      await adapters.batcher.stop();
      await services.recovery.settled();
      await services.alerts.settled();
      await adapters.imap?.settled();
      await adapters.estimator.close();
      await adapters.hasher.close();
      await adapters.counters.close();
      await events?.close();
      adapters.webhookSender.close();
      await end();
    })());
  return { services, adapters, db, sessionsDb, close };
}
