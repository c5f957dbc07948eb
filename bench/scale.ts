// `npm run bench:scale` (issue 36): a million mailboxes, moved in the way a hoster moves in.
// A Dovecot passwd-file of 1,000 domains of 1,000 mailboxes and one domain of 200,000 (one shared
// argon2id hash: no hashing is involved) is imported with `mailpass import --create-domains` (the
// build, its own process), then: the database's size per mailbox, `mailpass backup`, the server's
// resident memory at rest (after 30 s without a request, and 3 s after the pages), the p95 of the
// super admin's domain list, the big domain's page, a search in it and a mailbox's edit page, and
// warm SMTP logins a second against the same on a database of 1,000 mailboxes. Then the same import into PostgreSQL (a private cluster) and
// `migrate-store` of the SQLite database into another. All traffic is on 127.0.0.1.
// BENCH_SCALE=0.01 runs the same at a hundredth of the size (a quick check of the bench itself).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createDatabase, findPgBin, startCluster } from '../scripts/pg-cluster.mjs';
import { argon2Params, seedMailboxes, startServerProcess } from './server-process.js';
import { createArgon2Hasher } from '../src/adapters/argon2-hasher.js';
import { median, note, report, round, timeGets } from './common.js';
import { cGenerator, nodeGenerator } from './smtp-generator.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const DOMAINS = Math.max(2, Math.round(1000 * SCALE));
const PER_DOMAIN = 1000;
const BIG = Math.max(1000, Math.round(200_000 * SCALE));
const BIG_DOMAIN = 'big.test';
const TOTAL = DOMAINS * PER_DOMAIN + BIG;
const PASSWORD = 'Scale#Bench-2026x';
const ADMIN_PASSWORD = 'Scale#Root-2026x';
const CLI = fileURLToPath(new URL('../bin/mailpass.js', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
/** How long the server sits without a request before its memory at rest is read. */
const REST_SECONDS = 30;

const temp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `mailpass-scale-${name}-`));
const dirs: string[] = [];
const mailbox = (d: number, i: number) => `user${String(i).padStart(4, '0')}@d${String(d).padStart(4, '0')}.test`;
const bigMailbox = (i: number) => `user${String(i).padStart(6, '0')}@${BIG_DOMAIN}`;

/** The passwd-file, written as a stream: `user:hash:uid:gid:gecos:home::`. */
async function writePasswdFile(file: string, hash: string) {
  const out = createWriteStream(file);
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain');
  };
  for (let d = 0; d < DOMAINS; d++) {
    let chunk = '';
    for (let i = 0; i < PER_DOMAIN; i++) chunk += `${mailbox(d, i)}:${hash}:5000:5000:User ${i}::\n`;
    await write(chunk);
  }
  for (let i = 0; i < BIG; i += 1000) {
    let chunk = '';
    for (let k = i; k < Math.min(BIG, i + 1000); k++) chunk += `${bigMailbox(k)}:${hash}:5000:5000:User ${k}::\n`;
    await write(chunk);
  }
  out.end();
  await once(out, 'finish');
}

/** Runs the CLI from the build; resolves with its wall time and peak resident memory (Linux's VmHWM). */
function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ seconds: number; peakRssMb: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    let peak = 0;
    const sample = setInterval(async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
        if (hwm > peak) peak = hwm;
      } catch {
        // gone
      }
    }, 200);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => {
      clearInterval(sample);
      if (code !== 0) reject(new Error(`mailpass ${args[0]} exited ${code}: ${stderr.slice(0, 500)}`));
      else resolve({ seconds: (performance.now() - t0) / 1000, peakRssMb: peak, stdout });
    });
  });
}

/** p50 and p95 of `n` GETs of a page (after three not counted), each answered 200. */
async function pageTimes(url: string, cookie: string, n = 40) {
  await timeGets(url, cookie, 3);
  const { p50, p95 } = await timeGets(url, cookie, n);
  return { p50: round(p50, 1), p95: round(p95, 1) };
}

async function adminCookie(base: string) {
  const form = await fetch(`${base}/admin/login`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${base}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: form.headers.get('set-cookie')?.split(';')[0] ?? '', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD, _csrf: csrf }),
  });
  if (res.status !== 303) throw new Error(`admin login: ${res.status}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** The server on `dataDir` (and `env`): its pages' p95, its memory at rest, warm SMTP logins a second. */
async function serve(dataDir: string, env: Record<string, string>, { pages }: { pages: boolean }) {
  const server = await startServerProcess(dataDir, { SMTP_MAX_CLIENTS: '1000', SMTP_MAX_CLIENTS_PER_IP: '1000', LOGIN_MAX_ATTEMPTS_PER_IP: '100000', LOGIN_MAX_ATTEMPTS: '100000', ...env });
  try {
    const base = `http://127.0.0.1:${server.ports.http}`;
    const figures: Record<string, unknown> = {};
    if (pages) {
      const cookie = await adminCookie(base);
      const big = `${base}/admin/domains/${BIG_DOMAIN}`;
      figures.domain_list = await pageTimes(`${base}/admin/domains`, cookie, 20);
      figures.big_domain_page = await pageTimes(big, cookie);
      figures.big_domain_last_page = await pageTimes(`${big}?page=${Math.ceil(BIG / 50)}`, cookie);
      figures.search = await pageTimes(`${big}?q=user0999`, cookie);
      figures.mailbox_edit = await pageTimes(`${big}/mailboxes/${encodeURIComponent(bigMailbox(BIG - 1))}`, cookie);
      // At rest: 30 s without a request. 3 s after the pages V8 has not yet given back the heap
      // they grew (measured on the SQLite million: 200 MiB at 3 s, 140 MiB at 33 s), which says
      // nothing of a cache growing with the mailboxes; both are printed.
      await new Promise((r) => setTimeout(r, 3000));
      figures.rss_3s_after_pages_mb = round((await server.ask<{ rssMb: number }>('stats')).rssMb, 0);
      await new Promise((r) => setTimeout(r, REST_SECONDS * 1000 - 3000));
      figures.rss_at_rest_mb = round((await server.ask<{ rssMb: number }>('stats')).rssMb, 0);
    }
    const caFile = path.join(dataDir, 'tls', 'cert.pem');
    const shape = { prefix: 'user', digits: 6, suffix: `@${BIG_DOMAIN}`, modulo: 1000 };
    const built = process.env.BENCH_CLIENT === 'node' ? { unavailable: 'BENCH_CLIENT=node' } : cGenerator(server.ports.smtp, caFile, shape, dataDir);
    const gen = 'unavailable' in built ? nodeGenerator(server.ports.smtp, caFile, shape) : built;
    await gen.run(1, 0.2, { kind: 'same', index: 0, password: PASSWORD });
    const runs = [];
    for (let k = 0; k < 3; k++) runs.push((await gen.run(64, SECONDS, { kind: 'same', index: 0, password: PASSWORD }, 1)).rate);
    figures.warm_logins_per_s = round(median(runs), 1);
    return figures;
  } finally {
    await server.stop();
  }
}

async function main() {
  const hash = await createArgon2Hasher(argon2Params()).hash(PASSWORD);
  const work = temp('file');
  dirs.push(work);
  const file = path.join(work, 'users.passwd');
  note(`writing a passwd-file of ${TOTAL.toLocaleString('en')} mailboxes (${DOMAINS} domains of ${PER_DOMAIN}, ${BIG_DOMAIN} of ${BIG})`);
  await writePasswdFile(file, hash);
  note(`${(statSync(file).size / 2 ** 20).toFixed(0)} MiB`);

  // SQLite.
  const sqlite = temp('sqlite');
  dirs.push(sqlite);
  note('mailpass import into SQLite');
  const imported = await cli(['import', file, '--create-domains'], { DATA_DIR: sqlite });
  const dbBytes = statSync(path.join(sqlite, 'mailpass.db')).size;
  report('scale_import_seconds_sqlite', round(imported.seconds, 1), 's', { mailboxes: TOTAL, cli_peak_rss_mb: round(imported.peakRssMb, 0), target: '<= 120', output: imported.stdout.split('\n')[0] });
  report('scale_db_bytes_per_mailbox_sqlite', round(dbBytes / TOTAL, 0), 'bytes', { db_mib: round(dbBytes / 2 ** 20, 0) });
  const backup = await cli(['backup', path.join(work, 'backup.db')], { DATA_DIR: sqlite });
  report('scale_backup_seconds_sqlite', round(backup.seconds, 1), 's', { target: '<= 60' });
  // The admin made by the CLI: a server whose first start checks INITIAL_ADMIN_PASSWORD keeps the
  // strength worker (35-95 MiB) for 30 s after, which is not what "at rest" means.
  await cli(['admin', 'add', 'admin', '--super', '--password-stdin'], { DATA_DIR: sqlite }, `${ADMIN_PASSWORD}\n`);
  rmSync(path.join(work, 'backup.db'), { force: true });

  note('the server on the million (SQLite): pages, memory at rest, warm logins');
  const big = await serve(sqlite, {}, { pages: true });
  const small = temp('small');
  dirs.push(small);
  await seedMailboxes(small, { domain: BIG_DOMAIN, count: 1000, password: PASSWORD, localPart: (i) => `user${String(i).padStart(6, '0')}`, adminPassword: ADMIN_PASSWORD });
  note('the server on a thousand mailboxes: warm logins');
  const few = await serve(small, {}, { pages: false });
  report('scale_pages_p95_ms_sqlite', Math.max(...['domain_list', 'big_domain_page', 'big_domain_last_page', 'search', 'mailbox_edit'].map((k) => (big[k] as { p95: number }).p95)), 'ms', { ...big, target: '< 100 each' });
  report('scale_warm_login_ratio_sqlite', round((big.warm_logins_per_s as number) / (few.warm_logins_per_s as number), 2), 'ratio', {
    at_million_per_s: big.warm_logins_per_s,
    at_thousand_per_s: few.warm_logins_per_s,
    target: '>= 0.9',
  });
  report('scale_rss_at_rest_mb_sqlite', big.rss_at_rest_mb as number, 'MiB', { after_idle_s: REST_SECONDS, rss_3s_after_pages_mb: big.rss_3s_after_pages_mb, target: '<= 200' });

  // PostgreSQL.
  if (!findPgBin()) {
    note('PostgreSQL: initdb not found; not measured');
    return;
  }
  const cluster = await startCluster();
  if (!cluster) return;
  try {
    const pg = temp('pg');
    dirs.push(pg);
    const url = createDatabase(cluster.url, 'scale_import');
    note('mailpass import into PostgreSQL');
    const pgImport = await cli(['import', file, '--create-domains'], { DATA_DIR: pg, DATABASE_URL: url });
    await cli(['admin', 'add', 'admin', '--super', '--password-stdin'], { DATA_DIR: pg, DATABASE_URL: url }, `${ADMIN_PASSWORD}\n`);
    report('scale_import_seconds_postgres', round(pgImport.seconds, 1), 's', { mailboxes: TOTAL, cli_peak_rss_mb: round(pgImport.peakRssMb, 0), target: '<= 120' });
    note('migrate-store of the SQLite million into PostgreSQL');
    const moved = await cli(['migrate-store', '--to', createDatabase(cluster.url, 'scale_moved')], { DATA_DIR: sqlite });
    report('scale_migrate_store_seconds', round(moved.seconds, 1), 's', { target: '<= 600', cli_peak_rss_mb: round(moved.peakRssMb, 0) });
    note('the server on the million (PostgreSQL): pages, memory at rest, warm logins');
    const onPg = await serve(pg, { DATABASE_URL: url }, { pages: true });
    report('scale_pages_p95_ms_postgres', Math.max(...['domain_list', 'big_domain_page', 'big_domain_last_page', 'search', 'mailbox_edit'].map((k) => (onPg[k] as { p95: number }).p95)), 'ms', { ...onPg, target: '< 100 each' });
    // A thousand mailboxes on PostgreSQL, imported the same way: the warm logins' baseline.
    const fewFile = path.join(work, 'few.passwd');
    await writeFile(fewFile, Array.from({ length: 1000 }, (_, i) => `${bigMailbox(i)}:${hash}:5000:5000:User ${i}::\n`).join(''));
    const fewPg = temp('pg-few');
    dirs.push(fewPg);
    const fewUrl = createDatabase(cluster.url, 'scale_few');
    await cli(['import', fewFile, '--create-domains'], { DATA_DIR: fewPg, DATABASE_URL: fewUrl });
    note('the server on a thousand mailboxes (PostgreSQL): warm logins');
    const fewOnPg = await serve(fewPg, { DATABASE_URL: fewUrl }, { pages: false });
    report('scale_warm_login_ratio_postgres', round((onPg.warm_logins_per_s as number) / (fewOnPg.warm_logins_per_s as number), 2), 'ratio', {
      at_million_per_s: onPg.warm_logins_per_s,
      at_thousand_per_s: fewOnPg.warm_logins_per_s,
      target: '>= 0.9',
    });
    report('scale_rss_at_rest_mb_postgres', onPg.rss_at_rest_mb as number, 'MiB', { after_idle_s: REST_SECONDS, rss_3s_after_pages_mb: onPg.rss_3s_after_pages_mb, target: '<= 200' });
  } finally {
    await cluster.stop();
  }
}

try {
  await main();
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
