import { ValidationError } from './errors.js';
import { checkPolicy, generatePassword, type PolicyContext } from './passwords.js';
import type { Hasher } from './ports.js';

export interface PasswordRules {
  /** Throws a ValidationError naming every failed rule under `field`. */
  assertAcceptable(password: unknown, ctx: PolicyContext, field: string, currentHash?: string): Promise<string>;
  generate(ctx: PolicyContext): string;
}

/** The policy of SPEC §3 bound to the configured minimum score and hasher. */
export function createPasswordRules({ hasher, minScore }: { hasher: Hasher; minScore: number }): PasswordRules {
  return {
    async assertAcceptable(password, ctx, field, currentHash) {
      if (typeof password !== 'string' || password === '') {
        throw new ValidationError({ [field]: ['Is required.'] });
      }
      const reasons = checkPolicy(password, ctx, minScore).map((f) => f.message);
      if (reasons.length === 0 && currentHash && (await hasher.verify(currentHash, password))) {
        reasons.push('Must differ from the current password.');
      }
      if (reasons.length > 0) throw new ValidationError({ [field]: reasons });
      return password;
    },
    generate: (ctx) => generatePassword(ctx),
  };
}
