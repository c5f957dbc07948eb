// `npm run bench:all`: every benchmark one after the other on one build (about 25 minutes), and
// one table of every figure beside its baseline, its target and the command that makes it
// (issue 36.4). The table is Markdown on stdout, for docs/benchmarks.md; every JSON object the
// benchmarks printed is kept in BENCH_OUT (default bench-all.json) with the command that printed
// it. BENCH_ONLY=web,cores runs some of them; a benchmark that fails is a row that says so, and the
// others still run. BENCH_FROM=<that file> prints the table of a run kept before, running nothing.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { note } from './common.js';

interface Bench {
  name: string;
  command: string;
  script: string;
}
const BENCHES: Bench[] = [
  { name: 'bench', command: 'npm run bench', script: 'run.ts' },
  { name: 'load', command: 'npm run bench:load', script: 'load.ts' },
  { name: 'web', command: 'npm run bench:web', script: 'web-cost.ts' },
  { name: 'stores', command: 'npm run bench:stores', script: 'stores.ts' },
  { name: 'peers', command: 'npm run bench:peers', script: 'peers.ts' },
  { name: 'failures', command: 'npm run bench:failures', script: 'failure-timing.ts' },
  { name: 'scale', command: 'npm run bench:scale', script: 'scale.ts' },
  { name: 'cores', command: 'npm run bench:cores', script: 'cold-cores.ts' },
];

/** Targets of the figures printed as one object of named values (bench:web, bench:load), from the issues. */
const TARGETS: Record<string, string> = {
  account_loop_ms: '<= 0.7',
  domain_page_loop_ms: '<= 0.7',
  login_page_loop_ms: '<= 0.7',
  account_vs_healthz: '<= 2',
  domain_page_vs_healthz: '<= 2',
  login_page_vs_healthz: '<= 2',
  fr_vs_en: '<= 1.05',
  server_event_loop_delay_p99_ms: '< 50',
  healthz_p99_ms: '< 100',
  healthz_failures: '0',
  web_p99_ms: '< 250',
  server_peak_rss_mb: '< 300',
  messages_lost: '0',
  smtp_errors: '0',
  web_errors: '0',
  relay_ratio: '>= 0.8',
};
/** Settings a benchmark echoes, not figures. */
const SETTINGS = new Set(['seconds', 'warmup_seconds', 'requests', 'runs', 'server_workers', 'smtp_sessions_concurrent', 'web_users', 'relay_sessions_concurrent', 'healthz_checks', 'web_requests', 'smtp_sessions_completed', 'messages_accepted', 'messages_spooled']);

interface Row {
  figure: string;
  measured: string;
  beside: string;
  target: string;
  command: string;
}

const show = (v: unknown) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v : JSON.stringify(v));

/** The rows of one printed object: a `figure` object is one row; any other, one row per numeric value. */
function rowsOf(obj: Record<string, unknown>, command: string): Row[] {
  if (typeof obj.figure === 'string') {
    const { figure, value, unit, target, target_busy: targetBusy, ...extra } = obj;
    const beside = Object.entries(extra)
      .filter(([k, v]) => /baseline|ratio|_vs_|busy|sqlite_|p50/.test(k) && (typeof v === 'number' || typeof v === 'string'))
      .slice(0, 3)
      .map(([k, v]) => `${k} ${show(v)}`)
      .join('; ');
    return [{ figure, measured: value === null || value === undefined ? '' : `${show(value)} ${show(unit)}`, beside, target: show(target ?? targetBusy ?? ''), command }];
  }
  return Object.entries(obj)
    .filter(([k, v]) => typeof v === 'number' && !SETTINGS.has(k))
    .map(([k, v]) => ({ figure: k, measured: show(v), beside: '', target: show(obj[`${k}_target`] ?? TARGETS[k] ?? ''), command }));
}

/** Runs one benchmark's script (after the one build), its notes on our stderr; the JSON objects it printed. */
function run(bench: Bench): Promise<{ objects: Array<Record<string, unknown>>; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL(bench.script, import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      const objects = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
      resolve({ objects, code });
    });
  });
}

const kept: { started: string; results: Array<{ command: string; object: Record<string, unknown> }> } = process.env.BENCH_FROM
  ? (JSON.parse(readFileSync(process.env.BENCH_FROM, 'utf8')) as typeof kept)
  : { started: new Date().toISOString(), results: [] };
const rows: Row[] = [];
if (!process.env.BENCH_FROM) {
  const only = process.env.BENCH_ONLY?.split(',');
  for (const bench of BENCHES.filter((b) => !only || only.includes(b.name))) {
    note(`${bench.command}: started ${new Date().toISOString()}`);
    const t0 = performance.now();
    const { objects, code } = await run(bench);
    note(`${bench.command}: exit ${code} after ${Math.round((performance.now() - t0) / 1000)} s`);
    kept.results.push(...objects.map((object) => ({ command: bench.command, object })));
    if (code !== 0) kept.results.push({ command: bench.command, object: { figure: `(${bench.command} did not finish: exit ${code})`, value: null } });
  }
  writeFileSync(process.env.BENCH_OUT ?? 'bench-all.json', `${JSON.stringify(kept, null, 1)}\n`);
}
for (const { command, object } of kept.results) rows.push(...rowsOf(object, command));
const cell = (s: string) => s.replace(/\|/g, '\\|');
process.stdout.write(`One run of \`npm run bench:all\`, started ${kept.started.slice(0, 16).replace('T', ' ')} UTC.\n\n`);
process.stdout.write('| figure | measured | beside it (same run) | target | command |\n|---|---|---|---|---|\n');
for (const r of rows) process.stdout.write(`| ${cell(r.figure)} | ${cell(r.measured)} | ${cell(r.beside)} | ${cell(r.target)} | \`${r.command}\` |\n`);
