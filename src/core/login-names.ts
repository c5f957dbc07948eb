import { isIPv4, isIPv6 } from 'node:net';
import { tryParseAddress } from './addresses.js';

/** No valid login is longer: an address is at most 320 characters (RFC 5321's 64 + 1 + 255). */
export const MAX_LOGIN_LENGTH = 320;
const ADMIN_USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

// Any Unicode white space or invisible format character (a zero-width space, a BOM) at either end.
const EDGES = /^[\s\p{Z}\p{Cf}]+|[\s\p{Z}\p{Cf}]+$/gu;

export type LoginRealm = 'account' | 'admin';

/**
 * SPEC §8: the one normalisation of a login name, for the throttle, the lock-out, the lookup and
 * the audit alike: trimmed of any Unicode space, lower-cased. A name that is malformed after that
 * (not an address, not an admin username) is null and is refused before anything is counted or hashed:
 * no spelling of a name gets a budget of its own.
 */
export function normalizeLoginName(raw: unknown, realm: LoginRealm): string | null {
  if (typeof raw !== 'string' || raw.length > MAX_LOGIN_LENGTH * 2) return null;
  const name = raw.replace(EDGES, '').toLowerCase();
  if (name.length === 0 || name.length > MAX_LOGIN_LENGTH) return null;
  if (realm === 'admin') return ADMIN_USERNAME.test(name) ? name : null;
  const parsed = tryParseAddress(name);
  return parsed && parsed.address === name ? name : null;
}

/** Expands an IPv6 address to its eight groups of four hex digits. */
function expandIPv6(ip: string): string[] {
  let text = ip.split('%')[0]!;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => g.padStart(4, '0').toLowerCase());
}

/**
 * The key a client address is counted under: an IPv4 address as it is, an IPv6 address by its /64,
 * which one subscriber usually holds whole (else every guess could come from a fresh address).
 * An IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function addressKey(ip: string | null | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip.split('%')[0]!)) return ip;
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/** A client address as it is shown and audited: IPv4-mapped IPv6 as plain IPv4. */
export const displayAddress = (ip: string | null | undefined): string | null => (ip ? ip.replace(/^::ffff:(?=\d+\.)/i, '') : null);

/**
 * The network a client address belongs to, as login alerts compare them (issue 17): an IPv4
 * address by its /24, an IPv6 address by its /64. Null when there is no address to tell.
 */
export function networkOf(ip: string | null | undefined): string | null {
  const key = addressKey(ip);
  if (key === 'unknown') return null;
  if (isIPv4(key)) return `${key.slice(0, key.lastIndexOf('.'))}.0/24`;
  return key.endsWith('::/64') ? key : null;
}
