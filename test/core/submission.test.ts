import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAlerts } from '../../src/core/alerts.js';
import { createAudit } from '../../src/core/audit.js';
import type { MessageSpool, Relay, RelayVerdict, Stores } from '../../src/core/ports.js';
import { createSendLimits } from '../../src/core/send-limits.js';
import { createSubmission, RelayRefused, SubmissionRefused, type Sender } from '../../src/core/submission.js';
import { openStore, type OpenedStore } from '../../src/store/open.js';
import { silentLog, tempDataDir, testConfig } from '../helpers/env.js';
import { createTranslator } from '../../src/adapters/i18n.js';

// The submission use case alone, without an SMTP server: its store on a temp database, a relay
// that records what it is sent, and a clock the test moves, so that the sending windows roll
// over without waiting an hour or a day.

const hash = '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

function recordingRelay() {
  const sent: Array<{ from: string; to: string[]; data: string }> = [];
  const ok = (text: string): RelayVerdict => ({ code: 250, text });
  const relay: Relay = {
    async begin() {
      let from = '';
      let to: string[] = [];
      return {
        mailFrom: async (address) => ((from = address), (to = []), ok('2.1.0 Ok')),
        rcptTo: async (address) => (address.startsWith('nobody@') ? { code: 550, text: '5.1.1 No such user' } : (to.push(address), ok('2.1.5 Ok'))),
        async data(message, complete) {
          const parts: Buffer[] = [];
          for await (const part of message) parts.push(part);
          if (!complete()) return null;
          sent.push({ from, to, data: Buffer.concat(parts).toString('latin1') });
          return ok(`2.0.0 queued as Q${sent.length}`);
        },
        release() {},
      };
    },
    async close() {},
  };
  return { relay, sent };
}

async function* lines(text: string) {
  yield Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');
}

describe('the submission use case', () => {
  const { dir, cleanup } = tempDataDir();
  let opened: OpenedStore;
  let stores: Stores;
  const clock = { t: 1_800_000_000, now() { return this.t; } };
  let sender: Sender;
  before(async () => {
    opened = await openStore(testConfig(dir));
    stores = opened.stores;
    const domain = await stores.domains.insertDomain('use.test', true, clock.t, { at: clock.t, actor: 'test', action: 'domain.create', target: 'use.test', ip: null });
    const account = await stores.accounts.insertAccount({ kind: 'mailbox', domainId: domain.id, login: 'ann@use.test', localPart: 'ann', name: '', guid: null, passwordHash: hash, now: clock.t }, { at: clock.t, actor: 'test', action: 'mailbox.create', target: 'ann@use.test', ip: null });
    sender = { accountId: account.id, login: account.login, kind: 'mailbox', domainName: 'use.test' };
  });
  after(async () => {
    await opened.counters.close();
    await opened.end();
    cleanup();
  });

  const build = () => {
    const audit = createAudit({ stores, clock, log: silentLog });
    const alerts = createAlerts({ stores, clock, log: silentLog, mailer: null, translator: createTranslator(), defaultLanguage: 'en' });
    const limits = createSendLimits({ store: stores.sendLimits, clock, audit, alerts, log: silentLog, defaults: { perHour: 2, perDay: 3, maxRecipients: 0 }, adminsOf: async () => [] });
    const { relay, sent } = recordingRelay();
    const spool: MessageSpool = { dir, ready: async () => {}, accept: async () => assert.fail('no relay: the spool was used') };
    const submission = createSubmission({ relay, spool, limits, signerFor: async () => null, clock, log: silentLog, maxMessageBytes: 100_000, hostname: 'mail.test', traceClientIp: false });
    return { submission, sent, limits };
  };
  const reachedEntries = async () => (await stores.audit.listAudit({ limit: 100, offset: 0 })).items.filter((e) => e.action === 'send-limit.reached').map((e) => e.detail);

  test('the hour and the day roll over with the clock; each window is told once', async () => {
    const { submission, sent } = build();
    const s = submission.open(sender, { id: 's1', ip: '192.0.2.1', helo: 'client.test' });
    const message = (to: string[]) => ({ mailFrom: sender.login, rcptTo: to });
    await s.mailFrom(sender.login);
    await s.rcptTo('a@example.org');
    await s.rcptTo('b@example.org');
    await assert.rejects(s.rcptTo('c@example.org'), (e: unknown) => e instanceof SubmissionRefused && e.reason === 'limit-reached');
    assert.match(await s.data(lines('From: ann@use.test\nSubject: one\n\nHi.\n'), () => false, message(['a@example.org', 'b@example.org'])), /^2\.0\.0 queued/);
    assert.deepEqual(sent.map((m) => m.to), [['a@example.org', 'b@example.org']]);

    clock.t += 59 * 60;
    await s.mailFrom(sender.login);
    await assert.rejects(s.rcptTo('c@example.org'), SubmissionRefused);
    clock.t += 2 * 60; // 61 minutes after the first two: the hour has room, the day one more
    await s.mailFrom(sender.login);
    await s.rcptTo('c@example.org');
    await s.data(lines('From: ann@use.test\nSubject: two\n\nHi.\n'), () => false, message(['c@example.org']));
    await s.mailFrom(sender.login);
    await assert.rejects(s.rcptTo('d@example.org'), (e: unknown) => e instanceof SubmissionRefused && e.reason === 'limit-reached');
    assert.deepEqual(await reachedEntries(), ['day: 3 recipients', 'hour: 2 recipients']);

    clock.t += 24 * 3600;
    await s.mailFrom(sender.login);
    await s.rcptTo('d@example.org');
    assert.equal(sent.length, 2);
    s.close();
  });

  test('recipients of a refused message are given back: a forged From:, a relay refusal, an abandoned message', async () => {
    clock.t += 2 * 86_400;
    const { submission } = build();
    const s = submission.open(sender, { id: 's2', ip: '192.0.2.1', helo: 'client.test' });
    await assert.rejects(s.mailFrom('boss@use.test'), (e: unknown) => e instanceof SubmissionRefused && e.reason === 'sender-not-allowed');
    await s.mailFrom(sender.login);
    await s.rcptTo('a@example.org');
    await assert.rejects(s.rcptTo('nobody@example.org'), RelayRefused);
    await assert.rejects(s.data(lines('From: "CEO" <ceo@use.test>\nSubject: pay\n\nNow.\n'), () => false, { mailFrom: sender.login, rcptTo: ['a@example.org'] }), (e: unknown) => e instanceof SubmissionRefused && e.reason === 'header-from-not-allowed');
    await s.mailFrom(sender.login);
    await s.rcptTo('b@example.org');
    s.close(); // the session ends before its data
    // Given back in the background (never delaying a reply): wait for the count to settle.
    const counted = async () => (await stores.sendLimits.sent([sender.accountId], Math.floor(clock.t / 60))).get(sender.accountId)?.lastDay ?? 0;
    for (let i = 0; i < 100 && (await counted()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await counted(), 0);
  });
});
