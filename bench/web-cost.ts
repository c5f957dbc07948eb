// `npm run bench:web`: what one web request costs the server's event loop, without the queueing of
// a load. One user logs in, then asks for its /account page BENCH_REQUESTS times (default 2,000)
// one after another, as a browser asks (gzip or brotli); the figure is the CPU time of the server's main
// thread (its event loop, from /proc's schedstat) per request, in runs alternating with a baseline
// page (/healthz) as `npm run bench` alternates its pairs, with the same page for a French
// browser (SPEC §17: another language costs at most 5% more), and with the admin's domain page and
// the login page (issue 36.1: each at most 2 times /healthz). Prints one JSON object on stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formLogin, loopCostMs, median } from './common.js';
import { seedMailboxes, startServerProcess } from './server-process.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** Requests of each page before measuring: a page's cost falls for its first few thousand (the JIT, the heap's sizing). */
const WARM_UP = Number(process.env.BENCH_WARM_UP ?? 3000);
const PASSWORD = 'Load#Bench-2024x';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-web-cost-'));

async function main() {
  await seedMailboxes(dataDir, { domain: 'web.test', count: 1, password: PASSWORD, localPart: () => 'user', adminPassword: 'Load#Root-2024x' });
  const server = await startServerProcess(dataDir, {});
  try {
    const base = `http://127.0.0.1:${server.ports.http}`;
    const { cookie } = await formLogin(base, '/login', { email: 'user@web.test', password: PASSWORD });
    // Issue 36.1: the admin domain page and the login page too, each against /healthz.
    const { cookie: adminCookie } = await formLogin(base, '/admin/login', { username: 'admin', password: 'Load#Root-2024x' });
    /** CPU of the server's loop per request over `n` requests of `url`, in ms: as the user, or `as` another session (the admin's) or none (''). */
    const cost = (url: string, n: number, language?: string, as = cookie) => loopCostMs(server.pid, url, n, { cookie: as, language });
    const costAs = (url: string, n: number, as: string) => cost(url, n, undefined, as);
    const FRENCH = 'fr-FR,fr;q=0.9,en;q=0.5';
    const french = await fetch(`${base}/account`, { headers: { cookie, 'accept-language': FRENCH } });
    if (!(await french.text()).includes('<html lang="fr">')) throw new Error('the French page is not French');
    await cost(`${base}/account`, WARM_UP);
    await cost(`${base}/account`, WARM_UP, FRENCH);
    await cost(`${base}/healthz`, WARM_UP);
    const account: number[] = [];
    const frenchRuns: number[] = [];
    const healthz: number[] = [];
    const domainPage: number[] = [];
    const loginPage: number[] = [];
    await costAs(`${base}/admin/domains/web.test`, WARM_UP, adminCookie);
    await costAs(`${base}/login`, WARM_UP, '');
    for (let r = 0; r < RUNS; r++) {
      account.push(await cost(`${base}/account`, REQUESTS));
      frenchRuns.push(await cost(`${base}/account`, REQUESTS, FRENCH));
      healthz.push(await cost(`${base}/healthz`, REQUESTS));
      domainPage.push(await costAs(`${base}/admin/domains/web.test`, REQUESTS, adminCookie));
      loginPage.push(await costAs(`${base}/login`, REQUESTS, ''));
    }
    const round = (x: number) => Math.round(x * 1000) / 1000;
    process.stdout.write(
      `${JSON.stringify({
        requests: REQUESTS,
        runs: RUNS,
        account_loop_ms: round(median(account)),
        account_fr_loop_ms: round(median(frenchRuns)),
        fr_vs_en: round(median(frenchRuns) / median(account)),
        healthz_loop_ms: round(median(healthz)),
        account_vs_healthz: round(median(account) / median(healthz)),
        domain_page_loop_ms: round(median(domainPage)),
        domain_page_vs_healthz: round(median(domainPage) / median(healthz)),
        login_page_loop_ms: round(median(loginPage)),
        login_page_vs_healthz: round(median(loginPage) / median(healthz)),
        target: 'each page <= 0.7 ms, i.e. <= 2x /healthz (issue 36.1)',
        account_runs: account.map(round),
        account_fr_runs: frenchRuns.map(round),
        healthz_runs: healthz.map(round),
        domain_page_runs: domainPage.map(round),
        login_page_runs: loginPage.map(round),
      })}\n`,
    );
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
