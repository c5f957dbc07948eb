import { randomBytes } from 'node:crypto';
import { isSuper, type Actor } from './actors.js';
import { parseDisplayName } from './addresses.js';
import type { Audit } from './audit.js';
import { NotFoundError } from './errors.js';
import { tokenDigest as digest } from './logins.js';
import type { ApiToken, Clock, Stores } from './ports.js';

const TOKEN_PREFIX = 'mp_';

export interface TokenService {
  /** A new token for `adminId`; the plaintext is returned once and only its SHA-256 is stored. */
  createToken(actor: Actor, input: { adminUsername?: unknown; name: unknown }, ip?: string | null): Promise<{ token: ApiToken; plaintext: string }>;
  listTokens(actor: Actor): Promise<ApiToken[]>;
  revokeToken(actor: Actor, id: unknown, ip?: string | null): Promise<ApiToken>;
}

export function createTokenService({ stores, clock, audit }: { stores: Pick<Stores, 'admins' | 'tokens'>; clock: Clock; audit: Audit }): TokenService {
  return {
    async createToken(actor, input, ip = null) {
      const name = parseDisplayName(input.name, 'name', { required: true });
      let owner: { id: number; username: string };
      if (input.adminUsername !== undefined) {
        if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Admin not found');
        const admin = typeof input.adminUsername === 'string' ? await stores.admins.findAdminByUsername(input.adminUsername.trim().toLowerCase()) : null;
        if (!admin) throw new NotFoundError('admin-not-found', 'Admin not found');
        owner = admin;
      } else if (actor.kind === 'admin') {
        owner = actor;
      } else {
        throw new NotFoundError('admin-not-found', 'Admin not found');
      }
      const plaintext = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const prefix = plaintext.slice(0, 10);
      const entry = audit.entry(actor, 'token.create', `${owner.username}/${name}`, ip, prefix);
      const token = await stores.tokens.insertToken({ adminId: owner.id, name, prefix, tokenHash: digest(plaintext), now: clock.now() }, entry);
      audit.logged(entry);
      return { token, plaintext };
    },

    async listTokens(actor) {
      if (isSuper(actor)) return stores.tokens.listTokens();
      return actor.kind === 'admin' ? stores.tokens.listTokens(actor.id) : [];
    },

    async revokeToken(actor, idInput, ip = null) {
      const id = Number(idInput);
      const tokens = Number.isInteger(id) ? await this.listTokens(actor) : [];
      const token = tokens.find((t) => t.id === id);
      if (!token) throw new NotFoundError('token-not-found', 'Token not found');
      const entry = audit.entry(actor, 'token.revoke', `${token.adminUsername}/${token.name}`, ip, token.prefix);
      // A token revoked already stays so, and nothing is written.
      if (await stores.tokens.revokeToken(id, clock.now(), entry)) audit.logged(entry);
      return token;
    },
  };
}
