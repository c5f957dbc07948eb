// What the benchmark scripts share: one JSON object per figure on stdout, notes on stderr, pairs
// against drift, and the web panel's timing helpers.
import { percentile } from './smtp-load.js';

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
export function report(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  const rounded = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v]));
  const row = { figure, value: round(value), unit, ...rounded };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}
export const note = (text: string) => process.stderr.write(`# ${text}\n`);

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

