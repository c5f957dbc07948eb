import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { cliActor } from '../../src/core/actors.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { silentLog, tempDataDir, testConfig, TEST_STORE } from '../helpers/env.js';

// Issue 29, item 5: the secrets the database holds are sealed with a key that is not in it, so
// that a copy of the database, a backup or Dovecot's read of the file reveals none of them.

const SETTINGS = ['session-secret', 'known-browser-key', 'throttle-key', 'app-selector-salt'];
const codeOf = (secret: string, offset = 0) => new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: Date.now() + offset * 30_000 });

describe('secrets at rest', () => {
  const { dir, cleanup } = tempDataDir();
  const config = testConfig(dir);
  let server: RunningServer | null = null;
  const start = () => startServer(config, { log: silentLog, print: () => {}, smtpBind: { smtp: null, smtps: null } });
  const query = async <T>(sql: string): Promise<T[]> => {
    if (server!.db) return server!.db.prepare(sql).all() as T[];
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: config.database!.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  };
  let owner: `mailbox:${number}`;
  let totpSecret = '';
  before(async () => {
    server = await start();
  });
  after(async () => {
    await server?.close();
    cleanup();
  });

  test('TOTP secrets, DKIM private keys, webhook secrets and the keys of cookies, browser marks and the throttle are stored sealed', async () => {
    const svc = server!.services;
    const domain = await aDomain(svc);
    const box = await aMailbox(svc, { domain: domain.name });
    owner = `mailbox:${box.mailbox.id}`;
    const actor = { kind: 'mailbox' as const, id: box.mailbox.id, login: box.address };
    totpSecret = svc.secondFactors.newTotp(actor).secret;
    await svc.secondFactors.confirmTotp(actor, totpSecret, codeOf(totpSecret));
    await svc.dkim.add(cliActor, domain);
    await svc.appPasswords.create(actor, 'Phone');
    // SPEC §19: a webhook's signing secret (its URL on loopback's discard port: nothing answers).
    const { webhook, secret: hookSecret } = await svc.webhooks.add(cliActor, { url: 'https://hooks.example.invalid/', events: ['login.locked'], domain: domain.name });
    const { stores } = server!.adapters;
    const pems = (await stores.dkimKeys.listDkimKeys(domain.id)).map((k) => k.privateKey);
    assert.equal(pems.length, 2);
    assert.ok(pems.every((p) => p.startsWith('-----BEGIN PRIVATE KEY-----')), 'the use cases see the keys as they are');
    const plainSettings = await Promise.all(SETTINGS.map(async (k) => (await stores.settings.readSetting(k))!));
    assert.ok(plainSettings.every((v) => v && !v.startsWith('sealed:')), JSON.stringify(plainSettings));

    // What the database holds: sealed values, none of the plain ones.
    const settings = await query<{ key: string; value: string }>('SELECT key, value FROM settings');
    for (const key of SETTINGS) assert.match(settings.find((s) => s.key === key)!.value, /^sealed:v1:[A-Za-z0-9_-]+$/, key);
    const [factor] = await query<{ secret: string }>('SELECT secret FROM second_factors');
    assert.match(factor!.secret, /^sealed:v1:/);
    const keys = await query<{ private_key: string }>('SELECT private_key FROM dkim_keys');
    assert.ok(keys.every((k) => k.private_key.startsWith('sealed:v1:')));
    const [hook] = await query<{ secret: string }>(`SELECT secret FROM webhooks WHERE id = '${webhook.id}'`);
    assert.match(hook!.secret, /^sealed:v1:/);
    // The delivery opens it: leased far in the future, so that the server's own loop does not send it.
    const [leased] = (await stores.webhooks.leaseDueWebhooks('test', 4_000_000_000, 4_000_000_060, 100)).filter((w) => w.id === webhook.id);
    assert.equal(leased, undefined, 'nothing is due');
    await stores.webhooks.addWebhookEvent(webhook.id, { type: 'webhook.test', payload: '{}', at: 4_000_000_000 }, { at: 1, actor: 'test', action: 'webhook.test', target: webhook.id, ip: null });
    const [due] = (await stores.webhooks.leaseDueWebhooks('test', 4_000_000_000, 4_000_000_060, 100)).filter((w) => w.id === webhook.id);
    assert.equal(due!.secret, hookSecret);
    if (TEST_STORE === 'sqlite') {
      server!.db!.pragma('wal_checkpoint(TRUNCATE)');
      const bytes = Buffer.concat(['mailpass.db', 'mailpass.db-wal'].map((f) => path.join(dir, f)).filter(existsSync).map((f) => readFileSync(f)));
      const pemBodies = pems.map((p) => p.split('\n')[1]!);
      for (const secret of [totpSecret, ...plainSettings, ...pemBodies, hookSecret]) assert.ok(!bytes.includes(Buffer.from(secret)), `${secret.slice(0, 8)}… is in the database file`);
    }
    // The key is beside the database, never in it, and only its owner reads it.
    assert.equal(statSync(config.secretKeyFile).mode & 0o777, 0o600);
    // Sealed values work: a TOTP code opens the second step.
    assert.equal(await svc.secondFactors.check(owner, box.address, { code: codeOf(totpSecret, 1) }), true);
  });

  test('a secret an earlier version stored in the clear is sealed at the next start, and still works', async () => {
    await server!.close();
    server = null;
    // As version 2 left it: the TOTP secret in the clear.
    const plain = `UPDATE second_factors SET secret = '${totpSecret}'`;
    if (TEST_STORE === 'sqlite') {
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(config.dbFile);
      db.prepare(plain).run();
      db.close();
    } else {
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: config.database!.url });
      await client.connect();
      await client.query(plain);
      await client.end();
    }
    server = await start();
    const [factor] = await query<{ secret: string }>('SELECT secret FROM second_factors');
    assert.match(factor!.secret, /^sealed:v1:/);
    assert.equal((await server.adapters.stores.secondFactors.getSecondFactors(owner)).totp!.secret, totpSecret);
  });

  test('without its key the database opens nothing: the server refuses to start and names the key file; another key is refused too', async () => {
    await server!.close();
    server = null;
    const key = readFileSync(config.secretKeyFile);
    rmSync(config.secretKeyFile);
    await assert.rejects(start(), (err: Error) => err.message.includes(`sealed with a key that is not at ${config.secretKeyFile}`));
    assert.ok(!existsSync(config.secretKeyFile), 'a new key was made over sealed secrets');
    writeFileSync(config.secretKeyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await assert.rejects(start(), (err: Error) => /does not open this database's secrets/.test(err.message));
    rmSync(config.secretKeyFile);
    writeFileSync(config.secretKeyFile, key, { mode: 0o644 });
    chmodSync(config.secretKeyFile, 0o644);
    await assert.rejects(start(), (err: Error) => /may be read by others \(mode 644\)/.test(err.message));
    chmodSync(config.secretKeyFile, 0o600);
    server = await start();
    assert.equal((await server.adapters.stores.secondFactors.getSecondFactors(owner)).totp!.secret, totpSecret);
  });
});
