import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import argon2 from 'argon2';
import { loadArgon2Binding } from '../../src/adapters/argon2-binding.js';
import { createHasherThread } from '../../src/adapters/argon2-thread.js';
import { canonicalPhc } from '../../src/adapters/argon2-phc.js';

// Issue 36.3: the server's hasher runs argon2, its limits and its queues in a thread of its own.
const params = { memoryKib: 1024, timeCost: 1, parallelism: 1 };

test("the hasher's thread hashes and verifies as the hasher does, and tells its timings to the server's side", async () => {
  const observed: string[] = [];
  const hasher = createHasherThread(params, 2, (op, seconds) => void (seconds > 0 && observed.push(op)));
  try {
    const hash = await hasher.hash('Kv7#pLq2!wZé');
    assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await argon2.verify(hash, 'Kv7#pLq2!wZé'), true, 'a hash the argon2 package verifies');
    const queue = { key: '192.0.2.1', limit: 1 };
    const results = await Promise.all(['Kv7#pLq2!wZé', 'Kv7#pLq2!wZe\u0301', 'wrong', 'Kv7#pLq2!wZé'].map((p) => hasher.verify(hash, p, queue)));
    assert.deepEqual(results, [true, false, false, true]);
    const theirs = canonicalPhc(await argon2.hash('other-Pass-9', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 }));
    assert.equal(await hasher.verify(theirs, 'other-Pass-9'), true);
    assert.equal(await hasher.verify('{SHA512-CRYPT}$6$rounds=5000$abcdefgh$' + 'x'.repeat(86), 'nope'), false, 'an imported hash goes through the thread too');
    assert.equal(await hasher.verify('not-a-hash', 'x'), false);
    assert.equal(hasher.needsRehash(hash), false);
    assert.equal(hasher.needsRehash(theirs.replace('t=1', 't=2')), true);
    assert.deepEqual([...new Set(observed)].sort(), ['hash', 'verify']);
    assert.equal(await hasher.build(), (await loadArgon2Binding()).build, 'the build the thread chose, as this process would');
  } finally {
    await hasher.close();
  }
});

test("one queue's verifications wait for each other in the thread; another queue's do not wait behind them", async () => {
  const hasher = createHasherThread({ ...params, memoryKib: 32768, timeCost: 2 }, 2);
  try {
    const hash = await hasher.hash('Kv7#pLq2!wZr');
    const done: string[] = [];
    const one = { key: '192.0.2.1', limit: 1 };
    const ask = (name: string, queue: { key: string; limit: number }) => hasher.verify(hash, 'Kv7#pLq2!wZr', queue).then((ok) => void done.push(`${name}:${ok}`));
    // Two at once: a1 and b1 run together, a2 after a1, a3 after a2. Were the queue not kept,
    // a1 and a2 would run first and b1 would end after them.
    await Promise.all([ask('a1', one), ask('a2', one), ask('a3', one), ask('b1', { key: '192.0.2.2', limit: 1 })]);
    assert.deepEqual(done.slice(2), ['a2:true', 'a3:true']);
    assert.deepEqual(done.slice(0, 2).sort(), ['a1:true', 'b1:true']);
  } finally {
    await hasher.close();
  }
});

test('closing the thread lets the run on the pool end, fails what waits for a slot, and the next call starts another', async () => {
  const hasher = createHasherThread({ ...params, memoryKib: 65536, timeCost: 3 }, 1);
  const hash = await hasher.hash('Kv7#pLq2!wZr');
  const verified = hasher.verify(hash, 'Kv7#pLq2!wZr');
  const hashed = hasher.hash('another-Pass-1').then(
    () => 'hashed',
    (err: Error) => err.message,
  );
  await hasher.close();
  assert.equal(await verified, true, 'the verification that had started ended');
  assert.equal(await hashed, 'the hasher is closed', 'the one waiting behind it did not start');
  assert.equal(await hasher.verify(hash, 'Kv7#pLq2!wZr'), true, 'a new thread answers');
  await hasher.close();
});

// CI found it: a thread terminated while argon2 ran on libuv's pool aborted the whole process when
// the run completed (node-addon-api's Napi::Error, uncaught in C++). A process of its own, since an
// abort would end this one; before the fix it ended by SIGABRT at the first close.
test('closing the thread while argon2 runs does not abort the process', async () => {
  const thread = new URL('../../src/adapters/argon2-thread.ts', import.meta.url).href;
  const script = `
    import { createHasherThread } from ${JSON.stringify(thread)};
    for (let i = 0; i < 3; i++) {
      const hasher = createHasherThread({ memoryKib: 65536, timeCost: 3, parallelism: 1 }, 2);
      await hasher.build();
      const hashed = hasher.hash('pw').then(() => 'hashed', (err) => err.message);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await hasher.close();
      console.log(await hashed);
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  assert.deepEqual({ code, signal, out: out.trim().split('\n') }, { code: 0, signal: null, out: ['hashed', 'hashed', 'hashed'] });
});

// The server's own isolate loads no argon2 code, nor the legacy schemes' (argon2-phc.ts): they are
// the hasher's thread's. The thread's module once imported argon2-hasher.ts for two small
// functions, which loaded the argon2 package, bcryptjs and unixcrypt in the server's isolate too
// (3 MiB of resident memory). A process of its own, as this one has loaded them.
test("the server's modules load no argon2 code outside the hasher's thread", async () => {
  const main = new URL('../../src/main.ts', import.meta.url).href;
  const script = `
    await import(${JSON.stringify(main)});
    const { readFileSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => /node_modules\\/(argon2|bcryptjs|unixcrypt)\\//.test(f));
    console.log(JSON.stringify({ native: readFileSync('/proc/self/maps', 'utf8').includes('argon2.node'), loaded }));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, out);
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { native: false, loaded: [] });
});
