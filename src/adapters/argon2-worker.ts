// The hasher's thread (argon2-thread.ts): the argon2 hasher, its limits and its queues, on an event
// loop of their own. A verification that ends hands its slot to the next one here, at once, rather
// than when the server's loop, busy with TLS handshakes, gets to it (issue 36.3).
import { parentPort, workerData } from 'node:worker_threads';
import { createArgon2Hasher, sharedBinding, type Queue } from './argon2-hasher.js';
import type { Argon2Params } from './argon2-phc.js';

export type Ask = { op: 'hash'; password: string } | { op: 'verify'; hash: string; password: string; queue?: Queue } | { op: 'build' };
/** Sent once by close(): what waits fails, what runs ends, then the thread leaves of itself. */
export type Close = { op: 'close' };
export type Request = Ask & { id: number };
export type Reply = { id: number; value?: string | boolean; error?: string } | { observed: 'hash' | 'verify'; seconds: number };

const { params, concurrency } = workerData as { params: Argon2Params; concurrency: number };
const port = parentPort!;
const hasher = createArgon2Hasher(params, concurrency, (observed, seconds) => port.postMessage({ observed, seconds } satisfies Reply));

port.on('message', (req: Request | Close) => {
  if (req.op === 'close') {
    // Never terminated with an argon2 run on libuv's pool (argon2-thread.ts): the port closed,
    // nothing keeps this thread's loop alive and it ends.
    void hasher.close().finally(() => port.close());
    return;
  }
  const work: Promise<string | boolean> =
    req.op === 'hash' ? hasher.hash(req.password) : req.op === 'verify' ? hasher.verify(req.hash, req.password, req.queue) : sharedBinding().then((b) => b.build);
  work.then(
    (value) => port.postMessage({ id: req.id, value } satisfies Reply),
    (err: unknown) => port.postMessage({ id: req.id, error: err instanceof Error ? err.message : 'argon2 failed' } satisfies Reply),
  );
});
