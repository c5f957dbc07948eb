/**
 * SPEC §13: the password hash schemes mailpass takes in from other servers. A hash is stored as
 * Dovecot writes it, `{SCHEME}...`, so that Dovecot verifies it too before its first mailpass
 * login; mailpass's own argon2id hashes are stored bare (Dovecot's default scheme is ARGON2ID).
 */
export const SCHEMES = ['ARGON2ID', 'ARGON2I', 'BLF-CRYPT', 'SHA512-CRYPT', 'SHA256-CRYPT', 'MD5-CRYPT', 'SSHA512', 'SSHA256'] as const;
export type Scheme = (typeof SCHEMES)[number];

/** Schemes an attacker with the database cracks fast (one salted hash each, or MD5): flagged in the panel, refused at import with ALLOW_LEGACY_SCHEMES=false. */
export const WEAK_SCHEMES: ReadonlySet<Scheme> = new Set(['MD5-CRYPT', 'SSHA256', 'SSHA512']);

/**
 * The most work an imported hash may ask of a login (issue 29): a hash beyond these is refused at
 * import, by line, since each wrong guess would cost that much (bcrypt cost 12 is about 220 ms,
 * SHA-crypt's 100,000 rounds about 130 ms, verified in a worker thread; argon2 at 256 MiB and 4
 * passes is libsodium's "moderate" and more). Below them a failed login answers within
 * LOGIN_FAILURE_DELAY_MS's floor, like any other.
 */
export const COST_CEILINGS = { bcryptCost: 12, shaCryptRounds: 100_000, argon2MemoryKib: 262_144, argon2TimeCost: 4, argon2Parallelism: 8 } as const;

/** Why an imported hash asks too much of a login, or null. */
function tooCostly(scheme: Scheme, hash: string): string | null {
  const c = COST_CEILINGS;
  if (scheme === 'BLF-CRYPT') {
    const cost = Number(hash.slice(4, 6));
    return cost > c.bcryptCost ? `bcrypt cost ${cost} is above ${c.bcryptCost}` : null;
  }
  if (scheme === 'SHA512-CRYPT' || scheme === 'SHA256-CRYPT') {
    const rounds = Number(/^\$[56]\$rounds=(\d+)\$/.exec(hash)?.[1] ?? 5000);
    return rounds > c.shaCryptRounds ? `${rounds} rounds is above ${c.shaCryptRounds}` : null;
  }
  if (scheme === 'ARGON2ID' || scheme === 'ARGON2I') {
    const [m, t, p] = (/m=(\d+),t=(\d+),p=(\d+)/.exec(hash) ?? []).slice(1).map(Number);
    if (m! > c.argon2MemoryKib) return `argon2 memory ${m} KiB is above ${c.argon2MemoryKib}`;
    if (t! > c.argon2TimeCost) return `argon2 time cost ${t} is above ${c.argon2TimeCost}`;
    if (p! > c.argon2Parallelism) return `argon2 parallelism ${p} is above ${c.argon2Parallelism}`;
  }
  return null;
}

const B64 = '[A-Za-z0-9+/]+={0,2}';
/** What a hash of each scheme looks like (after its {SCHEME} prefix). */
const SHAPES: Record<Scheme, RegExp> = {
  ARGON2ID: /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
  ARGON2I: /^\$argon2i\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
  'BLF-CRYPT': /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/,
  'SHA512-CRYPT': /^\$6\$(rounds=\d+\$)?[^$:\s]{1,16}\$[./A-Za-z0-9]{86}$/,
  'SHA256-CRYPT': /^\$5\$(rounds=\d+\$)?[^$:\s]{1,16}\$[./A-Za-z0-9]{43}$/,
  'MD5-CRYPT': /^\$1\$[^$:\s]{1,8}\$[./A-Za-z0-9]{22}$/,
  SSHA512: new RegExp(`^${B64}$`),
  SSHA256: new RegExp(`^${B64}$`),
};
/** Bare crypt strings, recognised by their prefix. */
const PREFIXES: Array<[string, Scheme]> = [
  ['$argon2id$', 'ARGON2ID'],
  ['$argon2i$', 'ARGON2I'],
  ['$2y$', 'BLF-CRYPT'],
  ['$2b$', 'BLF-CRYPT'],
  ['$2a$', 'BLF-CRYPT'],
  ['$6$', 'SHA512-CRYPT'],
  ['$5$', 'SHA256-CRYPT'],
  ['$1$', 'MD5-CRYPT'],
];
/** Other names of the same schemes that exports use. */
const ALIASES: Record<string, Scheme> = { BLOWFISH: 'BLF-CRYPT', 'BCRYPT': 'BLF-CRYPT' };

/** The scheme of a stored hash: ARGON2ID for mailpass's own (bare), else its {SCHEME}. */
export function schemeOf(stored: string): Scheme | 'unknown' {
  if (stored.startsWith('$argon2id$')) return 'ARGON2ID';
  const m = /^\{([A-Z0-9-]+)\}/.exec(stored);
  return m && (SCHEMES as readonly string[]).includes(m[1]!) ? (m[1] as Scheme) : 'unknown';
}

/** A stored hash split into its scheme and the hash itself (what the scheme's verifier takes). */
export function splitStored(stored: string): { scheme: Scheme | 'unknown'; hash: string } {
  const scheme = schemeOf(stored);
  return { scheme, hash: stored.startsWith('{') ? stored.slice(stored.indexOf('}') + 1) : stored };
}

/**
 * An imported hash as mailpass stores it, or why not: `{SCHEME}hash` (a known scheme, a hash of
 * its shape), `{CRYPT}$6$...` or a bare crypt string (recognised by its prefix).
 */
export function parseImportedHash(text: string): { stored: string; scheme: Scheme } | { error: string } {
  const value = text.trim();
  let scheme: Scheme | undefined;
  let hash = value;
  const braced = /^\{([A-Za-z0-9.-]+)\}(.*)$/.exec(value);
  if (braced) {
    const name = braced[1]!.toUpperCase();
    hash = braced[2]!;
    if (name === 'CRYPT') scheme = PREFIXES.find(([p]) => hash.startsWith(p))?.[1];
    else scheme = (SCHEMES as readonly string[]).includes(name) ? (name as Scheme) : ALIASES[name];
    if (!scheme) return { error: `unknown scheme {${braced[1]}}` };
  } else {
    scheme = PREFIXES.find(([p]) => value.startsWith(p))?.[1];
    if (!scheme) return { error: value === '' ? 'no password hash' : 'not a hash of a known scheme (give it a {SCHEME} prefix)' };
  }
  if (!SHAPES[scheme].test(hash)) return { error: `not a ${scheme} hash` };
  const costly = tooCostly(scheme, hash);
  if (costly) return { error: costly };
  return { stored: scheme === 'ARGON2ID' ? hash : `{${scheme}}${hash}`, scheme };
}
