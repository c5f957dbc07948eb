import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { checkPolicy, describeStrength, generatePassword, GENERATED_LENGTH, type PolicyRule } from '../../src/core/passwords.js';
import { createStrengthEstimator } from '../../src/adapters/strength-estimator.js';

const estimator = createStrengthEstimator();
after(() => estimator.close());
const rules = async (pw: string, ctx = {}) => (await checkPolicy(pw, ctx, 2, estimator)).map((f) => f.rule);

describe('password policy', () => {
  test('a strong password meets every rule', async () => {
    assert.deepEqual(await rules('Kv7#pLq2!wZr'), []);
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
    test(`refuses ${what} (${rule})`, async () => {
      const got = await rules(pw);
      assert.ok(got.includes(rule), `expected ${rule} in ${got.join(',')}`);
    });
  }

  test('refuses the local part and the domain of its own address', async () => {
    const ctx = { localPart: 'johnny', domain: 'example.com' };
    assert.ok((await rules('Johnny#7Zq!wX', ctx)).includes('contains-local-part'));
    assert.ok((await rules('Example#7Zq!wX', ctx)).includes('contains-domain'));
    assert.deepEqual(await rules('Kv7#pLq2!wZr', ctx), []);
  });

  test('refuses a guessable password below the minimum score', async () => {
    assert.ok((await rules('Aaaaaaa1!')).includes('too-weak'));
  });

  test('names every failed rule at once', async () => {
    assert.deepEqual(new Set(await rules('abc')), new Set(['too-short', 'no-uppercase', 'no-digit', 'no-special']));
  });

  test('counts code points, not UTF-16 units: 8 emoji-bearing characters are 8', async () => {
    const pw = 'Ab1!😀😀😀😀';
    assert.equal(pw.length, 12);
    assert.ok(!(await rules(pw)).includes('too-short'));
    assert.ok((await rules('Ab1!😀😀😀')).includes('too-short'));
  });

  test('non-Latin letters count as upper and lower case', async () => {
    assert.deepEqual(
      (await rules('Ωmega#7zqwörter')).filter((r) => r.startsWith('no-')),
      [],
    );
  });
});

describe('generated passwords', () => {
  test('are 20 characters and always meet the policy', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const pw = generatePassword({ localPart: 'abc', domain: 'example.com' });
      assert.equal(Array.from(pw).length, GENERATED_LENGTH);
      assert.deepEqual(await checkPolicy(pw, { localPart: 'abc', domain: 'example.com' }, 2, estimator), []);
      seen.add(pw);
    }
    assert.equal(seen.size, 50);
  });

  test('strength report describes each class', async () => {
    const s = await describeStrength('Kv7#pLq2!wZr', {}, 2, estimator);
    assert.deepEqual({ ...s, score: s.score >= 2 }, {
      score: true, length: 12, has_uppercase: true, has_lowercase: true, has_digit: true, has_special: true, meets_policy: true,
    });
    assert.equal((await describeStrength('abc', {}, 2, estimator)).meets_policy, false);
  });
});
