import { createHash, timingSafeEqual } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { RelayResult } from './adapters/relay.js';
import type { LoginEventResult as LoginResult, LoginProtocol } from './core/logins.js';

export interface Metrics {
  readonly registry: Registry;
  login(protocol: LoginProtocol, result: LoginResult): void;
  /** The hasher's observer: one argon2 operation and how long it took. */
  observeHash(op: 'hash' | 'verify', seconds: number): void;
  /** The auth service's observer: a login answered from the cache of recent logins, or by argon2. */
  observeAuthVerify(result: 'hit' | 'miss'): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** A message's outcome at the relay (SPEC §9). */
  relayed(result: RelayResult): void;
  /** SPEC §15: a login reached its hourly or daily sending limit, the first time in that window. */
  sendLimitReached(window: 'hour' | 'day'): void;
  /** GET /metrics: Prometheus text for `Authorization: Bearer <token>`, 401 for anything else. */
  handler: RequestHandler;
}

export interface MetricsDeps {
  token: string;
  /** Counted on each scrape: files and bytes waiting in the spool. */
  spoolDir: string;
}

// argon2id with the default m=19456,t=2 takes tens of milliseconds; a second means the pool is saturated.
const ARGON2_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

async function spoolUsage(dir: string): Promise<{ files: number; bytes: number }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return { files: 0, bytes: 0 };
  }
  let bytes = 0;
  let files = 0;
  for (const e of entries) {
    if (!e.isFile()) continue;
    // A file taken by a delivery agent between readdir and stat is simply not counted.
    const size = await stat(path.join(dir, e.name)).then((s) => s.size, () => null);
    if (size === null) continue;
    files++;
    bytes += size;
  }
  return { files, bytes };
}

/** Hashes both sides first, so the comparison takes the same time whatever the lengths. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** mailpass's Prometheus metrics in a registry of their own (never prom-client's global one). */
export function createMetrics({ token, spoolDir }: MetricsDeps): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const logins = new Counter({
    name: 'mailpass_logins_total',
    help: 'Login attempts by protocol and result',
    labelNames: ['protocol', 'result'] as const,
    registers: [registry],
  });
  const argon2 = new Histogram({
    name: 'mailpass_argon2_seconds',
    help: 'Duration of argon2id operations (hash or verify), queueing for the thread pool included',
    labelNames: ['op'] as const,
    buckets: ARGON2_BUCKETS,
    registers: [registry],
  });
  const authVerify = new Counter({
    name: 'mailpass_auth_cache_lookups_total',
    help: 'Mailbox and credential password checks answered from the cache of recent logins (hit) or by argon2 (miss)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const http = new Histogram({
    name: 'mailpass_http_request_duration_seconds',
    help: 'Duration of HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const relayed = new Counter({
    name: 'mailpass_relayed_messages_total',
    help: 'Messages handed to the relay (RELAY_URL) by result: relayed (2xx), refused (5xx), deferred (4xx), failed (unreachable, dropped, aborted)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const result of ['relayed', 'refused', 'deferred', 'failed'] as const) relayed.labels(result).inc(0);
  const limitReached = new Counter({
    name: 'mailpass_send_limit_reached_total',
    help: 'Logins that reached a sending limit (SPEC 15), once per login and window, by window: hour or day',
    labelNames: ['window'] as const,
    registers: [registry],
  });
  for (const window of ['hour', 'day'] as const) limitReached.labels(window).inc(0);
  const spoolFiles = new Gauge({ name: 'mailpass_spool_files', help: 'Files waiting in the spool (.eml and .json)', registers: [registry] });
  const spoolBytes = new Gauge({ name: 'mailpass_spool_bytes', help: 'Bytes waiting in the spool', registers: [registry] });

  for (const protocol of ['smtp', 'web', 'api'] as const) {
    for (const result of ['success', 'failure', 'locked'] as const) logins.labels(protocol, result).inc(0);
  }

  const handler: RequestHandler = async (req, res, next) => {
    if (req.path !== '/' || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    res.set('Cache-Control', 'no-store');
    const auth = req.get('authorization') ?? '';
    const given = /^Bearer (\S+)$/i.exec(auth)?.[1];
    if (given === undefined || !sameToken(given, token)) {
      res.set('WWW-Authenticate', 'Bearer realm="metrics"');
      return res.status(401).type('text/plain').send('Unauthorized\n');
    }
    const usage = await spoolUsage(spoolDir);
    spoolFiles.set(usage.files);
    spoolBytes.set(usage.bytes);
    res.type(registry.contentType).send(await registry.metrics());
  };

  return {
    registry,
    login: (protocol, result) => logins.labels(protocol, result).inc(),
    observeHash: (op, seconds) => argon2.labels(op).observe(seconds),
    observeAuthVerify: (result) => authVerify.labels(result).inc(),
    observeRequest: (method, route, status, seconds) => http.labels(method, route, String(status)).observe(seconds),
    relayed: (result) => relayed.labels(result).inc(),
    sendLimitReached: (window) => limitReached.labels(window).inc(),
    handler,
  };
}
