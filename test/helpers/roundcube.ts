import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort, stopProcess } from './processes.js';

/** Debian's Roundcube (roundcube-core, roundcube-plugins) and PHP's own web server (php-cli). CI installs them. */
export const ROUNDCUBE = '/usr/share/roundcube';
export const PHP = '/usr/bin/php';
const ROUNDCUBE_ETC = '/etc/roundcube';

export interface RunningRoundcube {
  url: string;
  /** Roundcube's own log lines (errors, the password plugin's refusals). */
  log(): string;
  stop(): Promise<void>;
}

const php = (value: string) => `'${value.replace(/[\\']/g, '\\$&')}'`;

/**
 * A private Roundcube from Debian's files, served by `php -S` on a loopback port from a temp dir:
 * its own configuration, SQLite database, logs and temp files; the package's code, skin and
 * plugins linked in. Mail is read over IMAP from `imapPort` and sent through SMTP submission with
 * STARTTLS on `smtpPort`; the `password` plugin posts to `passwordUrl` with its `httpapi` driver
 * (docs/webmail.md shows the same settings).
 */
export async function startRoundcube({ imapPort, smtpPort, passwordUrl }: { imapPort: number; smtpPort: number; passwordUrl: string }): Promise<RunningRoundcube> {
  assert.ok(existsSync(path.join(ROUNDCUBE, 'program')) && existsSync(PHP), 'Roundcube or PHP is missing: install roundcube-core, roundcube-plugins, roundcube-sqlite3 and php-cli');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-roundcube-'));
  for (const sub of ['config', 'logs', 'temp', 'plugins/password', 'skins', 'public_html/program']) mkdirSync(path.join(dir, sub), { recursive: true });
  // The layout of Debian's /var/lib/roundcube, with this directory as INSTALL_PATH.
  for (const name of ['program', 'SQL', 'index.php']) symlinkSync(path.join(ROUNDCUBE, name), path.join(dir, name));
  // Roundcube reads its defaults from its configuration directory, where Debian keeps them.
  for (const name of ['defaults.inc.php', 'mimetypes.php']) symlinkSync(path.join(ROUNDCUBE_ETC, name), path.join(dir, 'config', name));
  symlinkSync(path.join(ROUNDCUBE, 'skins', 'elastic'), path.join(dir, 'skins', 'elastic'));
  // Every plugin as packaged (Roundcube needs some itself), but the password plugin's configuration is this test's.
  for (const plugin of readdirSync(path.join(ROUNDCUBE, 'plugins'))) {
    if (plugin !== 'password') symlinkSync(path.join(ROUNDCUBE, 'plugins', plugin), path.join(dir, 'plugins', plugin));
  }
  for (const entry of readdirSync(path.join(ROUNDCUBE, 'plugins', 'password'))) {
    if (entry !== 'config.inc.php') symlinkSync(path.join(ROUNDCUBE, 'plugins', 'password', entry), path.join(dir, 'plugins', 'password', entry));
  }
  for (const name of ['js', 'resources']) symlinkSync(path.join('..', '..', 'program', name), path.join(dir, 'public_html', 'program', name));
  for (const name of ['plugins', 'skins']) symlinkSync(path.join('..', name), path.join(dir, 'public_html', name));
  writeFileSync(path.join(dir, 'public_html', 'index.php'), `<?php\ndefine('INSTALL_PATH', ${php(`${dir}/`)});\ninclude INSTALL_PATH . 'index.php';\n`);

  const dbFile = path.join(dir, 'roundcube.db');
  const db = new Database(dbFile);
  db.exec(readFileSync(path.join(ROUNDCUBE, 'SQL', 'sqlite.initial.sql'), 'utf8'));
  db.close();
  chmodSync(dbFile, 0o600);

  writeFileSync(
    path.join(dir, 'config', 'config.inc.php'),
    [
      '<?php',
      '$config = [];',
      `$config['db_dsnw'] = ${php(`sqlite:///${dbFile}?mode=0600`)};`,
      `$config['imap_host'] = ${php(`127.0.0.1:${imapPort}`)};`,
      // STARTTLS on mailpass's submission port; its certificate is the self-signed one of the test.
      `$config['smtp_host'] = ${php(`tls://127.0.0.1:${smtpPort}`)};`,
      "$config['smtp_user'] = '%u';",
      "$config['smtp_pass'] = '%p';",
      "$config['smtp_conn_options'] = ['ssl' => ['verify_peer' => false, 'verify_peer_name' => false, 'allow_self_signed' => true]];",
      `$config['des_key'] = ${php(randomBytes(18).toString('base64'))};`,
      "$config['plugins'] = ['password'];",
      "$config['skin'] = 'elastic';",
      "$config['language'] = 'en_US';",
      `$config['log_dir'] = ${php(path.join(dir, 'logs'))};`,
      `$config['temp_dir'] = ${php(path.join(dir, 'temp'))};`,
      "$config['enable_installer'] = false;",
      "$config['enable_spellcheck'] = false;",
      "$config['support_url'] = '';",
      "$config['product_name'] = 'Webmail';",
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'plugins', 'password', 'config.inc.php'),
    [
      '<?php',
      '$config = [];',
      "$config['password_driver'] = 'httpapi';",
      `$config['password_httpapi_url'] = ${php(passwordUrl)};`,
      "$config['password_httpapi_method'] = 'POST';",
      "$config['password_httpapi_var_user'] = 'user';",
      "$config['password_httpapi_var_curpass'] = 'curpass';",
      "$config['password_httpapi_var_newpass'] = 'newpass';",
      "$config['password_httpapi_expect'] = '/^ok$/';",
      // mailpass applies the policy; Roundcube's own checks stay at its defaults' minimum.
      "$config['password_confirm_current'] = true;",
      "$config['password_minimum_length'] = 8;",
      '',
    ].join('\n'),
  );

  const port = await freePort();
  const child: ChildProcess = spawn(PHP, ['-d', 'display_errors=stderr', '-d', 'error_reporting=E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING', '-S', `127.0.0.1:${port}`, '-t', path.join(dir, 'public_html')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (output = (output + t).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (output = (output + t).slice(-20_000)));
  const logFile = path.join(dir, 'logs', 'errors.log');
  const log = () => `${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}\n${output}`;
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  // php -S says nothing first: ready when Roundcube's login page answers; polled, bounded.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
    if (res?.ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      const page = res ? (await res.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 500) : 'no answer';
      await stop();
      throw new Error(`Roundcube did not answer on ${port}: ${res?.status ?? ''} ${page}\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url: `http://127.0.0.1:${port}`, log, stop };
}
