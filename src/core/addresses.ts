import { ValidationError } from './errors.js';

/** ASCII host names only: an internationalised domain is entered in its punycode (xn--) form, which shuts out look-alikes. */
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
/** A conservative dot-atom: what mail administrators hand out, nothing that needs quoting. */
const LOCAL_PART = /^(?=.{1,64}$)[a-z0-9](?:[a-z0-9_+-]|\.(?!\.))*$/;
const CONTROL = /\p{Cc}/u;

export function normalizeDomain(input: unknown, field = 'domain'): string {
  const value = typeof input === 'string' ? input.trim().toLowerCase() : '';
  if (!DOMAIN.test(value)) throw new ValidationError({ [field]: ['Must be a domain name such as example.com.'] });
  return value;
}

export interface Address {
  address: string;
  localPart: string;
  domain: string;
}

/** Lower-cases an address: logins are compared case-insensitively, as mail servers do. */
export function parseAddress(input: unknown, field = 'address'): Address {
  const value = typeof input === 'string' ? input.trim().toLowerCase() : '';
  const at = value.lastIndexOf('@');
  const localPart = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (at < 1 || !LOCAL_PART.test(localPart) || localPart.endsWith('.') || !DOMAIN.test(domain)) {
    throw new ValidationError({ [field]: ['Must be an email address such as jane@example.com.'] });
  }
  return { address: `${localPart}@${domain}`, localPart, domain };
}

/** Like parseAddress, for a login typed at a prompt: null instead of an error, for the same answer as a wrong password. */
export function tryParseAddress(input: unknown): Address | null {
  try {
    return parseAddress(input);
  } catch {
    return null;
  }
}

/** A display name: optional, at most `max` characters, no control characters. */
export function parseDisplayName(input: unknown, field = 'name', { required = false, max = 100 } = {}): string {
  const value = typeof input === 'string' ? input.trim() : input === undefined ? '' : null;
  if (value === null) throw new ValidationError({ [field]: ['Must be text.'] });
  if (required && value === '') throw new ValidationError({ [field]: ['Is required.'] });
  if (Array.from(value).length > max) throw new ValidationError({ [field]: [`Must be at most ${max} characters.`] });
  if (CONTROL.test(value)) throw new ValidationError({ [field]: ['Must not contain control characters.'] });
  return value;
}
