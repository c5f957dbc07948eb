// The server under test, in its own process so that the load generator's CPU use does not
// show up as its event-loop delay, and from the compiled build, as it runs in production (no
// TypeScript loader in its memory). Reports ports when ready; answers stats and reset-eld
// (bench/process-stats.mjs) and raw-argon2 over IPC.
import { loadConfig } from '../dist/config.js';
import { createArgon2Hasher } from '../dist/adapters/argon2-hasher.js';
import { defaultHashConcurrency } from '../dist/adapters/argon2-phc.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/main.js';
import { reportStats } from './process-stats.mjs';

const config = loadConfig(process.env);
/**
 * BENCH_SEND_LIMITS=off: sending limits over a store that reads and counts nothing, the baseline of
 * `npm run bench`'s cost of a limit check (the use case runs the same; only the store's work goes).
 */
const uncounted = {
  domainLimits: async () => ({ perHour: null, perDay: null, maxRecipients: null }),
  accountLimits: async () => null,
  accountLimitsOfDomain: async () => new Map(),
  setDomainLimits: async () => {},
  setAccountLimits: async () => {},
  reserve: async () => null,
  release: async () => {},
  sentByDomain: async () => ({ lastHour: 0, lastDay: 0 }),
  sent: async () => new Map(),
  markReached: async () => false,
  reachedSince: async () => [],
  prune: async () => {},
};
const running = await startServer(config, {
  log: createLogger('silent'),
  print: () => {},
  smtpBind: { smtp: 0, smtps: 0 },
  ...(process.env.BENCH_SEND_LIMITS === 'off' ? { sendLimits: uncounted } : {}),
});
// The raw argon2 baseline runs in this process, on the cores it may use, through a hasher with the
// server's parameters and limiter (one verification per core), while the server has nothing to do.
const rawHasher = createArgon2Hasher(config.argon2);
const stopStats = reportStats(async (msg) => {
  if (msg.cmd === 'raw-argon2') {
    const deadline = performance.now() + msg.seconds * 1000;
    const t0 = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < deadline) {
          if (!(await rawHasher.verify(msg.hash, msg.password))) throw new Error('raw argon2: verify failed');
          done++;
        }
      }),
    );
    process.send({ cmd: 'raw-argon2', rate: done / ((performance.now() - t0) / 1000), concurrency: defaultHashConcurrency() });
  } else if (msg.cmd === 'stop') {
    stopStats();
    await running.close();
    process.exit(0);
  }
});
process.send({ cmd: 'ready', http: running.httpPort, smtp: running.smtpPorts.smtp, smtps: running.smtpPorts.smtps });
