import type { Worker } from 'node:worker_threads';
import type { Assessment, StrengthEstimator } from '../core/ports.js';
import { spawnWorker } from './worker-thread.js';

/**
 * zxcvbn in a worker thread: a check costs 10-90 ms of CPU and its dictionaries about 60 MB,
 * neither of which belongs on the event loop that serves SMTP and /healthz. The worker starts
 * on first use and ends after `idleMs` without work, giving the memory back.
 */
export function createStrengthEstimator({ idleMs = 30_000 }: { idleMs?: number } = {}): StrengthEstimator {
  let worker: Worker | null = null;
  let nextId = 0;
  const pending = new Map<number, { resolve: (a: Assessment) => void; reject: (e: unknown) => void }>();
  let idleTimer: NodeJS.Timeout | null = null;

  const stop = async () => {
    const w = worker;
    worker = null;
    if (w) await w.terminate();
  };
  const failAll = (err: unknown) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const start = () => {
    const w = spawnWorker('strength-worker');
    w.unref();
    w.on('message', (msg: { id: number } & Assessment) => {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      p?.resolve({ score: msg.score, common: msg.common });
      if (pending.size === 0) {
        idleTimer = setTimeout(() => void stop(), idleMs);
        idleTimer.unref();
      }
    });
    w.on('error', (err) => {
      if (worker === w) worker = null;
      failAll(err);
    });
    w.on('exit', () => {
      if (worker === w) worker = null;
      failAll(new Error('strength worker exited'));
    });
    return w;
  };

  return {
    assess(password, userInputs) {
      if (idleTimer) clearTimeout(idleTimer);
      worker ??= start();
      const id = nextId++;
      return new Promise<Assessment>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker!.postMessage({ id, password, inputs: userInputs });
      });
    },
    async close() {
      if (idleTimer) clearTimeout(idleTimer);
      await stop();
    },
  };
}
