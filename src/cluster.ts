import cluster, { type Worker } from 'node:cluster';
import { createAccountEvents } from './core/events.js';
import type { AccountEvents, Logger } from './core/ports.js';

/** A worker that dies sooner than this after its start waits before it is replaced (no crash loop). */
const EARLY_DEATH_MS = 5_000;
const REPLACE_DELAY_MS = 1_000;

interface EventMessage {
  mailpass: 'account-event';
  kind: 'changed' | 'app-revoked';
  id: number;
}

const isEvent = (m: unknown): m is EventMessage =>
  typeof m === 'object' && m !== null && (m as EventMessage).mailpass === 'account-event' && Number.isSafeInteger((m as EventMessage).id);

/**
 * `WORKERS=N` (SPEC §12): the primary process forks N workers that share the listeners
 * (node:cluster hands each connection to one of them), replaces one that dies, and on SIGTERM or
 * SIGINT stops them all and waits for each to drain. It relays account events between workers,
 * so that a change made in one ends the live sessions the others hold. Resolves with the exit code.
 */
export function runPrimary({ workers, log, stopSignal }: { workers: number; log: Logger; stopSignal: Promise<NodeJS.Signals> }): Promise<number> {
  let stopping = false;
  let failed = false;
  const started = new Map<Worker, number>();
  /** Workers that listen: one that a SIGTERM ends before it does held nothing to drain. */
  const serving = new WeakSet<Worker>();

  const fork = () => {
    // A replacement whose delay ends after SIGTERM would start a worker nobody stops.
    if (stopping) return;
    const worker = cluster.fork();
    started.set(worker, Date.now());
    worker.once('listening', () => serving.add(worker));
    worker.on('message', (m: unknown) => {
      if (!isEvent(m)) return;
      for (const other of Object.values(cluster.workers ?? {})) if (other && other !== worker) other.send(m);
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (started.get(worker) ?? 0);
    started.delete(worker);
    if (stopping) {
      // A worker still loading when told to stop (a replacement, or a stop right after the start)
      // has no handler for the signal yet and ends by it: it served nothing, so nothing was lost.
      const unstarted = code === null && signal === 'SIGTERM' && !serving.has(worker);
      if (code !== 0 && !unstarted) {
        failed = true;
        // The primary then exits 1: say which worker and why, where a service manager shows it.
        process.stderr.write(`mailpass: worker ${worker.process.pid} stopped with ${code === null ? `signal ${signal}` : `exit code ${code}`}\n`);
        log.error({ pid: worker.process.pid, code, signal }, 'worker did not stop cleanly');
      }
      return;
    }
    log.warn({ pid: worker.process.pid, code, signal, livedMs: lived }, 'worker died; starting another');
    if (lived < EARLY_DEATH_MS) setTimeout(fork, REPLACE_DELAY_MS).unref();
    else fork();
  });

  for (let i = 0; i < workers; i++) fork();
  log.info({ workers }, 'primary started its workers');

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping the workers');
      const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
      if (alive.length === 0) return resolve(0);
      let left = alive.length;
      for (const w of alive) {
        // cluster's 'exit' (above) runs after the worker's own: the verdict waits for it.
        w.once('exit', () =>
          setImmediate(() => {
            if (--left === 0) {
              log.info({}, 'stopped');
              resolve(failed ? 1 : 0);
            }
          }),
        );
        w.process.kill('SIGTERM');
      }
    };
    void stopSignal.then(stop);
  });
}

/**
 * A worker's account events: its own at once, and through the primary those of the other
 * workers (SQLite: several processes on one file have no notifications of their own).
 */
export function createWorkerAccountEvents(): AccountEvents {
  const local = createAccountEvents();
  const tell = (kind: EventMessage['kind'], id: number) => process.send?.({ mailpass: 'account-event', kind, id } satisfies EventMessage);
  process.on('message', (m: unknown) => {
    if (!isEvent(m)) return;
    if (m.kind === 'changed') local.emitChanged(m.id);
    else local.emitAppPasswordRevoked(m.id);
  });
  return {
    emitChanged(id) {
      local.emitChanged(id);
      tell('changed', id);
    },
    onChanged: local.onChanged,
    emitAppPasswordRevoked(id) {
      local.emitAppPasswordRevoked(id);
      tell('app-revoked', id);
    },
    onAppPasswordRevoked: local.onAppPasswordRevoked,
  };
}
