import { ValidationError } from './errors.js';
import { checkPolicy, describeStrength, generatePassword, type PolicyContext, type PolicyFailure, type Strength } from './passwords.js';
import type { Hasher } from './ports.js';
import type { StrengthEstimator } from './ports.js';

export interface PasswordRules {
  /** Every failed rule of the policy (empty when the password meets it). */
  check(password: string, ctx: PolicyContext): Promise<PolicyFailure[]>;
  /** Throws a ValidationError naming every failed rule under `field`. */
  assertAcceptable(password: unknown, ctx: PolicyContext, field: string, currentHash?: string): Promise<string>;
  describe(password: string, ctx: PolicyContext): Promise<Strength>;
  generate(ctx: PolicyContext): string;
}

/** The policy of SPEC §3 bound to the configured minimum score, the hasher and the strength worker. */
export function createPasswordRules({ hasher, minScore, estimator }: { hasher: Hasher; minScore: number; estimator: StrengthEstimator }): PasswordRules {
  const check = (password: string, ctx: PolicyContext) => checkPolicy(password, ctx, minScore, estimator);
  return {
    check,
    async assertAcceptable(password, ctx, field, currentHash) {
      if (typeof password !== 'string' || password === '') {
        throw new ValidationError({ [field]: ['Is required.'] });
      }
      const reasons = (await check(password, ctx)).map((f) => f.message);
      if (reasons.length === 0 && currentHash && (await hasher.verify(currentHash, password))) {
        reasons.push('Must differ from the current password.');
      }
      if (reasons.length > 0) throw new ValidationError({ [field]: reasons });
      return password;
    },
    describe: (password, ctx) => describeStrength(password, ctx, minScore, estimator),
    generate: (ctx) => generatePassword(ctx),
  };
}
