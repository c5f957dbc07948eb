// `npm run bench:stores` (SPEC §12): the same server on SQLite and on PostgreSQL side by side in
// one run, and WORKERS=2 beside WORKERS=1. One JSON object per figure on stdout, notes on stderr.
// PostgreSQL is a private cluster in a temp dir (initdb, pg_ctl) unless DATABASE_URL names an
// empty database to use. Both stores hold BENCH_MAILBOXES (100,000) mailboxes; all traffic is to
// 127.0.0.1. BENCH_SECONDS sets each run's length.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, startCluster } from '../scripts/pg-cluster.mjs';
import { createPool, migrate } from '../src/store/postgres/db.js';
import { copySqliteToPostgres } from '../src/store/migrate-store.js';
import { openDatabase } from '../src/store/sqlite/db.js';
import { formLogin, median, note, paired, report, round, timeGets } from './common.js';
import { seedMailboxes, startServerProcess, type ServerProcess } from './server-process.js';
import { cGenerator, nodeGenerator, type SmtpGenerator } from './smtp-generator.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const MAILBOXES = Number(process.env.BENCH_MAILBOXES ?? 100_000);
const DOMAIN = 'bench.test';
const PASSWORD = 'Bench#Pass-2024x';
const ADMIN_PASSWORD = 'Bench#Root-2024x';
const SHAPE = { prefix: 'user', digits: 6, suffix: `@${DOMAIN}`, modulo: MAILBOXES };
const ENV = { PORT: '0', INITIAL_ADMIN_PASSWORD: ADMIN_PASSWORD, SMTP_MAX_CLIENTS: '1000', SMTP_MAX_CLIENTS_PER_IP: '1000', LOGIN_MAX_ATTEMPTS_PER_IP: '100000', LOGIN_MAX_ATTEMPTS: '100000' };

const temp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `mailpass-bench-${name}-`));
const dirs: string[] = [];
const cleanups: Array<() => void | Promise<void>> = [];

function generator(port: number, dataDir: string): SmtpGenerator {
  const caFile = path.join(dataDir, 'tls', 'cert.pem');
  const built = process.env.BENCH_CLIENT === 'node' ? { unavailable: 'BENCH_CLIENT=node' } : cGenerator(port, caFile, SHAPE, dataDir);
  return 'unavailable' in built ? nodeGenerator(port, caFile, SHAPE) : built;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** `mailpass serve` (bin/mailpass.js) with WORKERS=n on `dataDir`, ready once its SMTP port answers. */
async function startWorkers(dataDir: string, n: number): Promise<{ smtp: number; stop(): Promise<void> }> {
  const smtp = await freePort();
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('../bin/mailpass.js', import.meta.url)), 'serve'], {
    env: { ...process.env, ...ENV, DATA_DIR: dataDir, WORKERS: String(n), PORT: '0', SMTP_PORT: String(smtp), SMTPS_PORT: '0', SMTP_HOSTNAME: 'mail.test', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let listening = 0;
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      listening += (d.toString().match(/"msg":"smtp listening"/g) ?? []).length;
      if (listening >= n) resolve();
    });
    child.once('exit', (code) => reject(new Error(`WORKERS=${n} exited with ${code}`)));
  });
  child.stdout!.resume();
  return {
    smtp,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main() {
  // PostgreSQL: the one named, or a private cluster.
  let pgUrl = process.env.DATABASE_URL;
  if (!pgUrl) {
    const cluster = await startCluster();
    if (!cluster) throw new Error('neither DATABASE_URL nor initdb: install postgresql or name a database');
    cleanups.push(() => cluster.stop());
    pgUrl = createDatabase(cluster.url, 'bench');
    note('PostgreSQL: a private cluster in a temp dir (fsync off, as in the tests)');
  } else {
    note('PostgreSQL: DATABASE_URL');
  }
  // The same 100,000 mailboxes in both: seeded into SQLite, copied with migrate-store's copy.
  const sqliteDir = temp('sqlite');
  const pgDir = temp('pg');
  dirs.push(sqliteDir, pgDir);
  note(`seeding ${MAILBOXES} mailboxes`);
  await seedMailboxes(sqliteDir, { domain: DOMAIN, count: MAILBOXES, password: PASSWORD, localPart: (i) => `user${String(i).padStart(6, '0')}` });
  const pool = createPool(pgUrl, 2);
  await migrate(pool);
  const source = openDatabase(path.join(sqliteDir, 'mailpass.db'));
  await copySqliteToPostgres(source, pool);
  source.close();
  await pool.end();

  const servers: Record<'sqlite' | 'postgres', ServerProcess> = {
    sqlite: await startServerProcess(sqliteDir, ENV),
    postgres: await startServerProcess(pgDir, { ...ENV, DATABASE_URL: pgUrl }),
  };
  cleanups.push(() => servers.sqlite.stop(), () => servers.postgres.stop());
  const gens = { sqlite: generator(servers.sqlite.ports.smtp, sqliteDir), postgres: generator(servers.postgres.ports.smtp, pgDir) };
  note(`client: ${gens.sqlite.name}; server and generator share the processors (${os.availableParallelism()})`);
  const next = { sqlite: 0, postgres: 50_000 };
  const cold = async (store: 'sqlite' | 'postgres') => {
    const r = await gens[store].run(64, SECONDS, { kind: 'distinct', first: next[store], password: PASSWORD }, 1);
    next[store] += r.ops + r.errors + 64;
    return r;
  };
  const warm = (store: 'sqlite' | 'postgres') => gens[store].run(64, SECONDS, { kind: 'same', index: 7, password: PASSWORD }, 1);
  for (const store of ['sqlite', 'postgres'] as const) await gens[store].run(1, 0.1, { kind: 'same', index: 7, password: PASSWORD });

  const side = (figure: string, pairs: Array<{ baseline: { rate: number; errors: number; refused: number }; subject: { rate: number; errors: number; refused: number } }>) =>
    report(figure, median(pairs.map((p) => p.subject.rate)), 'logins/s', {
      baseline: 'the same run on SQLite, just before',
      sqlite: median(pairs.map((p) => p.baseline.rate)),
      ratio: median(pairs.map((p) => p.subject.rate / p.baseline.rate)),
      pairs: pairs.map((p) => ({ sqlite: round(p.baseline.rate), postgres: round(p.subject.rate) })),
      errors: pairs.reduce((n, p) => n + p.subject.errors + p.subject.refused + p.baseline.errors + p.baseline.refused, 0),
    });
  note('warm logins (one mailbox, a new TLS connection each), concurrency 64: SQLite, then PostgreSQL, 3 pairs');
  side('postgres_warm_login_rate_c64', await paired(() => warm('sqlite'), () => warm('postgres')));
  note('cold logins (distinct mailboxes), concurrency 64: SQLite, then PostgreSQL, 3 pairs');
  side('postgres_cold_login_rate_c64', await paired(() => cold('sqlite'), () => cold('postgres')));

  note('admin domain page with 100,000 mailboxes');
  const page = async (store: 'sqlite' | 'postgres') => {
    const base = `http://127.0.0.1:${servers[store].ports.http}`;
    const admin = await formLogin(base, '/admin/login', { username: 'admin', password: ADMIN_PASSWORD });
    await timeGets(`${base}/admin/domains/${DOMAIN}`, admin.cookie, 20);
    return { page: await timeGets(`${base}/admin/domains/${DOMAIN}`, admin.cookie, 200), search: await timeGets(`${base}/admin/domains/${DOMAIN}?q=user0999`, admin.cookie, 200) };
  };
  const pages = { sqlite: await page('sqlite'), postgres: await page('postgres') };
  report('postgres_admin_domain_page_p95', pages.postgres.page.p95, 'ms', { sqlite_p95_ms: pages.sqlite.page.p95, p50_ms: pages.postgres.page.p50, sqlite_p50_ms: pages.sqlite.page.p50, mailboxes: MAILBOXES });
  report('postgres_admin_domain_search_p95', pages.postgres.search.p95, 'ms', { sqlite_p95_ms: pages.sqlite.search.p95, query: 'user0999' });
  await servers.sqlite.stop();
  await servers.postgres.stop();

  // WORKERS: the same SQLite data directory, one process, then two, warm logins side by side.
  note('WORKERS=1, then WORKERS=2, warm logins at concurrency 64 on SQLite, 3 pairs');
  // Both on the one SQLite file (WAL): the idle one costs nothing while the other is measured.
  const one = await startWorkers(sqliteDir, 1);
  cleanups.push(() => one.stop());
  const oneGen = generator(one.smtp, sqliteDir);
  const both = await startWorkers(sqliteDir, 2);
  cleanups.push(() => both.stop());
  const bothGen = generator(both.smtp, sqliteDir);
  await oneGen.run(1, 0.1, { kind: 'same', index: 7, password: PASSWORD });
  await bothGen.run(1, 0.1, { kind: 'same', index: 7, password: PASSWORD });
  const w = await paired(
    () => oneGen.run(64, SECONDS, { kind: 'same', index: 7, password: PASSWORD }, 1),
    () => bothGen.run(64, SECONDS, { kind: 'same', index: 7, password: PASSWORD }, 1),
  );
  report('workers2_warm_login_rate_c64', median(w.map((p) => p.subject.rate)), 'logins/s', {
    baseline: 'WORKERS=1, the same run, just before',
    workers1: median(w.map((p) => p.baseline.rate)),
    ratio: median(w.map((p) => p.subject.rate / p.baseline.rate)),
    pairs: w.map((p) => ({ workers1: round(p.baseline.rate), workers2: round(p.subject.rate) })),
    cpus: os.availableParallelism(),
    errors: w.reduce((n, p) => n + p.subject.errors + p.subject.refused + p.baseline.errors + p.baseline.refused, 0),
  });
}

try {
  await main();
} finally {
  for (const c of cleanups.reverse()) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
