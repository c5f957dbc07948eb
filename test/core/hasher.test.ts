import assert from 'node:assert/strict';
import { test } from 'node:test';
import argon2 from 'argon2';
import { canonicalPhc, createArgon2Hasher, createLimiter } from '../../src/adapters/argon2-hasher.js';

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
