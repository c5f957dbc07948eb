import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS } from '../../src/cli/index.js';
import { runCli } from '../helpers/cli.js';
import { silentLog, tempDataDir, testConfig, TEST_STORE } from '../helpers/env.js';
import { openServices } from '../../src/compose.js';
import { openStore } from '../../src/store/open.js';
import { strongPassword } from '../helpers/builders.js';
import { createArgon2Hasher } from '../../src/adapters/argon2-hasher.js';
import { openDatabase } from '../../src/store/sqlite/db.js';
import { createSqliteAccounts } from '../../src/store/sqlite/accounts.js';

const { dir, cleanup } = tempDataDir();
after(cleanup);
const D = ['--data-dir', dir];
/** jo@cli.example's password once `mailbox passwd` below has set it. */
const JO_PASSWORD = strongPassword('D');

async function hashOf(address: string) {
  const { stores, counters, end } = await openStore(testConfig(dir));
  try {
    return (await stores.accounts.findAccountByLogin(address))?.passwordHash ?? null;
  } finally {
    await counters.close();
    await end();
  }
}
const hasher = createArgon2Hasher({ memoryKib: 1024, timeCost: 1, parallelism: 1 });

describe('help and usage', () => {
  test('mailpass --help lists every command and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.ok(r.stdout.includes(c.path.join(' ')), c.path.join(' '));
  });

  for (const c of COMMANDS) {
    test(`mailpass ${c.path.join(' ')} --help shows its usage and exits 0`, async () => {
      const r = await runCli([...c.path, '--help']);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.startsWith(`Usage: ${c.usage}`));
    });
  }

  test('an unknown command, an unknown option or a missing argument exit 2 with one line on stderr', async () => {
    for (const argv of [['frobnicate'], ['domain', 'add', 'x.example', '--bogus', ...D], ['domain', 'add', ...D]]) {
      const r = await runCli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /^mailpass: /);
    }
  });

  test('a password is taken only from stdin or generated: neither, or both, is bad usage', async () => {
    assert.equal((await runCli(['mailbox', 'add', 'a@x.example', ...D])).code, 2);
    assert.equal((await runCli(['mailbox', 'add', 'a@x.example', '--generate', '--password-stdin', ...D])).code, 2);
  });
});

describe('commands', () => {
  test('domain add and list', async () => {
    assert.equal((await runCli(['domain', 'add', 'cli.example', ...D])).code, 0);
    assert.equal((await runCli(['domain', 'add', 'pending.example', '--unverified', ...D])).code, 0);
    const list = await runCli(['domain', 'list', ...D]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^cli\.example\tverified\t0\t0$/m);
    assert.match(list.stdout, /^pending\.example\tunverified\t0\t0$/m);
  });

  test('a duplicate or malformed domain exits 1 with one line', async () => {
    for (const name of ['cli.example', 'not a domain', '../etc']) {
      const r = await runCli(['domain', 'add', name, ...D]);
      assert.equal(r.code, 1, name);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });

  test('mailbox add --password-stdin stores that exact password', async () => {
    const pw = strongPassword('C');
    const r = await runCli(['mailbox', 'add', 'jo@cli.example', '--password-stdin', '--name', 'Jo', ...D], { stdin: `${pw}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(await hasher.verify((await hashOf('jo@cli.example'))!, pw), true);
  });

  test('mailbox add --generate prints the password once', async () => {
    const r = await runCli(['mailbox', 'add', 'gen@cli.example', '--generate', ...D]);
    assert.equal(r.code, 0);
    const pw = r.stdout.trim();
    assert.equal(pw.length, 20);
    assert.equal(await hasher.verify((await hashOf('gen@cli.example'))!, pw), true);
  });

  test('mailbox passwd changes the password; a weak one exits 1 and changes nothing', async () => {
    const before = await hashOf('jo@cli.example');
    const weak = await runCli(['mailbox', 'passwd', 'jo@cli.example', '--password-stdin', ...D], { stdin: 'password\n' });
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /commonly used/);
    assert.equal(await hashOf('jo@cli.example'), before);
    const pw = JO_PASSWORD;
    const ok = await runCli(['mailbox', 'passwd', 'jo@cli.example', '--password-stdin', ...D], { stdin: pw });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await hasher.verify((await hashOf('jo@cli.example'))!, pw), true);
  });

  test('mailbox passwd of an unknown mailbox exits 1', async () => {
    const r = await runCli(['mailbox', 'passwd', 'ghost@cli.example', '--generate', ...D]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mailpass: Mailbox not found\n');
  });

  test('mailbox disable and enable: a disabled mailbox cannot log in, an enabled one can', async () => {
    const canLogIn = async () => {
      const { services, close } = await openServices(testConfig(dir), silentLog);
      try {
        return (await services.logins.attempt({ protocol: 'web', realm: 'account', name: 'jo@cli.example', password: JO_PASSWORD, ip: '127.0.0.1' })).ok;
      } finally {
        await close();
      }
    };
    assert.equal(await canLogIn(), true);
    assert.equal((await runCli(['mailbox', 'disable', 'jo@cli.example', ...D])).code, 0);
    assert.equal(await canLogIn(), false);
    assert.equal((await runCli(['mailbox', 'enable', 'jo@cli.example', ...D])).code, 0);
    assert.equal(await canLogIn(), true);
  });

  test('admin add: a domain admin needs a known domain', async () => {
    assert.equal((await runCli(['admin', 'add', 'dom-admin', '--domain', 'cli.example', '--generate', ...D])).code, 0);
    assert.equal((await runCli(['admin', 'add', 'other', '--domain', 'nowhere.example', '--generate', ...D])).code, 1);
    assert.equal((await runCli(['admin', 'add', 'root2', '--super', '--generate', ...D])).code, 0);
  });

  test('backup writes a consistent copy and refuses to overwrite a file (on PostgreSQL: refuses, naming pg_dump)', async () => {
    const file = path.join(dir, 'backup.db');
    const r = await runCli(['backup', file, ...D]);
    if (TEST_STORE === 'postgres') {
      assert.deepEqual([r.code, r.stdout], [1, '']);
      assert.match(r.stderr, /^mailpass: the database is PostgreSQL \(DATABASE_URL\): back it up with pg_dump/);
      assert.ok(!existsSync(file));
      return;
    }
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(file));
    const copy = openDatabase(file, { readonly: true });
    assert.ok(await createSqliteAccounts(copy).findAccountByLogin('jo@cli.example'));
    copy.close();
    assert.equal((await runCli(['backup', file, ...D])).code, 1);
  });

  test('a bad setting in the environment exits 1 naming the variable', async () => {
    const r = await runCli(['domain', 'list', ...D], { env: { ARGON2_TIME_COST: 'lots' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mailpass: ARGON2_TIME_COST: /);
  });
});

describe('tokens and credentials', () => {
  test('token add prints a token once; an unknown admin exits 1; a missing --name is bad usage naming it', async () => {
    const r = await runCli(['token', 'add', 'dom-admin', '--name', 'ci', ...D]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^mp_[A-Za-z0-9_-]{43}\n$/);
    assert.equal((await runCli(['token', 'add', 'nobody', '--name', 'ci', ...D])).code, 1);
    const missing = await runCli(['token', 'add', 'dom-admin', ...D]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^mailpass: --name is required\n/);
    const noName = await runCli(['credential', 'add', 'cli.example', ...D]);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /--name is required/);
  });

  test('SPEC §18: token add takes a scope (read-only, domains, expiry, client addresses); a bad one changes nothing', async () => {
    const r = await runCli(['token', 'add', 'dom-admin', '--name', 'ro', '--read-only', '--domain', 'CLI.example', '--expires-days', '30', '--allow-ip', '192.0.2.0/24', '--allow-ip', '2001:db8::1', ...D]);
    assert.equal(r.code, 0, r.stderr);
    const { stores, counters, end } = await openStore(testConfig(dir));
    try {
      const token = (await stores.tokens.listTokens()).find((t) => t.name === 'ro')!;
      assert.deepEqual({ readOnly: token.readOnly, domains: token.domains, allowIps: token.allowIps }, { readOnly: true, domains: ['cli.example'], allowIps: ['192.0.2.0/24', '2001:db8::1'] });
      assert.ok(token.expiresAt! - token.createdAt === 30 * 86_400);
      const before = (await stores.tokens.listTokens()).length;
      const days = await runCli(['token', 'add', 'dom-admin', '--name', 'x', '--expires-days', 'soon', ...D]);
      assert.equal(days.code, 2);
      assert.match(days.stderr, /^mailpass: --expires-days must be a whole number of days/);
      const domain = await runCli(['token', 'add', 'dom-admin', '--name', 'x', '--domain', 'nowhere.example', ...D]);
      assert.equal(domain.code, 1);
      assert.match(domain.stderr, /^mailpass: Unknown domain nowhere\.example\.\n$/);
      const ip = await runCli(['token', 'add', 'dom-admin', '--name', 'x', '--allow-ip', '10.0.0.0/33', ...D]);
      assert.equal(ip.code, 1);
      assert.match(ip.stderr, /10\.0\.0\.0\/33/);
      assert.equal((await stores.tokens.listTokens()).length, before);
    } finally {
      await counters.close();
      await end();
    }
  });

  test('credential add prints the username and the password', async () => {
    const r = await runCli(['credential', 'add', 'cli.example', '--name', 'Billing App', ...D]);
    assert.equal(r.code, 0, r.stderr);
    const [username, password] = r.stdout.trim().split('\n');
    assert.match(username!, /^billing-app-[a-z0-9]{4}@cli\.example$/);
    assert.equal(await hasher.verify((await hashOf(username!))!, password!), true);
  });
});
