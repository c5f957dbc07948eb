import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { readOnlyUri } from '../../src/cli/commands/dovecot-config.js';
import { cliActor } from '../../src/core/actors.js';
import { aDomain, aMailbox, strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { tempDataDir } from '../helpers/env.js';
import { loginAsMailbox, postForm, startTestServer, type TestServer } from '../helpers/server.js';

/** The dovecot binary; PATH first, then where Debian puts it (a normal user's PATH lacks sbin). */
function findDovecot(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const file = path.join(dir, 'dovecot');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return null;
}

const DOVECOT = findDovecot();

/** Skips the calling test when Dovecot is absent; CI installs dovecot-imapd and dovecot-sqlite. */
function needsDovecot(t: TestContext): boolean {
  if (DOVECOT) return true;
  t.skip('dovecot not installed');
  return false;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** One IMAP connection: the greeting, then `a1 LOGIN`; returns the tagged reply line. */
async function imapLogin(port: number, user: string, password: string): Promise<string> {
  const quote = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  // Bounded: Dovecot answers within milliseconds here, or something is wrong.
  socket.setTimeout(15_000, () => socket.destroy(new Error('IMAP server did not answer within 15 s')));
  const lines = (async function* () {
    let buffer = '';
    for await (const chunk of socket) {
      buffer += chunk as string;
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        yield buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
      }
    }
  })();
  try {
    const greeting = await lines.next();
    assert.match(String(greeting.value), /^\* OK /);
    socket.write(`a1 LOGIN ${quote(user)} ${quote(password)}\r\n`);
    for await (const line of lines) {
      if (line.startsWith('a1 ')) return line;
    }
    throw new Error('IMAP connection closed before the reply to LOGIN');
  } finally {
    socket.destroy();
  }
}

interface RunningDovecot {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/** The test's own dovecot.conf: its directories, IMAP on loopback only, no TLS, and the included part. */
function dovecotConf({ dir, port, authConf }: { dir: string; port: number; authConf: string }): string {
  const me = os.userInfo();
  // As root, Dovecot runs its services as the users the Debian package creates; otherwise all as
  // this user, without chroots (which need root).
  const runAs =
    me.uid === 0
      ? ['default_internal_user = dovecot', 'default_login_user = dovenull']
      : [`default_internal_user = ${me.username}`, `default_internal_group = ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()}`, `default_login_user = ${me.username}`];
  const chroot = me.uid === 0 ? [] : ['  chroot ='];
  return [
    'protocols = imap',
    'listen = 127.0.0.1',
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    // Plaintext LOGIN on loopback, for this test only.
    'ssl = no',
    'disable_plaintext_auth = no',
    'first_valid_uid = 1',
    ...runAs,
    // The test fails logins on purpose: no failure delay, and no per-IP penalty (which would also
    // delay the logins that follow), disabled the way Dovecot documents it.
    'auth_failure_delay = 0',
    'service anvil {',
    ...chroot,
    '  unix_listener anvil-auth-penalty {',
    '    mode = 0',
    '  }',
    '}',
    'service imap-login {',
    ...chroot,
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${port}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    `!include ${authConf}`,
    '',
  ].join('\n');
}

/** A private Dovecot in the foreground, configured by `mailpass dovecot-config` for this data directory. */
async function startDovecot(binary: string, dataDir: string): Promise<RunningDovecot> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-dovecot-'));
  // The imap process runs as the mail user and must reach the homes under this directory.
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'mail']) mkdirSync(path.join(dir, sub));
  chmodSync(path.join(dir, 'mail'), 0o777);

  const me = os.userInfo();
  const sqlConf = path.join(dir, 'dovecot-sql.conf.ext');
  const authConf = path.join(dir, 'auth-mailpass.conf.ext');
  const mailOwner = me.uid === 0 ? ['--uid', 'dovecot', '--gid', 'dovecot'] : ['--uid', String(me.uid), '--gid', String(me.gid)];
  const sql = await runCli(['dovecot-config', '--data-dir', dataDir, '--part', 'sql', '--home', path.join(dir, 'mail', '%d', '%n'), ...mailOwner]);
  assert.equal(sql.code, 0, sql.stderr);
  writeFileSync(sqlConf, sql.stdout);
  const auth = await runCli(['dovecot-config', '--data-dir', dataDir, '--part', 'auth', '--sql-conf', sqlConf]);
  assert.equal(auth.code, 0, auth.stderr);
  writeFileSync(authConf, auth.stdout);

  const port = await freePort();
  const conf = path.join(dir, 'dovecot.conf');
  writeFileSync(conf, dovecotConf({ dir, port, authConf }));

  const child: ChildProcess = spawn(binary, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logFile = path.join(dir, 'dovecot.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) process.kill(child.pid!, 'SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    if (running()) process.kill(child.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const fail = async (why: string) => {
    const text = `${why}\n${log()}`;
    await stop();
    return new Error(text);
  };

  // Ready when imap-login greets; polled, bounded, and a master that died fails at once.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!running()) throw await fail(`dovecot exited with ${child.exitCode ?? child.signalCode}`);
    const greeted = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const done = (ok: boolean) => {
        s.destroy();
        resolve(ok);
      };
      s.once('data', () => done(true)).once('error', () => done(false));
    });
    if (greeted) break;
    if (Date.now() > deadline) throw await fail(`dovecot did not listen on ${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The first login starts the auth processes; an unreadable database would answer UNAVAILABLE here.
  const first = await imapLogin(port, 'nobody@ready.invalid', 'x').catch((err: Error) => err.message);
  if (!first.startsWith('a1 NO [AUTHENTICATIONFAILED]')) throw await fail(`dovecot's auth is not ready: ${first}`);
  return { port, log, stop };
}

describe('mailpass dovecot-config', () => {
  const { dir, cleanup } = tempDataDir();
  after(cleanup);

  test('prints both files with the absolute database path, the views and the auth cache off', async () => {
    assert.equal((await runCli(['domain', 'add', 'conf.example', '--data-dir', dir])).code, 0);
    const r = await runCli(['dovecot-config', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`\nconnect = file:${path.join(dir, 'mailpass.db')}?mode=ro\n`), r.stdout);
    assert.match(r.stdout, /^auth_cache_size = 0$/m);
    assert.match(r.stdout, /^driver = sqlite$/m);
    assert.match(r.stdout, /^default_pass_scheme = ARGON2ID$/m);
    assert.match(r.stdout, /^password_query = SELECT user, password FROM dovecot_passdb WHERE user = '%u'$/m);
    assert.match(r.stdout, /^user_query = SELECT '\/var\/vmail\/%d\/%n' AS home, 'maildir:~\/Maildir' AS mail, 'vmail' AS uid, 'vmail' AS gid FROM dovecot_userdb WHERE user = '%u'$/m);
    assert.match(r.stdout, /^\s*args = \/etc\/dovecot\/dovecot-sql\.conf\.ext$/m);
  });

  test('the read-only database URI escapes what a URI would read as a query or fragment', () => {
    assert.equal(readOnlyUri('/srv/mail pass/50%?#/mailpass.db'), 'file:/srv/mail pass/50%25%3F%23/mailpass.db?mode=ro');
  });

  test("userdb values are SQL literals: a quote cannot end the query's string", async () => {
    const r = await runCli(['dovecot-config', '--data-dir', dir, '--part', 'sql', '--home', "/srv/o'mail/%d/%n"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SELECT '\/srv\/o''mail\/%d\/%n' AS home/);
  });

  test('a data directory without a database exits 1; a bad --part or a line break in a value is bad usage', async () => {
    const empty = await runCli(['dovecot-config', '--data-dir', path.join(dir, 'nowhere')]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^mailpass: no database at .*nowhere/);
    assert.equal(existsSync(path.join(dir, 'nowhere')), false, 'nothing is created');
    assert.equal((await runCli(['dovecot-config', '--data-dir', dir, '--part', 'both'])).code, 2);
    assert.equal((await runCli(['dovecot-config', '--data-dir', dir, '--home', '/var/vmail\nauth_cache_size = 1000'])).code, 2);
  });
});

describe('IMAP logins through Dovecot use the same passwords, at once', () => {
  let server: TestServer;
  let dovecot: RunningDovecot;
  let domain: string;

  before(async () => {
    if (!DOVECOT) return;
    server = await startTestServer();
    domain = (await aDomain(server.services)).name;
    dovecot = await startDovecot(DOVECOT, server.dataDir);
  });
  after(async () => {
    await dovecot?.stop();
    await server?.stop();
  });

  /** 'OK' or 'NO', or the whole reply when it is neither. */
  const login = async (user: string, password: string) => {
    const reply = await imapLogin(dovecot.port, user, password);
    if (reply.startsWith('a1 OK')) return 'OK';
    return reply.startsWith('a1 NO [AUTHENTICATIONFAILED]') ? 'NO' : reply;
  };

  test('a mailbox logs in with its password (cheap test argon2 parameters included), not with another', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password, mailbox } = await aMailbox(server.services, { domain });
    assert.match(mailbox.passwordHash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await login(address, password), 'OK', dovecot.log());
    assert.equal(await login(address, strongPassword('x')), 'NO');
    assert.equal(await login(address.toUpperCase(), password), 'OK', 'Dovecot lower-cases the login as mailpass does');
  });

  test('a password changed in the web panel works in IMAP at once, and the old one is refused', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password } = await aMailbox(server.services, { domain });
    assert.equal(await login(address, password), 'OK', dovecot.log());
    const next = strongPassword('Web');
    const agent = await loginAsMailbox(server.url, address, password);
    const res = await postForm(agent, '/account', '/account', { current_password: password, new_password: next, confirm_password: next });
    assert.equal(res.status, 303);
    assert.equal(await login(address, password), 'NO');
    assert.equal(await login(address, next), 'OK');
  });

  test('a password set with `mailbox passwd` works in IMAP at once, and the old one is refused', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password } = await aMailbox(server.services, { domain });
    assert.equal(await login(address, password), 'OK', dovecot.log());
    const next = strongPassword('Cli');
    const r = await runCli(['mailbox', 'passwd', address, '--password-stdin', '--data-dir', server.dataDir], { stdin: `${next}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await login(address, password), 'NO');
    assert.equal(await login(address, next), 'OK');
  });

  test('a disabled mailbox is refused, and logs in again once enabled', async (t) => {
    if (!needsDovecot(t)) return;
    const { address, password } = await aMailbox(server.services, { domain });
    await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), address, true);
    assert.equal(await login(address, password), 'NO');
    await server.services.mailboxes.setDisabled(cliActor, await server.services.domains.requireDomain(cliActor, domain), address, false);
    assert.equal(await login(address, password), 'OK', dovecot.log());
  });

  test('a mailbox of an unverified domain is refused', async (t) => {
    if (!needsDovecot(t)) return;
    const pending = (await aDomain(server.services, { verified: false })).name;
    const { address, password } = await aMailbox(server.services, { domain: pending });
    assert.equal(await login(address, password), 'NO');
  });

  test('an SMTP credential cannot log in to IMAP, though its password is right for SMTP', async (t) => {
    if (!needsDovecot(t)) return;
    const svc = server.services;
    const { credential, password } = await svc.credentials.createCredential(cliActor, await svc.domains.requireDomain(cliActor, domain), 'App');
    const smtp = await svc.logins.attempt({ protocol: 'smtp', name: credential.login, password, ip: '127.0.0.1' });
    assert.equal(smtp.ok, true);
    assert.equal(await login(credential.login, password), 'NO');
  });

  test('an unknown login is refused', async (t) => {
    if (!needsDovecot(t)) return;
    assert.equal(await login(`nobody@${domain}`, strongPassword()), 'NO');
    assert.equal(await login(`x' OR '1'='1@${domain}`, strongPassword()), 'NO');
  });
});
