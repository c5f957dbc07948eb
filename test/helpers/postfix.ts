import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { stopProcess, waitForGreeting } from './processes.js';

const MASTER = '/usr/lib/postfix/sbin/master';

/** Debian's Postfix (CI installs `postfix`); a private instance needs root for its queue owner. */
export const POSTFIX = (() => {
  try {
    accessSync(MASTER, constants.X_OK);
    execFileSync('postconf', ['-d', 'mail_version'], { stdio: 'ignore' });
    return os.userInfo().uid === 0;
  } catch {
    return false;
  }
})();

export function needsPostfix(t: TestContext): boolean {
  if (POSTFIX) return true;
  t.skip('postfix not installed (or not root, which a private Postfix instance needs)');
  return false;
}

/**
 * What every private Postfix instance starts from: its directories under `dir` (made here, the
 * data directory owned by Postfix's mail_owner), loopback IPv4 only. `npm run bench:peers` uses it too.
 */
export function privatePostfix(dir: string): { etc: string; mainCf: string[] } {
  for (const sub of ['etc', 'queue', 'data']) mkdirSync(path.join(dir, sub), { recursive: true });
  // The master takes its lock in data_directory as mail_owner.
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(path.join(dir, 'data'), id('-u'), id('-g'));
  return {
    etc: path.join(dir, 'etc'),
    mainCf: [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      // For `postfix check` (run before postlogd exists); runMaster then points it at a file.
      'maillog_file = /dev/stdout',
      `maillog_file_prefixes = /dev/stdout, ${dir}`,
    ],
  };
}

export interface RunningPostfix {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A private Postfix: its own main.cf and master.cf, queue and data directories in a temp dir,
 * smtpd on `port` on loopback (relaying for 127.0.0.0/8 only), delivering the virtual domain's
 * mailboxes into Maildirs under `mailRoot` (`<domain>/<user>/Maildir/`, the layout the test's
 * Dovecot reads) as `uid`:`gid`. The master runs in the foreground as this test's child and is
 * stopped by its PID; the system's Postfix service is never touched.
 */
export async function startPostfix({ port, domain, mailboxes, mailRoot, uid, gid }: { port: number; domain: string; mailboxes: string[]; mailRoot: string; uid: number; gid: number }): Promise<RunningPostfix> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-postfix-'));
  chmodSync(dir, 0o755);
  const { etc, mainCf } = privatePostfix(dir);
  writeFileSync(
    path.join(etc, 'main.cf'),
    [
      ...mainCf,
      'myhostname = mx.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      `virtual_mailbox_domains = ${domain}`,
      `virtual_mailbox_base = ${mailRoot}`,
      `virtual_mailbox_maps = texthash:${etc}/vmailbox`,
      `virtual_uid_maps = static:${uid}`,
      `virtual_gid_maps = static:${gid}`,
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'smtputf8_enable = no',
      'biff = no',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(etc, 'vmailbox'), mailboxes.map((address) => `${address} ${domain}/${address.split('@')[0]}/Maildir/`).join('\n') + '\n');
  // No chroot (it would need a copy of the system's files), one line per service the path needs.
  writeFileSync(
    path.join(etc, 'master.cf'),
    [
      `127.0.0.1:${port} inet n - n - - smtpd`,
      'cleanup unix n - n - 0 cleanup',
      'qmgr unix n - n 300 1 qmgr',
      'rewrite unix - - n - - trivial-rewrite',
      'bounce unix - - n - 0 bounce',
      'defer unix - - n - 0 bounce',
      'trace unix - - n - 0 bounce',
      'verify unix - - n - 1 verify',
      'flush unix n - n 1000? 0 flush',
      'proxymap unix - - n - - proxymap',
      'smtp unix - - n - - smtp',
      'relay unix - - n - - smtp',
      'showq unix n - n - - showq',
      'error unix - - n - - error',
      'retry unix - - n - - error',
      'discard unix - - n - - discard',
      'virtual unix - n n - - virtual',
      'anvil unix - - n - 1 anvil',
      'scache unix - - n - 1 scache',
      'postlog unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  );
  return runMaster(dir, port);
}

/**
 * Checks the instance of `dir` (main.cf and master.cf written), starts its master in the foreground
 * as this process's child (`prefix`: e.g. taskset), and waits for smtpd's 220 on `port`. `stop()`
 * ends the master by its PID and removes `dir`.
 */
export async function runMaster(dir: string, port: number, prefix: string[] = []): Promise<RunningPostfix> {
  const etc = path.join(dir, 'etc');
  // Creates the queue's subdirectories with their owners and modes (logging to stdout: postlogd is not up yet).
  try {
    execFileSync('postfix', ['-c', etc, 'check'], { stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    throw new Error(`postfix check: ${String((err as { stdout?: string }).stdout ?? '')}${String((err as { stderr?: string }).stderr ?? '')}`, { cause: err });
  }
  const logFile = path.join(dir, 'postfix.log');
  execFileSync('postconf', ['-c', etc, '-e', `maillog_file = ${logFile}`]);
  const argv = [...prefix, MASTER, '-c', etc, '-d'];
  // detached: the master leads a process group of its own, which is how it ends its children.
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, MAIL_CONFIG: etc } });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (output += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (output += t));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + output;
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForGreeting(port, child, { what: 'postfix', log, greeting: (first) => first.startsWith('220') });
  } catch (err) {
    await stop();
    throw err;
  }
  child.unref();
  return { port, log, stop };
}
