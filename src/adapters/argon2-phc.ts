// argon2's PHC strings and parameters, with no argon2 code: what the server's own thread needs
// (the hasher's thread, argon2-thread.ts, imports this, not argon2-hasher.ts, which loads the
// argon2 package, bcryptjs and unixcrypt: 3 MiB of the server's resident memory, measured).
import os from 'node:os';

export interface Argon2Params {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

export const PHC = /^\$argon2(id|i|d)\$v=(\d+)\$([^$]+)\$([^$]+)\$([^$]+)$/;

export function parseParams(list: string): Record<string, number> {
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
 * How many argon2 operations may run at once: one per CPU core, and never the whole libuv
 * thread pool (one thread stays free for fs and DNS). argon2id is memory-hard: more hashes
 * than cores thrash the caches (measured on 2 cores: 63 verifications/s at 2, 53 at 3, 40 at 4).
 */
export function defaultHashConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(os.availableParallelism(), pool - 1));
}

/** True when `hash` is not an argon2id hash of `params` in the canonical m,t,p order. */
export function needsRehash(params: Argon2Params, hash: string): boolean {
  const m = PHC.exec(hash);
  if (!m || m[1] !== 'id' || m[2] !== '19') return true;
  const p = parseParams(m[3]!);
  // A hash in the old m,p,t order is re-written too, so that Dovecot can verify it.
  return p.m !== params.memoryKib || p.t !== params.timeCost || p.p !== params.parallelism || hash !== canonicalPhc(hash);
}
