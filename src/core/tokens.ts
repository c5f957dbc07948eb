import { randomBytes } from 'node:crypto';
import { isSuper, type Actor } from './actors.js';
import { parseDisplayName } from './addresses.js';
import type { Audit } from './audit.js';
import { NotFoundError } from './errors.js';
import { tokenDigest as digest } from './logins.js';
import type { ApiToken, Clock, Store } from './ports.js';

const TOKEN_PREFIX = 'mp_';

export interface TokenService {
  /** A new token for `adminId`; the plaintext is returned once and only its SHA-256 is stored. */
  createToken(actor: Actor, input: { adminUsername?: unknown; name: unknown }, ip?: string | null): Promise<{ token: ApiToken; plaintext: string }>;
  listTokens(actor: Actor): Promise<ApiToken[]>;
  revokeToken(actor: Actor, id: unknown, ip?: string | null): Promise<ApiToken>;
}

export function createTokenService({ store, clock, audit }: { store: Store; clock: Clock; audit: Audit }): TokenService {
  return {
    async createToken(actor, input, ip = null) {
      const name = parseDisplayName(input.name, 'name', { required: true });
      let adminId: number;
      if (input.adminUsername !== undefined) {
        if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Admin not found');
        const admin = typeof input.adminUsername === 'string' ? await store.findAdminByUsername(input.adminUsername.trim().toLowerCase()) : null;
        if (!admin) throw new NotFoundError('admin-not-found', 'Admin not found');
        adminId = admin.id;
      } else if (actor.kind === 'admin') {
        adminId = actor.id;
      } else {
        throw new NotFoundError('admin-not-found', 'Admin not found');
      }
      const plaintext = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const token = await store.insertToken({ adminId, name, prefix: plaintext.slice(0, 10), tokenHash: digest(plaintext), now: clock.now() });
      await audit.record(actor, 'token.create', `${token.adminUsername}/${name}`, ip, token.prefix);
      return { token, plaintext };
    },

    async listTokens(actor) {
      if (isSuper(actor)) return store.listTokens();
      return actor.kind === 'admin' ? store.listTokens(actor.id) : [];
    },

    async revokeToken(actor, idInput, ip = null) {
      const id = Number(idInput);
      const tokens = Number.isInteger(id) ? await this.listTokens(actor) : [];
      const token = tokens.find((t) => t.id === id);
      if (!token) throw new NotFoundError('token-not-found', 'Token not found');
      await store.revokeToken(id, clock.now());
      await audit.record(actor, 'token.revoke', `${token.adminUsername}/${token.name}`, ip, token.prefix);
      return token;
    },
  };
}
