import type { SessionOwner } from '../../core/ports.js';
import type { Q } from './query.js';

/**
 * What an owner (a mailbox, an admin) has in other aggregates' tables that its own changes end
 * inside their transactions: its web sessions, its second factors, its networks and notices.
 */
export const endSessions = (c: Q, o: SessionOwner) => c.query('DELETE FROM sessions WHERE owner = $1', [o]);

export async function forgetFactors(c: Q, o: SessionOwner) {
  await c.query('DELETE FROM second_factors WHERE owner = $1', [o]);
  await c.query('DELETE FROM passkeys WHERE owner = $1', [o]);
  await c.query('DELETE FROM recovery_codes WHERE owner = $1', [o]);
}

/** Everything an owner leaves behind that is not tied to it by a foreign key. */
export async function forgetOwner(c: Q, o: SessionOwner) {
  await endSessions(c, o);
  await forgetFactors(c, o);
  await c.query('DELETE FROM login_networks WHERE owner = $1', [o]);
  await c.query('DELETE FROM notices WHERE owner = $1', [o]);
}
