import type { Worker } from 'node:worker_threads';
import type { Scheme } from '../core/hash-schemes.js';
import { spawnWorker } from './worker-thread.js';

export interface LegacyVerifier {
  /** Verifies a password against an imported hash in a worker thread, off the event loop. */
  verify(scheme: Scheme, hash: string, password: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A pool of at most `size` worker threads for imported hashes (the hasher's limit lets no more
 * than that many verifications run at once, so a job always finds a free worker). Workers start on
 * first need and end after `idleMs` without work; one that dies fails only its own job.
 */
export function createLegacyVerifier({ size, idleMs = 60_000 }: { size: number; idleMs?: number }): LegacyVerifier {
  type Slot = { worker: Worker; busy: boolean; timer: NodeJS.Timeout | null };
  const slots: Slot[] = [];
  const pending = new Map<number, { slot: Slot; resolve: (ok: boolean) => void; reject: (err: unknown) => void }>();
  const waiting: Array<() => void> = [];
  let nextId = 0;

  const drop = (slot: Slot, err: unknown) => {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    for (const [id, p] of pending) {
      if (p.slot !== slot) continue;
      pending.delete(id);
      p.reject(err);
    }
    waiting.shift()?.();
  };
  const start = (): Slot => {
    const slot: Slot = { worker: spawnWorker('legacy-hash-worker'), busy: false, timer: null };
    slot.worker.unref();
    slot.worker.on('message', (msg: { id: number; ok: boolean }) => {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      slot.busy = false;
      p?.resolve(msg.ok === true);
      const next = waiting.shift();
      if (next) return next();
      slot.timer = setTimeout(() => {
        if (slot.busy) return;
        drop(slot, new Error('idle'));
        void slot.worker.terminate();
      }, idleMs);
      slot.timer.unref();
    });
    slot.worker.on('error', (err) => drop(slot, err));
    slot.worker.on('exit', () => drop(slot, new Error('legacy hash worker exited')));
    slots.push(slot);
    return slot;
  };
  const free = async (): Promise<Slot> => {
    for (;;) {
      const idle = slots.find((s) => !s.busy);
      if (idle) return idle;
      if (slots.length < size) return start();
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };

  return {
    async verify(scheme, hash, password) {
      const slot = await free();
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      slot.busy = true;
      const id = nextId++;
      return new Promise<boolean>((resolve, reject) => {
        pending.set(id, { slot, resolve, reject });
        slot.worker.postMessage({ id, scheme, hash, password });
      });
    },
    async close() {
      for (const slot of slots.splice(0)) {
        if (slot.timer) clearTimeout(slot.timer);
        await slot.worker.terminate();
      }
    },
  };
}
