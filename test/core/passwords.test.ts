import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPolicy, describeStrength, generatePassword, GENERATED_LENGTH, type PolicyRule } from '../../src/core/passwords.js';

const rules = (pw: string, ctx = {}) => checkPolicy(pw, ctx).map((f) => f.rule);

describe('password policy', () => {
  test('a strong password meets every rule', () => {
    assert.deepEqual(rules('Kv7#pLq2!wZr'), []);
  });

  const cases: Array<[string, string, PolicyRule]> = [
    ['shorter than 8 code points', 'Kv7#pLq', 'too-short'],
    ['longer than 128 code points', `Kv7#${'pLq2!wZr'.repeat(16)}`, 'too-long'],
    ['no uppercase letter', 'kv7#plq2!wzr', 'no-uppercase'],
    ['no lowercase letter', 'KV7#PLQ2!WZR', 'no-lowercase'],
    ['no digit', 'Kvx#pLqz!wZr', 'no-digit'],
    ['no special character', 'Kv7xpLq2swZr', 'no-special'],
    ['a control character', 'Kv7#pLq2\twZr', 'control-character'],
    ['a common password', 'P@ssw0rd', 'common-password'],
    ['the product name', 'Mailpass#2024x', 'contains-product-name'],
  ];
  for (const [what, pw, rule] of cases) {
    test(`refuses ${what} (${rule})`, () => {
      assert.ok(rules(pw).includes(rule), `expected ${rule} in ${rules(pw).join(',')}`);
    });
  }

  test('refuses the local part and the domain of its own address', () => {
    const ctx = { localPart: 'johnny', domain: 'example.com' };
    assert.ok(rules('Johnny#7Zq!wX', ctx).includes('contains-local-part'));
    assert.ok(rules('Example#7Zq!wX', ctx).includes('contains-domain'));
    assert.deepEqual(rules('Kv7#pLq2!wZr', ctx), []);
  });

  test('refuses a guessable password below the minimum score', () => {
    assert.ok(rules('Aaaaaaa1!').includes('too-weak'));
  });

  test('names every failed rule at once', () => {
    assert.deepEqual(new Set(rules('abc')), new Set(['too-short', 'no-uppercase', 'no-digit', 'no-special']));
  });

  test('counts code points, not UTF-16 units: 8 emoji-bearing characters are 8', () => {
    const pw = 'Ab1!😀😀😀😀';
    assert.equal(pw.length, 12);
    assert.ok(!rules(pw).includes('too-short'));
    assert.ok(rules('Ab1!😀😀😀').includes('too-short'));
  });

  test('non-Latin letters count as upper and lower case', () => {
    assert.deepEqual(
      rules('Ωmega#7zqwörter').filter((r) => r.startsWith('no-')),
      [],
    );
  });
});

describe('generated passwords', () => {
  test('are 20 characters and always meet the policy', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const pw = generatePassword({ localPart: 'abc', domain: 'example.com' });
      assert.equal(Array.from(pw).length, GENERATED_LENGTH);
      assert.deepEqual(checkPolicy(pw, { localPart: 'abc', domain: 'example.com' }), []);
      seen.add(pw);
    }
    assert.equal(seen.size, 50);
  });

  test('strength report describes each class', () => {
    const s = describeStrength('Kv7#pLq2!wZr');
    assert.deepEqual({ ...s, score: s.score >= 2 }, {
      score: true, length: 12, has_uppercase: true, has_lowercase: true, has_digit: true, has_special: true, meets_policy: true,
    });
    assert.equal(describeStrength('abc').meets_policy, false);
  });
});
