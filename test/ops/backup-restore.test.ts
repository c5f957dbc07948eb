import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { cliActor } from '../../src/core/actors.js';
import { createArgon2Hasher } from '../../src/adapters/argon2-hasher.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { runCliProcess } from '../helpers/cli-process.js';
import { silentLog, tempDataDir, testConfig } from '../helpers/env.js';
import { loginAsMailbox, startTestServer } from '../helpers/server.js';

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));
const aDir = () => {
  const t = tempDataDir();
  cleanups.push(t.cleanup);
  return t.dir;
};

/** The real server on a data directory of the test's choosing (web only). */
const serveOn = (dir: string): Promise<RunningServer> =>
  startServer(testConfig(dir), { log: silentLog, print: () => {}, smtpBind: { smtp: null, smtps: null } });

const hasher = createArgon2Hasher({ memoryKib: 1024, timeCost: 1, parallelism: 1 });
const dbBytes = (dir: string) => readFileSync(path.join(dir, 'mailpass.db'));
const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.includes('.restore-'));

describe('backup while the server writes, restore into a fresh data directory', () => {
  test('a backup taken under concurrent password resets restores, and its passwords log in', async () => {
    const server = await startTestServer();
    const domain = (await aDomain(server.services)).name;
    const boxes = await Promise.all([1, 2, 3, 4].map(() => aMailbox(server.services, { domain })));
    const history = new Map(boxes.map((b) => [b.address, [b.password]]));

    let writing = true;
    let resets = 0;
    const load = Promise.all(
      boxes.map(async ({ address }) => {
        while (writing) {
          const { password } = await server.services.mailboxes.resetPassword(cliActor, await server.services.domains.requireDomain(cliActor, domain), address, { generate: true });
          history.get(address)!.push(password);
          resets++;
        }
      }),
    );
    while (resets < 8) await new Promise((r) => setTimeout(r, 5));
    const file = path.join(aDir(), 'mailpass-backup.db');
    const before = resets;
    // Another process, as an operator's cron job would run it next to the server.
    const backup = await runCliProcess(['backup', file, '--data-dir', server.dataDir]);
    const during = resets - before;
    writing = false;
    await load;
    // The key is kept apart from backups, as an operator keeps it.
    const keyDir = aDir();
    copyFileSync(path.join(server.dataDir, 'secret.key'), path.join(keyDir, 'secret.key'));
    await server.stop();
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(backup.stdout.trim(), file);
    assert.ok(during > 0, 'no password changed while the backup ran');

    const fresh = aDir();
    // Issue 29: the backup's secrets are sealed; without the installation's key it is refused.
    const keyless = await runCli(['restore', file, '--data-dir', fresh]);
    assert.equal(keyless.code, 1);
    assert.match(keyless.stderr, /its secrets are sealed with a key that is not at .*secret\.key: put the installation's key file there first/);
    assert.ok(!existsSync(path.join(fresh, 'mailpass.db')), 'a backup that could not be opened was swapped in');
    copyFileSync(path.join(keyDir, 'secret.key'), path.join(fresh, 'secret.key'));
    const restored = await runCli(['restore', file, '--data-dir', fresh]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(restored.stdout.trim(), path.join(fresh, 'mailpass.db'));
    assert.deepEqual(leftovers(fresh), []);

    const running = await serveOn(fresh);
    try {
      const url = `http://127.0.0.1:${running.httpPort}`;
      let changed = 0;
      for (const { address } of boxes) {
        const account = await running.adapters.stores.accounts.findAccountByLogin(address);
        assert.ok(account, `${address} is in the backup`);
        const candidates = history.get(address)!;
        const held: string[] = [];
        for (const p of candidates) if (await hasher.verify(account.passwordHash, p)) held.push(p);
        assert.equal(held.length, 1, `${address}: the backup holds one of the passwords it was given`);
        if (candidates.indexOf(held[0]!) > 0) changed++;
        await loginAsMailbox(url, address, held[0]!);
      }
      assert.ok(changed > 0, 'the backup holds passwords set by the resets before it');
    } finally {
      await running.close();
    }
  });
});

describe('restore refuses', () => {
  test('while a server runs on the data directory (in this process or another), then succeeds once it stopped', async () => {
    const dir = aDir();
    const running = await serveOn(dir);
    const domain = (await aDomain(running.services)).name;
    const file = path.join(aDir(), 'before.db');
    assert.equal((await runCli(['backup', file, '--data-dir', dir])).code, 0);
    const later = await aMailbox(running.services, { domain });
    try {
      for (const run of [runCli, runCliProcess]) {
        const r = await run(['restore', file, '--data-dir', dir]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /^mailpass: the database in .* is in use, probably by a running server; stop it first\n$/);
        assert.equal(r.stdout, '');
      }
      assert.ok(await running.adapters.stores.accounts.findAccountByLogin(later.address), 'the live database is untouched');
      assert.deepEqual(leftovers(dir), []);
    } finally {
      await running.close();
    }
    const r = await runCli(['restore', file, '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const again = await serveOn(dir);
    try {
      assert.equal(await again.adapters.stores.accounts.findAccountByLogin(later.address), null, 'the database is the backup now');
      assert.ok((await again.services.domains.listDomains(cliActor)).some((d) => d.name === domain));
    } finally {
      await again.close();
    }
  });

  test('a file that is not an intact mailpass database of a known version, leaving the database as it was', async () => {
    const dir = aDir();
    await (await serveOn(dir)).close();
    const files = aDir();
    const good = path.join(files, 'good.db');
    assert.equal((await runCli(['backup', good, '--data-dir', dir])).code, 0);
    const original = dbBytes(dir);

    const junk = path.join(files, 'notes.txt');
    writeFileSync(junk, 'These are not the pages you are looking for.\n'.repeat(200));
    const empty = path.join(files, 'empty.db');
    writeFileSync(empty, '');
    const foreign = path.join(files, 'foreign.db');
    const f = new Database(foreign);
    f.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    f.close();
    const newer = path.join(files, 'newer.db');
    copyFileSync(good, newer);
    const n = new Database(newer);
    n.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from-the-future');
    n.close();
    const damaged = path.join(files, 'damaged.db');
    const bytes = readFileSync(good);
    const pageSize = bytes.readUInt16BE(16);
    // Scribble over every page but the first: the header still says SQLite, the b-trees are garbage.
    for (let i = pageSize; i < bytes.length; i += 7) bytes[i] = (i * 31) & 0xff;
    writeFileSync(damaged, bytes);

    const cases: Array<[string, RegExp]> = [
      [junk, /notes\.txt is not a SQLite database$/],
      [empty, /empty\.db is not a mailpass database/],
      [foreign, /foreign\.db is not a mailpass database/],
      [newer, /newer\.db comes from a newer mailpass \(migration 999 is unknown here\)/],
      [damaged, /damaged\.db is damaged: /],
      [path.join(files, 'missing.db'), /missing\.db does not exist$/],
    ];
    for (const [file, reason] of cases) {
      const r = await runCli(['restore', file, '--data-dir', dir]);
      assert.equal(r.code, 1, `${file}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.match(r.stderr.trim(), reason);
      assert.ok(dbBytes(dir).equals(original), `${file}: the database changed`);
      assert.deepEqual(leftovers(dir), []);
    }
    assert.equal((await runCli(['restore', good, '--data-dir', dir])).code, 0);
  });
});

describe('file modes', () => {
  test('a data directory mailpass creates is 0700, and a backup 0600', async () => {
    const dir = aDir();
    const fresh = path.join(dir, 'fresh');
    assert.equal((await runCli(['domain', 'list', '--data-dir', fresh])).code, 0);
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    const file = path.join(dir, 'copy.db');
    assert.equal((await runCli(['backup', file, '--data-dir', fresh])).code, 0);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('a data directory that came 0755 (as ./data comes with the checkout) is made 0700, the database files 0600, whatever the umask', async () => {
    const dir = path.join(aDir(), 'data');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const before = process.umask(0o022);
    try {
      const running = await serveOn(dir);
      await running.close();
    } finally {
      process.umask(before);
    }
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir).filter((f) => f.startsWith('mailpass.db') || f === 'secret.key')) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
  });
});
