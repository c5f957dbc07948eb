import type { Account, DomainSummary } from '../../core/ports.js';

/** The JSON shapes of SPEC §5: snake_case, times in Unix seconds. */
export const credentialJson = (c: Account) => ({
  id: c.id,
  guid: c.guid,
  name: c.name,
  username: c.login,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
  last_connection_at: c.lastLoginAt,
  last_connection_ip: c.lastLoginIp,
});

export const mailboxJson = (m: Account) => ({
  id: m.id,
  address: m.login,
  name: m.name,
  disabled: m.disabled,
  created_at: m.createdAt,
  updated_at: m.updatedAt,
  last_connection_at: m.lastLoginAt,
  last_connection_ip: m.lastLoginIp,
});

export const domainJson = (d: DomainSummary) => ({
  name: d.name,
  verified: d.verified,
  created_at: d.createdAt,
  mailbox_count: d.mailboxCount,
  credential_count: d.credentialCount,
});
