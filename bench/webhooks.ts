// `npm run bench`'s figures of SPEC §19 (issue 35):
// 1. what three subscribed webhooks add to a change: a mailbox disabled through the use case, on
//    the real SQLite store, with no webhook against three webhooks subscribed to `mailbox.disabled`,
//    in alternating pairs (the outbox rows are the only difference; nothing is delivered here);
// 2. how fast queued events reach a receiver: 10,000 events queued for one webhook, then the
//    server (bench/server.mjs, from the build, its own process) started on that database delivers
//    them to an HTTP receiver in this process, one after the other in order, on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliActor } from '../src/core/actors.js';
import { openServices } from '../src/compose.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { median, note, paired, report, round } from './common.js';
import { startServerProcess } from './server-process.js';

const CHANGES = 400;
const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 10_000);

/** Milliseconds per change (median) of `CHANGES` mailboxes disabled one after the other, with `hooks` webhooks subscribed. */
async function changeCost(hooks: number) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-hooks-'));
  const opened = await openServices(loadConfig({ DATA_DIR: dataDir, WEBHOOK_ALLOW_PRIVATE: 'true', ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' }), createLogger('silent'));
  try {
    const svc = opened.services;
    const domain = await svc.domains.addDomain(cliActor, 'hooks.bench', { verified: true });
    for (let h = 0; h < hooks; h++) await svc.webhooks.add(cliActor, { url: `http://127.0.0.1:9/${h}`, events: ['mailbox.disabled'], domain: domain.name });
    const boxes: string[] = [];
    for (let i = 0; i < CHANGES; i++) boxes.push((await svc.mailboxes.addMailbox(cliActor, { address: `u${i}@hooks.bench`, name: '', password: 'Bench#Pass-2026x!' })).mailbox.login);
    const times: number[] = [];
    for (const box of boxes) {
      const t0 = performance.now();
      await svc.mailboxes.setDisabled(cliActor, domain, box, true);
      times.push(performance.now() - t0);
    }
    return { msPerChange: median(times), p99: [...times].sort((a, b) => a - b)[Math.floor(times.length * 0.99)]! };
  } finally {
    await opened.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** An HTTP receiver on 127.0.0.1 that answers 204 and notes when each delivery came. */
async function receiver() {
  const times: number[] = [];
  const ids = new Set<string>();
  let outOfOrder = 0;
  let last = -1;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = (JSON.parse(Buffer.concat(chunks).toString()) as { data: { n: number } }).data.n;
      if (n < last) outOfOrder++;
      last = n;
      ids.add(String(req.headers['webhook-id']));
      times.push(performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, times, ids, outOfOrder: () => outOfOrder, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

async function deliveryRate(cpus: string | undefined) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-hooks-'));
  const sink = await receiver();
  try {
    // Queue the events on the database the server will open (one transaction: queuing is not what is measured).
    const opened = await openServices(loadConfig({ DATA_DIR: dataDir, WEBHOOK_ALLOW_PRIVATE: 'true' }), createLogger('silent'));
    const { webhook } = await opened.services.webhooks.add(cliActor, { url: sink.url, events: ['mailbox.created'] });
    const now = Math.floor(Date.now() / 1000);
    const insert = opened.db!.prepare(`INSERT INTO webhook_events (message_id, webhook_id, type, payload, created_at, next_at) VALUES (?, ?, 'mailbox.created', ?, ?, ?)`);
    opened.db!.transaction(() => {
      for (let n = 0; n < EVENTS; n++) insert.run(`msg_${n.toString(16).padStart(32, '0')}`, webhook.id, JSON.stringify({ type: 'mailbox.created', timestamp: new Date(now * 1000).toISOString(), data: { address: `u${n}@hooks.bench`, domain: 'hooks.bench', actor: 'cli', n } }), now, now);
    })();
    await opened.close();
    const server = await startServerProcess(dataDir, { WEBHOOK_ALLOW_PRIVATE: 'true' }, { cpus });
    const started = performance.now();
    const before = (await server.ask<{ cpuMs: number }>('stats')).cpuMs;
    while (sink.times.length < EVENTS) {
      if (performance.now() - started > 300_000) throw new Error(`${sink.times.length} of ${EVENTS} deliveries in 5 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpuMs = (await server.ask<{ cpuMs: number }>('stats')).cpuMs - before;
    await server.stop();
    const seconds = (sink.times.at(-1)! - sink.times[0]!) / 1000;
    return { rate: EVENTS / seconds, seconds, firstAfterMs: sink.times[0]! - started, cpuMsPerEvent: cpuMs / EVENTS, distinct: sink.ids.size, outOfOrder: sink.outOfOrder() };
  } finally {
    await sink.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function webhookFigures(cpus: string | undefined) {
  note(`webhooks: ${CHANGES} changes with no webhook and with three subscribed, three pairs`);
  const pairs = await paired(() => changeCost(0), () => changeCost(3));
  const added = pairs.map((p) => p.subject.msPerChange - p.baseline.msPerChange);
  report('webhook_change_added_ms', round(median(added), 3), 'ms', {
    baseline: 'the same change with no webhook (run just before each)',
    baseline_ms_per_change: round(median(pairs.map((p) => p.baseline.msPerChange)), 3),
    with_three_webhooks_ms_per_change: round(median(pairs.map((p) => p.subject.msPerChange)), 3),
    pairs_added_ms: added.map((a) => round(a, 3)),
    target: '<= 1',
  });
  note(`webhooks: ${EVENTS} queued events delivered to a receiver on 127.0.0.1`);
  const r = await deliveryRate(cpus);
  report('webhook_delivery_rate', round(r.rate, 0), 'events/s', {
    events: EVENTS,
    seconds: round(r.seconds, 2),
    first_delivery_after_start_ms: round(r.firstAfterMs, 0),
    server_cpu_ms_per_event: round(r.cpuMsPerEvent, 3),
    distinct_ids: r.distinct,
    out_of_order: r.outOfOrder,
    target: '>= 500',
  });
}

// `npm run bench:webhooks`: these figures alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await webhookFigures(process.env.BENCH_SERVER_CPUS);
