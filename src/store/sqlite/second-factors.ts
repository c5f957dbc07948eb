import type { AuditEntry, Passkey, SecondFactorStore, SessionOwner } from '../../core/ports.js';
import { toPasskey, type PasskeyRow } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';
import { ownerRows } from './owners.js';

export function createSqliteSecondFactors(db: Db): SecondFactorStore {
  const writeAudit = auditWriter(db);
  const owners = ownerRows(db);
  const q = {
    totpOf: db.prepare("SELECT secret, last_step, created_at FROM second_factors WHERE owner = ? AND kind = 'totp'"),
    recoveryLeft: db.prepare('SELECT count(*) AS n FROM recovery_codes WHERE owner = ? AND used_at IS NULL'),
    insertTotp: db.prepare(`INSERT INTO second_factors (owner, kind, secret, last_step, created_at) VALUES (?, 'totp', ?, ?, ?)
      ON CONFLICT (owner, kind) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step, created_at = excluded.created_at`),
    deleteRecovery: db.prepare('DELETE FROM recovery_codes WHERE owner = ?'),
    insertRecovery: db.prepare('INSERT INTO recovery_codes (owner, code_hash) VALUES (?, ?)'),
    useStep: db.prepare("UPDATE second_factors SET last_step = ? WHERE owner = ? AND kind = 'totp' AND last_step < ?"),
    useRecovery: db.prepare('UPDATE recovery_codes SET used_at = ? WHERE owner = ? AND code_hash = ? AND used_at IS NULL'),
    listPasskeys: db.prepare('SELECT * FROM passkeys WHERE owner = ? ORDER BY created_at'),
    hasFactor: db.prepare('SELECT EXISTS (SELECT 1 FROM second_factors WHERE owner = @o) OR EXISTS (SELECT 1 FROM passkeys WHERE owner = @o) AS yes'),
    insertPasskey: db.prepare(`INSERT INTO passkeys (id, owner, public_key, counter, transports, created_at)
      VALUES (@id, @owner, @publicKey, @counter, @transports, @createdAt)`),
    usePasskey: db.prepare('UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND (counter < ? OR (counter = 0 AND ? = 0))'),
  };
  const setRecovery = (o: SessionOwner, hashes: readonly string[]) => {
    q.deleteRecovery.run(o);
    for (const h of hashes) q.insertRecovery.run(o, h);
  };
  const addTotpTx = db.transaction((o: SessionOwner, secret: string, step: number, hashes: readonly string[], now: number, entry: AuditEntry) => {
    q.insertTotp.run(o, secret, step, now);
    setRecovery(o, hashes);
    writeAudit(entry);
  });
  const addPasskeyTx = db.transaction((p: Passkey, hashes: readonly string[], entry: AuditEntry) => {
    q.insertPasskey.run({ id: p.id, owner: p.owner, publicKey: Buffer.from(p.publicKey), counter: p.counter, transports: p.transports.join(','), createdAt: p.createdAt });
    setRecovery(p.owner, hashes);
    writeAudit(entry);
  });
  const removeTx = db.transaction((o: SessionOwner, entry: AuditEntry) => {
    owners.forgetFactors(o);
    owners.endSessions(o);
    writeAudit(entry);
  });
  return {
    async getSecondFactors(o) {
      const row = q.totpOf.get(o) as { secret: string; last_step: number; created_at: number } | undefined;
      return { totp: row ? { secret: row.secret, lastStep: row.last_step, createdAt: row.created_at } : null, recoveryLeft: (q.recoveryLeft.get(o) as { n: number }).n };
    },
    async addTotp(o, secret, step, hashes, now, entry) {
      addTotpTx.immediate(o, secret, step, hashes, now, entry);
    },
    async useTotpStep(o, step) {
      return q.useStep.run(step, o, step).changes === 1;
    },
    async useRecoveryCode(o, hash, now) {
      return q.useRecovery.run(now, o, hash).changes === 1;
    },
    async listPasskeys(o) {
      return (q.listPasskeys.all(o) as PasskeyRow[]).map(toPasskey);
    },
    async hasSecondFactor(o) {
      return (q.hasFactor.get({ o }) as { yes: number }).yes === 1;
    },
    async addPasskey(p, hashes, entry) {
      addPasskeyTx.immediate(p, hashes, entry);
    },
    async usePasskey(id, counter, now) {
      return q.usePasskey.run(counter, now, id, counter, counter).changes === 1;
    },
    async removeSecondFactors(o, entry) {
      removeTx.immediate(o, entry);
    },
  };
}
