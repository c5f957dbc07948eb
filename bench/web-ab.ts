// `BENCH_A=<another checkout, built> npm run bench:web-ab`: what a page costs the server's event
// loop in that checkout's build (A) beside this one (B), side by side. Runs of bench:web alone move
// by a fifth on a shared machine, more than most changes to a page; here both servers run at once
// on the same processor (BENCH_SERVER_CPUS, default the last) and are asked for the same page in
// alternating blocks (BENCH_BLOCK requests, default 500; BENCH_RUNS blocks each, default 8) after
// 3,000 to warm up, so that the machine's drift falls on both. Prints, per page (BENCH_PAGES,
// default account,domain,login,healthz), the median CPU of each server's main thread per request
// and B / A, with the pairwise median of the ratios. A is e.g. `git worktree add ../a <commit>`
// with node_modules linked and `npm run build` run there.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formLogin, loopCostMs, median } from './common.js';
import type { ServerProcess } from './server-process.js';

const A = process.env.BENCH_A;
if (!A) {
  process.stderr.write('bench:web-ab: set BENCH_A to the directory of another checkout, built (npm run build there)\n');
  process.exit(2);
}
const PAGES = (process.env.BENCH_PAGES ?? 'account,domain,login,healthz').split(',');
const BLOCK = Number(process.env.BENCH_BLOCK ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 8);
const CPUS = process.env.BENCH_SERVER_CPUS ?? String(os.availableParallelism() - 1);
const PASSWORD = 'Load#Bench-2024x';
const ADMIN_PASSWORD = 'Load#Root-2024x';

interface Side {
  server: ServerProcess;
  dataDir: string;
  /** CPU of the server's main thread per request over `n` requests of `page`, in ms. */
  cost(page: string, n: number): Promise<number>;
}

/** One server from the build of the checkout at `root`, seeded and logged in as a mailbox and as the admin. */
async function side(root: string): Promise<Side> {
  const { seedMailboxes, startServerProcess } = (await import(path.join(root, 'bench', 'server-process.ts'))) as typeof import('./server-process.js');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-web-ab-'));
  await seedMailboxes(dataDir, { domain: 'web.test', count: 1, password: PASSWORD, localPart: () => 'user', adminPassword: ADMIN_PASSWORD });
  const server = await startServerProcess(dataDir, { PORT: '0' }, { cpus: CPUS });
  const base = `http://127.0.0.1:${server.ports.http}`;
  let user: string;
  let admin: string;
  try {
    user = (await formLogin(base, '/login', { email: 'user@web.test', password: PASSWORD })).cookie;
    admin = (await formLogin(base, '/admin/login', { username: 'admin', password: ADMIN_PASSWORD })).cookie;
  } catch (err) {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const pages: Record<string, [string, string]> = {
    account: [`${base}/account`, user],
    domain: [`${base}/admin/domains/web.test`, admin],
    login: [`${base}/login`, ''],
    healthz: [`${base}/healthz`, ''],
  };
  return {
    server,
    dataDir,
    cost(page, n) {
      const [url, cookie] = pages[page] ?? [];
      if (!url) throw new Error(`bench:web-ab: no page ${page} (account, domain, login, healthz)`);
      return loopCostMs(server.pid, url, n, { cookie });
    },
  };
}

const sides: Side[] = [];
try {
  const a = await side(path.resolve(A));
  sides.push(a);
  const b = await side(fileURLToPath(new URL('..', import.meta.url)));
  sides.push(b);
  for (const page of PAGES) for (const s of [a, b]) await s.cost(page, 3000);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  for (const page of PAGES) {
    const xa: number[] = [];
    const xb: number[] = [];
    // A first in even runs, B first in odd ones: neither always follows the other.
    for (let r = 0; r < RUNS; r++) {
      const [first, second, firstRuns, secondRuns] = r % 2 ? [b, a, xb, xa] : [a, b, xa, xb];
      firstRuns.push(await first.cost(page, BLOCK));
      secondRuns.push(await second.cost(page, BLOCK));
    }
    process.stdout.write(
      `${JSON.stringify({ page, a_loop_ms: round(median(xa)), b_loop_ms: round(median(xb)), b_vs_a: round(median(xb) / median(xa)), b_vs_a_pairwise: round(median(xb.map((x, i) => x / xa[i]!))), a_runs: xa.map(round), b_runs: xb.map(round) })}\n`,
    );
  }
} finally {
  for (const s of sides) {
    await s.server.stop();
    rmSync(s.dataDir, { recursive: true, force: true });
  }
}
