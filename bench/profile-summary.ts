// `node --import tsx bench/profile-summary.ts <file.cpuprofile>`: where a V8 CPU profile's time
// went, by self time: the top functions, and the share of each part (mailpass's code, each
// package, Node.js's own JavaScript, garbage collection, native code, idle). For findings in the
// README, not for committing profiles.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const profile = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const partOf = (n: Node) => {
  const { url, functionName } = n.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'native (program)';
  if (url.includes('/node_modules/')) {
    const parts = url.split('/node_modules/').at(-1)!.split('/');
    return `package ${parts.slice(0, parts[0]!.startsWith('@') ? 2 : 1).join('/')}`;
  }
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/')[0]}`;
  if (url.includes('/dist/')) return `mailpass ${url.split('/dist/').at(-1)}`;
  return url ? 'other JavaScript' : `native ${functionName}`;
};
const parts = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const part = partOf(n);
  parts.set(part, (parts.get(part) ?? 0) + t);
  const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + t);
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`;
console.log(`total ${(total / 1e6).toFixed(1)} s sampled`);
console.log('\nby part:');
for (const [k, v] of [...parts].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
console.log('\ntop functions by self time:');
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
