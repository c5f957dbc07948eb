import type { AuditEntry } from './audit.js';

export interface ApiToken {
  id: number;
  adminId: number;
  adminUsername: string;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** The REST API's bearer tokens (SPEC §8), kept as SHA-256 digests. */
export interface TokenStore {
  insertToken(input: { adminId: number; name: string; prefix: string; tokenHash: string; now: number }, audit: AuditEntry): Promise<ApiToken>;
  findTokenByHash(tokenHash: string): Promise<ApiToken | null>;
  listTokens(adminId?: number): Promise<ApiToken[]>;
  /** Revokes a token with `audit`; false (nothing written) when it was revoked already or is not there. */
  revokeToken(id: number, now: number, audit: AuditEntry): Promise<boolean>;
  /** Its last use (written at most once a minute by the caller). */
  touchToken(id: number, now: number): Promise<void>;
}
