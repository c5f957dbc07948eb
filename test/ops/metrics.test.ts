import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { postForm, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

const TOKEN = 'metrics-token-0123456789abcdef';

/** The value of one sample line, e.g. `mailpass_logins_total{protocol="smtp",result="success"}`. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

describe('without METRICS_TOKEN', () => {
  let server: TestServer;
  before(async () => (server = await startTestServer()));
  after(() => server.stop());

  test('/metrics does not exist: 404, with or without a token', async () => {
    assert.equal((await request(server.url).get('/metrics')).status, 404);
    assert.equal((await request(server.url).get('/metrics').set('Authorization', `Bearer ${TOKEN}`)).status, 404);
  });
});

describe('with METRICS_TOKEN', () => {
  let server: TestServer;
  let domain: string;
  before(async () => {
    server = await startTestServer({ METRICS_TOKEN: TOKEN }, { smtp: true });
    domain = (await aDomain(server.services)).name;
  });
  after(() => server.stop());

  const scrape = () => request(server.url).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);

  test('401 without a token, with a wrong one, or with the right one in another scheme', async () => {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]) {
      const req = request(server.url).get('/metrics');
      const res = await (auth === undefined ? req : req.set('Authorization', auth));
      assert.equal(res.status, 401, String(auth));
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer /);
      assert.doesNotMatch(res.text, /mailpass_/);
    }
  });

  test('200 Prometheus text with the process metrics and every login series, zero at first', async () => {
    const res = await scrape();
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.notEqual(sample(res.text, 'process_cpu_user_seconds_total'), null);
    for (const protocol of ['smtp', 'web']) {
      for (const result of ['success', 'failure', 'locked']) {
        assert.notEqual(sample(res.text, `mailpass_logins_total{protocol="${protocol}",result="${result}"}`), null);
      }
    }
    assert.equal(sample(res.text, 'mailpass_spool_files'), 0);
  });

  test('SMTP and web logins, argon2 work, HTTP requests and the spool are counted', async () => {
    const before = (await scrape()).text;
    const count = (text: string, series: string) => sample(text, series) ?? 0;
    const { address, password } = await aMailbox(server.services, { domain });

    const c = await RawSmtp.ready(server.smtpPorts.smtp, { dataDir: server.dataDir });
    assert.equal((await c.authPlain(address, `${password}x`)).code, 535);
    assert.equal((await c.authPlain(address, password)).code, 235);
    await c.cmd(`MAIL FROM:<${address}>`);
    await c.cmd('RCPT TO:<friend@example.net>');
    await c.cmd('DATA');
    assert.equal((await c.cmd('Subject: counted\r\n\r\nHello.\r\n.')).code, 250);
    c.close();

    const agent = request.agent(server.url);
    assert.equal((await postForm(agent, '/login', '/login', { email: address, password: `${password}y` })).status, 401);
    assert.equal((await postForm(agent, '/login', '/login', { email: address, password })).status, 303);

    const after = (await scrape()).text;
    const delta = (series: string) => count(after, series) - count(before, series);
    assert.equal(delta('mailpass_logins_total{protocol="smtp",result="success"}'), 1);
    assert.equal(delta('mailpass_logins_total{protocol="smtp",result="failure"}'), 1);
    assert.equal(delta('mailpass_logins_total{protocol="web",result="success"}'), 1);
    assert.equal(delta('mailpass_logins_total{protocol="web",result="failure"}'), 1);
    assert.ok(delta('mailpass_argon2_seconds_count{op="verify"}') >= 3, 'verifications counted');
    assert.ok(delta('mailpass_argon2_seconds_count{op="hash"}') >= 1, 'the new mailbox was hashed');
    assert.ok(count(after, 'mailpass_argon2_seconds_sum{op="verify"}') > 0);
    assert.ok(delta('mailpass_http_request_duration_seconds_count{method="GET",route="/login",status="200"}') >= 2);
    assert.equal(delta('mailpass_http_request_duration_seconds_count{method="POST",route="/login",status="401"}'), 1);
    assert.equal(delta('mailpass_http_request_duration_seconds_count{method="POST",route="/login",status="303"}'), 1);
    assert.equal(sample(after, 'mailpass_spool_files'), 2);
    assert.ok(sample(after, 'mailpass_spool_bytes')! > 'Subject: counted\r\n\r\nHello.\r\n'.length);
    assert.ok(delta('mailpass_auth_cache_lookups_total{result="miss"}') >= 1);
  });

  test('no password, token or address appears in the metrics', async () => {
    const text = (await scrape()).text;
    assert.ok(!text.includes(TOKEN));
    assert.ok(!text.includes('@'));
  });
});
