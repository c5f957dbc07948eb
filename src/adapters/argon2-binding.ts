import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The argon2 package's native function: one Argon2 hash on libuv's thread pool. */
export type Argon2Native = (args: {
  password: Buffer;
  salt: Buffer;
  secret: Buffer;
  data: Buffer;
  hashLength: number;
  m: number;
  t: number;
  p: number;
  type: number;
  version: number;
}) => Promise<Buffer>;

export interface Argon2Binding {
  hash: Argon2Native;
  /** Which build computes: 'avx2' (scripts/build-argon2-avx2.mjs) or the package's own ('package'). */
  build: 'avx2' | 'package';
}

const requireHere = createRequire(import.meta.url);
/** dist/native/ of this installation, from src/adapters (tests) and dist/adapters (the server) alike. */
export const AVX2_BUILD = fileURLToPath(new URL('../../dist/native/argon2-avx2.node', import.meta.url));

/** The package's own module, found as the package finds it (node-gyp-build: a prebuild, else its build/). */
function packageBinding(): Argon2Native {
  const pkgDir = path.dirname(requireHere.resolve('argon2/package.json'));
  const gypBuild = createRequire(path.join(pkgDir, 'package.json'))('node-gyp-build') as (dir: string) => { hash: Argon2Native };
  return gypBuild(pkgDir).hash;
}

/** Whether this processor runs AVX2 code: the kernel lists the flag only when it also saves the AVX state. */
export function cpuHasAvx2(cpuinfo = '/proc/cpuinfo'): boolean {
  if (process.arch !== 'x64') return false;
  try {
    return /^flags\s*:.*\bavx2\b/m.test(readFileSync(cpuinfo, 'utf8'));
  } catch {
    return false;
  }
}

/** A small input hashed by both builds: the AVX2 build serves only when its answer is the package's. */
const PROBE = {
  password: Buffer.from('mailpass argon2 build check'),
  salt: Buffer.from('0123456789abcdef'),
  secret: Buffer.alloc(0),
  data: Buffer.alloc(0),
  hashLength: 32,
  m: 256,
  t: 3,
  p: 2,
  type: 2,
  version: 0x13,
};

/**
 * The fastest build of argon2 this machine can use: the AVX2 build when the processor has AVX2,
 * the file is there, and it agrees with the package's build on a probe; else the package's own.
 * `avx2File` and `cpuinfo` are for tests.
 */
export async function loadArgon2Binding({ avx2File = AVX2_BUILD, cpuinfo }: { avx2File?: string; cpuinfo?: string } = {}): Promise<Argon2Binding> {
  const own = packageBinding();
  if (!cpuHasAvx2(cpuinfo) || !existsSync(avx2File)) return { hash: own, build: 'package' };
  let avx2: Argon2Native;
  try {
    avx2 = (requireHere(avx2File) as { hash: Argon2Native }).hash;
  } catch {
    return { hash: own, build: 'package' };
  }
  const [a, b] = await Promise.all([own(PROBE), avx2(PROBE).catch(() => Buffer.alloc(0))]);
  return a.equals(b) ? { hash: avx2, build: 'avx2' } : { hash: own, build: 'package' };
}
