// `npm run bench:cores` (issue 36.3): cold SMTP logins (distinct mailboxes, each verified) from one
// address, 64 connections, the server free to use every processor (no taskset) beside the load
// generator, as a small installation runs; three 8-s runs, each with the machine's busy processors
// from /proc/stat while all 64 clients wait (and over the whole run, beside it). EXP_ENV (JSON) adds settings to the server's environment, e.g.
// EXP_ENV='{"UV_THREADPOOL_SIZE":"2"}' for the pool mailpass used to set on two cores.
import { mkdtempSync, rmSync } from 'node:fs';
import { busyProcessors, machineTicks } from './common.js';
import os from 'node:os';
import path from 'node:path';
import { seedMailboxes, startServerProcess } from './server-process.js';
import { cGenerator, nodeGenerator } from './smtp-generator.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cold-'));
const count = 20_000;
await seedMailboxes(dataDir, { domain: 'cold.test', count, password: 'Cold#Bench-2026x', localPart: (i) => `user${String(i).padStart(6, '0')}` });
const env = JSON.parse(process.env.EXP_ENV ?? '{}');
const server = await startServerProcess(dataDir, { SMTP_MAX_CLIENTS: '1000', SMTP_MAX_CLIENTS_PER_IP: '1000', LOGIN_MAX_ATTEMPTS_PER_IP: '100000', LOGIN_MAX_ATTEMPTS: '100000', ...env });
const caFile = path.join(dataDir, 'tls', 'cert.pem');
const shape = { prefix: 'user', digits: 6, suffix: '@cold.test', modulo: count };
const built = cGenerator(server.ports.smtp, caFile, shape, dataDir);
const gen = 'unavailable' in built ? nodeGenerator(server.ports.smtp, caFile, shape) : built;
let first = 0;
const SECONDS = 8;
const WARM_UP = 1;
/**
 * The machine's busy processors while all 64 clients wait: from half a second into the counted
 * seconds to half a second before their end. The whole run's figure (`whole_run_busy_cores`) also
 * counts the connections' first greeting (100 ms that nothing runs) and the last logins' drain.
 */
const steady = () =>
  new Promise<number>((resolve) => {
    let a: ReturnType<typeof machineTicks>;
    setTimeout(() => (a = machineTicks()), (WARM_UP + 0.5) * 1000);
    setTimeout(() => resolve(busyProcessors(a, machineTicks(), os.availableParallelism())), (WARM_UP + SECONDS - 0.5) * 1000);
  });
for (let k = 0; k < 3; k++) {
  const a = machineTicks();
  const window = steady();
  const r = await gen.run(64, SECONDS, { kind: 'distinct', first, password: 'Cold#Bench-2026x' }, WARM_UP);
  const b = machineTicks();
  first += r.ops + r.errors + 64;
  const whole = busyProcessors(a, b, os.availableParallelism());
  const cores = await window;
  console.log(JSON.stringify({ figure: 'smtp_cold_login_one_address_c64', value: Number(r.rate.toFixed(1)), unit: 'logins/s', machine_busy_cores: Number(cores.toFixed(2)), whole_run_busy_cores: Number(whole.toFixed(2)), target_busy: '>= 1.9', env, client: gen.name, errors: r.errors }));
}
await server.stop();
rmSync(dataDir, { recursive: true, force: true });
