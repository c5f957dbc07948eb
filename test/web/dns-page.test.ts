import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, anAdmin } from '../helpers/builders.js';
import { startDnsServer, type NameRecords } from '../helpers/dns-server.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { csrfOf, loginAsAdmin, startTestServer, type Agent, type TestServer } from '../helpers/server.js';

// SPEC §14: the DNS page of a domain, checked against a small authoritative DNS server on loopback
// (DNS_SERVERS) that serves right, wrong and missing records, and one name it never answers.

const PANEL = 'panel.mail.test';
let dns: Awaited<ReturnType<typeof startDnsServer>>;
let server: TestServer;
let admin: Agent;

before(async () => {
  dns = await startDnsServer(new Map(), { silent: new Set() });
  server = await startTestServer({ DNS_SERVERS: `127.0.0.1:${dns.port}`, IMAP_HOST: 'imap.mail.test', PUBLIC_SMTP_PORT: '587', PUBLIC_SMTPS_PORT: '465' });
  admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
});
after(async () => {
  await server.stop();
  await dns.stop();
});

/** The page as the admin's browser reaches the panel at PANEL. */
const dnsPage = (agent: Agent, domain: string) => agent.get(`/admin/domains/${domain}/dns`).set('Host', PANEL);
const checkDns = async (agent: Agent, domain: string) => {
  const page = await dnsPage(agent, domain);
  return agent.post(`/admin/domains/${domain}/dns`).set('Host', PANEL).type('form').send({ _csrf: csrfOf(page.text) });
};

/** Each record's row: its expected value and what the check said (`not checked` before one). */
function rows(html: string): Map<string, { value: string; status: string; answered: string[] }> {
  const out = new Map<string, { value: string; status: string; answered: string[] }>();
  for (const m of html.matchAll(/<tr id="record-([^"]+)">([\s\S]*?)<\/tr>/g)) {
    const row = m[2]!;
    const value = /id="dns-value-\d+">([^<]*)</.exec(row)?.[1] ?? '';
    const status = /<span class="badge [a-z]+">([^<]+)<\/span>/.exec(row)?.[1] ?? (/not checked/.test(row) ? 'not checked' : '?');
    const answered = [...(row.split('DNS answered:')[1] ?? '').matchAll(/<code class="wrap">([^<]*)<\/code>/g)].map((a) => a[1]!);
    out.set(m[1]!, { value, status, answered });
  }
  return out;
}

describe('the DNS page', () => {
  test('before a check: every record the domain needs, with its expected value, none checked; the domain list says so', async () => {
    const d = (await aDomain(server.services)).name;
    const keys = await server.services.dkim.add(cliActor, (await server.services.domains.requireDomain(cliActor, d)), 'k1');
    const res = await dnsPage(admin, d);
    assert.equal(res.status, 200);
    const r = rows(res.text);
    assert.deepEqual([...r.keys()], ['spf', 'dkim-k1-ed', 'dkim-k1-rsa', 'dmarc', 'srv-_submission-_tcp', 'srv-_submissions-_tcp', 'srv-_imaps-_tcp', 'autoconfig', 'autodiscover']);
    assert.equal(r.get('spf')!.value, 'v=spf1 mx a:mail.test ~all');
    assert.equal(r.get('dkim-k1-ed')!.value, keys[0]!.value);
    assert.equal(r.get('dkim-k1-rsa')!.value, keys[1]!.value);
    assert.equal(r.get('dmarc')!.value, 'v=DMARC1; p=quarantine');
    assert.equal(r.get('srv-_submission-_tcp')!.value, '0 1 587 mail.test.');
    assert.equal(r.get('srv-_submissions-_tcp')!.value, '0 1 465 mail.test.');
    assert.equal(r.get('srv-_imaps-_tcp')!.value, '0 1 993 imap.mail.test.');
    assert.equal(r.get('autoconfig')!.value, `${PANEL}.`);
    for (const [id, row] of r) assert.equal(row.status, 'not checked', id);
    assert.match(res.text, /Not checked yet/);
    assert.match(res.text, new RegExp(`<code class="wrap" id="dns-name-0">${d.replaceAll('.', '\\.')}</code>`));
    assert.match(res.text, /data-copy="dns-value-0"/, 'a Copy button for the value');
    const list = (await admin.get('/admin/domains')).text;
    assert.match(list, new RegExp(`href="/admin/domains/${d.replaceAll('.', '\\.')}/dns">Not checked<`));
  });

  test('Check DNS marks each record ok, missing or different, says what DNS answered, and the domain list counts the problems', async () => {
    const d = (await aDomain(server.services)).name;
    const domain = await server.services.domains.requireDomain(cliActor, d);
    const [ed, rsa] = await server.services.dkim.add(cliActor, domain, 'k1');
    const [, otherRsa] = await server.services.dkim.add(cliActor, await server.services.domains.requireDomain(cliActor, (await aDomain(server.services)).name), 'zz');
    const zone: Array<[string, string[] | NameRecords]> = [
      // SPF right, with a smarthost's include added: ok. A site-verification TXT beside it is not SPF.
      [d, { TXT: ['google-site-verification=abc', 'v=spf1 mx a:mail.test include:_spf.smarthost.example ~all'] }],
      [ed!.name, [ed!.value]],
      // The RSA selector publishes another key: different.
      [rsa!.name, [otherRsa!.value]],
      // DMARC with p=none: different (it protects nothing).
      [`_dmarc.${d}`, ['v=DMARC1; p=none; rua=mailto:dmarc@example.net']],
      [`_submission._tcp.${d}`, { SRV: ['5 0 587 MAIL.test.'] }],
      // _submissions._tcp: missing. _imaps._tcp: the wrong port.
      [`_imaps._tcp.${d}`, { SRV: ['0 1 143 imap.mail.test.'] }],
      // autoconfig: a CNAME to the panel's host; autodiscover: an address the panel's host does not have.
      [`autoconfig.${d}`, { CNAME: `${PANEL}.` }],
      [PANEL, { A: ['192.0.2.10'] }],
      [`autodiscover.${d}`, { A: ['198.51.100.7'] }],
    ];
    for (const [name, value] of zone) dns.records.set(name, value);
    const res = await checkDns(admin, d);
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/admin/domains/${d}/dns`);
    const page = (await dnsPage(admin, d)).text;
    assert.match(page, /DNS checked: 5 records need attention/);
    const r = rows(page);
    assert.deepEqual(
      Object.fromEntries([...r].map(([id, row]) => [id, row.status])),
      {
        spf: 'ok',
        'dkim-k1-ed': 'ok',
        'dkim-k1-rsa': 'different',
        dmarc: 'different',
        'srv-_submission-_tcp': 'ok',
        'srv-_submissions-_tcp': 'missing',
        'srv-_imaps-_tcp': 'different',
        autoconfig: 'ok',
        autodiscover: 'different',
      },
    );
    assert.deepEqual(r.get('dmarc')!.answered, ['v=DMARC1; p=none; rua=mailto:dmarc@example.net']);
    assert.match(page, /Its policy is p=none/);
    assert.deepEqual(r.get('srv-_imaps-_tcp')!.answered, ['0 1 143 imap.mail.test.']);
    assert.deepEqual(r.get('autodiscover')!.answered, ['198.51.100.7']);
    assert.match(page, /Last checked <time/);
    const list = (await admin.get('/admin/domains')).text;
    assert.match(list, new RegExp(`href="/admin/domains/${d.replaceAll('.', '\\.')}/dns"><span class="badge bad">5 problems<`));

    // Put right, checked again: no problem left, and the list says so.
    dns.records.set(rsa!.name, [rsa!.value]);
    dns.records.set(`_dmarc.${d}`, ['v=DMARC1; p=reject']);
    dns.records.set(`_submissions._tcp.${d}`, { SRV: ['0 1 465 mail.test.'] });
    dns.records.set(`_imaps._tcp.${d}`, { SRV: ['0 1 993 imap.mail.test.'] });
    dns.records.set(`autodiscover.${d}`, { A: ['192.0.2.10'] });
    await checkDns(admin, d);
    const again = (await dnsPage(admin, d)).text;
    assert.match(again, /DNS checked: every record is right/);
    assert.ok([...rows(again).values()].every((row) => row.status === 'ok'), again);
    assert.match((await admin.get('/admin/domains')).text, new RegExp(`href="/admin/domains/${d.replaceAll('.', '\\.')}/dns"><span class="badge ok">Right<`));

    // A key added since: its records were never checked, and say so; the others keep their result.
    await server.services.dkim.add(cliActor, domain, 'k2');
    const later = rows((await dnsPage(admin, d)).text);
    assert.equal(later.get('dkim-k2-ed')!.status, 'not checked');
    assert.equal(later.get('spf')!.status, 'ok');
  });

  test('the panel\'s host as the browser sent it: an address becomes an A record; a Host that is no host name is not looked up', async () => {
    const d = (await aDomain(server.services)).name;
    const byAddress = rows((await admin.get(`/admin/domains/${d}/dns`)).text);
    assert.equal(byAddress.get('autoconfig')!.value, '127.0.0.1');
    assert.match((await admin.get(`/admin/domains/${d}/dns`)).text, /Thunderbird autoconfig<br><span class="muted">A</);
    const odd = rows((await admin.get(`/admin/domains/${d}/dns`).set('Host', 'under_score.example')).text);
    assert.equal(odd.get('autoconfig')!.value, 'mail.test.');
  });

  test('two presses of Check DNS at once make one check: DNS is asked once', async () => {
    const d = (await aDomain(server.services)).name;
    const token = csrfOf((await dnsPage(admin, d)).text);
    const press = () => admin.post(`/admin/domains/${d}/dns`).set('Host', PANEL).type('form').send({ _csrf: token });
    let before = dns.questions();
    assert.equal((await press()).status, 303);
    const one = dns.questions() - before;
    assert.ok(one > 0);
    before = dns.questions();
    // Answers held for half a second: the first check is still under way when the second press
    // arrives, however the two requests interleave on their way to the handler.
    dns.holdAnswers(500);
    try {
      const both = await Promise.all([press(), press()]);
      assert.deepEqual(both.map((r) => r.status), [303, 303]);
    } finally {
      dns.holdAnswers(0);
    }
    assert.equal(dns.questions() - before, one, 'the second press asked DNS again');
  });

  test('a wrong SPF: two records, or one that lacks the mail host', async () => {
    const d = (await aDomain(server.services)).name;
    dns.records.set(d, { TXT: ['v=spf1 mx ~all', 'v=spf1 a:mail.test ~all'] });
    await checkDns(admin, d);
    let page = (await dnsPage(admin, d)).text;
    assert.equal(rows(page).get('spf')!.status, 'different');
    assert.match(page, /Several SPF records/);
    dns.records.set(d, { TXT: ['v=spf1 mx +all'] });
    await checkDns(admin, d);
    page = (await dnsPage(admin, d)).text;
    assert.equal(rows(page).get('spf')!.status, 'different');
    assert.match(page, /It does not allow a:mail\.test\./);
    // No DKIM key: one record that cannot be published yet, counted as missing.
    assert.equal(rows(page).get('dkim')!.status, 'missing');
    assert.match(page, /No DKIM keys yet/);
  });

  test('a DNS server that does not answer: the check ends within its 3-second budget and says so', async () => {
    const d = (await aDomain(server.services)).name;
    dns.records.set(d, { TXT: ['v=spf1 mx a:mail.test ~all'] });
    const silent = new Set([`_dmarc.${d}`, `autoconfig.${d}`]);
    const quiet = await startDnsServer(dns.records, { silent });
    const other = await startTestServer({ DNS_SERVERS: `127.0.0.1:${quiet.port}` });
    try {
      const agent = await loginAsAdmin(other.url, 'admin', ADMIN_PASSWORD);
      await other.services.domains.addDomain(cliActor, d);
      const started = Date.now();
      const res = await checkDns(agent, d);
      const took = Date.now() - started;
      assert.equal(res.status, 303);
      // The budget bounds the wait: never the resolver's own retries (c-ares would try for far longer).
      assert.ok(took < 10_000, `the check took ${took} ms`);
      const page = (await dnsPage(agent, d)).text;
      assert.match(page, /No answer within 3 s\./);
      const r = rows(page);
      assert.equal(r.get('spf')!.status, 'ok');
      assert.equal(r.get('dmarc')!.status, 'no answer');
      assert.equal(r.get('autoconfig')!.status, 'no answer');
      assert.equal(r.get('srv-_submission-_tcp')!.status, 'missing');
    } finally {
      await other.stop();
      await quiet.stop();
    }
  });

  test('only the domain\'s admins: another domain\'s admin gets 404 for the page and the check, a check needs the CSRF token', async () => {
    const d = (await aDomain(server.services)).name;
    const mine = (await aDomain(server.services)).name;
    const { username, password } = await anAdmin(server.services, { domains: [mine] });
    const other = await loginAsAdmin(server.url, username, password);
    assert.equal((await other.get(`/admin/domains/${mine}/dns`)).status, 200);
    assert.equal((await other.get(`/admin/domains/${d}/dns`)).status, 404);
    const token = csrfOf((await other.get(`/admin/domains/${mine}/dns`)).text);
    const before = dns.questions();
    assert.equal((await other.post(`/admin/domains/${d}/dns`).type('form').send({ _csrf: token })).status, 404);
    assert.equal((await admin.post(`/admin/domains/${d}/dns`).type('form').send({})).status, 403);
    assert.equal(dns.questions(), before, 'a refused check asked DNS');
    assert.deepEqual(await server.query('SELECT c.problems FROM dns_checks c JOIN domains d ON d.id = c.domain_id WHERE d.name = ?', d), [], 'a refused check was kept');
  });
});
