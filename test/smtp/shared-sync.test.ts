import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedSync } from '../../src/adapters/spool.js';

// Issue 21: messages that end together share the spool directory's fsync (group commit). Each must
// still be answered only by an fsync that started after it asked: one that started earlier may
// not cover its rename.

/** A sync whose calls the test ends one by one, in order. */
function controlled() {
  const calls: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  const sync = () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, sync };
}
const settle = () => new Promise((r) => setImmediate(r));
/** Which of these promises have settled, and how. */
function track(p: Promise<void>) {
  const state = { done: false, error: null as Error | null };
  p.then(
    () => (state.done = true),
    (err: Error) => ((state.done = true), (state.error = err)),
  );
  return state;
}

test('callers share an fsync that started after they asked, never one that was already running', async () => {
  const { calls, sync } = controlled();
  const shared = sharedSync(sync);
  const a = track(shared());
  await settle();
  assert.equal(calls.length, 1);
  // Asked while the first runs: they wait for a second, which has not started.
  const b = track(shared());
  const c = track(shared());
  await settle();
  assert.equal(calls.length, 1);
  calls[0]!.resolve();
  await settle();
  assert.ok(a.done);
  assert.ok(!b.done && !c.done, 'answered by an fsync that started before they asked');
  assert.equal(calls.length, 2);
  const d = track(shared());
  calls[1]!.resolve();
  await settle();
  assert.ok(b.done && c.done && !d.done);
  assert.equal(calls.length, 3);
  calls[2]!.resolve();
  await settle();
  assert.ok(d.done);
  // Four callers, three fsyncs; with nothing pending, the next caller starts one of its own.
  const e = track(shared());
  await settle();
  assert.equal(calls.length, 4);
  calls[3]!.resolve();
  await settle();
  assert.ok(e.done && !e.error);
});

test('a failed fsync fails the callers it covers, and the next one still runs for those who wait', async () => {
  const { calls, sync } = controlled();
  const shared = sharedSync(sync);
  const a = track(shared());
  await settle();
  const b = track(shared());
  calls[0]!.reject(new Error('EIO'));
  await settle();
  assert.equal(a.error?.message, 'EIO');
  assert.ok(!b.done);
  assert.equal(calls.length, 2);
  calls[1]!.resolve();
  await settle();
  assert.ok(b.done && !b.error);
});
