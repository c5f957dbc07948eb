// The server under test, in its own process so that the load generator's CPU use does not
// show up as its event-loop delay, and from the compiled build, as it runs in production (no
// TypeScript loader in its memory). Reports ports when ready; answers stats, reset-eld and
// raw-argon2 over IPC.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../dist/config.js';
import { createArgon2Hasher, defaultHashConcurrency } from '../dist/adapters/argon2-hasher.js';
import { createLogger } from '../dist/log.js';
import { startServer } from '../dist/main.js';

const config = loadConfig(process.env);
const running = await startServer(config, { log: createLogger('silent'), print: () => {}, smtpBind: { smtp: 0, smtps: 0 } });
// The raw argon2 baseline runs in this process, on the cores it may use, through a hasher with the
// server's parameters and limiter (one verification per core), while the server has nothing to do.
const rawHasher = createArgon2Hasher(config.argon2);
let eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
let peakRss = process.memoryUsage().rss;
/** What the process held when its RSS peaked: V8's heap, memory outside it (buffers, native), and the rest. */
let atPeak = process.memoryUsage();
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peakRss) [peakRss, atPeak] = [m.rss, m];
}, 200);

process.on('message', async (msg) => {
  if (msg.cmd === 'reset-eld') {
    eld.disable();
    eld = monitorEventLoopDelay({ resolution: 10 });
    eld.enable();
    process.send({ cmd: 'reset-eld' });
  } else if (msg.cmd === 'stats') {
    process.send({
      cmd: 'stats',
      eldP50Ms: eld.percentile(50) / 1e6,
      eldP99Ms: eld.percentile(99) / 1e6,
      eldMaxMs: eld.max / 1e6,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
      atPeakMb: Object.fromEntries(Object.entries(atPeak).map(([k, v]) => [k, Math.round(v / 2 ** 20)])),
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    });
  } else if (msg.cmd === 'raw-argon2') {
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
    clearInterval(sampler);
    await running.close();
    process.exit(0);
  }
});
process.send({ cmd: 'ready', http: running.httpPort, smtp: running.smtpPorts.smtp, smtps: running.smtpPorts.smtps });
