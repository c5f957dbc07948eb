import type { AuditEntry } from './audit.js';

export interface ApiToken extends TokenScope {
  id: number;
  adminId: number;
  adminUsername: string;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  /** The client address of that last use. */
  lastUsedIp: string | null;
  revokedAt: number | null;
}

/** What a token may do when nothing narrows it: everything its admin may do (the tokens made before scopes). */
export const FULL_SCOPE: Readonly<TokenScope> = Object.freeze({ readOnly: false, domains: null, expiresAt: null, allowIps: [] });

/** SPEC §18: what a token may do, within what its admin may do. */
export interface TokenScope {
  /** GET only. */
  readOnly: boolean;
  /** The domains it acts on (lowercase names); null: every domain of its admin. */
  domains: string[] | null;
  /** Unix seconds after which it answers 401; null: never. */
  expiresAt: number | null;
  /** Client addresses and networks it is accepted from; empty: any. */
  allowIps: string[];
}

/** The REST API's bearer tokens (SPEC §8), kept as SHA-256 digests. */
export interface TokenStore {
  insertToken(input: { adminId: number; name: string; prefix: string; tokenHash: string; now: number; scope: TokenScope }, audit: AuditEntry): Promise<ApiToken>;
  findTokenByHash(tokenHash: string): Promise<ApiToken | null>;
  listTokens(adminId?: number): Promise<ApiToken[]>;
  /** Revokes a token with `audit`; false (nothing written) when it was revoked already or is not there. */
  revokeToken(id: number, now: number, audit: AuditEntry): Promise<boolean>;
  /** Its last use and from where (written at most once a minute by the caller). */
  touchToken(id: number, now: number, ip: string | null): Promise<void>;
}
