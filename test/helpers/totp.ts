import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { csrfOf, type Agent } from './server.js';

/** The TOTP code of `secret` now, or `offsetSteps` steps of 30 s away (SPEC §11: SHA-1, 6 digits). */
export const codeAt = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: Date.now() + offsetSteps * 30_000 });

/** Turns TOTP on from a security page as its owner does (signed in moments ago); returns the secret and the recovery codes. */
export async function turnOnTotp(agent: Agent, page: string) {
  const shown = await agent.get(page);
  const secret = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(shown.text)![1]!.replace(/ /g, '');
  const res = await agent.post(`${page}/totp`).type('form').send({ code: codeAt(secret), _csrf: csrfOf(shown.text) });
  assert.equal(res.status, 200);
  const codes = [...res.text.matchAll(/<li><code>([a-z2-9]{5}-[a-z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);
  return { secret, codes };
}
