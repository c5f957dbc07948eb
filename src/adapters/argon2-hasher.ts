import { randomBytes, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';
import { loadArgon2Binding, type Argon2Binding } from './argon2-binding.js';
import { splitStored } from '../core/hash-schemes.js';
import { verifyScheme } from './legacy-hashes.js';
import { createLegacyVerifier, type LegacyVerifier } from './legacy-verifier.js';
import type { Hasher } from '../core/ports.js';
import { defaultHashConcurrency, needsRehash, parseParams, PHC, type Argon2Params } from './argon2-phc.js';

/** A queue of its own within a limiter: at most `limit` of its tasks run at once (e.g. one client address's). */
export interface Queue {
  key: string;
  limit: number;
}

/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in order. A finished task
 * hands its slot to the next in line, so no newcomer can take it in between and exceed the limit.
 * A task of a queue first waits for a slot of its queue (its queue's next task takes it when it
 * ends), then for one of the limiter's.
 */
export function createLimiter(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  const queues = new Map<string, { active: number; waiting: Array<() => void> }>();
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const run = async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
  return {
    async run<T>(task: () => Promise<T>, queue?: Queue): Promise<T> {
      if (!queue) return run(task);
      let q = queues.get(queue.key);
      if (!q) queues.set(queue.key, (q = { active: 0, waiting: [] }));
      const own = q;
      if (own.active >= queue.limit) await new Promise<void>((resolve) => own.waiting.push(resolve));
      else own.active++;
      try {
        return await run(task);
      } finally {
        const next = own.waiting.shift();
        if (next) next();
        else if (--own.active === 0) queues.delete(queue.key);
      }
    },
    get pending() {
      return waiting.length;
    },
  };
}

const ARGON2ID = 2;
const VERSION = 0x13;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const EMPTY = Buffer.alloc(0);
/** PHC's base64: the standard alphabet without padding. */
const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/**
 * Verifies a password against an argon2 PHC string. What this hasher writes (argon2id, version 19,
 * m, t and p in either order) goes through `binding`; any other argon2 string (another type or
 * version, associated data) through the argon2 package's own verify, as before.
 */
async function verifyPhc(binding: Argon2Binding, hash: string, password: string): Promise<boolean> {
  const m = PHC.exec(hash);
  if (!m) return false;
  const { m: mem, t, p } = parseParams(m[3]!);
  const expected = Buffer.from(m[5]!, 'base64');
  const salt = Buffer.from(m[4]!, 'base64');
  const ours = m[1] === 'id' && m[2] === '19' && m[3]!.split(',').length === 3 && expected.length >= 4 && salt.length >= 8;
  if (!ours || !mem || !t || !p) return argon2.verify(hash, password);
  const actual = await binding.hash({ password: Buffer.from(password), salt, secret: EMPTY, data: EMPTY, hashLength: expected.length, m: mem, t, p, type: ARGON2ID, version: VERSION });
  return timingSafeEqual(actual, expected);
}

let shared: Promise<Argon2Binding> | null = null;
/** The build chosen once per process (loadArgon2Binding hashes a probe with both). */
export const sharedBinding = () => (shared ??= loadArgon2Binding());

export interface HashObserver {
  (op: 'hash' | 'verify', seconds: number): void;
}

export interface ClosableHasher extends Hasher {
  /**
   * Refuses new work, fails what waits for a slot and resolves once the operations already on
   * libuv's pool have ended. A thread must not be terminated before: a native operation that
   * completes in an environment being torn down aborts the whole process (node-addon-api throws
   * where it can no longer reach JavaScript).
   */
  close(): Promise<void>;
}

/**
 * argon2id with explicit parameters; the work runs on libuv's thread pool, never on the event loop,
 * in the AVX2 build of the argon2 package's code where the processor has AVX2 (argon2-binding.ts).
 * `binding` is for tests.
 */
export function createArgon2Hasher(
  params: Argon2Params,
  concurrency = defaultHashConcurrency(),
  observe?: HashObserver,
  binding: Promise<Argon2Binding> = sharedBinding(),
  legacy: LegacyVerifier = createLegacyVerifier({ size: concurrency }),
): ClosableHasher {
  let closed = false;
  let closing: Promise<void> | null = null;
  let inFlight = 0;
  let idle: (() => void) | null = null;
  const makeHash = async (password: string) => {
    const salt = randomBytes(SALT_BYTES);
    const raw = await (await binding).hash({ password: Buffer.from(password), salt, secret: EMPTY, data: EMPTY, hashLength: HASH_BYTES, m: params.memoryKib, t: params.timeCost, p: params.parallelism, type: ARGON2ID, version: VERSION });
    return `$argon2id$v=19$m=${params.memoryKib},t=${params.timeCost},p=${params.parallelism}$${b64(salt)}$${b64(raw)}`;
  };
  const verify = async (hash: string, password: string) => verifyPhc(await binding, hash, password);
  const limiter = createLimiter(concurrency);
  const timed = async <T>(op: 'hash' | 'verify', task: () => Promise<T>, queue?: Queue): Promise<T> => {
    if (closed) throw new Error('the hasher is closed');
    inFlight++;
    try {
      return await limiter.run(async () => {
        if (closed) throw new Error('the hasher is closed');
        const start = process.hrtime.bigint();
        try {
          return await task();
        } finally {
          observe?.(op, Number(process.hrtime.bigint() - start) / 1e9);
        }
      }, queue);
    } finally {
      if (--inFlight === 0) idle?.();
    }
  };
  // SPEC §13: an imported hash ({SCHEME}...) is verified under the same limit as argon2, and the
  // schemes that only JavaScript computes here (bcrypt, SHA-crypt) in a worker thread, never on
  // the event loop (issue 29). How long a failure takes is the logins' business (their floor).
  const verifyImported = async (stored: string, password: string, queue?: Queue) => {
    const { scheme, hash } = splitStored(stored);
    if (scheme === 'unknown') return false;
    if (scheme === 'ARGON2ID' || scheme === 'ARGON2I') return timed('verify', () => verifyScheme(scheme, hash, password), queue);
    return timed('verify', () => legacy.verify(scheme, hash, password), queue).catch(() => false);
  };
  return {
    hash: (password) => timed('hash', () => makeHash(password)),
    async verify(hash, password, queue) {
      if (hash.startsWith('{')) return verifyImported(hash, password, queue);
      if (!PHC.test(hash)) return false;
      return timed('verify', () => verify(hash, password), queue).catch(() => false);
    },
    needsRehash: (hash) => needsRehash(params, hash),
    close() {
      closing ??= (async () => {
        closed = true;
        if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
        // The build's probe hashes on the pool too.
        await binding.catch(() => {});
        await legacy.close();
      })();
      return closing;
    },
  };
}
