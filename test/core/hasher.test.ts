import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import argon2 from 'argon2';
import { AVX2_BUILD, cpuHasAvx2, loadArgon2Binding } from '../../src/adapters/argon2-binding.js';
import { createArgon2Hasher, createLimiter } from '../../src/adapters/argon2-hasher.js';
import { canonicalPhc } from '../../src/adapters/argon2-phc.js';

const params = { memoryKib: 1024, timeCost: 1, parallelism: 1 };

test('hashes are argon2id PHC strings in the canonical m,t,p order', async () => {
  const hasher = createArgon2Hasher(params);
  const hash = await hasher.hash('Kv7#pLq2!wZr');
  assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.equal(await hasher.verify(hash, 'Kv7#pLq2!wZr'), true);
  assert.equal(await hasher.verify(hash, 'kv7#pLq2!wZr'), false);
  assert.equal(hasher.needsRehash(hash), false);
});

test('a hash in the m,p,t order or with other parameters verifies and needs a re-hash', async () => {
  const hasher = createArgon2Hasher(params);
  const raw = await argon2.hash('Kv7#pLq2!wZr', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  assert.match(raw, /m=1024,p=1,t=1/);
  assert.equal(await hasher.verify(raw, 'Kv7#pLq2!wZr'), true);
  assert.equal(hasher.needsRehash(raw), true);
  assert.equal(await hasher.verify(canonicalPhc(raw), 'Kv7#pLq2!wZr'), true);
  const other = createArgon2Hasher({ ...params, timeCost: 2 });
  assert.equal(other.needsRehash(await hasher.hash('x')), true);
});

test('passwords are compared exactly: no trimming or normalisation', async () => {
  const hasher = createArgon2Hasher(params);
  const hash = await hasher.hash('Kv7#pLq2!wZé');
  assert.equal(await hasher.verify(hash, 'Kv7#pLq2!wZé'), true);
  assert.equal(await hasher.verify(hash, 'Kv7#pLq2!wZe\u0301'), false);
  assert.equal(await hasher.verify(hash, ' Kv7#pLq2!wZé'), false);
});

test('a malformed stored hash never verifies', async () => {
  const hasher = createArgon2Hasher(params);
  assert.equal(await hasher.verify('not-a-hash', 'x'), false);
});

test('the limiter runs at most N tasks at once', async () => {
  const limiter = createLimiter(2);
  let active = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 10 }, () =>
      limiter.run(async () => {
        peak = Math.max(peak, ++active);
        await new Promise((r) => setImmediate(r));
        active--;
      }),
    ),
  );
  assert.equal(peak, 2);
});

test("the limiter's queues: at most their own limit at once, a finished task's slot to its queue's next, other queues not behind them", async () => {
  const limiter = createLimiter(3);
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  const order: string[] = [];
  const task = (key: string) => async () => {
    running.set(key, (running.get(key) ?? 0) + 1);
    peak.set(key, Math.max(peak.get(key) ?? 0, running.get(key)!));
    order.push(key);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    running.set(key, running.get(key)! - 1);
  };
  const a = Array.from({ length: 8 }, () => limiter.run(task('a'), { key: 'a', limit: 2 }));
  const b = limiter.run(task('b'), { key: 'b', limit: 2 });
  await Promise.all([...a, b]);
  assert.equal(peak.get('a'), 2, "one queue's tasks, at most two at once");
  assert.equal(order.indexOf('b'), 2, 'b starts beside the first two of a, not after all eight');
});

test('closing the hasher: the run on the pool ends, what waits fails, later work is refused, and a second close waits with the first', async () => {
  const hasher = createArgon2Hasher({ memoryKib: 32768, timeCost: 2, parallelism: 1 }, 1);
  const running = hasher.hash('Kv7#pLq2!wZr');
  const waiting = hasher.hash('another-Pass-1').then(
    () => 'hashed',
    (err: Error) => err.message,
  );
  await new Promise((resolve) => setImmediate(resolve));
  const [first, second] = [hasher.close(), hasher.close()];
  assert.equal(first, second, 'one closing');
  await Promise.all([first, second]);
  assert.match(await running, /^\$argon2id\$/);
  assert.equal(await waiting, 'the hasher is closed');
  await assert.rejects(hasher.hash('late-Pass-1'), /the hasher is closed/);
  assert.equal(await hasher.verify(await running, 'Kv7#pLq2!wZr'), false, 'a verification after close is refused, as a wrong password');
});

describe('the argon2 build (dist/native/argon2-avx2.node where the processor has AVX2)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailpass-argon2-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the AVX2 build serves exactly when the processor has AVX2 and the build is there', async () => {
    const binding = await loadArgon2Binding();
    assert.equal(binding.build, cpuHasAvx2() && existsSync(AVX2_BUILD) ? 'avx2' : 'package');
  });

  test("each build's hashes verify with the argon2 package, and the package's with each build", async () => {
    const builds = [await loadArgon2Binding(), await loadArgon2Binding({ avx2File: path.join(dir, 'none.node') })];
    assert.equal(builds[1]!.build, 'package');
    for (const binding of builds) {
      const hasher = createArgon2Hasher({ memoryKib: 19456, timeCost: 2, parallelism: 1 }, 2, undefined, Promise.resolve(binding));
      const ours = await hasher.hash('Kv7#pLq2!wZr');
      assert.equal(await argon2.verify(ours, 'Kv7#pLq2!wZr'), true, binding.build);
      assert.equal(await argon2.verify(ours, 'Kv7#pLq2!wZs'), false, binding.build);
      const theirs = canonicalPhc(await argon2.hash('Kv7#pLq2!wZr', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }));
      assert.equal(await hasher.verify(theirs, 'Kv7#pLq2!wZr'), true, binding.build);
      assert.equal(await hasher.verify(theirs, 'Kv7#pLq2!wZs'), false, binding.build);
    }
  });

  // scripts/argon2-memory.h: with malloc, each pool thread that ever hashed kept its 19 MiB in its
  // arena (three on two cores); the AVX2 build hands one block from hash to hash.
  test('the AVX2 build keeps a block of memory per hash running at once, not one per pool thread', { skip: !(cpuHasAvx2() && existsSync(AVX2_BUILD)) && 'no AVX2 build here' }, () => {
    const script = `
      const m = { exports: {} }; process.dlopen(m, process.argv[1]);
      const E = Buffer.alloc(0);
      const one = () => m.exports.hash({ password: Buffer.from('Kv7#pLq2!wZr'), salt: require('crypto').randomBytes(16), secret: E, data: E, hashLength: 32, m: 19456, t: 2, p: 1, type: 2, version: 0x13 });
      const before = process.memoryUsage().rss;
      (async () => {
        let left = 40;
        const worker = async () => { while (left-- > 0) await one(); };
        await Promise.all([worker(), worker()]);
        process.stdout.write(String((process.memoryUsage().rss - before) / 2 ** 20));
      })();`;
    // Four pool threads, two hashes at a time: forty hashes land on three or four of them.
    const grown = Number(execFileSync(process.execPath, ['-e', script, AVX2_BUILD], { env: { ...process.env, UV_THREADPOOL_SIZE: '4' }, encoding: 'utf8' }));
    assert.ok(grown > 19 && grown < 50, `${grown.toFixed(1)} MiB kept for two hashes at a time of 19 MiB each`);
  });

  test("another argon2 string (argon2i, associated data) still verifies through the package's verify", async () => {
    const hasher = createArgon2Hasher(params);
    const argon2i = await argon2.hash('Kv7#pLq2!wZr', { type: argon2.argon2i, memoryCost: 1024, timeCost: 1, parallelism: 1 });
    const withData = await argon2.hash('Kv7#pLq2!wZr', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1, associatedData: Buffer.from('ad') });
    for (const hash of [argon2i, withData]) {
      assert.equal(await hasher.verify(hash, 'Kv7#pLq2!wZr'), true, hash);
      assert.equal(await hasher.verify(hash, 'Kv7#pLq2!wZs'), false, hash);
    }
  });

  test("without AVX2, with a file that does not load, or one that answers otherwise, the package's build serves", async () => {
    const noAvx2 = path.join(dir, 'cpuinfo');
    writeFileSync(noAvx2, 'processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n');
    assert.equal((await loadArgon2Binding({ cpuinfo: noAvx2 })).build, 'package');
    const broken = path.join(dir, 'broken.node');
    writeFileSync(broken, 'not a shared object');
    const withAvx2 = path.join(dir, 'cpuinfo-avx2');
    writeFileSync(withAvx2, 'processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2\n');
    if (process.arch !== 'x64') return;
    assert.equal((await loadArgon2Binding({ avx2File: broken, cpuinfo: withAvx2 })).build, 'package');
    // A module that loads but computes something else (a miscompiled build) fails the probe.
    const wrong = path.join(dir, 'wrong.cjs');
    writeFileSync(wrong, 'exports.hash = async () => Buffer.alloc(32, 1);\n');
    assert.equal((await loadArgon2Binding({ avx2File: wrong, cpuinfo: withAvx2 })).build, 'package');
  });
});
