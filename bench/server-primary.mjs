// WORKERS=N for the benchmarks: a cluster primary as `mailpass serve` runs one (what must happen
// once is done first, then N workers share the listeners), each worker bench/server.mjs. It answers
// the benchmark over IPC for all of them: the event-loop delay of the worst worker, and the RSS of
// this process and every worker summed (sampled every 200 ms, as each worker samples its own).
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/config.js';
import { createLogger } from '../dist/log.js';
import { prepareOnce } from '../dist/main.js';

const config = loadConfig(process.env);
await prepareOnce(config, createLogger('silent'));
cluster.setupPrimary({ exec: fileURLToPath(new URL('./server.mjs', import.meta.url)) });
const workers = Array.from({ length: config.workers }, () => cluster.fork());

/** The next message `cmd` from worker `w`, after sending it `cmd` (unless `send` is false). */
const reply = (w, cmd, extra = {}, send = true) =>
  new Promise((resolve) => {
    const on = (m) => {
      if (m?.cmd === cmd) {
        w.off('message', on);
        resolve(m);
      }
    };
    w.on('message', on);
    if (send) w.send({ ...extra, cmd });
  });
// Account events between the workers, as the product's primary relays them (src/cluster.ts).
for (const w of workers) w.on('message', (m) => m?.mailpass === 'account-event' && workers.forEach((o) => o !== w && o.send(m)));

const ready = await Promise.all(workers.map((w) => reply(w, 'ready', {}, false)));
if (new Set(ready.map((r) => `${r.http} ${r.smtp} ${r.smtps}`)).size !== 1) throw new Error('the workers listen on different ports');

const rssOf = (pid) => Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
const totalRss = () => [process.pid, ...workers.map((w) => w.process.pid)].reduce((sum, pid) => sum + rssOf(pid), 0);
let peakRss = totalRss();
const sampler = setInterval(() => (peakRss = Math.max(peakRss, totalRss())), 200);
const max = (list, key) => Math.max(...list.map((s) => s[key]));

process.on('message', async (msg) => {
  if (msg.cmd === 'reset-eld') {
    await Promise.all(workers.map((w) => reply(w, 'reset-eld')));
    process.send({ cmd: 'reset-eld' });
  } else if (msg.cmd === 'stats') {
    const all = await Promise.all(workers.map((w) => reply(w, 'stats')));
    process.send({
      cmd: 'stats',
      eldP50Ms: max(all, 'eldP50Ms'),
      eldP99Ms: max(all, 'eldP99Ms'),
      eldMaxMs: max(all, 'eldMaxMs'),
      rssMb: totalRss() / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
      atPeakMb: { workers: all.map((s) => s.atPeakMb), eldP99MsEach: all.map((s) => Math.round(s.eldP99Ms * 10) / 10) },
      cpuMs: all.reduce((sum, s) => sum + s.cpuMs, 0),
    });
  } else if (msg.cmd === 'raw-argon2') {
    process.send(await reply(workers[0], 'raw-argon2', msg));
  } else if (msg.cmd === 'stop') {
    clearInterval(sampler);
    await Promise.all(workers.map((w) => new Promise((resolve) => (w.once('exit', resolve), w.send({ cmd: 'stop' })))));
    process.exit(0);
  }
});
process.send(ready[0]);
