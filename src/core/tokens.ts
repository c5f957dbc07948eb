import { randomBytes } from 'node:crypto';
import { canSeeDomain, isSuper, type Actor } from './actors.js';
import { parseDisplayName } from './addresses.js';
import type { Audit } from './audit.js';
import { NotFoundError, ValidationError, type FieldErrors } from './errors.js';
import { tokenDigest as digest } from './logins.js';
import { isNetwork, networkMatcher } from './networks.js';
import type { Admin, ApiToken, Clock, Stores, TokenScope } from './ports.js';

const TOKEN_PREFIX = 'mp_';
/** The longest a token may be made to last, in days (ten years). */
export const MAX_TOKEN_DAYS = 3650;
/** SPEC §18's answer to a request outside a token's scope (403). */
export const OUT_OF_SCOPE = 'Token scope does not allow this';

/**
 * Whether a request (a write or a read, from a client address) is within a token's scope; the
 * domain it names is `domainInScope`'s, and its admin's own rights each use case's.
 */
export function scopeAllows(token: TokenScope, request: { write: boolean; ip: string | null }): boolean {
  if (request.write && token.readOnly) return false;
  return token.allowIps.length === 0 || networkMatcher(token.allowIps)(request.ip);
}

/** Whether a domain named in a request is one the token is for. */
export const domainInScope = (token: TokenScope, domain: string) => token.domains === null || token.domains.includes(domain.trim().toLowerCase());

/** The scope fields as a form, the API or the CLI give them. */
export interface ScopeInput {
  readOnly?: unknown;
  domains?: unknown;
  expiresDays?: unknown;
  allowIps?: unknown;
}

const list = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value])
    .flatMap((v) => (typeof v === 'string' ? v.split(/[\s,]+/) : [String(v)]))
    .map((v) => v.trim())
    .filter((v) => v !== '');

/** The audit entry's detail: the prefix, and what the token is limited to. */
const describeScope = (prefix: string, s: TokenScope) =>
  [prefix, s.readOnly ? 'read-only' : '', s.domains ? `domains ${s.domains.join(',')}` : '', s.expiresAt ? `expires ${s.expiresAt}` : '', s.allowIps.length ? `from ${s.allowIps.join(',')}` : '']
    .filter(Boolean)
    .join('; ');

export interface TokenService {
  /** A new token for `adminId`; the plaintext is returned once and only its SHA-256 is stored. */
  createToken(actor: Actor, input: { adminUsername?: unknown; name: unknown } & ScopeInput, ip?: string | null): Promise<{ token: ApiToken; plaintext: string }>;
  listTokens(actor: Actor): Promise<ApiToken[]>;
  /**
   * The actor a token acts as: its admin, narrowed to the token's domains when it names some
   * (only those its admin still administers: a token never exceeds its admin's rights).
   */
  actorOf(admin: Admin, token: ApiToken): Promise<Extract<Actor, { kind: 'admin' }>>;
  revokeToken(actor: Actor, id: unknown, ip?: string | null): Promise<ApiToken>;
}

export function createTokenService({ stores, clock, audit }: { stores: Pick<Stores, 'admins' | 'tokens' | 'domains'>; clock: Clock; audit: Audit }): TokenService {
  /**
   * SPEC §18: the scope asked for, checked: only domains its admin administers (a token never
   * exceeds its admin's rights), whole days up to ten years, addresses or networks.
   */
  const parseScope = async (owner: Admin, input: ScopeInput): Promise<TokenScope> => {
    const errors: FieldErrors = {};
    const readOnly = input.readOnly === true || input.readOnly === 'true' || input.readOnly === '1' || input.readOnly === 'on';
    let domains: string[] | null = null;
    const names = list(input.domains);
    if (names.length > 0) {
      domains = [];
      for (const raw of names) {
        // Looked up as typed (lowercased): anything that is not a domain of the admin is unknown.
        const domain = raw.length <= 253 ? await stores.domains.findDomainByName(raw.toLowerCase()) : null;
        if (!domain || !(owner.isSuper || owner.domainIds.includes(domain.id))) (errors.domains ??= []).push(`Unknown domain ${raw}.`);
        else if (!domains.includes(domain.name)) domains.push(domain.name);
      }
    }
    let expiresAt: number | null = null;
    if (input.expiresDays !== undefined && input.expiresDays !== null && input.expiresDays !== '') {
      const days = Number(input.expiresDays);
      if (!Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS) errors.expires_days = [`Must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}.`];
      else expiresAt = clock.now() + days * 86_400;
    }
    const allowIps = list(input.allowIps);
    const bad = allowIps.filter((n) => !isNetwork(n));
    if (bad.length > 0) errors.allow_ips = bad.map((n) => `Is not an address or a network such as 192.0.2.10 or 10.0.0.0/24: ${n}`);
    if (Object.keys(errors).length > 0) throw new ValidationError(errors);
    return { readOnly, domains, expiresAt, allowIps };
  };

  return {
    async createToken(actor, input, ip = null) {
      const name = parseDisplayName(input.name, 'name', { required: true });
      let owner: Admin;
      if (input.adminUsername !== undefined) {
        if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Admin not found');
        const admin = typeof input.adminUsername === 'string' ? await stores.admins.findAdminByUsername(input.adminUsername.trim().toLowerCase()) : null;
        if (!admin) throw new NotFoundError('admin-not-found', 'Admin not found');
        owner = admin;
      } else if (actor.kind === 'admin') {
        const self = await stores.admins.findAdminById(actor.id);
        if (!self) throw new NotFoundError('admin-not-found', 'Admin not found');
        owner = self;
      } else {
        throw new NotFoundError('admin-not-found', 'Admin not found');
      }
      const scope = await parseScope(owner, input);
      const plaintext = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const prefix = plaintext.slice(0, 10);
      const entry = audit.entry(actor, 'token.create', `${owner.username}/${name}`, ip, describeScope(prefix, scope));
      const token = await stores.tokens.insertToken({ adminId: owner.id, name, prefix, tokenHash: digest(plaintext), now: clock.now(), scope }, entry);
      audit.logged(entry);
      return { token, plaintext };
    },

    async actorOf(admin, token) {
      const actor = { kind: 'admin' as const, id: admin.id, username: admin.username, isSuper: admin.isSuper, domainIds: admin.domainIds, via: 'api' as const };
      if (token.domains === null) return actor;
      const ids: number[] = [];
      for (const name of token.domains) {
        const domain = await stores.domains.findDomainByName(name);
        if (domain && canSeeDomain(actor, domain.id)) ids.push(domain.id);
      }
      return { ...actor, isSuper: false, domainIds: ids };
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
