import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../../src/core/actors.js';
import { aToken, apiClient } from '../helpers/api.js';
import { aDomain, aMailbox, anAdmin } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { loginAsAdmin, postForm, startTestServer, type Agent, type TestServer } from '../helpers/server.js';

// SPEC §15 in the panel, the API and the CLI: the same limits, set on any of them, read on all.

let server: TestServer;
let domain: string;
let admin: Agent;
let api: ReturnType<typeof apiClient>;
before(async () => {
  server = await startTestServer({ SEND_LIMIT_PER_HOUR: '500' });
  domain = (await aDomain(server.services)).name;
  admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
  api = apiClient(server.url, (await aToken(server.services, 'admin')).plaintext);
});
after(() => server.stop());

const domainPage = () => `/admin/domains/${domain}`;
const svcDomain = () => server.services.domains.requireDomain(cliActor, domain);
const cli = (...args: string[]) => runCli(['limits', ...args, '--data-dir', server.dataDir]);

describe('sending limits in the panel', () => {
  test('the domain form saves, shows the installation default as the placeholder, and refuses a bad value naming it', async () => {
    const page = await admin.get(domainPage());
    assert.match(page.text, /<h2 id="limits-h">Sending limits<\/h2>/);
    for (const label of ['Recipients per hour', 'Recipients per day', 'Recipients per message']) assert.match(page.text, new RegExp(`<label for="[a-z_]+">${label}</label>`));
    assert.match(page.text, /<button type="submit">Save limits<\/button>/);
    assert.match(page.text, /id="per_hour"[^>]*placeholder="500"/);

    const saved = await postForm(admin, domainPage(), `${domainPage()}/limits`, { per_hour: '40', per_day: '', max_recipients: '0' });
    assert.equal(saved.status, 303);
    const view = await server.services.sendLimits.ofDomain(cliActor, await svcDomain());
    assert.deepEqual(view.limits, { perHour: 40, perDay: null, maxRecipients: 0 });
    assert.deepEqual(view.effective, { perHour: 40, perDay: 10_000, maxRecipients: 0 });
    assert.match((await admin.get(domainPage())).text, /id="per_hour"[^>]*value="40"/);

    const refused = await postForm(admin, domainPage(), `${domainPage()}/limits`, { per_hour: 'lots', per_day: '-3', max_recipients: '' });
    assert.equal(refused.status, 422);
    assert.match(refused.text, /id="per_hour-errors"/);
    assert.match(refused.text, /id="per_day-errors"/);
    assert.match(refused.text, /id="per_hour"[^>]*value="lots"/);
    assert.deepEqual((await server.services.sendLimits.ofDomain(cliActor, await svcDomain())).limits, { perHour: 40, perDay: null, maxRecipients: 0 });
  });

  test("a mailbox's and a credential's pages: the same form (empty: the domain's) and what they sent; the lists show it too", async () => {
    const box = await aMailbox(server.services, { domain });
    const boxUrl = `${domainPage()}/mailboxes/${encodeURIComponent(box.address)}`;
    const page = await admin.get(boxUrl);
    assert.match(page.text, /<dt>Sent in the last hour<\/dt><dd>0 recipients/);
    assert.match(page.text, /<dt>Sent in the last 24 hours<\/dt><dd>0 recipients/);
    assert.match(page.text, /id="per_hour"[^>]*value=""[^>]*placeholder="40"/);
    assert.equal((await postForm(admin, boxUrl, `${boxUrl}/limits`, { per_hour: '2', per_day: '', max_recipients: '' })).status, 303);
    const mailbox = await server.services.mailboxes.getMailbox(cliActor, await svcDomain(), box.address);
    // Two recipients counted: the edit page and the domain list show the login at its limit.
    await server.services.sendLimits.reserve(mailbox.id, 2, { perHour: 0, perDay: 0, maxRecipients: 0 });
    const after = await admin.get(boxUrl);
    assert.match(after.text, /<dt>Sent in the last hour<\/dt><dd>2 recipients <span class="muted">\(limit: 2\)<\/span> <span class="badge warn">At limit<\/span>/);
    const list = await admin.get(domainPage());
    assert.match(list.text, new RegExp(`${box.address.replace('.', '\\.')}</td>[\\s\\S]*?2 / 2 · 2 / 10000</span> <span class="badge warn">At limit`));

    const { credential } = await server.services.credentials.createCredential(cliActor, await svcDomain(), 'Shop');
    const credUrl = `${domainPage()}/credentials/${credential.guid}`;
    assert.match((await admin.get(credUrl)).text, /<dt>Sent in the last hour<\/dt><dd>0 recipients/);
    assert.equal((await postForm(admin, credUrl, `${credUrl}/limits`, { per_hour: '', per_day: '5', max_recipients: '3' })).status, 303);
    assert.deepEqual((await server.services.sendLimits.ofAccount(cliActor, credential)).effective, { perHour: 40, perDay: 5, maxRecipients: 3 });
  });

  test("a domain admin cannot touch another domain's limits", async () => {
    const other = await aDomain(server.services);
    const { username, password } = await anAdmin(server.services, { domains: [other.name] });
    const agent = await loginAsAdmin(server.url, username, password);
    const res = await postForm(agent, `/admin/domains/${other.name}`, `${domainPage()}/limits`, { per_hour: '0', per_day: '0', max_recipients: '0' });
    assert.equal(res.status, 404);
    assert.equal((await server.services.sendLimits.ofDomain(cliActor, await svcDomain())).limits.perHour, 40);
  });
});

describe('sending limits in the API and the CLI', () => {
  test('GET and PUT on the three levels, with `limits`, `effective` and `sent`; a bad value is a 400 naming the field', async () => {
    const box = await aMailbox(server.services, { domain });
    const got = await api.get(`/domains/${domain}/limits`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.data.limits, { per_hour: 40, per_day: null, max_recipients: 0 });
    assert.deepEqual(got.body.data.effective, { per_hour: 40, per_day: 10000, max_recipients: 0 });
    assert.deepEqual(Object.keys(got.body.data.sent), ['last_hour', 'last_day']);

    const put = await api.put(`/domains/${domain}/mailboxes/${box.address}/limits`, { per_hour: 7, per_day: null, max_recipients: 2 });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.data, { limits: { per_hour: 7, per_day: null, max_recipients: 2 }, effective: { per_hour: 7, per_day: 10000, max_recipients: 2 }, sent: { last_hour: 0, last_day: 0 } });

    for (const [body, field] of [
      [{ per_hour: -1, per_day: null, max_recipients: null }, 'per_hour'],
      [{ per_hour: 1.5, per_day: null, max_recipients: null }, 'per_hour'],
      [{ per_hour: null, per_day: '100', max_recipients: null }, 'per_day'],
      [{ per_hour: null, per_day: null, max_recipients: 100_000_001 }, 'max_recipients'],
      [{ perhour: 5 }, 'perhour'],
    ] as const) {
      const res = await api.put(`/domains/${domain}/mailboxes/${box.address}/limits`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.success, false);
      assert.match(res.body.message, new RegExp(`^${field}: `));
    }
    assert.deepEqual((await api.get(`/domains/${domain}/mailboxes/${box.address}/limits`)).body.data.limits, { per_hour: 7, per_day: null, max_recipients: 2 });

    const { credential } = await server.services.credentials.createCredential(cliActor, await svcDomain(), 'Api');
    assert.equal((await api.put(`/domains/${domain}/credentials/${credential.guid}/limits`, { per_hour: 0, per_day: null, max_recipients: null })).status, 200);
    assert.deepEqual((await api.get(`/domains/${domain}/credentials/${credential.guid}/limits`)).body.data.effective, { per_hour: 0, per_day: 10000, max_recipients: 0 });
    assert.equal((await api.get(`/domains/${domain}/credentials/00000000-0000-4000-8000-000000000000/limits`)).status, 404);

    // Each change is in the audit log.
    const audit = await server.services.audit.list(cliActor, 1);
    assert.ok(audit.items.some((e) => e.action === 'send-limits.set' && e.target === box.address && e.detail === 'per_hour=7 per_day=default max_recipients=2'));
  });

  test('`limits show` and `limits set` on a domain, an address and a credential username; `default` clears; bad usage exits 2 naming the option', async () => {
    const box = await aMailbox(server.services, { domain });
    const set = await cli('set', box.address, '--per-hour', '9', '--max-recipients', '4');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^limits of .+ \(mailbox\)\nper_hour: 9 \(applies: 9\)\nper_day: default \(applies: 10000\)\nmax_recipients: 4 \(applies: 4\)\nsent_last_hour: 0\nsent_last_day: 0\n$/);
    const cleared = await cli('set', box.address, '--per-hour', 'default');
    assert.match(cleared.stdout, /per_hour: default \(applies: 40\)\n/);
    assert.match(cleared.stdout, /max_recipients: 4 /);

    const { credential } = await server.services.credentials.createCredential(cliActor, await svcDomain(), 'Cli');
    assert.equal((await cli('set', credential.login, '--per-day', '0')).code, 0);
    const shown = await cli('show', credential.login);
    assert.match(shown.stdout, /\(credential Cli\)\n/);
    assert.match(shown.stdout, /per_day: 0 \(applies: 0 \(no limit\)\)/);
    assert.match((await cli('show', domain)).stdout, /^limits of .+ \(domain\)\nper_hour: 40 /);

    const bad = await cli('set', box.address, '--per-hour', 'many');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mailpass: --per-hour must be a whole number/);
    assert.equal((await cli('set', box.address)).code, 2);
    const unknown = await cli('show', `nobody@${domain}`);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr.split('\n').filter(Boolean).length, 1);
  });
});
