import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Logger } from '../../src/core/ports.js';
import { createDatabase } from '../../scripts/pg-cluster.mjs';

/** Cheap argon2 for tests: the parameters are configuration, the code path is the same. */
export const TEST_ENV: Env = {
  HOST: '127.0.0.1',
  PORT: '0',
  SMTP_PORT: '0',
  SMTPS_PORT: '0',
  SMTP_HOSTNAME: 'mail.test',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  ARGON2_PARALLELISM: '1',
  LOG_LEVEL: 'silent',
  INITIAL_ADMIN_PASSWORD: 'Sup3r-Bo55.Pass',
  // Every test connects from loopback; the per-address limit has tests of its own.
  SMTP_MAX_CLIENTS_PER_IP: '1000',
  // A failed login waits for this floor before it answers; its own test sets it (core/failure-floor).
  LOGIN_FAILURE_DELAY_MS: '0',
};

export const ADMIN_PASSWORD = TEST_ENV.INITIAL_ADMIN_PASSWORD!;

/** A fresh data directory in the system's temp dir, removed by `cleanup()`. */
export function tempDataDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Set by scripts/run-tests.mjs for the PostgreSQL half of the suite: its private cluster's URL. */
const TEST_PG = process.env.MAILPASS_TEST_PG;
const databases = new Map<string, string>();

/**
 * On PostgreSQL (the suite's second half), each data directory gets a database of its own, made
 * empty on first use: a test that opens one data directory twice opens one database twice.
 */
export function databaseOf(dataDir: string): string {
  let url = databases.get(dataDir);
  if (!url) {
    url = createDatabase(TEST_PG!, `t_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`);
    databases.set(dataDir, url);
  }
  return url;
}

export function testConfig(dataDir: string, env: Env = {}): Config {
  return loadConfig({ ...TEST_ENV, DATA_DIR: dataDir, ...(TEST_PG && !('DATABASE_URL' in env) ? { DATABASE_URL: databaseOf(dataDir) } : {}), ...env });
}

/** The database setting of a CLI run (on PostgreSQL: the database of its --data-dir or DATA_DIR). */
export function storeEnvOf(argv: readonly string[], env: Env): Env {
  // A test that names DATABASE_URL (even as undefined: SQLite) chooses its store itself.
  if (!TEST_PG || 'DATABASE_URL' in env) return {};
  const i = argv.indexOf('--data-dir');
  const dataDir = i >= 0 ? argv[i + 1] : env.DATA_DIR;
  return dataDir ? { DATABASE_URL: databaseOf(dataDir) } : {};
}

/** Which store this run of the suite is on. */
export const TEST_STORE: 'sqlite' | 'postgres' = TEST_PG ? 'postgres' : 'sqlite';

export const silentLog: Logger = createLogger('silent');
