// `npm test`: type-check everything, then run every test file with node's test runner, twice:
// on SQLite (the default store), then on PostgreSQL in a private cluster (SPEC §12), when
// PostgreSQL's server programs are installed. (Node 20's runner takes no globs: files are listed here.)
// `npm test -- <files>` runs those files on SQLite; with MAILPASS_TEST_STORE=postgres, on PostgreSQL.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPgBin, startCluster } from './pg-cluster.mjs';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return find(file);
    return name.endsWith('.test.ts') ? [file] : [];
  });
}

/** What only SQLite has: these files run in the SQLite half alone. */
const SQLITE_ONLY = new Map([
  ['test/faults/storage.test.ts', "SQLite's lock, read-only and full-disk faults"],
  ['test/ops/backup-restore.test.ts', "SQLite's online backup and restore (PostgreSQL has pg_dump)"],
  ['test/store/migrations.test.ts', "SQLite's migration files"],
  ['test/security/secrets.test.ts', 'reads the SQLite files byte by byte'],
]);

/** What needs the private cluster: these run in the PostgreSQL half alone. */
const POSTGRES_ONLY = new Map([
  ['test/store/migrate-store.test.ts', 'copies a SQLite database into the cluster'],
  ['test/store/two-nodes.test.ts', 'two servers on one PostgreSQL database'],
]);

const only = process.argv.slice(2);
const files = only.length > 0 ? only : find('test').sort();
// The server serves the panel's static files as the build makes them (hashed, compressed): build them first.
const assets = spawnSync(process.execPath, ['scripts/copy-assets.mjs', '--assets-only'], { stdio: 'inherit' });
if (assets.status !== 0) process.exit(assets.status ?? 1);
// The AVX2 build of argon2 that the server loads where the processor has AVX2 (kept once built).
const avx2 = spawnSync(process.execPath, ['scripts/build-argon2-avx2.mjs'], { stdio: 'inherit' });
if (avx2.status !== 0) process.exit(avx2.status ?? 1);
const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.check.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

/** Runs `list` with node's test runner (TAP on stdout), then prints the half's wall time and its slowest files. */
const run = (label, list, env) => {
  const times = path.join(mkdtempSync(path.join(os.tmpdir(), 'mailpass-times-')), 'times.txt');
  const started = performance.now();
  const status =
    spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', '--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=./scripts/test-times.mjs', `--test-reporter-destination=${times}`, ...list],
      { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', ...env } },
    ).status ?? 1;
  const slowest = existsSync(times)
    ? readFileSync(times, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
        .sort((a, b) => Number(b[0]) - Number(a[0]))
        .slice(0, 8)
    : [];
  console.log(`# ${label}: ${list.length} files in ${((performance.now() - started) / 1000).toFixed(0)} s of wall time; the slowest: ${slowest.map(([ms, f]) => `${path.basename(f)} ${(Number(ms) / 1000).toFixed(1)} s`).join(', ')}`);
  rmSync(path.dirname(times), { recursive: true, force: true });
  return status;
};

const stores = only.length > 0 ? [process.env.MAILPASS_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'] : ['sqlite', 'postgres'];
let status = 0;
for (const store of stores) {
  if (store === 'sqlite') {
    console.log(`# store: SQLite (${files.filter((f) => !POSTGRES_ONLY.has(f)).length} files)`);
    const sqlite = run('SQLite', files.filter((f) => !POSTGRES_ONLY.has(f)), { MAILPASS_TEST_PG: '' });
    status ||= sqlite;
    continue;
  }
  if (!findPgBin()) {
    console.log('# store: PostgreSQL half not run: initdb was not found (on PATH or in /usr/lib/postgresql/*/bin); install the postgresql package');
    continue;
  }
  const list = files.filter((f) => !SQLITE_ONLY.has(f));
  console.log(`# store: PostgreSQL (${list.length} files; SQLite only: ${[...SQLITE_ONLY.keys()].filter((f) => files.includes(f)).map((f) => path.basename(f)).join(', ') || 'none'})`);
  const cluster = await startCluster();
  try {
    const postgres = run('PostgreSQL', list, { MAILPASS_TEST_PG: cluster.url });
    status ||= postgres;
  } finally {
    cluster.stop();
  }
}
process.exit(status);
