import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { DkimSigner, Logger } from '../core/ports.js';

/**
 * DKIM signatures through mailauth (maintained by the author of Nodemailer and WildDuck; it also
 * verifies, which the tests use): relaxed/relaxed, one signature a key.
 */
export function createDkimSigner(log: Logger): DkimSigner {
  return {
    async sign(message, domain, keys) {
      const { signatures, errors } = await dkimSign(message, {
        canonicalization: 'relaxed/relaxed',
        signatureData: keys.map((k) => ({ signingDomain: domain, selector: k.selector, privateKey: k.privateKey, algorithm: k.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256' })),
        // The package's types ask for one key at the top; it signs with signatureData's.
      } as never);
      // A key that fails leaves the others' signatures; the message goes out either way.
      if (errors.length > 0) log.warn({ domain, errors: errors.map((e: { selector?: string; message?: string }) => `${e.selector ?? ''} ${e.message ?? e}`) }, 'DKIM signing failed for a key');
      return signatures;
    },
  };
}
