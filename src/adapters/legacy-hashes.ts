import { createHash, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { verify as unixcryptVerify } from 'unixcrypt';
import type { Scheme } from '../core/hash-schemes.js';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** crypt(3)'s base-64 of `n` 6-bit groups of a 24-bit value. */
function to64(value: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++, value >>= 6) out += ITOA64[value & 0x3f];
  return out;
}

/**
 * MD5-crypt (`$1$`, Poul-Henning Kamp's algorithm, as glibc and Dovecot compute it). No package
 * we would trust implements it alone; it is short, and the test checks it against doveadm's vectors.
 */
export function md5Crypt(password: string, salt: string): string {
  const pw = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, 8), 'utf8');
  const magic = Buffer.from('$1$');
  let alt = createHash('md5').update(pw).update(s).update(pw).digest();
  const ctx = createHash('md5').update(pw).update(magic).update(s);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alt.subarray(0, Math.min(16, left)));
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.alloc(1) : pw.subarray(0, 1));
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update(i & 1 ? pw : final);
    if (i % 3) round.update(s);
    if (i % 7) round.update(pw);
    round.update(i & 1 ? final : pw);
    final = round.digest();
  }
  alt = final;
  const b = (i: number) => alt[i]!;
  const encoded =
    to64((b(0) << 16) | (b(6) << 8) | b(12), 4) +
    to64((b(1) << 16) | (b(7) << 8) | b(13), 4) +
    to64((b(2) << 16) | (b(8) << 8) | b(14), 4) +
    to64((b(3) << 16) | (b(9) << 8) | b(15), 4) +
    to64((b(4) << 16) | (b(10) << 8) | b(5), 4) +
    to64(b(11), 2);
  return `$1$${salt.slice(0, 8)}$${encoded}`;
}

const same = (a: string | Buffer, b: string | Buffer) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** {SSHA512}/{SSHA256}: base64 of the digest of password + salt, then the salt. */
function saltedSha(algorithm: 'sha512' | 'sha256', encoded: string, password: string): boolean {
  const raw = Buffer.from(encoded, 'base64');
  const size = algorithm === 'sha512' ? 64 : 32;
  if (raw.length <= size) return false;
  const digest = createHash(algorithm).update(password, 'utf8').update(raw.subarray(size)).digest();
  return same(digest, raw.subarray(0, size));
}

/** Verifies a password against a hash of an imported scheme (the hash without its {SCHEME} prefix). */
export async function verifyScheme(scheme: Scheme, hash: string, password: string): Promise<boolean> {
  switch (scheme) {
    case 'ARGON2ID':
    case 'ARGON2I':
      return argon2.verify(hash, password).catch(() => false);
    case 'BLF-CRYPT':
      // bcryptjs verifies $2a$ and $2b$; PHP's $2y$ is the same algorithm under another name.
      return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$')).catch(() => false);
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT':
      try {
        return unixcryptVerify(password, hash);
      } catch {
        return false;
      }
    case 'MD5-CRYPT': {
      const salt = hash.split('$')[2] ?? '';
      return same(md5Crypt(password, salt), hash);
    }
    case 'SSHA512':
      return saltedSha('sha512', hash, password);
    case 'SSHA256':
      return saltedSha('sha256', hash, password);
  }
}
