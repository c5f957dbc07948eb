import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskToken, unmaskToken } from '../../src/web/app.js';

// BREACH: every page writes the session's CSRF token masked with bytes of its own (issue 36.1
// draws them 8 KiB at a time): no pad may serve twice, and each unmasks to the token.
test('every mask of a token has pad bytes of its own and unmasks to the token', () => {
  const token = 'a'.repeat(64);
  const pads = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const masked = maskToken(token);
    assert.equal(unmaskToken(masked), token);
    const pad = masked.split('.')[0]!;
    assert.equal(Buffer.from(pad, 'base64url').length, 64);
    pads.add(pad);
  }
  assert.equal(pads.size, 1000, 'a pad served twice');
  assert.equal(unmaskToken(maskToken('x'.repeat(10_000))), 'x'.repeat(10_000), 'a token longer than the pool');
});
