import { randomInt } from 'node:crypto';
import type { StrengthEstimator } from './ports.js';

export const PRODUCT_NAME = 'mailpass';
export const MIN_LENGTH = 8;
export const MAX_LENGTH = 128;
/** The longest password in UTF-8 bytes: 128 code points of at most 4 bytes. SMTP refuses longer AUTH data before hashing. */
export const MAX_PASSWORD_BYTES = MAX_LENGTH * 4;
export const GENERATED_LENGTH = 20;

export type PolicyRule =
  | 'too-short'
  | 'too-long'
  | 'no-uppercase'
  | 'no-lowercase'
  | 'no-digit'
  | 'no-special'
  | 'control-character'
  | 'common-password'
  | 'contains-local-part'
  | 'contains-domain'
  | 'contains-product-name'
  | 'too-weak';

export interface PolicyFailure {
  rule: PolicyRule;
  message: string;
}


export interface PolicyContext {
  /** The mailbox's local part, when the password belongs to a mailbox. */
  localPart?: string;
  domain?: string;
  /** Other words the password must not contain, e.g. an admin's user name. */
  words?: string[];
}

const UPPER = /\p{Lu}|\p{Lt}/u;
const LOWER = /\p{Ll}/u;
const DIGIT = /\p{Nd}/u;
const SPECIAL = /[^\p{L}\p{N}\s]/u;
// Control characters are refused: they cannot be typed reliably and break line-based protocols.
const CONTROL = /\p{Cc}/u;

export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export interface Strength {
  score: number;
  length: number;
  has_uppercase: boolean;
  has_lowercase: boolean;
  has_digit: boolean;
  has_special: boolean;
  meets_policy: boolean;
}

/** Words the password must not contain: parts of the context that are long enough to matter. */
function forbiddenWords(ctx: PolicyContext): Array<{ rule: PolicyRule; word: string; message: string }> {
  const out: Array<{ rule: PolicyRule; word: string; message: string }> = [
    { rule: 'contains-product-name', word: PRODUCT_NAME, message: `Must not contain "${PRODUCT_NAME}".` },
  ];
  const local = ctx.localPart?.toLowerCase();
  if (local && local.length >= 3) out.push({ rule: 'contains-local-part', word: local, message: 'Must not contain the address.' });
  for (const w of ctx.words ?? []) {
    if (w.length >= 3) out.push({ rule: 'contains-local-part', word: w.toLowerCase(), message: 'Must not contain the user name.' });
  }
  const domain = ctx.domain?.toLowerCase();
  if (domain) {
    out.push({ rule: 'contains-domain', word: domain, message: 'Must not contain the domain name.' });
    // "example" of example.com is as guessable as the whole name.
    const labels = domain.split('.');
    const main = labels.length > 1 ? labels[labels.length - 2]! : labels[0]!;
    if (main.length >= 4) out.push({ rule: 'contains-domain', word: main, message: 'Must not contain the domain name.' });
  }
  return out;
}

/**
 * The rules of SPEC §3 that need no dictionary: length, character classes, control characters,
 * and the words of its context. Synchronous and cheap.
 */
export function checkBasicRules(password: string, ctx: PolicyContext = {}): PolicyFailure[] {
  const failures: PolicyFailure[] = [];
  const length = codePointLength(password);
  if (length < MIN_LENGTH) failures.push({ rule: 'too-short', message: `Must be at least ${MIN_LENGTH} characters long.` });
  if (length > MAX_LENGTH) failures.push({ rule: 'too-long', message: `Must be at most ${MAX_LENGTH} characters long.` });
  if (!UPPER.test(password)) failures.push({ rule: 'no-uppercase', message: 'Must contain an uppercase letter.' });
  if (!LOWER.test(password)) failures.push({ rule: 'no-lowercase', message: 'Must contain a lowercase letter.' });
  if (!DIGIT.test(password)) failures.push({ rule: 'no-digit', message: 'Must contain a digit.' });
  if (!SPECIAL.test(password)) failures.push({ rule: 'no-special', message: 'Must contain a special character (such as . , / ! @ # $ % ^ & *).' });
  if (CONTROL.test(password)) failures.push({ rule: 'control-character', message: 'Must not contain control characters.' });
  if (length > MAX_LENGTH) return failures;
  const lower = password.toLowerCase();
  const seen = new Set<PolicyRule>();
  for (const { rule, word, message } of forbiddenWords(ctx)) {
    if (!seen.has(rule) && lower.includes(word)) {
      seen.add(rule);
      failures.push({ rule, message });
    }
  }
  return failures;
}

const userInputs = (ctx: PolicyContext) => [PRODUCT_NAME, ctx.localPart, ctx.domain, ...(ctx.words ?? [])].filter((s): s is string => !!s);

/** Every rule of SPEC §3 the password breaks (empty when it meets the policy), except "differs from the current one". */
export async function checkPolicy(password: string, ctx: PolicyContext, minScore: number, estimator: StrengthEstimator): Promise<PolicyFailure[]> {
  const failures = checkBasicRules(password, ctx);
  if (codePointLength(password) > MAX_LENGTH) return failures;
  const { score, common } = await estimator.assess(password, userInputs(ctx));
  if (common) failures.push({ rule: 'common-password', message: 'Is a commonly used password.' });
  if (failures.length === 0 && score < minScore) {
    failures.push({ rule: 'too-weak', message: 'Is too easy to guess: make it longer or less predictable.' });
  }
  return failures;
}

/** The `password_strength` object of the API (SPEC §5). */
export async function describeStrength(password: string, ctx: PolicyContext, minScore: number, estimator: StrengthEstimator): Promise<Strength> {
  const { score } = await estimator.assess(password, []);
  return {
    score,
    length: codePointLength(password),
    has_uppercase: UPPER.test(password),
    has_lowercase: LOWER.test(password),
    has_digit: DIGIT.test(password),
    has_special: SPECIAL.test(password),
    meets_policy: (await checkPolicy(password, ctx, minScore, estimator)).length === 0,
  };
}

const UPPERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWERS = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';
// No quotes, backslash, dollar or space: generated passwords are pasted into shells and config files.
const SPECIALS = '!#%*+-.:=?@^_~';
const ALL = UPPERS + LOWERS + DIGITS + SPECIALS;

function pick(chars: string): string {
  return chars[randomInt(chars.length)]!;
}

/**
 * A 20-character password from the CSPRNG that always meets the policy for this context.
 * 20 uniform draws from 71 symbols are over 120 bits: neither the strength estimate nor the
 * common-password list has anything to add, so only the other rules are checked.
 */
export function generatePassword(ctx: PolicyContext = {}): string {
  for (;;) {
    const chars = [pick(UPPERS), pick(LOWERS), pick(DIGITS), pick(SPECIALS)];
    while (chars.length < GENERATED_LENGTH) chars.push(pick(ALL));
    for (let i = chars.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [chars[i], chars[j]] = [chars[j]!, chars[i]!];
    }
    const password = chars.join('');
    if (checkBasicRules(password, ctx).length === 0) return password;
  }
}
