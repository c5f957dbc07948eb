import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { createLogger } from '../../src/log.js';
import { aToken } from '../helpers/api.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { runCliProcess } from '../helpers/cli-process.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// Every path a secret takes (logins, changes, resets, generated passwords, credentials, tokens,
// API calls, SMTP AUTH, the CLI), with the server logging at debug level. Afterwards no password,
// token or session id may appear in the logs or in the bytes of the database files.

let logText = '';
const capture = new Writable({
  write(chunk: Buffer, _enc, cb) {
    logText += chunk.toString('utf8');
    cb();
  },
});

let server: TestServer;
before(async () => {
  // DNS on a loopback port where nothing answers: the webhook added below is never looked up outside.
  server = await startTestServer({ API_RATE_LIMIT: '100000', DNS_SERVERS: '127.0.0.1:9' }, { smtp: true, log: createLogger('debug', capture) });
});
after(() => server.stop());

/** Every secret seen during the test, with where it came from. */
const secrets = new Map<string, string>();
const keep = (label: string, value: string | undefined | null) => {
  assert.ok(value, `${label}: no value`);
  secrets.set(value, label);
  return value;
};

/** The session cookie's raw value (s:<id>.<signature>) and the id inside it. */
function keepSession(label: string, agent: Agent) {
  const jar = (agent as unknown as { jar: { getCookie(name: string, access: object): { value: string } | undefined } }).jar;
  const raw = jar.getCookie('mailpass.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false })?.value;
  keep(`${label} session cookie`, raw);
  const decoded = decodeURIComponent(raw!);
  keep(`${label} session id`, decoded.slice(2, decoded.lastIndexOf('.')));
}

const shown = (html: string, id: string) => new RegExp(`id="${id}">([^<]+)<`).exec(html)?.[1];

/** The CLI in its own process at LOG_LEVEL=debug: what it logs goes to stderr. */
const cliProcess = (argv: string[], stdin = '') => runCliProcess([...argv, '--data-dir', server.dataDir], stdin, { LOG_LEVEL: 'debug' });

test('no password, token or session id reaches the logs or the database files', async () => {
  const svc = server.services;
  const domain = (await aDomain(svc)).name;
  keep('initial admin password', ADMIN_PASSWORD);

  // Web: a mailbox logs in, fails once, changes its password; its session ids go with it.
  const box = await aMailbox(svc, { domain });
  keep('mailbox password', box.password);
  const wrong = keep('a wrong password', 'Wr0ng#Guess-Pass');
  assert.equal((await postForm(request.agent(server.url), '/login', '/login', { email: box.address, password: wrong })).status, 401);
  const user = await loginAsMailbox(server.url, box.address, box.password);
  keepSession('mailbox', user);
  const changed = keep('changed password', strongPassword('Changed'));
  const change = await postForm(user, '/account', '/account', { current_password: box.password, new_password: changed, confirm_password: changed });
  assert.equal(change.status, 303);
  const refused = keep('a refused new password', 'short1!A');
  const again = await loginAsMailbox(server.url, box.address, changed);
  keepSession('mailbox (second)', again);
  assert.equal((await postForm(again, '/account', '/account', { current_password: changed, new_password: refused, confirm_password: refused })).status, 422);
  const ownGenerated = await again.post('/account/generate').set('Accept', 'application/json').type('form').send({ _csrf: csrfOf((await again.get('/account')).text) });
  keep('generated (own page)', ownGenerated.body.password);

  // Web: an admin logs in, resets a mailbox, generates, creates a mailbox, a credential and a token.
  assert.equal((await postForm(request.agent(server.url), '/admin/login', '/admin/login', { username: 'admin', password: wrong })).status, 401);
  const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  keepSession('admin', admin);
  const M = `/admin/domains/${domain}/mailboxes`;
  const reset = keep('admin reset password', strongPassword('Reset'));
  assert.equal((await postForm(admin, `${M}/${box.address}`, `${M}/${box.address}/password`, { password: reset })).status, 303);
  const csrf = csrfOf((await admin.get('/admin/domains')).text);
  keep('generated (admin)', (await admin.post(`${M}/${box.address}/generate`).set('Accept', 'application/json').type('form').send({ _csrf: csrf })).body.password);
  keep('generated (new mailbox form)', (await admin.post(`${M}/generate`).set('Accept', 'application/json').type('form').send({ _csrf: csrf })).body.password);
  const created = await admin.post(M).type('form').send({ address: 'generated', name: 'Generated', _csrf: csrf });
  assert.equal(created.status, 201);
  const createdPassword = keep('created mailbox password', shown(created.text, 'created-password'));
  const credential = await admin.post(`/admin/domains/${domain}/credentials`).type('form').send({ name: 'WordPress', _csrf: csrf });
  assert.equal(credential.status, 201);
  const credentialLogin = shown(credential.text, 'cred-username')!;
  keep('credential password (web)', shown(credential.text, 'cred-password'));
  const guid = (await server.adapters.stores.accounts.findAccountByLogin(credentialLogin))!.guid!;
  const credentialReset = await admin.post(`/admin/domains/${domain}/credentials/${guid}/reset`).type('form').send({ _csrf: csrf });
  const credentialPassword = keep('credential password (web reset)', shown(credentialReset.text, 'cred-password'));
  const webToken = await admin.post('/admin/tokens').type('form').send({ name: 'deploy', _csrf: csrf });
  assert.equal(webToken.status, 201);
  keep('token (web)', shown(webToken.text, 'token-value'));
  // SPEC §19: a webhook's signing secret is shown once, and in no log or database file.
  const hook = await admin.post('/admin/webhooks').type('form').send({ url: 'https://hooks.example.invalid/', events: 'login.locked', domain, _csrf: csrf });
  assert.equal(hook.status, 201);
  keep('webhook signing secret', shown(hook.text, 'secret-value'));
  keep('admin created with a password', strongPassword('NewAdmin'));
  assert.equal((await admin.post('/admin/admins').type('form').send({ username: 'second', password: strongPassword('NewAdmin'), super: '1', _csrf: csrf })).status, 303);

  // API: a token sets and generates passwords, creates and resets credentials.
  const token = keep('token (API)', (await aToken(svc, 'admin', 'api')).plaintext);
  const api = (method: 'get' | 'post' | 'put', p: string) => request(server.url)[method](`/api${p}`).set('Authorization', `Bearer ${token}`);
  assert.equal((await api('get', '/domains')).status, 200);
  const apiPassword = keep('API password', strongPassword('Api'));
  assert.equal((await api('put', `/domains/${domain}/mailboxes/${box.address}/password`).send({ password: apiPassword })).status, 200);
  keep('API refused password', 'weak');
  assert.equal((await api('put', `/domains/${domain}/mailboxes/${box.address}/password`).send({ password: 'weak' })).status, 422);
  const generated = await api('put', `/domains/${domain}/mailboxes/${box.address}/password`).send({});
  const boxPassword = keep('API generated password', generated.body.data.password);
  const apiCredential = await api('post', `/domains/${domain}/credentials`).send({ name: 'CRM' });
  keep('credential password (API)', apiCredential.body.data.password);
  const apiReset = await api('put', `/domains/${domain}/credentials/${apiCredential.body.data.credential.guid}/reset-password`).send();
  keep('credential password (API reset)', apiReset.body.data.password);
  keep('a forged token', `mp_${'A'.repeat(43)}`);
  assert.equal((await request(server.url).get('/api/domains').set('Authorization', `Bearer mp_${'A'.repeat(43)}`)).status, 401);

  // SMTP: PLAIN and LOGIN, right and wrong, over both listeners.
  for (const [port, implicitTls] of [
    [server.smtpPorts.smtp, false],
    [server.smtpPorts.smtps, true],
  ] as const) {
    const c = await RawSmtp.ready(port, { implicitTls, dataDir: server.dataDir });
    assert.equal((await c.authPlain(box.address, wrong)).code, 535);
    assert.equal((await c.authPlain(box.address, boxPassword)).code, 235);
    c.close();
    const d = await RawSmtp.ready(port, { implicitTls, dataDir: server.dataDir });
    await d.cmd('AUTH LOGIN');
    await d.cmd(Buffer.from(credentialLogin).toString('base64'));
    assert.equal((await d.cmd(Buffer.from(credentialPassword).toString('base64'))).code, 235);
    d.close();
  }
  const e = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
  assert.equal((await e.authPlain(`generated@${domain}`, createdPassword)).code, 235);
  e.close();

  // The CLI, in its own process: what it prints on stdout is the secret it was asked for; its log is stderr.
  const cliPassword = keep('CLI password', strongPassword('Cli'));
  const [passwd, cliToken] = await Promise.all([
    cliProcess(['mailbox', 'passwd', box.address, '--password-stdin'], `${cliPassword}\n`),
    cliProcess(['token', 'add', 'admin', '--name', 'cli']),
  ]);
  const [cliCredential, cliGenerated] = await Promise.all([cliProcess(['credential', 'add', domain, '--name', 'Backup job']), cliProcess(['mailbox', 'add', `cli@${domain}`, '--generate'])]);
  for (const r of [passwd, cliToken, cliCredential, cliGenerated]) assert.equal(r.code, 0, r.stderr);
  keep('token (CLI)', cliToken.stdout.trim());
  keep('credential password (CLI)', cliCredential.stdout.trim().split('\n')[1]);
  keep('generated (CLI)', cliGenerated.stdout.trim());

  // Let the batched SMTP writes land, then look.
  await server.adapters.batcher.flush();
  // The capture works: the log names accounts (never their secrets).
  assert.ok(logText.split('\n').length > 50, 'the debug log is suspiciously short');
  assert.ok(logText.includes(box.address) && logText.includes(credentialLogin), 'the log never names the accounts');
  const cliLogs = [passwd, cliToken, cliCredential, cliGenerated].map((r) => r.stderr).join('\n');

  const files = ['mailpass.db', 'mailpass.db-wal'].map((f) => path.join(server.dataDir, f));
  const bytesBefore = files.filter(existsSync).map((f) => readFileSync(f));
  server.db.pragma('wal_checkpoint(TRUNCATE)');
  const bytesAfter = files.filter(existsSync).map((f) => readFileSync(f));
  const db = Buffer.concat([...bytesBefore, ...bytesAfter]);

  const leaks: string[] = [];
  for (const [secret, label] of secrets) {
    // The secret itself, and how it travels on the wire: base64 (SMTP AUTH) and URL encoding (forms).
    const forms = new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]);
    for (const f of forms) {
      if (logText.includes(f)) leaks.push(`${label} in the server log`);
      if (cliLogs.includes(f)) leaks.push(`${label} in the CLI log`);
      if (db.includes(Buffer.from(f))) leaks.push(`${label} in the database files`);
    }
  }
  for (const [login, password] of [
    [box.address, boxPassword],
    [box.address, wrong],
  ]) {
    const plain = Buffer.from(`\0${login}\0${password}`).toString('base64');
    if (logText.includes(plain)) leaks.push('an AUTH PLAIN token in the server log');
  }
  assert.deepEqual([...new Set(leaks)], []);
  assert.ok(secrets.size >= 25, `only ${secrets.size} secrets exercised`);
});
