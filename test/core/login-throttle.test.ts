import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLoginThrottle } from '../../src/core/login-throttle.js';
import type { LimitCounters } from '../../src/core/ports.js';
import { openStore } from '../../src/store/open.js';
import { tempDataDir, testConfig } from '../helpers/env.js';

const MAX = 4;
const limits = { perLogin: MAX, perAddress: MAX, windowSeconds: 900 };
let opened: Awaited<ReturnType<typeof openStore>>;
let cleanup: () => void;

before(async () => {
  const data = tempDataDir();
  cleanup = data.cleanup;
  opened = await openStore(testConfig(data.dir));
});
after(async () => {
  await opened.counters.close();
  await opened.end();
  cleanup();
});

/**
 * The suite's store (SQLite or PostgreSQL), with each read answered `ms` later, as a store across
 * a network answers: an attempt that finishes meanwhile writes its failure after the read.
 */
const answeringLate = (counters: LimitCounters, ms: number): LimitCounters => ({
  ...counters,
  get: async (key) => {
    const value = await counters.get(key);
    await sleep(ms);
    return value;
  },
});

test('guesses that arrive while others finish never get past the limit', async () => {
  const throttle = createLoginThrottle({ counters: answeringLate(opened.counters, 3), secret: async () => Buffer.alloc(32, 7), limits: { smtp: limits, web: limits, api: limits, webmail: limits } });
  for (let round = 0; round < 8; round++) {
    const name = `victim${round}@example.org`;
    let verified = 0;
    const outcomes = await Promise.all(
      Array.from({ length: MAX * 3 }, async (_, i) => {
        // Guesses arrive spread over 20 ms (TLS handshakes end at different times); each wrong
        // password takes a few milliseconds to verify.
        await sleep((i * 7) % 20);
        const admission = await throttle.begin({ protocol: 'smtp', name, address: `192.0.2.${round}`, password: `Guess#${i}` });
        if (!('attempt' in admission)) return admission.refused;
        verified++;
        await sleep(2 + ((i * 5) % 9));
        await admission.attempt.finish('failure');
        return 'failed';
      }),
    );
    assert.equal(verified, MAX, `round ${round}: ${outcomes.join(' ')}`);
    assert.equal(outcomes.filter((o) => o === 'locked').length, MAX * 2, `round ${round}: ${outcomes.join(' ')}`);
  }
});
