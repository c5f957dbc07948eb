import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { runCli } from './cli.js';
import { freePort, stopProcess, waitForGreeting } from './processes.js';

/** The dovecot binary; PATH first, then where Debian puts it (a normal user's PATH lacks sbin). */
export function findDovecot(): string | null {
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

export const DOVECOT = findDovecot();

/** Skips the calling test when Dovecot is absent; CI installs dovecot-imapd and dovecot-sqlite. */
export function needsDovecot(t: TestContext): boolean {
  if (DOVECOT) return true;
  t.skip('dovecot not installed');
  return false;
}

export { freePort };

/** One IMAP connection: the greeting, then `a1 LOGIN`; returns the tagged reply line. */
export async function imapLogin(port: number, user: string, password: string): Promise<string> {
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

export interface RunningDovecot {
  port: number;
  /** Where the homes are: `<mailRoot>/<domain>/<user>/Maildir`, owned by mailUid:mailGid. */
  mailRoot: string;
  mailUid: number;
  mailGid: number;
  log(): string;
  stop(): Promise<void>;
}

/** The test's own dovecot.conf: its directories, IMAP on loopback only, no TLS, and the included part. */
function dovecotConf({ dir, port, authConf, doveadm }: { dir: string; port: number; authConf: string; doveadm?: { port: number; apiKey: string } }): string {
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
    // SPEC §13: doveadm's HTTP API on loopback, for mailpass's kicks.
    ...(doveadm
      ? [`doveadm_api_key = ${doveadm.apiKey}`, 'service doveadm {', '  inet_listener http {', '    address = 127.0.0.1', `    port = ${doveadm.port}`, '  }', '}']
      : []),
    `!include ${authConf}`,
    '',
  ].join('\n');
}

/** A private Dovecot in the foreground, configured by `mailpass dovecot-config` for this data directory. */
export async function startDovecot(binary: string, dataDir: string, { doveadm }: { doveadm?: { port: number; apiKey: string } } = {}): Promise<RunningDovecot> {
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
  writeFileSync(conf, dovecotConf({ dir, port, authConf, doveadm }));

  const child: ChildProcess = spawn(binary, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const logFile = path.join(dir, 'dovecot.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const fail = async (why: string) => {
    const text = `${why}\n${log()}`;
    await stop();
    return new Error(text);
  };

  // Ready when imap-login greets; polled, bounded, and a master that died fails at once.
  await waitForGreeting(port, child, { what: 'dovecot', log }).catch(async (err: Error) => {
    throw await fail(err.message);
  });
  // The first login starts the auth processes; an unreadable database would answer UNAVAILABLE here.
  const first = await imapLogin(port, 'nobody@ready.invalid', 'x').catch((err: Error) => err.message);
  if (!first.startsWith('a1 NO [AUTHENTICATIONFAILED]')) throw await fail(`dovecot's auth is not ready: ${first}`);
  const ids = (flag: string) => (me.uid === 0 ? Number(execFileSync('id', [flag, 'dovecot'], { encoding: 'utf8' }).trim()) : flag === '-u' ? me.uid : me.gid);
  return { port, log, stop, mailRoot: path.join(dir, 'mail'), mailUid: ids('-u'), mailGid: ids('-g') };
}


/** Logs in over IMAP and returns every message of INBOX, whole (BODY.PEEK[]), oldest first. */
export async function imapFetchAll(port: number, user: string, password: string): Promise<string[]> {
  const quote = (v: string) => `"${v.replace(/[\\"]/g, '\\$&')}"`;
  const socket = net.connect(port, '127.0.0.1');
  socket.setTimeout(15_000, () => socket.destroy(new Error('IMAP server did not answer within 15 s')));
  let buffer = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  /** Waits until the tagged reply of `tag` has arrived; returns everything up to it. */
  const until = async (tag: string) => {
    for (;;) {
      const text = buffer.toString('latin1');
      const m = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`).exec(text);
      if (m) {
        if (m[2] !== 'OK') throw new Error(`IMAP ${tag}: ${m[0].trim()}`);
        buffer = Buffer.alloc(0);
        return text;
      }
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), closed.then(() => {
        throw new Error('IMAP connection closed');
      })]);
    }
  };
  try {
    while (!buffer.includes('\r\n')) await new Promise<void>((resolve) => waiters.push(resolve));
    buffer = Buffer.alloc(0);
    socket.write(`a1 LOGIN ${quote(user)} ${quote(password)}\r\n`);
    await until('a1');
    socket.write('a2 SELECT INBOX\r\n');
    await until('a2');
    socket.write('a3 FETCH 1:* (BODY.PEEK[])\r\n');
    const text = await until('a3');
    const messages: string[] = [];
    const literal = /BODY\[\] \{(\d+)\}\r\n/g;
    const bytes = Buffer.from(text, 'latin1');
    for (let m = literal.exec(text); m; m = literal.exec(text)) {
      const start = m.index + m[0].length;
      messages.push(bytes.subarray(start, start + Number(m[1])).toString('utf8'));
    }
    socket.write('a4 LOGOUT\r\n');
    return messages;
  } finally {
    socket.destroy();
  }
}
