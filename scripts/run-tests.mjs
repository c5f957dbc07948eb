// `npm test`: type-check everything, then run every test file with node's test runner on SQLite
// (the default store), then the store contracts and the files ON_BOTH_STORES names again on
// PostgreSQL in a private cluster (SPEC §12), when PostgreSQL's server programs are installed.
// (Node 20's runner takes no globs: files are listed here.)
// `npm test -- <files>` runs those files on SQLite; with MAILPASS_TEST_STORE=postgres, on PostgreSQL.
import { spawn, spawnSync } from 'node:child_process';
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

/**
 * What runs on PostgreSQL too, and why: the contract of every store port (test/store/), and the
 * files that prove what only a whole path through the database shows (locks and counts shared by
 * processes, notifications between nodes, Dovecot's driver, the CLI's own answers). The rest
 * works above the ports, which those contracts prove alike on both stores: it runs on SQLite.
 */
const ON_BOTH_STORES = new Map([
  ['test/store/', 'the contract of each store port'],
  ['test/core/submission.test.ts', "recipients reserved under PostgreSQL's advisory lock"],
  ['test/core/login-throttle.test.ts', "the throttle's counts in PostgreSQL, raced by parallel guesses"],
  ['test/smtp/smtp.test.ts', 'SMTP AUTH end to end: a change ends live sessions, last connections'],
  ['test/smtp/send-limits.test.ts', "parallel sessions of one login against its limit"],
  ['test/smtp/lockout.test.ts', 'lock-outs counted in the database'],
  ['test/dovecot/dovecot.test.ts', "Dovecot's pgsql driver reads the same views"],
  ['test/ops/workers.test.ts', 'a change reaches every worker through LISTEN/NOTIFY'],
  ['test/cli/cli.test.ts', "the CLI's commands and answers on PostgreSQL"],
  ['test/security/sealed-secrets.test.ts', "secrets sealed in PostgreSQL's rows"],
  ['test/faults/crash.test.ts', 'a killed server leaves PostgreSQL consistent'],
  ['test/faults/webhook-crash.test.ts', "an event committed with its change outlives a killed server in PostgreSQL's outbox"],
  ['test/api/api.test.ts', "the API's writes and answers through PostgreSQL"],
]);
const onBoth = (file) => [...ON_BOTH_STORES.keys()].some((k) => file === k || (k.endsWith('/') && file.startsWith(k)));

/** What needs the private cluster: these run in the PostgreSQL half alone. */
const POSTGRES_ONLY = new Map([
  ['test/store/migrate-store.test.ts', 'copies a SQLite database into the cluster'],
  ['test/store/two-nodes.test.ts', 'two servers on one PostgreSQL database'],
]);

const begun = performance.now();
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

/**
 * Runs `list` with node's test runner, its TAP on stdout (`buffer`: kept and printed when done, so
 * that two halves running together do not interleave), then the half's wall time and its slowest files.
 */
const run = (label, list, env, buffer = false) =>
  new Promise((resolve) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-times-'));
    const times = path.join(dir, 'times.txt');
    const tap = path.join(dir, 'tap.txt');
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', '--test-reporter=tap', `--test-reporter-destination=${buffer ? tap : 'stdout'}`, '--test-reporter=./scripts/test-times.mjs', `--test-reporter-destination=${times}`, ...list],
      { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', ...env } },
    );
    child.on('exit', (code, signal) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      // Printed when awaited: a buffered half's output follows the half before it whole.
      resolve(() => {
        if (buffer && existsSync(tap)) process.stdout.write(readFileSync(tap));
        const slowest = existsSync(times)
          ? readFileSync(times, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => l.split(' '))
              .sort((a, b) => Number(b[0]) - Number(a[0]))
              .slice(0, 8)
          : [];
        console.log(`# ${label}: ${list.length} files in ${seconds} s of wall time; the slowest: ${slowest.map(([ms, f]) => `${path.basename(f)} ${(Number(ms) / 1000).toFixed(1)} s`).join(', ')}`);
        rmSync(dir, { recursive: true, force: true });
        return code ?? (signal ? 1 : 0);
      });
    });
  });

const stores = only.length > 0 ? [process.env.MAILPASS_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'] : ['sqlite', 'postgres'];
// The two halves run side by side: most of a test's time is waiting (greetings, browsers, fsyncs), not the two cores.
const halves = [];
let cluster = null;
for (const store of stores) {
  if (store === 'sqlite') {
    const list = files.filter((f) => !POSTGRES_ONLY.has(f));
    console.log(`# store: SQLite (${list.length} files)`);
    halves.push(run('SQLite', list, { MAILPASS_TEST_PG: '' }));
    continue;
  }
  if (!findPgBin()) {
    console.log('# store: PostgreSQL half not run: initdb was not found (on PATH or in /usr/lib/postgresql/*/bin); install the postgresql package');
    continue;
  }
  // Files named on the command line run on the store asked for, whatever the lists say.
  const list = files.filter((f) => !SQLITE_ONLY.has(f) && (only.length > 0 || onBoth(f) || POSTGRES_ONLY.has(f)));
  console.log(`# store: PostgreSQL (${list.length} files: the store contracts, ${POSTGRES_ONLY.size} of its own and what ON_BOTH_STORES in scripts/run-tests.mjs names; its output follows the SQLite half's)`);
  cluster = await startCluster();
  halves.push(run('PostgreSQL', list, { MAILPASS_TEST_PG: cluster.url }, stores.length > 1));
}
let status = 0;
try {
  for (const half of halves) status ||= (await half)();
} finally {
  cluster?.stop();
}
console.log(`# npm test: ${((performance.now() - begun) / 1000).toFixed(0)} s of wall time in all (assets, type-check, tests)`);
process.exit(status);
