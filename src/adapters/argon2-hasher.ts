import os from 'node:os';
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { splitStored } from '../core/hash-schemes.js';
import { verifyScheme } from './legacy-hashes.js';
import type { Hasher } from '../core/ports.js';

export interface Argon2Params {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

const PHC = /^\$argon2(id|i|d)\$v=(\d+)\$([^$]+)\$([^$]+)\$([^$]+)$/;

function parseParams(list: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of list.split(',')) {
    const [k, v] = pair.split('=');
    if (k && v && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/**
 * Rewrites a PHC string with its parameters in the order m, t, p.
 * libsodium (and so Dovecot's {ARGON2ID}) reads only that order; the argon2 package writes m, p, t.
 */
export function canonicalPhc(hash: string): string {
  const m = PHC.exec(hash);
  if (!m) return hash;
  const p = parseParams(m[3]!);
  if (p.m === undefined || p.t === undefined || p.p === undefined) return hash;
  return `$argon2${m[1]}$v=${m[2]}$m=${p.m},t=${p.t},p=${p.p}$${m[4]}$${m[5]}`;
}

/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in order. A finished task
 * hands its slot to the next in line, so no newcomer can take it in between and exceed the limit.
 */
export function createLimiter(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else active++;
      try {
        return await task();
      } finally {
        release();
      }
    },
    get pending() {
      return waiting.length;
    },
  };
}

/**
 * How many argon2 operations may run at once: one per CPU core, and never the whole libuv
 * thread pool (one thread stays free for fs and DNS). argon2id is memory-hard: more hashes
 * than cores thrash the caches (measured on 2 cores: 63 verifications/s at 2, 53 at 3, 40 at 4).
 */
export function defaultHashConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(os.availableParallelism(), pool - 1));
}

export interface HashObserver {
  (op: 'hash' | 'verify', seconds: number): void;
}

/** argon2id with explicit parameters; the work runs on libuv's thread pool, never on the event loop. */
export function createArgon2Hasher(params: Argon2Params, concurrency = defaultHashConcurrency(), observe?: HashObserver): Hasher {
  const options = {
    type: argon2.argon2id,
    memoryCost: params.memoryKib,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
  } as const;
  const limiter = createLimiter(concurrency);
  const timed = async <T>(op: 'hash' | 'verify', task: () => Promise<T>): Promise<T> =>
    limiter.run(async () => {
      const start = process.hrtime.bigint();
      try {
        return await task();
      } finally {
        observe?.(op, Number(process.hrtime.bigint() - start) / 1e9);
      }
    });
  // SPEC §13: an imported hash ({SCHEME}...) costs what any login costs: its own check, and the
  // argon2id work of a dummy hash beside it (an old scheme must not answer faster, which would tell
  // an attacker whose hash is weak). The dummy is made once, on first need.
  let dummy: Promise<string> | null = null;
  const verifyImported = async (stored: string, password: string) => {
    const { scheme, hash } = splitStored(stored);
    if (scheme === 'unknown') return false;
    if (scheme === 'ARGON2ID' || scheme === 'ARGON2I') return timed('verify', () => verifyScheme(scheme, hash, password));
    dummy ??= argon2.hash(randomBytes(16).toString('base64'), options);
    const dummyHash = await dummy;
    const [ok] = await Promise.all([verifyScheme(scheme, hash, password), timed('verify', () => argon2.verify(dummyHash, password)).catch(() => false)]);
    return ok;
  };
  return {
    hash: (password) => timed('hash', async () => canonicalPhc(await argon2.hash(password, options))),
    async verify(hash, password) {
      if (hash.startsWith('{')) return verifyImported(hash, password);
      if (!PHC.test(hash)) return false;
      return timed('verify', () => argon2.verify(hash, password)).catch(() => false);
    },
    needsRehash(hash) {
      const m = PHC.exec(hash);
      if (!m || m[1] !== 'id' || m[2] !== '19') return true;
      const p = parseParams(m[3]!);
      // A hash in the old m,p,t order is re-written too, so that Dovecot can verify it.
      return p.m !== params.memoryKib || p.t !== params.timeCost || p.p !== params.parallelism || hash !== canonicalPhc(hash);
    },
  };
}
