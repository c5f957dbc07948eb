import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthThrottle, TRUSTED_CLIENT_SECONDS, type Attempt } from '../../src/core/auth-throttle.js';

const admitted = (a: Attempt | { refused: string }): Attempt => {
  assert.ok(!('refused' in a), `refused: ${'refused' in a ? a.refused : ''}`);
  return a as Attempt;
};

test('failures lock the login and the client; the same wrong password counts once', async () => {
  const t = createAuthThrottle({ maxFailures: 3, windowSeconds: 60 });
  for (let i = 0; i < 5; i++) admitted(await t.begin('a@x.test', '10.0.0.1', 'same-wrong')).finish('failure');
  admitted(await t.begin('a@x.test', '10.0.0.2', 'other1')).finish('failure');
  admitted(await t.begin('a@x.test', '10.0.0.2', 'other2')).finish('failure');
  assert.deepEqual(await t.begin('a@x.test', '10.0.0.3', 'right'), { refused: 'locked' });
});

test('the window passes and the lock-out with it', async () => {
  let now = 0;
  const t = createAuthThrottle({ maxFailures: 2, windowSeconds: 60, nowMs: () => now });
  for (const pw of ['w1', 'w2']) admitted(await t.begin('b@x.test', '10.0.0.1', pw)).finish('failure');
  assert.deepEqual(await t.begin('b@x.test', '10.0.0.9', 'x'), { refused: 'locked' });
  now += 61_000;
  admitted(await t.begin('b@x.test', '10.0.0.9', 'x')).finish('success');
});

test('a client that logged in within 24 hours is exempt from the login lock-out, not from its own', async () => {
  let now = 0;
  const t = createAuthThrottle({ maxFailures: 2, windowSeconds: 3600 * 48, nowMs: () => now });
  admitted(await t.begin('c@x.test', '10.0.0.1', 'good')).finish('success');
  for (const pw of ['w1', 'w2']) admitted(await t.begin('c@x.test', '10.0.0.66', pw)).finish('failure');
  admitted(await t.begin('c@x.test', '10.0.0.1', 'good')).finish('success');
  now += (TRUSTED_CLIENT_SECONDS + 1) * 1000;
  assert.deepEqual(await t.begin('c@x.test', '10.0.0.1', 'good'), { refused: 'locked' });
});

test('attempts in flight count: the next one waits, and is admitted when one is decided', async () => {
  const t = createAuthThrottle({ maxFailures: 2, windowSeconds: 60, maxWaitMs: 5000 });
  const first = admitted(await t.begin('d@x.test', '10.0.0.1', 'g1'));
  const second = admitted(await t.begin('d@x.test', '10.0.0.1', 'g2'));
  let third: Attempt | { refused: string } | null = null;
  const pending = t.begin('d@x.test', '10.0.0.1', 'g3').then((a) => (third = a));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(third, null, 'the third attempt waits while two are in flight');
  first.finish('success');
  await pending;
  admitted(third!).finish('success');
  second.finish('success');
});

test('a wait that runs out without any failure is "busy", not a lock-out', async () => {
  const t = createAuthThrottle({ maxFailures: 1, windowSeconds: 60, maxWaitMs: 100 });
  const first = admitted(await t.begin('e@x.test', '10.0.0.1', 'p'));
  assert.deepEqual(await t.begin('f@x.test', '10.0.0.1', 'p'), { refused: 'busy' });
  first.finish('aborted');
  admitted(await t.begin('f@x.test', '10.0.0.1', 'p')).finish('success');
});
