import type pg from 'pg';
import type { SecondFactorStore, SessionOwner } from '../../core/ports.js';
import { toPasskey, type PasskeyRow } from '../rows.js';
import { appendAudit } from './audit.js';
import { endSessions, forgetFactors } from './owners.js';
import { queries, type Q } from './query.js';

export function createPostgresSecondFactors(pool: pg.Pool): SecondFactorStore {
  const { rows, one, run, tx } = queries(pool);
  const setRecovery = async (c: Q, o: SessionOwner, hashes: readonly string[]) => {
    await run('DELETE FROM recovery_codes WHERE owner = $1', [o], c);
    if (hashes.length > 0) await run('INSERT INTO recovery_codes (owner, code_hash) SELECT $1, unnest($2::text[])', [o, hashes], c);
  };
  return {
    async getSecondFactors(o) {
      const row = await one<{ secret: string; last_step: number; created_at: number }>("SELECT secret, last_step, created_at FROM second_factors WHERE owner = $1 AND kind = 'totp'", [o]);
      const { n } = (await one<{ n: number }>('SELECT count(*) AS n FROM recovery_codes WHERE owner = $1 AND used_at IS NULL', [o]))!;
      return { totp: row ? { secret: row.secret, lastStep: row.last_step, createdAt: row.created_at } : null, recoveryLeft: n };
    },
    async addTotp(o, secret, step, hashes, now, entry) {
      await tx(async (c) => {
        await run(
          `INSERT INTO second_factors (owner, kind, secret, last_step, created_at) VALUES ($1, 'totp', $2, $3, $4)
           ON CONFLICT (owner, kind) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step, created_at = excluded.created_at`,
          [o, secret, step, now],
          c,
        );
        await setRecovery(c, o, hashes);
        await appendAudit(c, entry);
      });
    },
    async useTotpStep(o, step) {
      return (await run("UPDATE second_factors SET last_step = $1 WHERE owner = $2 AND kind = 'totp' AND last_step < $1", [step, o])) === 1;
    },
    async useRecoveryCode(o, hash, now) {
      return (await run('UPDATE recovery_codes SET used_at = $1 WHERE owner = $2 AND code_hash = $3 AND used_at IS NULL', [now, o, hash])) === 1;
    },
    async listPasskeys(o) {
      return (await rows<PasskeyRow>('SELECT * FROM passkeys WHERE owner = $1 ORDER BY created_at', [o])).map(toPasskey);
    },
    async hasSecondFactor(o) {
      return (await one<{ yes: boolean }>('SELECT EXISTS (SELECT 1 FROM second_factors WHERE owner = $1) OR EXISTS (SELECT 1 FROM passkeys WHERE owner = $1) AS yes', [o]))!.yes;
    },
    async addPasskey(p, hashes, entry) {
      await tx(async (c) => {
        await run('INSERT INTO passkeys (id, owner, public_key, counter, transports, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [p.id, p.owner, Buffer.from(p.publicKey), p.counter, p.transports.join(','), p.createdAt], c);
        await setRecovery(c, p.owner, hashes);
        await appendAudit(c, entry);
      });
    },
    async usePasskey(id, counter, now) {
      return (await run('UPDATE passkeys SET counter = $1, last_used_at = $2 WHERE id = $3 AND (counter < $1 OR (counter = 0 AND $1 = 0))', [counter, now, id])) === 1;
    },
    async removeSecondFactors(o, entry) {
      await tx(async (c) => {
        await forgetFactors(c, o);
        await endSessions(c, o);
        await appendAudit(c, entry);
      });
    },
  };
}
