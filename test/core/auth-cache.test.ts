import assert from 'node:assert/strict';
import argon2 from 'argon2';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../../src/core/actors.js';
import { createAuthCache } from '../../src/core/auth-cache.js';
import { openServices, type Opened } from '../../src/compose.js';
import type { Services } from '../../src/services.js';
import { DOMAIN_SQL } from '../../src/store/sqlite/send-limits.js';
import { openDatabase } from '../../src/store/sqlite/db.js';
import { COUNT_ACCOUNTS_SQL, LIST_ACCOUNTS_SQL } from '../../src/store/sqlite/accounts.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { runCliProcess } from '../helpers/cli-process.js';
import { silentLog, tempDataDir, testConfig } from '../helpers/env.js';

const { dir, cleanup } = tempDataDir();
let svc: Services;
let opened: Opened;
let domain: string;
let verifications = 0;

before(async () => {
  const config = testConfig(dir);
  opened = await openServices(config, silentLog, { onAuthVerify: (r) => r === 'miss' && verifications++ });
  svc = opened.services;
  domain = (await aDomain(svc)).name;
});
after(async () => {
  await opened.close();
  cleanup();
});

const login = (address: string, password: string) => svc.logins.attempt({ protocol: 'smtp', name: address, password, ip: '127.0.0.1' });

/** Logs in twice: the second answer must come from the cache, without argon2. */
async function warm(address: string, password: string) {
  assert.equal((await login(address, password)).ok, true);
  const before = verifications;
  const again = await login(address, password);
  assert.ok(again.ok && again.cached, 'second login is a cache hit');
  assert.equal(verifications, before, 'no argon2 verification on a hit');
}

describe('the authentication cache never accepts an old password', () => {
  test('after the owner changes it', async () => {
    const { address, password, mailbox } = await aMailbox(svc, { domain });
    await warm(address, password);
    const next = strongPassword('N');
    await svc.mailboxes.changeOwnPassword({ kind: 'mailbox', id: mailbox.id, login: address }, { current: password, next, confirm: next });
    assert.equal((await login(address, password)).ok, false);
    assert.equal((await login(address, next)).ok, true);
  });

  test('after an admin resets it', async () => {
    const { address, password } = await aMailbox(svc, { domain });
    await warm(address, password);
    await svc.mailboxes.resetPassword(cliActor, await svc.domains.requireDomain(cliActor, domain), address, { generate: true });
    assert.equal((await login(address, password)).ok, false);
  });

  test('after the mailbox is disabled, and again once re-enabled it needs argon2 first', async () => {
    const { address, password } = await aMailbox(svc, { domain });
    await warm(address, password);
    await svc.mailboxes.setDisabled(cliActor, await svc.domains.requireDomain(cliActor, domain), address, true);
    assert.equal((await login(address, password)).ok, false);
    await svc.mailboxes.setDisabled(cliActor, await svc.domains.requireDomain(cliActor, domain), address, false);
    const before = verifications;
    const again = await login(address, password);
    assert.ok(again.ok && !again.cached);
    assert.equal(verifications, before + 1);
  });

  test('after the account is deleted, even if the same login is created again', async () => {
    const { address, password } = await aMailbox(svc, { domain });
    await warm(address, password);
    await svc.mailboxes.deleteMailbox(cliActor, await svc.domains.requireDomain(cliActor, domain), address);
    assert.equal((await login(address, password)).ok, false);
    const other = strongPassword('Z');
    await aMailbox(svc, { domain, local: address.split('@')[0], password: other });
    assert.equal((await login(address, password)).ok, false);
    assert.equal((await login(address, other)).ok, true);
  });

  test('after a credential reset', async () => {
    const { credential, password } = await svc.credentials.createCredential(cliActor, await svc.domains.requireDomain(cliActor, domain), 'App');
    await warm(credential.login, password);
    await svc.credentials.resetCredential(cliActor, await svc.domains.requireDomain(cliActor, domain), credential.guid);
    assert.equal((await login(credential.login, password)).ok, false);
  });

  test('after a change made by the CLI in another process on the same database file', async () => {
    const { address, password } = await aMailbox(svc, { domain });
    await warm(address, password);
    const next = strongPassword('Q');
    const cli = await runCliProcess(['mailbox', 'passwd', address, '--password-stdin', '--data-dir', dir], next);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((await login(address, password)).ok, false);
    assert.equal((await login(address, next)).ok, true);
  });

  test('a failed login is never cached as a success', async () => {
    const { address, password } = await aMailbox(svc, { domain });
    for (let i = 0; i < 3; i++) assert.equal((await login(address, `${password}x`)).ok, false);
    const r = await login(address, password);
    assert.ok(r.ok && !r.cached);
  });
});

describe('re-hash on login', () => {
  test('a hash with other parameters, in the m,p,t order, is re-written canonically after a login, without a new password version', async () => {
    const { address, password, mailbox } = await aMailbox(svc, { domain });
    const old = await argon2.hash(password, { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
    assert.match(old, /m=2048,p=1,t=2/);
    const version = (await opened.adapters.stores.accounts.setPasswordAndEndSessions(mailbox.id, old, 0, undefined, { at: 0, actor: 'test', action: 'password.reset', target: mailbox.login, ip: null }))!;
    assert.equal((await login(address, password)).ok, true);
    const deadline = Date.now() + 5000;
    let stored = old;
    while (stored === old && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      await opened.adapters.batcher.flush();
      stored = (await opened.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordHash;
    }
    assert.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await opened.adapters.hasher.verify(stored, password), true);
    assert.equal((await opened.adapters.stores.accounts.findAccountById(mailbox.id))!.passwordVersion, version);
    assert.equal((await login(address, password)).ok, true);
  });
});

describe('the cache itself', () => {
  test('is keyed by login and password, bounded, and expires entries', () => {
    const cache = createAuthCache({ size: 2, ttlSeconds: 10 })!;
    cache.set('a@x.test', 'Secret#1pass', 1, 1, 0);
    cache.set('b@x.test', 'Secret#2pass', 2, 1, 0);
    cache.set('c@x.test', 'Secret#3pass', 3, 1, 0);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a@x.test', 'Secret#1pass', 1), null, 'least recently used was dropped');
    assert.deepEqual(cache.get('c@x.test', 'Secret#3pass', 1), { accountId: 3, passwordVersion: 1 });
    assert.equal(cache.get('c@x.test', 'Secret#3pasS', 1), null, 'another password misses');
    assert.equal(cache.get('b@x.test', 'Secret#3pass', 1), null, "another login's password misses");
    assert.deepEqual(cache.get('b@x.test', 'Secret#2pass', 1), { accountId: 2, passwordVersion: 1 });
    assert.equal(cache.get('c@x.test', 'Secret#3pass', 10_001), null, 'expired');
  });

  test('size or TTL 0 turns it off', () => {
    assert.equal(createAuthCache({ size: 0, ttlSeconds: 10 }), null);
    assert.equal(createAuthCache({ size: 10, ttlSeconds: 0 }), null);
  });
});

test('search uses the index, not a full scan', () => {
  const db = openDatabase(path.join(dir, 'mailpass.db'));
  const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ domainId: 1, kind: 'mailbox', lo: 'a', hi: 'b', limit: 50, offset: 0 }) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
  // The store's own statements, not copies of them: a change to the query is explained here.
  const list = plan(LIST_ACCOUNTS_SQL);
  const count = plan(COUNT_ACCOUNTS_SQL);
  assert.doesNotMatch(list, /USE TEMP B-TREE FOR ORDER BY/, 'the list sorts instead of reading the index in order');
  for (const p of [list, count]) {
    assert.match(p, /USING (COVERING )?INDEX accounts_domain_kind_login/);
    assert.doesNotMatch(p, /SCAN a(ccounts)?\b(?! USING)/);
  }
  db.close();
});

test("a domain page's sending-limit reads start from the small tables, not from the domain's accounts (issue 36)", () => {
  const db = openDatabase(path.join(dir, 'mailpass.db'));
  for (const [name, sql] of Object.entries(DOMAIN_SQL)) {
    const params = [1, 2, 3].slice(0, (sql.match(/\?/g) ?? []).length);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
    assert.match(plan[0]!, /^(SCAN|SEARCH) [lsr]\b/, `${name}: ${plan.join(' | ')}`);
    assert.match(plan.join(' | '), /SEARCH a USING INTEGER PRIMARY KEY/, `${name}: ${plan.join(' | ')}`);
  }
  db.close();
});

