// What the benchmark scripts share: one JSON object per figure on stdout, notes on stderr, pairs
// against drift, and the web panel's timing helpers.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { percentile } from './smtp-load.js';

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
export function report(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  const rounded = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v]));
  const row = { figure, value: round(value), unit, ...rounded };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}
export const note = (text: string) => process.stderr.write(`# ${text}\n`);

/** The machine's CPU time so far (every processor, Linux's /proc/stat): idle and in all; null elsewhere. */
export function machineTicks(): { idle: number; total: number } | null {
  try {
    const n = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: n[3]! + n[4]!, total: n.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** How many of the machine's `cpus` processors were busy between two readings of machineTicks (NaN when unknown). */
export const busyProcessors = (before: ReturnType<typeof machineTicks>, after: ReturnType<typeof machineTicks>, cpus: number) =>
  before && after ? cpus * (1 - (after.idle - before.idle) / Math.max(1, after.total - before.total)) : NaN;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface Pair<B, S> {
  baseline: B;
  subject: S;
}
/**
 * `baseline` then `subject`, `count` times. The machine's speed drifts within a run (it is shared),
 * so each ratio is of two runs side by side, and a figure is the median of the pairs.
 */
export async function paired<B, S>(baseline: () => Promise<B>, subject: () => Promise<S>, count = 3): Promise<Array<Pair<B, S>>> {
  const pairs: Array<Pair<B, S>> = [];
  for (let k = 0; k < count; k++) pairs.push({ baseline: await baseline(), subject: await subject() });
  return pairs;
}

/** Sequential GETs with a session cookie: p50 and p95 in ms. */
export async function timeGets(url: string, cookie: string, n: number) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers: { cookie }, redirect: 'manual' });
    await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

/** GET the form (cookie + CSRF token), POST it; returns the session cookie and the POST's time. */
export async function formLogin(base: string, page: string, fields: Record<string, string>) {
  const get = await fetch(base + page);
  const cookie = (get.headers.get('set-cookie') ?? '').split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await get.text())![1]!;
  const t = performance.now();
  const post = await fetch(base + page, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
  });
  const ms = performance.now() - t;
  if (post.status !== 303) throw new Error(`login ${page}: ${post.status}`);
  return { cookie: (post.headers.get('set-cookie') ?? '').split(';')[0]!, ms };
}


/** Nanoseconds the main thread of process `pid` has run on a processor (Linux's schedstat). */
export const threadCpuNs = (pid: number) => Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);

/**
 * What one page costs a server's event loop: the CPU time of its main thread (process `pid`) per
 * request over `n` GETs of `url`, one after another, as a browser asks (gzip or brotli, a
 * language); in ms. bench:web and bench:web-ab.
 */
export async function loopCostMs(pid: number, url: string, n: number, { cookie = '', language = 'en-US,en;q=0.9' } = {}) {
  const before = threadCpuNs(pid);
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie, 'accept-encoding': 'gzip, deflate, br', 'accept-language': language } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  }
  return (threadCpuNs(pid) - before) / 1e6 / n;
}

/** One GET's bytes as they cross the wire: the body as sent (compressed or not) and the status. */
function wireGet(url: string, cookie: string, acceptEncoding: string): Promise<{ status: number; bytes: number; text: string; cacheControl: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { cookie, 'accept-encoding': acceptEncoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const coding = res.headers['content-encoding'];
          const plain = coding === 'br' ? zlib.brotliDecompressSync(body) : coding === 'gzip' ? zlib.gunzipSync(body) : body;
          resolve({ status: res.statusCode!, bytes: body.length, text: plain.toString('utf8'), cacheControl: String(res.headers['cache-control'] ?? '') });
        });
      })
      .on('error', reject);
  });
}

/**
 * The body bytes a browser's visits of `page` transfer: the first (the page and what it names), the
 * strength meter's files that typing a password then fetches, and a second visit, which asks again
 * only for what is not cached for good (`immutable`). `acceptEncoding` as a browser sends it.
 */
export async function visitBytes(base: string, page: string, cookie: string, acceptEncoding: string) {
  const cached = new Set<string>();
  const fetchAll = async (urls: string[]) => {
    let bytes = 0;
    for (const url of new Set(urls)) {
      if (cached.has(url)) continue;
      const r = await wireGet(base + url, '', acceptEncoding);
      bytes += r.bytes;
      if (r.cacheControl.includes('immutable')) cached.add(url);
    }
    return bytes;
  };
  const visit = async () => {
    const html = await wireGet(base + page, cookie, acceptEncoding);
    if (html.status !== 200) throw new Error(`${page}: ${html.status}`);
    const named = [...html.text.matchAll(/(?:href|src)="(\/[^"]+\.(?:css|js|svg))"/g)].map((m) => m[1]!);
    const estimator = (/data-estimator="([^"]+)"/.exec(html.text)?.[1] ?? '').split(' ').filter(Boolean);
    return { page: html.bytes, assets: await fetchAll(named), typing: await fetchAll(estimator) };
  };
  const first = await visit();
  const second = await visit();
  return { first: first.page + first.assets, typing: first.typing, second: second.page + second.assets + second.typing };
}
