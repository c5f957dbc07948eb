import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { createDatabase } from '../../scripts/pg-cluster.mjs';
import { cliActor } from '../../src/core/actors.js';
import { copySqliteToPostgres } from '../../src/store/migrate-store.js';
import { createPool, migrate } from '../../src/store/postgres/db.js';
import { openDatabase } from '../../src/store/sqlite/db.js';
import { aDomain, aMailbox, anAdmin, strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { loginAsMailbox, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §12: `mailpass migrate-store --to postgres://...` copies a SQLite database into an empty
// PostgreSQL database in one transaction and verifies it. This file runs in the PostgreSQL half
// of `npm test` (it needs the private cluster), with a SQLite server as the source.

const CLUSTER = process.env.MAILPASS_TEST_PG!;
const SQLITE = { DATABASE_URL: undefined };
const freshDatabase = () => createDatabase(CLUSTER, `m_${randomBytes(6).toString('hex')}`);

describe('migrate-store', { timeout: 60_000 }, () => {
  let source: TestServer;
  let box: { address: string; password: string };
  let appPassword: string;
  let other: Awaited<ReturnType<typeof aMailbox>>;
  let admin: { username: string; password: string };
  let hook: Awaited<ReturnType<TestServer['services']['webhooks']['add']>>;
  let sourceDomain: string;
  before(async () => {
    source = await startTestServer({ ...SQLITE, WEBHOOK_ALLOW_PRIVATE: 'true' }, { smtp: true });
    const svc = source.services;
    const domain = (sourceDomain = (await aDomain(svc)).name);
    // A webhook (on loopback's discard port: its events stay pending) told of the two mailboxes.
    hook = await svc.webhooks.add(cliActor, { url: 'http://127.0.0.1:9/', events: ['mailbox.created'], domain });
    box = await aMailbox(svc, { domain });
    other = await aMailbox(svc, { domain });
    admin = await anAdmin(svc, { isSuper: true });
    await svc.credentials.createCredential(cliActor, (await svc.domains.requireDomain(cliActor, domain))!, 'WordPress');
    // A second factor with recovery codes, and an app password, on the other mailbox.
    const actor = { kind: 'mailbox' as const, id: other.mailbox.id, login: other.address };
    const { secret } = svc.secondFactors.newTotp(actor);
    await svc.secondFactors.confirmTotp(actor, secret, new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate());
    appPassword = (await svc.appPasswords.create(actor, 'Phone')).password;
    // Login history, a last connection and audit entries, one of them a name sent with a NUL.
    const c = await RawSmtp.ready(source.smtpPorts.smtps, { implicitTls: true, dataDir: source.dataDir });
    assert.equal((await c.authPlain(box.address, box.password)).code, 235);
    c.close();
    await loginAsMailbox(source.url, box.address, box.password);
    // As version 2 audited a malformed name, as sent (a NUL in it); now it writes '(malformed name)'.
    source.db.prepare("INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES (?, 'login:x', 'login.failure', ?, NULL, 'web')").run(Math.floor(Date.now() / 1000), 'x\u0000@y.test');
    await source.adapters.batcher.flush();
    // Stopped, its data directory kept: it is what migrate-store reads.
    await source.close();
  });
  after(() => rmSync(source.dataDir, { recursive: true, force: true }));

  test('copies every table into an empty database, verified; the copy serves the same logins', async () => {
    const url = freshDatabase();
    const r = await runCli(['migrate-store', '--to', url, '--data-dir', source.dataDir], { env: SQLITE });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^accounts +3$/m, r.stdout);
    assert.match(r.stdout, /^recovery_codes +10$/m);
    assert.match(r.stdout, /^app_passwords +1$/m);
    assert.match(r.stdout, /^webhooks +1$/m);
    assert.match(r.stdout, /^webhook_events +2$/m);
    assert.match(r.stdout, /rows of \d+ tables; row counts and \d+ hashes verified\n$/);
    assert.ok(!r.stdout.includes(url) && !r.stderr.includes(url));

    // The same data directory, now on PostgreSQL: every password, app password and the admin work.
    // Another node's data directory: the key that seals the secrets comes along (SECURITY.md).
    const copy = await startTestServer({ DATABASE_URL: url, SECRET_KEY_FILE: path.join(source.dataDir, 'secret.key') }, { smtp: true });
    try {
      assert.ok(await loginAsMailbox(copy.url, box.address, box.password));
      const c = await RawSmtp.ready(copy.smtpPorts.smtps, { implicitTls: true, dataDir: copy.dataDir });
      try {
        assert.equal((await c.authPlain(box.address, strongPassword('wrong'))).code, 535);
        // The mailbox with a second factor: its app password logs in, its password does not.
        assert.equal((await c.authPlain(other.address, appPassword)).code, 235);
      } finally {
        c.close();
      }
      const apps = await copy.query<{ n: number }>('SELECT count(*) AS n FROM app_passwords');
      assert.equal(apps[0]!.n, 1);
      const history = await copy.query<{ n: number }>("SELECT count(*) AS n FROM login_history WHERE result = 'ok'");
      assert.ok(history[0]!.n >= 2, 'the login history came along');
      const audit = await copy.query<{ target: string }>("SELECT target FROM audit_log WHERE target LIKE 'x%y.test'");
      assert.deepEqual(audit.map((a) => a.target), ['x\\0@y.test'], 'a NUL in the audit log is written \\0');
      // New rows continue after the copied ids.
      const domain = await aDomain(copy.services);
      assert.ok(domain.id > 1);
      const { admin: again } = await anAdmin(copy.services, { isSuper: false, domains: [domain.name] });
      assert.ok(again.id > 2);
      // The counts the triggers keep (issue 36) are the rows', not counted again as the copy came in.
      const [copiedDomain] = (await copy.adapters.stores.domains.listDomains()).filter((d) => d.name === sourceDomain);
      assert.deepEqual([copiedDomain!.mailboxCount, copiedDomain!.credentialCount], [2, 1]);
      // The webhook came along with its outbox; its secret opens under the same key (SPEC §19).
      const copied = await copy.services.webhooks.get(cliActor, hook.webhook.id);
      assert.deepEqual(copied.deliveries.map((d) => d.type), ['mailbox.created', 'mailbox.created']);
      const [row] = await copy.query<{ secret: string }>('SELECT secret FROM webhooks');
      assert.match(row!.secret, /^sealed:v1:/);
      assert.ok((await copy.services.logins.attempt({ protocol: 'web', realm: 'admin', name: admin.username, password: admin.password, ip: '127.0.0.1' })).ok);
    } finally {
      await copy.stop();
    }
  });

  // Issue 36: the hashes are compared a page at a time (10,000 rows), never all held; here pages of two.
  test('a hash that differs after the copy, on any page, rolls the whole copy back', async () => {
    const url = freshDatabase();
    const db = openDatabase(path.join(source.dataDir, 'mailpass.db'));
    const pool = createPool(url, 2);
    try {
      await migrate(pool);
      const last = (db.prepare('SELECT max(id) AS id FROM accounts').get() as { id: number }).id;
      await pool.query(`CREATE FUNCTION spoil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = ${last} THEN NEW.password_hash := NEW.password_hash || 'x'; END IF; RETURN NEW; END $$`);
      await pool.query('CREATE TRIGGER spoil BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION spoil()');
      await assert.rejects(copySqliteToPostgres(db, pool, { comparePage: 2 }), /^Error: accounts: the copied password_hash values differ from the source$/);
      for (const t of ['domains', 'accounts', 'recovery_codes', 'audit_log']) assert.equal(Number((await pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n), 0, t);
      await pool.query('DROP TRIGGER spoil ON accounts');
      const paged = await copySqliteToPostgres(db, pool, { comparePage: 2 });
      const hashed = ['accounts', 'admins', 'app_passwords', 'api_tokens', 'recovery_codes'].reduce((n, t) => n + (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n, 0);
      assert.equal(paged.hashesCompared, hashed, 'every hash compared, over pages of two');
    } finally {
      db.close();
      await pool.end();
    }
  });

  test('refuses a database that is not empty, and bad usage; nothing is written', async () => {
    const url = freshDatabase();
    assert.equal((await runCli(['migrate-store', '--to', url, '--data-dir', source.dataDir], { env: SQLITE })).code, 0);
    const again = await runCli(['migrate-store', '--to', url, '--data-dir', source.dataDir], { env: SQLITE });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^mailpass: the target database is not empty \(\w+ has rows\)/);
    const missing = await runCli(['migrate-store', '--data-dir', source.dataDir], { env: SQLITE });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--to/);
    assert.equal((await runCli(['migrate-store', '--to', 'mysql://x/y', '--data-dir', source.dataDir], { env: SQLITE })).code, 2);
  });
});
