import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { createArgon2Hasher } from '../../src/adapters/argon2-hasher.js';
import { createAudit } from '../../src/core/audit.js';
import { createLoginThrottle } from '../../src/core/login-throttle.js';
import { addressKey } from '../../src/core/login-names.js';
import { createLogins, tokenDigest, type LoginRequest, type Logins } from '../../src/core/logins.js';
import type { Account, Admin, Logger, SessionOwner } from '../../src/core/ports.js';
import { fakeClock, memoryCounters, memoryStores, recordingBatcher } from '../helpers/memory-ports.js';
import { FULL_SCOPE } from '../../src/core/ports/tokens.js';

// `logins`, the one login use case, alone: its ports in memory, argon2 at test parameters, and a
// clock the test moves, so that lock-out windows and caches expire without waiting.

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent };
const argon2 = createArgon2Hasher({ memoryKib: 1024, timeCost: 1, parallelism: 1 });
const WINDOW = 900;
const RIGHT = 'Right-horse-battery-7';

function setup() {
  const clock = fakeClock();
  const mem = memoryStores();
  const counters = memoryCounters(clock);
  const batcher = recordingBatcher();
  let verifications = 0;
  const queues: Array<{ key: string; limit: number } | undefined> = [];
  const hasher = {
    ...argon2,
    verify: (hash: string, password: string, queue?: { key: string; limit: number }) => (verifications++, queues.push(queue), argon2.verify(hash, password, queue)),
  };
  const factors = new Map<SessionOwner, string>();
  const raised: Array<[SessionOwner, string]> = [];
  const limits = { perLogin: 3, perAddress: 50, windowSeconds: WINDOW };
  const logins: Logins = createLogins({
    stores: mem.stores,
    hasher,
    clock,
    batcher,
    audit: createAudit({ stores: mem.stores, clock, log: silent }),
    throttle: createLoginThrottle({ counters, secret: async () => Buffer.alloc(32, 7), limits: { smtp: limits, web: limits, api: limits, webmail: limits } }),
    authCache: { size: 100, ttlSeconds: 300 },
    negativeTtlSeconds: WINDOW,
    failureDelayMs: 0,
    secondFactors: { has: async (owner) => factors.has(owner), check: async (owner, _label, proof) => 'code' in proof && proof.code === factors.get(owner) },
    alerts: { raise: (owner, kind) => void raised.push([owner, kind]) },
  });
  let nextId = 1;
  const addAccount = async (login: string, change: Partial<Account> = {}) => {
    const a: Account = {
      id: nextId++,
      kind: 'mailbox',
      domainId: 1,
      domainName: login.split('@')[1]!,
      domainVerified: true,
      login,
      localPart: login.split('@')[0]!,
      name: '',
      guid: null,
      passwordHash: await argon2.hash(RIGHT),
      passwordVersion: 1,
      disabled: false,
      createdAt: 0,
      updatedAt: 0,
      lastLoginAt: null,
      lastLoginIp: null,
      language: null,
      ...change,
    };
    mem.accounts.set(login, a);
    return a;
  };
  const addAdmin = async (username: string) => {
    const a: Admin = { id: nextId++, username, passwordHash: await argon2.hash(RIGHT), passwordVersion: 1, isSuper: true, domainIds: [], disabled: false, mustChangePassword: false, createdAt: 0, language: null };
    mem.admins.set(username, a);
    return a;
  };
  return { clock, mem, counters, batcher, logins, factors, raised, addAccount, addAdmin, verifications: () => verifications, queues };
}

const smtp = (name: string, password: string, ip = '192.0.2.10'): LoginRequest => ({ protocol: 'smtp', name, password, ip });
const web = (name: string, password: string, more: Partial<Extract<LoginRequest, { protocol: 'web' }>> = {}): LoginRequest => ({ protocol: 'web', realm: 'account', name, password, ip: '192.0.2.20', ...more });

describe('logins, alone', () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  test('three wrong passwords lock the name for the window; the window passes and the right one works, without waiting', async () => {
    await s.addAccount('ann@x.test');
    for (const wrong of ['a-wrong-1', 'a-wrong-2', 'a-wrong-3']) assert.equal((await s.logins.attempt(smtp('ann@x.test', wrong))).ok, false);
    const locked = await s.logins.attempt(smtp('ann@x.test', RIGHT));
    assert.deepEqual(locked, { ok: false, reason: 'locked', retryAfterSeconds: WINDOW });
    s.clock.advance(WINDOW - 1);
    assert.equal((await s.logins.attempt(smtp('ann@x.test', RIGHT))).ok, false, 'still locked a second before the end');
    s.clock.advance(1);
    assert.equal((await s.logins.attempt(smtp('ann@x.test', RIGHT))).ok, true);
    assert.ok(s.batcher.audit.some((e) => e.action === 'login.failure-limited' && e.target === 'ann@x.test'), 'the locked attempt is audited');
  });

  test('the same wrong password counts once; a repeat is answered from the negative cache without argon2', async () => {
    await s.addAccount('bob@x.test');
    for (let i = 0; i < 6; i++) assert.equal((await s.logins.attempt(smtp('bob@x.test', 'the-same-wrong'))).ok, false);
    assert.equal(s.verifications(), 1, 'one argon2 run for six tries');
    const right = await s.logins.attempt(smtp('bob@x.test', RIGHT));
    assert.equal(right.ok, true, 'one wrong password is one failure, not six');
  });

  test('a right password is answered from the cache until its version changes', async () => {
    const a = await s.addAccount('cat@x.test');
    const first = await s.logins.attempt(smtp('cat@x.test', RIGHT));
    const second = await s.logins.attempt(smtp('cat@x.test', RIGHT));
    assert.ok(first.ok && !first.cached && second.ok && second.cached);
    s.mem.accounts.set('cat@x.test', { ...a, passwordVersion: 2, passwordHash: await argon2.hash('Another-pass-9') });
    const after = await s.logins.attempt(smtp('cat@x.test', RIGHT));
    assert.equal(after.ok, false, 'the old password no longer logs in');
    s.clock.advance(301);
    assert.equal((await s.logins.attempt(smtp('cat@x.test', 'Another-pass-9'))).ok, true);
  });

  test("every verification waits in its client address's queue of two (IPv6 by /64), an unknown name's too", async () => {
    await s.addAccount('dan@x.test');
    await s.logins.attempt(smtp('dan@x.test', RIGHT, '192.0.2.33'));
    await s.logins.attempt(smtp('dan@x.test', 'a-wrong-one', '2001:db8:1:2::7'));
    await s.logins.attempt(smtp('nobody@x.test', 'another-wrong', '2001:db8:1:2::8'));
    await s.logins.attempt(web('dan@x.test', 'a-wrong-two'));
    const v6 = addressKey('2001:db8:1:2::7');
    assert.equal(v6, addressKey('2001:db8:1:2::8'));
    assert.deepEqual(s.queues, [
      { key: '192.0.2.33', limit: 2 },
      { key: v6, limit: 2 },
      { key: v6, limit: 2 },
      { key: '192.0.2.20', limit: 2 },
    ]);
  });

  test('an unknown name costs one argon2 run, like a wrong password, and is audited', async () => {
    await s.logins.warmUp();
    const before = s.verifications();
    assert.deepEqual(await s.logins.attempt(smtp('nobody@x.test', RIGHT)), { ok: false, reason: 'bad-credentials', retryAfterSeconds: 0 });
    assert.equal(s.verifications() - before, 1);
    assert.ok(s.batcher.audit.some((e) => e.action === 'login.failure' && e.target === 'nobody@x.test'));
  });

  test('a disabled mailbox and one of an unverified domain fail like a wrong password; their history says why', async () => {
    const off = await s.addAccount('off@x.test', { disabled: true });
    const unverified = await s.addAccount('new@y.test', { domainVerified: false });
    for (const name of ['off@x.test', 'new@y.test']) assert.equal((await s.logins.attempt(smtp(name, RIGHT))).ok, false);
    assert.deepEqual(s.batcher.attempts.filter((a) => a.accountId === off.id || a.accountId === unverified.id).map((a) => a.result), ['disabled', 'disabled']);
  });

  test('a credential logs in over SMTP only; the panel is for mailboxes', async () => {
    await s.addAccount('app-x1@x.test', { kind: 'credential', guid: '00000000-0000-4000-8000-000000000000' });
    assert.equal((await s.logins.attempt(smtp('app-x1@x.test', RIGHT))).ok, true);
    assert.equal((await s.logins.attempt(web('app-x1@x.test', RIGHT))).ok, false);
  });

  test('with a second factor, the password step is pending: in the history, alerted from an unknown browser; the second step ends it', async () => {
    const a = await s.addAccount('dan@x.test');
    s.factors.set(`mailbox:${a.id}`, '123456');
    const first = await s.logins.attempt(web('dan@x.test', RIGHT));
    assert.ok(first.ok && first.secondFactor && !first.browserMark);
    assert.deepEqual(s.raised, [[`mailbox:${a.id}`, 'password-accepted']]);
    assert.equal(s.batcher.attempts.at(-1)?.result, 'second-factor-pending');
    const step = (code: string, pwv = 1) => s.logins.secondStep({ realm: 'account', owner: `mailbox:${a.id}`, pwv, proof: { code }, ip: '192.0.2.20' });
    assert.equal((await step('123456', 2)).ok, false, 'a password changed since the first step ends it');
    assert.equal((await step('000000')).ok, false);
    assert.equal(s.batcher.attempts.at(-1)?.result, 'second-factor-failed');
    const done = await step('123456');
    assert.ok(done.ok && done.browserMark);
    assert.equal((await s.logins.secondStep({ realm: 'admin', owner: `mailbox:${a.id}`, pwv: 1, proof: { code: '123456' }, ip: null })).ok, false, 'the other realm is refused');
  });

  test("strangers' wrong passwords lock the name, but not its owner's browser, nor its second step", async () => {
    const a = await s.addAccount('eve@x.test');
    const mark = (await s.logins.attempt(web('eve@x.test', RIGHT))) as { browserMark?: string };
    assert.ok(mark.browserMark);
    for (const wrong of ['s-1', 's-2', 's-3']) await s.logins.attempt(web('eve@x.test', wrong, { ip: '203.0.113.9' }));
    assert.equal((await s.logins.attempt(web('eve@x.test', RIGHT))).ok, false, 'a browser without the mark is locked out');
    assert.equal((await s.logins.attempt(web('eve@x.test', RIGHT, { browserMark: mark.browserMark }))).ok, true, 'the owner with its mark gets in');
    assert.equal((await s.logins.attempt(web('eve@x.test', RIGHT, { browserMark: mark.browserMark, name: 'other@x.test' }))).ok, false, 'a mark is for its own name');
    s.factors.set(`mailbox:${a.id}`, '654321');
    const pending = await s.logins.attempt(web('eve@x.test', RIGHT, { browserMark: mark.browserMark }));
    assert.ok(pending.ok && pending.secondFactor);
    const step = await s.logins.secondStep({ realm: 'account', owner: `mailbox:${a.id}`, pwv: 1, proof: { code: '654321' }, ip: '192.0.2.20' });
    assert.equal(step.ok, true, "the second step counts on a name of its own, which strangers' passwords never raise");
  });

  test('a known-browser mark expires after 30 days', async () => {
    await s.addAccount('fay@x.test');
    const { browserMark } = (await s.logins.attempt(web('fay@x.test', RIGHT))) as { browserMark: string };
    for (const wrong of ['s-1', 's-2', 's-3']) await s.logins.attempt(web('fay@x.test', wrong, { ip: '203.0.113.9' }));
    s.clock.advance(30 * 86_400);
    // The lock-out window has long passed too: lock the name again, now that the mark is stale.
    for (const wrong of ['t-1', 't-2', 't-3']) await s.logins.attempt(web('fay@x.test', wrong, { ip: '203.0.113.9' }));
    assert.deepEqual(await s.logins.attempt(web('fay@x.test', RIGHT, { browserMark })), { ok: false, reason: 'locked', retryAfterSeconds: WINDOW });
  });

  test('an admin logs in in its own realm only; a disabled one fails like a wrong password', async () => {
    const admin = await s.addAdmin('root');
    assert.equal((await s.logins.attempt({ protocol: 'web', realm: 'admin', name: 'root', password: RIGHT, ip: null })).ok, true);
    assert.equal((await s.logins.attempt(web('root', RIGHT))).ok, false);
    s.mem.admins.set('root', { ...admin, disabled: true });
    assert.equal((await s.logins.attempt({ protocol: 'web', realm: 'admin', name: 'root', password: RIGHT, ip: null })).ok, false);
  });

  test("an API token: unknown and revoked ones fail; a valid one's last use is written at most once a minute", async () => {
    const admin = await s.addAdmin('ops');
    const plaintext = `mp_${'A'.repeat(43)}`;
    s.mem.tokens.set(tokenDigest(plaintext), { id: 9, adminId: admin.id, adminUsername: 'ops', name: 'ci', prefix: plaintext.slice(0, 10), createdAt: 0, lastUsedAt: null, lastUsedIp: null, revokedAt: null, ...FULL_SCOPE });
    assert.equal((await s.logins.attempt({ protocol: 'api', token: `mp_${'B'.repeat(43)}`, ip: null })).ok, false);
    assert.equal((await s.logins.attempt({ protocol: 'api', token: plaintext, ip: null })).ok, true);
    const used = s.mem.tokens.get(tokenDigest(plaintext))!.lastUsedAt;
    s.clock.advance(30);
    await s.logins.attempt({ protocol: 'api', token: plaintext, ip: null });
    assert.equal(s.mem.tokens.get(tokenDigest(plaintext))!.lastUsedAt, used, 'not written again within the minute');
    s.clock.advance(31);
    await s.logins.attempt({ protocol: 'api', token: plaintext, ip: null });
    assert.equal(s.mem.tokens.get(tokenDigest(plaintext))!.lastUsedAt, s.clock.t);
    s.mem.tokens.get(tokenDigest(plaintext))!.revokedAt = s.clock.t;
    assert.equal((await s.logins.attempt({ protocol: 'api', token: plaintext, ip: null })).ok, false);
  });
});
