import type { SessionOwner } from '../../core/ports.js';
import type { Db } from './db.js';

/**
 * What an owner (a mailbox, an admin) has in other aggregates' tables that its own changes end
 * inside their transactions: its web sessions, its second factors, its networks and notices.
 */
export function ownerRows(db: Db) {
  const q = {
    endSessions: db.prepare('DELETE FROM sessions WHERE owner = ?'),
    deleteFactors: db.prepare('DELETE FROM second_factors WHERE owner = ?'),
    deletePasskeys: db.prepare('DELETE FROM passkeys WHERE owner = ?'),
    deleteRecovery: db.prepare('DELETE FROM recovery_codes WHERE owner = ?'),
    deleteNetworks: db.prepare('DELETE FROM login_networks WHERE owner = ?'),
    deleteNotices: db.prepare('DELETE FROM notices WHERE owner = ?'),
  };
  const endSessions = (o: SessionOwner) => void q.endSessions.run(o);
  const forgetFactors = (o: SessionOwner) => {
    q.deleteFactors.run(o);
    q.deletePasskeys.run(o);
    q.deleteRecovery.run(o);
  };
  return {
    endSessions,
    forgetFactors,
    /** Everything an owner leaves behind that is not tied to it by a foreign key. */
    forget(o: SessionOwner) {
      endSessions(o);
      forgetFactors(o);
      q.deleteNetworks.run(o);
      q.deleteNotices.run(o);
    },
  };
}
