import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as english from '@zxcvbn-ts/language-en';
import type { Assessment } from '../core/ports.js';

/** Only the first 64 characters are scored; the cheap rules still see the whole password. */
export const ZXCVBN_MAX_LENGTH = 64;

// About 60 MB of dictionaries: imported only by the strength worker, never by the main thread.
const zxcvbn = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...english.dictionary },
  graphs: common.adjacencyGraphs,
  translations: english.translations,
  // Bounded work per check: the l33t matcher and long inputs otherwise cost hundreds of
  // milliseconds for a single password (measured: 1.2 s for a 26-character one).
  l33tMaxSubstitutions: 16,
  maxLength: ZXCVBN_MAX_LENGTH,
});

const commonPasswords: ReadonlySet<string> = new Set(
  (common.dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()),
);


export function assess(password: string, userInputs: string[]): Assessment {
  return {
    score: zxcvbn.check(Array.from(password).slice(0, ZXCVBN_MAX_LENGTH).join(''), userInputs).score,
    common: commonPasswords.has(password.toLowerCase()),
  };
}
