import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Logger } from '../../src/core/ports.js';

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
};

export const ADMIN_PASSWORD = TEST_ENV.INITIAL_ADMIN_PASSWORD!;

/** A fresh data directory in the system's temp dir, removed by `cleanup()`. */
export function tempDataDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testConfig(dataDir: string, env: Env = {}): Config {
  return loadConfig({ ...TEST_ENV, DATA_DIR: dataDir, ...env });
}

export const silentLog: Logger = createLogger('silent');
