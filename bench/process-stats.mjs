// What a server under bench/load.ts reports over IPC, for bench/server.mjs and bench/floor-server.mjs:
// its event loop's delay and the time the loop was busy (`reset-eld` starts both anew) and its peak
// RSS with what the process held at that peak (`stats`). Other commands go to `onMessage`.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** Starts measuring; returns `stop`, which ends the RSS sampler. */
export function reportStats(onMessage = () => {}) {
  let eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  let elu = performance.eventLoopUtilization();
  let peakRss = process.memoryUsage().rss;
  /** What the process held when its RSS peaked: V8's heap, memory outside it (buffers, native), and the rest. */
  let atPeak = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) [peakRss, atPeak] = [m.rss, m];
  }, 200);
  process.on('message', (msg) => {
    if (msg.cmd === 'reset-eld') {
      eld.disable();
      eld = monitorEventLoopDelay({ resolution: 10 });
      eld.enable();
      elu = performance.eventLoopUtilization();
      process.send({ cmd: 'reset-eld' });
    } else if (msg.cmd === 'stats') {
      const busy = performance.eventLoopUtilization(elu);
      process.send({
        cmd: 'stats',
        eldP50Ms: eld.percentile(50) / 1e6,
        eldP99Ms: eld.percentile(99) / 1e6,
        eldMaxMs: eld.max / 1e6,
        // Milliseconds the loop spent running callbacks (not waiting for I/O) since the reset.
        loopBusyMs: busy.active,
        loopUtilization: busy.utilization,
        rssMb: process.memoryUsage().rss / 2 ** 20,
        peakRssMb: peakRss / 2 ** 20,
        atPeakMb: Object.fromEntries(Object.entries(atPeak).map(([k, v]) => [k, Math.round(v / 2 ** 20)])),
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      });
    } else onMessage(msg);
  });
  return () => clearInterval(sampler);
}
