import type { Worker } from 'node:worker_threads';
import type { Hasher } from '../core/ports.js';
import type { Argon2Binding } from './argon2-binding.js';
import type { HashObserver } from './argon2-hasher.js';
import { defaultHashConcurrency, needsRehash, type Argon2Params } from './argon2-phc.js';
import type { Ask, Close, Reply, Request } from './argon2-worker.js';
import { spawnWorker } from './worker-thread.js';

export interface HasherThread extends Hasher {
  /** The argon2 build the thread chose (argon2-binding.ts): asked of the thread, so that the server's own process never loads it. */
  build(): Promise<Argon2Binding['build']>;
  /** Ends the thread; a later call starts another. */
  close(): Promise<void>;
}

/** How long close() waits for the thread to end of itself: a verification takes 10-100 ms. */
const CLOSE_WAIT_MS = 10_000;

type Pending = { resolve: (value: string | boolean) => void; reject: (err: Error) => void };

/**
 * The argon2 hasher (argon2-hasher.ts) in a thread of its own, with its limits and queues: the
 * verifications still run on libuv's pool, but the hand-off from one to the next (a slot freed, the
 * next of the queue started) no longer waits for the server's event loop. Measured (issue 36.3,
 * `npm run bench:cores`): with the queue on the server's loop, cold logins from one address kept the
 * machine 1.86-1.89 of 2 processors busy; here 1.90-1.95. The thread starts at the first call and
 * does not keep the process alive when nothing is asked of it; if it dies, what it was asked fails
 * (a verification as a wrong password, as the hasher's own errors do) and the next call starts
 * another.
 */
export function createHasherThread(params: Argon2Params, concurrency = defaultHashConcurrency(), observe?: HashObserver): HasherThread {
  let worker: Worker | null = null;
  let nextId = 0;
  const pending = new Map<number, Pending>();

  const fail = (w: Worker, err: Error) => {
    if (worker !== w) return;
    worker = null;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const start = (): Worker => {
    const w = spawnWorker('argon2-worker', { workerData: { params, concurrency } });
    w.unref();
    w.on('message', (reply: Reply) => {
      if ('observed' in reply) return observe?.(reply.observed, reply.seconds);
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (pending.size === 0) w.unref();
      if (reply.error !== undefined) p.reject(new Error(reply.error));
      else p.resolve(reply.value!);
    });
    w.on('error', (err) => fail(w, err));
    w.on('exit', () => fail(w, new Error('the hasher thread ended')));
    return w;
  };
  const ask = <T extends string | boolean>(req: Ask) =>
    new Promise<T>((resolve, reject) => {
      const w = (worker ??= start());
      const id = ++nextId;
      pending.set(id, { resolve: resolve as Pending['resolve'], reject });
      w.ref();
      w.postMessage({ ...req, id } satisfies Request);
    });

  return {
    hash: (password) => ask<string>({ op: 'hash', password }),
    verify: (hash, password, queue) => ask<boolean>({ op: 'verify', hash, password, queue }).catch(() => false),
    needsRehash: (hash) => needsRehash(params, hash),
    build: () => ask<Argon2Binding['build']>({ op: 'build' }),
    async close() {
      const w = worker;
      if (!w) return;
      // The thread finishes the argon2 runs it started and ends itself: terminating it while one
      // runs aborts the whole process when the run completes (node-addon-api's Napi::Error, found by
      // CI). What waits for a slot is failed at once, so this takes one run at most. Terminated only
      // if it has not ended after CLOSE_WAIT_MS.
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref();
      w.postMessage({ op: 'close' } satisfies Close);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS)));
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      // Ended of itself: its 'exit' handler has failed whatever was still pending.
      if (outcome === 'late') {
        fail(w, new Error('the hasher thread was closed'));
        await w.terminate();
      }
    },
  };
}
