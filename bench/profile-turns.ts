// `node --import tsx bench/profile-turns.ts <file.cpuprofile> [ms]`: the event loop's long turns in a
// V8 CPU profile of the server (BENCH_CPU_PROF): stretches of busy samples with no idle one between
// them, at least `ms` long (default 40), and what they held (web, SMTP, garbage collection, ...)
// against all busy time. The stretches are what the loop's delay p99 is made of.
import { readFileSync } from 'node:fs';
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const profile = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };
const MIN = Number(process.argv[3] ?? 40) * 1000;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n: Node) => n.callFrame.functionName || '(anonymous)';
const isIdle = (id: number) => name(byId.get(id)!) === '(idle)';
/** Which kind of work a sample is: GC, or the package/area nearest the top of its stack that says what it serves. */
const kind = (id: number) => {
  const n = byId.get(id)!;
  const f = name(n);
  if (f === '(garbage collector)') return 'gc';
  if (f === '(program)') return 'program';
  const chain: Node[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) chain.push(byId.get(cur)!);
  const urls = chain.map((c) => c.callFrame.url);
  if (urls.some((u) => u.includes('smtp-server') || u.includes('/smtp/'))) return 'smtp';
  if (urls.some((u) => u.includes('/zlib'))) return 'zlib';
  if (urls.some((u) => u.includes('express') || u.includes('/web/') || u.includes('ejs') || u.includes('router'))) return 'web';
  if (urls.some((u) => u.includes('_tls_') || u.includes('node:tls'))) return 'tls';
  if (urls.some((u) => u.includes('_http_'))) return 'http';
  const entry = chain.at(-2);
  return `other:${entry ? name(entry) : f}`;
};
const stretches: Array<{ dur: number; kinds: Map<string, number> }> = [];
let cur: { dur: number; kinds: Map<string, number> } | null = null;
let all = 0;
const allKinds = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  if (isIdle(id)) {
    if (cur && cur.dur >= MIN) stretches.push(cur);
    cur = null;
    return;
  }
  cur ??= { dur: 0, kinds: new Map() };
  cur.dur += dt;
  const k = kind(id);
  cur.kinds.set(k, (cur.kinds.get(k) ?? 0) + dt);
  all += dt;
  allKinds.set(k, (allKinds.get(k) ?? 0) + dt);
});
const sum = new Map<string, number>();
let total = 0;
for (const s of stretches) {
  total += s.dur;
  for (const [k, v] of s.kinds) sum.set(k, (sum.get(k) ?? 0) + v);
}
console.log(`busy ${(all / 1e6).toFixed(1)} s; stretches >= ${MIN / 1000} ms: ${stretches.length}, ${(total / 1e6).toFixed(1)} s, mean ${(total / stretches.length / 1000).toFixed(1)} ms`);
const durs = stretches.map((s) => s.dur / 1000).sort((a, b) => a - b);
console.log(`  p50 ${durs[Math.floor(durs.length / 2)]?.toFixed(0)} ms, max ${durs.at(-1)?.toFixed(0)} ms`);
console.log('in long stretches            | in all busy time');
for (const [k, v] of [...sum].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k.padEnd(28)} ${((100 * (allKinds.get(k) ?? 0)) / all).toFixed(1).padStart(5)}%`);
