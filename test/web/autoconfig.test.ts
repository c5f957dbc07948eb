import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';

// SPEC §14: mail client autoconfiguration, each answer read back by a real parser (Python's
// xml.etree and plistlib), the same for any address of a verified domain, never a secret.

let server: TestServer;
let domain: string;

before(async () => {
  server = await startTestServer({ IMAP_HOST: 'imap.mail.test', PUBLIC_SMTP_PORT: '587', PUBLIC_SMTPS_PORT: '465' });
  domain = (await aDomain(server.services)).name;
});
after(() => server.stop());

/** Runs a Python snippet over `input` (stdin) and returns its JSON output. */
const py = (code: string, input: string | Buffer) => JSON.parse(execFileSync('python3', ['-c', code], { input, encoding: 'utf8' }));

const THUNDERBIRD = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
p = root.find('emailProvider')
server = lambda e: {c.tag: c.text for c in e}
print(json.dumps({'version': root.get('version'), 'id': p.get('id'), 'domain': p.findtext('domain'),
  'incoming': [dict(server(e), type=e.get('type')) for e in p.findall('incomingServer')],
  'outgoing': [dict(server(e), type=e.get('type')) for e in p.findall('outgoingServer')]}))`;

describe('Thunderbird (config-v1.1.xml)', () => {
  test('both URLs answer the same XML for any address of a verified domain: IMAP 993 SSL, SMTP 465 SSL and 587 STARTTLS', async () => {
    const known = (await aMailbox(server.services, { domain })).address;
    const a = await request(server.url).get('/mail/config-v1.1.xml').query({ emailaddress: known });
    const b = await request(server.url).get('/mail/config-v1.1.xml').query({ emailaddress: `nobody-here@${domain}` });
    const c = await request(server.url).get('/.well-known/autoconfig/mail/config-v1.1.xml').query({ emailaddress: known });
    for (const r of [a, b, c]) {
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type']!, /^application\/xml/);
    }
    assert.equal(a.text, b.text, 'the answer tells whether the address exists');
    assert.equal(a.text, c.text);
    const parsed = py(THUNDERBIRD, a.text);
    assert.deepEqual(parsed, {
      version: '1.1',
      id: domain,
      domain,
      incoming: [{ type: 'imap', hostname: 'imap.mail.test', port: '993', socketType: 'SSL', username: '%EMAILADDRESS%', authentication: 'password-cleartext' }],
      outgoing: [
        { type: 'smtp', hostname: 'mail.test', port: '465', socketType: 'SSL', username: '%EMAILADDRESS%', authentication: 'password-cleartext' },
        { type: 'smtp', hostname: 'mail.test', port: '587', socketType: 'STARTTLS', username: '%EMAILADDRESS%', authentication: 'password-cleartext' },
      ],
    });
  });

  test('an unknown or unverified domain, or no address at all: 404', async () => {
    const unverified = (await aDomain(server.services, { verified: false })).name;
    for (const q of [`x@nowhere.example`, `x@${unverified}`, 'not an address']) {
      assert.equal((await request(server.url).get('/mail/config-v1.1.xml').query({ emailaddress: q })).status, 404, q);
    }
    assert.equal((await request(server.url).get('/.well-known/autoconfig/mail/config-v1.1.xml')).status, 404);
  });
});

const AUTODISCOVER = `
import json, sys, xml.etree.ElementTree as ET
ns = {'a': 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006', 'o': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
root = ET.fromstring(sys.stdin.buffer.read())
acct = root.find('o:Response/o:Account', ns)
protos = [{c.tag.split('}')[1]: c.text for c in p} for p in acct.findall('o:Protocol', ns)]
print(json.dumps({'root': root.tag, 'type': acct.findtext('o:AccountType', namespaces=ns), 'action': acct.findtext('o:Action', namespaces=ns), 'protocols': protos}))`;

const request_ = (address: string) => `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request><EMailAddress>${address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>
</Autodiscover>`;

describe('Outlook (Autodiscover)', () => {
  test('POX: IMAP and SMTP with the address as login, the same for a known and an unknown address', async () => {
    const known = (await aMailbox(server.services, { domain })).address;
    const post = (address: string) => request(server.url).post('/autodiscover/autodiscover.xml').set('Content-Type', 'text/xml').send(request_(address));
    const a = await post(known);
    const b = await post(`nobody-here@${domain}`);
    assert.equal(a.status, 200);
    assert.equal(a.text.replaceAll(known, 'X'), b.text.replaceAll(`nobody-here@${domain}`, 'X'));
    const parsed = py(AUTODISCOVER, a.text);
    assert.equal(parsed.root, '{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}Autodiscover');
    assert.equal(parsed.type, 'email');
    assert.equal(parsed.action, 'settings');
    assert.deepEqual(parsed.protocols.map((p: Record<string, string>) => [p.Type, p.Server, p.Port, p.LoginName, p.SSL]), [
      ['IMAP', 'imap.mail.test', '993', known, 'on'],
      ['SMTP', 'mail.test', '465', known, 'on'],
    ]);
    assert.equal((await post('x@nowhere.example')).status, 404);
    assert.equal((await request(server.url).post('/autodiscover/autodiscover.xml').set('Content-Type', 'text/xml').send('<nothing/>')).status, 400);
  });

  test('JSON v1.0 points AutodiscoverV1 at the POX URL and refuses other protocols', async () => {
    const ok = await request(server.url).get(`/autodiscover/autodiscover.json/v1.0/someone@${domain}`).query({ Protocol: 'AutodiscoverV1' });
    assert.equal(ok.status, 200);
    // The name the domain publishes for Autodiscover, never the Host header a request sent (issue 29).
    assert.deepEqual(ok.body, { Protocol: 'AutodiscoverV1', Url: `https://autodiscover.${domain}/autodiscover/autodiscover.xml` });
    const spoofed = await request(server.url).get(`/autodiscover/autodiscover.json/v1.0/someone@${domain}`).set('Host', 'evil.example').query({ Protocol: 'AutodiscoverV1' });
    assert.ok(!JSON.stringify(spoofed.body).includes('evil.example'), JSON.stringify(spoofed.body));
    assert.equal((await request(server.url).get(`/autodiscover/autodiscover.json/v1.0/someone@${domain}`).query({ Protocol: 'ActiveSync' })).status, 400);
    assert.equal((await request(server.url).get('/autodiscover/autodiscover.json/v1.0/someone@nowhere.example').query({ Protocol: 'AutodiscoverV1' })).status, 404);
  });
});

describe('Apple (.mobileconfig)', () => {
  test('the owner downloads an unsigned profile from /account that plistlib reads: the mail payload, no password', async () => {
    const box = await aMailbox(server.services, { domain, name: 'Jane Doe' });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    assert.match((await agent.get('/account')).text, /href="\/account\/mobileconfig"/);
    const res = await agent.get('/account/mobileconfig').buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type']!, /^application\/x-apple-aspen-config/);
    assert.match(res.headers['content-disposition']!, /^attachment; filename=".+\.mobileconfig"$/);
    const plist = py("import json, sys, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))", res.body as Buffer);
    assert.equal(plist.PayloadType, 'Configuration');
    const mail = plist.PayloadContent[0];
    assert.equal(mail.PayloadType, 'com.apple.mail.managed');
    assert.equal(mail.EmailAddress, box.address);
    assert.equal(mail.EmailAccountName, 'Jane Doe');
    assert.deepEqual([mail.IncomingMailServerHostName, mail.IncomingMailServerPortNumber, mail.OutgoingMailServerHostName, mail.OutgoingMailServerPortNumber], ['imap.mail.test', 993, 'mail.test', 465]);
    assert.ok(!JSON.stringify(plist).includes(box.password), 'a password in the profile');
    assert.ok(!('IncomingPassword' in mail) && !('OutgoingPassword' in mail));
    assert.equal((await request(server.url).get('/account/mobileconfig')).status, 303, 'without a session');
  });

  test('a profile with a new app password: made for the download, in the profile, logging in over SMTP, revocable', async () => {
    const box = await aMailbox(server.services, { domain });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const page = await agent.get('/account/security');
    assert.match(page.text, /Download a profile with a new app password/);
    const res = await agent.post('/account/mobileconfig').type('form').send({ _csrf: csrfOf(page.text) }).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const plist = py("import json, sys, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))", res.body as Buffer);
    const mail = plist.PayloadContent[0];
    assert.match(mail.IncomingPassword, /^.{20}$/u);
    assert.equal(mail.OutgoingPasswordSameAsIncomingPassword, true);
    assert.match(plist.PayloadDescription, /app password made for this device/);
    const [made] = await server.services.appPasswords.list({ kind: 'mailbox', id: box.mailbox.id, login: box.address });
    assert.match(made!.name, /^Apple device profile \d{4}-\d{2}-\d{2}$/);
    const login = (password: string) => server.services.logins.attempt({ protocol: 'smtp', name: box.address, password, ip: '127.0.0.1' });
    assert.equal((await login(mail.IncomingPassword)).ok, true, 'the profile\'s password logs in');
    await server.services.appPasswords.revoke({ kind: 'mailbox', id: box.mailbox.id, login: box.address }, made!.id);
    assert.equal((await login(mail.IncomingPassword)).ok, false, 'a revoked one does not');
    assert.equal((await agent.post('/account/mobileconfig').type('form').send({})).status, 403, 'without the CSRF token');
  });
});

describe('what clients are told (PUBLIC_SMTP_HOST, PUBLIC_SMTP_PORT, PUBLIC_SMTPS_PORT, IMAP_HOST, IMAP_PORT)', () => {
  test('behind a port mapping, the credential page, the account page and autoconfiguration name the public values, not the listeners', async () => {
    const mapped = await startTestServer(
      { PUBLIC_SMTP_HOST: 'submit.example.test', PUBLIC_SMTP_PORT: '10587', PUBLIC_SMTPS_PORT: '0', IMAP_HOST: 'imap.example.test', IMAP_PORT: '10993' },
      { smtp: true },
    );
    try {
      const d = (await aDomain(mapped.services)).name;
      const box = await aMailbox(mapped.services, { domain: d });
      const listening = String(mapped.smtpPorts.smtp);
      // Autoconfiguration: the public host and port, no implicit-TLS port (0: not told).
      const xml = py(THUNDERBIRD, (await request(mapped.url).get('/mail/config-v1.1.xml').query({ emailaddress: box.address })).text);
      assert.deepEqual(
        xml.outgoing.map((o: Record<string, string>) => [o.hostname, o.port, o.socketType]),
        [['submit.example.test', '10587', 'STARTTLS']],
      );
      assert.deepEqual(xml.incoming.map((o: Record<string, string>) => [o.hostname, o.port]), [['imap.example.test', '10993']]);
      // The credential page, shown once.
      const admin = await loginAsAdmin(mapped.url, 'admin', ADMIN_PASSWORD);
      const created = await postForm(admin, `/admin/domains/${d}/credentials/new`, `/admin/domains/${d}/credentials`, { name: 'CRM' });
      assert.equal(created.status, 201);
      assert.match(created.text, /<code id="cred-host">submit\.example\.test<\/code>/);
      assert.match(created.text, /<code id="cred-port">10587<\/code> \(STARTTLS\)/);
      assert.doesNotMatch(created.text, /cred-smtps-port/);
      assert.ok(!created.text.includes(`>${listening}<`), 'the listening port is shown');
      // The account page.
      const owner = await loginAsMailbox(mapped.url, box.address, box.password);
      const account = (await owner.get('/account')).text;
      assert.match(account, /Outgoing mail \(SMTP\)<\/dt><dd><code>submit\.example\.test<\/code>, port 10587 \(STARTTLS\)/);
      assert.match(account, /Incoming mail \(IMAP\)<\/dt><dd><code>imap\.example\.test<\/code>, port 10993 \(TLS\)/);
      assert.ok(!account.includes(`port ${listening}`), 'the listening port is shown');
    } finally {
      await mapped.stop();
    }
  });
});
