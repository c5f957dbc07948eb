import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { pgConnectString, readOnlyUri } from '../../src/cli/commands/dovecot-config.js';
import { cliActor } from '../../src/core/actors.js';
import { createLogger } from '../../src/log.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { tempDataDir, testConfig, TEST_STORE } from '../helpers/env.js';
import { loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { DOVECOT, freePort, imapLogin, needsDovecot, startDovecot, type RunningDovecot } from '../helpers/dovecot.js';

describe('mailpass dovecot-config', () => {
  const { dir, cleanup } = tempDataDir();
  after(cleanup);

  test('prints both files with the absolute database path, the views and the auth cache off', async () => {
    assert.equal((await runCli(['domain', 'add', 'conf.example', '--data-dir', dir])).code, 0);
    const r = await runCli(['dovecot-config', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    if (TEST_STORE === 'sqlite') {
      assert.ok(r.stdout.includes(`\nconnect = file:${path.join(dir, 'mailpass.db')}?mode=ro\n`), r.stdout);
      assert.match(r.stdout, /^driver = sqlite$/m);
    } else {
      // SPEC §12: on PostgreSQL, the pgsql driver on DATABASE_URL's database, every value quoted.
      const url = new URL(testConfig(dir).database!.url);
      assert.match(r.stdout, /^driver = pgsql$/m);
      assert.ok(r.stdout.includes(`\nconnect = host='127.0.0.1' port='${url.port}' dbname='${url.pathname.slice(1)}' user='postgres'\n`), r.stdout);
      assert.match(r.stdout, /mode 0600: it holds the database login/);
    }
    assert.match(r.stdout, /^auth_cache_size = 0$/m);
    assert.match(r.stdout, /^default_pass_scheme = ARGON2ID$/m);
    assert.match(r.stdout, /^password_query = SELECT "user", password FROM \(SELECT "user", password, 1 AS k FROM dovecot_app_passdb WHERE "user" = '%u' AND selector = '%\{sha256;truncate=16,salt=[0-9a-f]{32}:password\}' UNION ALL SELECT "user", password, 0 AS k FROM dovecot_passdb WHERE "user" = '%u'\) AS p ORDER BY k DESC LIMIT 1$/m);
    // Issue 29: no part of the typed password is ever SQL text (a statement log would keep it).
    assert.doesNotMatch(r.stdout, /%[-.\d]*w|%\{password\}/);
    assert.match(r.stdout, /^user_query = SELECT '\/var\/vmail\/%d\/%n' AS home, 'maildir:~\/Maildir' AS mail, 'vmail' AS uid, 'vmail' AS gid FROM dovecot_userdb WHERE "user" = '%u'$/m);
    assert.match(r.stdout, /^\s*args = \/etc\/dovecot\/dovecot-sql\.conf\.ext$/m);
  });

  test('the read-only database URI escapes what a URI would read as a query or fragment', () => {
    assert.equal(readOnlyUri('/srv/mail pass/50%?#/mailpass.db'), 'file:/srv/mail pass/50%25%3F%23/mailpass.db?mode=ro');
  });

  test("DATABASE_URL becomes a libpq connection string: decoded, quoted, a quote or backslash escaped", () => {
    assert.equal(
      pgConnectString("postgres://mail%20pass:p%27w%5C%20x@db.example:6543/mail%2Dpass?sslmode=require"),
      "host='db.example' port='6543' dbname='mail-pass' user='mail pass' password='p\\'w\\\\ x' sslmode='require'",
    );
    assert.equal(pgConnectString('postgresql://[::1]/mailpass'), "host='::1' port='5432' dbname='mailpass'");
  });

  test("userdb values are SQL literals: a quote cannot end the query's string", async () => {
    const r = await runCli(['dovecot-config', '--data-dir', dir, '--part', 'sql', '--home', "/srv/o'mail/%d/%n"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SELECT '\/srv\/o''mail\/%d\/%n' AS home/);
  });

  test('a data directory without a database exits 1; a bad --part or a line break in a value is bad usage', async () => {
    if (TEST_STORE === 'sqlite') {
      const empty = await runCli(['dovecot-config', '--data-dir', path.join(dir, 'nowhere')]);
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /^mailpass: no database at .*nowhere/);
      assert.equal(existsSync(path.join(dir, 'nowhere')), false, 'nothing is created');
    } else {
      const url = new URL(testConfig(dir).database!.url);
      url.pathname = '/nowhere';
      const missing = await runCli(['dovecot-config', '--data-dir', dir], { env: { DATABASE_URL: url.href } });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^mailpass: DATABASE_URL: cannot open the database \(3D000\)/);
    }
    assert.equal((await runCli(['dovecot-config', '--data-dir', dir, '--part', 'both'])).code, 2);
    assert.equal((await runCli(['dovecot-config', '--data-dir', dir, '--home', '/var/vmail\nauth_cache_size = 1000'])).code, 2);
  });
});

describe('IMAP logins through Dovecot use the same passwords, at once', () => {
  let server: TestServer;
  let dovecot: RunningDovecot;
  let domain: string;

  before(async () => {
    if (!DOVECOT) return;
    server = await startTestServer();
    domain = (await aDomain(server.services)).name;
    dovecot = await startDovecot(DOVECOT, server.dataDir);
  });
  after(async () => {
    await dovecot?.stop();
    await server?.stop();
  });

  /** 'OK' or 'NO', or the whole reply when it is neither. */
  const login = async (user: string, password: string) => {
    const reply = await imapLogin(dovecot.port, user, password);
    if (reply.startsWith('a1 OK')) return 'OK';
    return reply.startsWith('a1 NO [AUTHENTICATIONFAILED]') ? 'NO' : reply;
  };

  test('app passwords log in over IMAP; with a second factor on only they do; a revoked one stops at once', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    const actor = { kind: 'mailbox' as const, id: mailbox.id, login: address };
    const { password: app } = await server.services.appPasswords.create(actor, 'Mail app');
    assert.equal(await login(address, app), 'OK', dovecot.log());
    assert.equal(await login(address, password), 'OK');
    const { secret } = server.services.secondFactors.newTotp(actor);
    const code = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate();
    await server.services.secondFactors.confirmTotp(actor, secret, code);
    assert.equal(await login(address, password), 'NO', 'the mailbox password logs in over IMAP with a second factor on');
    assert.equal(await login(address, app), 'OK');
    assert.equal(await login(address, `${app.slice(0, 6)}${strongPassword('x')}`), 'NO');
    const [row] = await server.adapters.stores.appPasswords.listAppPasswords(mailbox.id);
    await server.services.appPasswords.revoke(actor, row!.id);
    assert.equal(await login(address, app), 'NO');
  });

  test('many app passwords: each logs in by its own selector; a password change revokes them all in IMAP too', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, mailbox } = await aMailbox(server.services, { domain });
    const actor = { kind: 'mailbox' as const, id: mailbox.id, login: address };
    const apps: string[] = [];
    for (let i = 0; i < 8; i++) apps.push((await server.services.appPasswords.create(actor, `App ${i}`)).password);
    for (const app of apps) assert.equal(await login(address, app), 'OK', dovecot.log());
    await server.services.mailboxes.resetPassword(cliActor, (await server.services.domains.requireDomain(cliActor, domain)), address, { password: strongPassword('-reset') });
    for (const app of apps) assert.equal(await login(address, app), 'NO', 'an app password outlived the reset in IMAP');
    assert.equal(await login(address, strongPassword('-reset')), 'OK');
  });

  test('imported mailboxes log in over IMAP with their old passwords before their first mailpass login, and after its re-hash (SPEC §13)', async (t) => {
    if (!needsDovecot(t)) return;
    const { vectors } = JSON.parse(readFileSync(new URL('../data/legacy-hashes.json', import.meta.url), 'utf8')) as { vectors: Array<{ scheme: string; password: string; hash: string }> };
    const file = path.join(server.dataDir, 'import.passwd');
    writeFileSync(file, vectors.map((v, i) => `moved${i}:${v.hash}`).join('\n'));
    const r = await runCli(['import', file, '--domain', domain, '--data-dir', server.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    for (const [i, v] of vectors.entries()) {
      assert.equal(await login(`moved${i}@${domain}`, v.password), 'OK', `${v.scheme} before mailpass re-hashed it\n${dovecot.log()}`);
      assert.equal(await login(`moved${i}@${domain}`, `${v.password}!`), 'NO', `${v.scheme} with a wrong password`);
    }
    for (const [i, v] of vectors.entries()) {
      assert.ok((await server.services.logins.attempt({ protocol: 'smtp', name: `moved${i}@${domain}`, password: v.password, ip: '127.0.0.1' })).ok);
    }
    // The new hashes are made after each reply and written with the next batch.
    const hashes = async () => Promise.all(vectors.map(async (_, i) => (await server.adapters.stores.accounts.findAccountByLogin(`moved${i}@${domain}`))!.passwordHash));
    const deadline = Date.now() + 10_000;
    while ((await hashes()).some((h) => !h.startsWith('$argon2id$')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.adapters.batcher.flush();
    }
    const after = await hashes();
    for (const [i, v] of vectors.entries()) {
      assert.match(after[i]!, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, `${v.scheme} was re-hashed`);
      assert.equal(await login(`moved${i}@${domain}`, v.password), 'OK', `${v.scheme} after its re-hash`);
    }
  });

  test('a mailbox logs in with its password (cheap test argon2 parameters included), not with another', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    assert.match(mailbox.passwordHash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await login(address, password), 'OK', dovecot.log());
    assert.equal(await login(address, strongPassword('x')), 'NO');
    assert.equal(await login(address.toUpperCase(), password), 'OK', 'Dovecot lower-cases the login as mailpass does');
  });

  test('a password changed in the web panel works in IMAP at once, and the old one is refused', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password } = await aMailbox(server.services, { domain });
    assert.equal(await login(address, password), 'OK', dovecot.log());
    const next = strongPassword('Web');
    const agent = await loginAsMailbox(server.url, address, password);
    const res = await postForm(agent, '/account', '/account', { current_password: password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    assert.equal(await login(address, password), 'NO');
    assert.equal(await login(address, next), 'OK');
  });

  test('a password set with `mailbox passwd` works in IMAP at once, and the old one is refused', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password } = await aMailbox(server.services, { domain });
    assert.equal(await login(address, password), 'OK', dovecot.log());
    const next = strongPassword('Cli');
    const r = await runCli(['mailbox', 'passwd', address, '--password-stdin', '--data-dir', server.dataDir], { stdin: `${next}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await login(address, password), 'NO');
    assert.equal(await login(address, next), 'OK');
  });

  test('a disabled mailbox is refused, and logs in again once enabled', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password } = await aMailbox(server.services, { domain });
    await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), address, true);
    assert.equal(await login(address, password), 'NO');
    await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), address, false);
    assert.equal(await login(address, password), 'OK', dovecot.log());
  });

  test('a mailbox of an unverified domain is refused', async (t) => {
    if (!needsDovecot(t)) return;
    const pending = (await aDomain(server.services, { verified: false })).name;
    const { address, password } = await aMailbox(server.services, { domain: pending });
    assert.equal(await login(address, password), 'NO');
  });

  test('an SMTP credential cannot log in to IMAP, though its password is right for SMTP', async (t) => {
    if (!needsDovecot(t)) return;
    const svc = server.services;
    const { credential, password } = await svc.credentials.createCredential(cliActor, await svc.domains.requireDomain(cliActor, domain), 'App');
    const smtp = await svc.logins.attempt({ protocol: 'smtp', name: credential.login, password, ip: '127.0.0.1' });
    assert.equal(smtp.ok, true);
    assert.equal(await login(credential.login, password), 'NO');
  });

  test('an unknown login is refused', async (t) => {
    if (!needsDovecot(t)) return;
    assert.equal(await login(`nobody@${domain}`, strongPassword()), 'NO');
    assert.equal(await login(`x' OR '1'='1@${domain}`, strongPassword()), 'NO');
  });
});

describe('IMAP sessions end on a change, through doveadm (SPEC §13)', () => {
  const apiKey = 'kick-test-key-0123456789';
  let server: TestServer;
  let dovecot: RunningDovecot;
  let domain: string;
  let doveadmPort: number;

  before(async () => {
    if (!DOVECOT) return;
    doveadmPort = await freePort();
    server = await startTestServer({ DOVEADM_URL: `http://127.0.0.1:${doveadmPort}`, DOVEADM_API_KEY: apiKey });
    domain = (await aDomain(server.services)).name;
    dovecot = await startDovecot(DOVECOT, server.dataDir, { doveadm: { port: doveadmPort, apiKey } });
  });
  after(async () => {
    await dovecot?.stop();
    await server?.stop();
  });

  /** An IMAP session that logged in and waits; `closed` resolves when Dovecot ends it. */
  async function openSession(user: string, password: string) {
    const socket = net.connect(dovecot.port, '127.0.0.1');
    socket.setEncoding('utf8');
    let text = '';
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => {});
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 5_000;
      while (!re.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(text, re);
    };
    await until(/^\* OK /m);
    socket.write(`a1 LOGIN "${user}" "${password}"\r\n`);
    await until(/^a1 OK/m);
    return { closed, text: () => text, close: () => socket.destroy() };
  }

  test('a reset in mailpass ends the open IMAP session within 2 s; a disable ends the next one', async (t) => {
    if (!needsDovecot(t)) return;
    const box = await aMailbox(server.services, { domain });
    const s = await openSession(box.address, box.password);
    const since = Date.now();
    await server.services.mailboxes.resetPassword(cliActor, (await server.services.domains.requireDomain(cliActor, domain))!, box.address, { password: strongPassword('Kicked') });
    const ended = await Promise.race([s.closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5_000))]);
    s.close();
    assert.notEqual(ended, -1, `the IMAP session is still open\n${dovecot.log()}`);
    t.diagnostic(`the IMAP session ended ${ended - since} ms after the reset`);
    assert.ok(ended - since < 2_000, `ended after ${ended - since} ms`);

    const again = await openSession(box.address, strongPassword('Kicked'));
    const d = await server.services.domains.requireDomain(cliActor, domain);
    await server.services.mailboxes.setDisabled(cliActor, d, box.address, true);
    const gone = await Promise.race([again.closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5_000))]);
    again.close();
    assert.notEqual(gone, -1, 'a disabled mailbox keeps its IMAP session');
  });

  test('a kick that Dovecot refuses (a wrong API key) is retried, then logged; it never fails or delays the change', async (t) => {
    if (!needsDovecot(t)) return;
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(...d.toString('utf8').split('\n').filter(Boolean)));
    const other = await startTestServer({ DOVEADM_URL: `http://127.0.0.1:${doveadmPort}`, DOVEADM_API_KEY: 'not-the-key' }, { log: createLogger('warn', sink) });
    try {
      const d = await aDomain(other.services);
      const box = await aMailbox(other.services, { domain: d.name });
      const started = Date.now();
      const r = await other.services.mailboxes.resetPassword(cliActor, d, box.address, { generate: true });
      assert.equal(r.generated, true);
      assert.ok(Date.now() - started < 2_000, 'the reset waited for Dovecot');
      await other.adapters.imap!.settled();
      const failed = lines.map((l) => JSON.parse(l) as { msg: string; why?: string; user?: string }).find((l) => l.msg.startsWith('doveadm kick failed'));
      assert.ok(failed, lines.join('\n'));
      assert.equal(failed.user, box.address);
      assert.equal(failed.why, 'HTTP 401');
      assert.ok(!lines.join('\n').includes('not-the-key'), 'the API key is not logged');
    } finally {
      await other.stop();
    }
  });
});
