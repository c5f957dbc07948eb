// `npm run bench:peers`: mailpass beside the peer users would pick instead, Postfix's submission
// service with Dovecot SASL, both reading the same mailboxes (Dovecot through `mailpass
// dovecot-config`, with its auth cache on, as Dovecot runs it). The same C load generator drives
// both at the same concurrency, one after the other, in pairs against drift: cold logins, warm
// (repeated) logins, and cold logins with 25% wrong passwords from 4,096 client addresses. Needs
// Postfix, Dovecot (dovecot-sqlite), root (a private Postfix instance runs its master as root), a C
// compiler and OpenSSL's headers; everything listens on 127.0.0.1 and is stopped by its PID.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { privatePostfix } from '../test/helpers/postfix.js';
import { median, note, paired, report, round } from './common.js';
import { argon2Params, seedMailboxes, startServerProcess, type ServerProcess } from './server-process.js';
import { cGenerator, type Logins, type RunOptions, type SessionRun, type SmtpGenerator } from './smtp-generator.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const WARMUP = Math.min(1, SECONDS / 4);
const MAILBOXES = Number(process.env.BENCH_MAILBOXES ?? 20_000);
const DOMAIN = 'bench.test';
const PASSWORD = 'Bench#Pass-2024x';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MASTER = '/usr/lib/postfix/sbin/master';
const CPU_COUNT = os.availableParallelism();
// As `npm run bench` does: the servers on the first processors, the generator on the last.
const SPLIT = CPU_COUNT >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
const SERVER_CPUS = SPLIT ? (CPU_COUNT === 2 ? '0' : `0-${CPU_COUNT - 2}`) : undefined;
const CLIENT_CPUS = SPLIT ? String(CPU_COUNT - 1) : undefined;
const pinned = (argv: string[]) => (SERVER_CPUS ? ['taskset', '-c', SERVER_CPUS, ...argv] : argv);

function findDovecot(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin']) {
    const file = path.join(dir, 'dovecot');
    if (dir && existsSync(file)) return file;
  }
  return null;
}

/** Why the peer cannot run here, or null. */
function missing(): string | null {
  try {
    accessSync(MASTER, constants.X_OK);
  } catch {
    return 'Postfix is not installed (apt-get install postfix)';
  }
  if (!findDovecot()) return 'Dovecot is not installed (apt-get install dovecot-imapd dovecot-sqlite)';
  if (os.userInfo().uid !== 0) return 'a private Postfix instance needs root';
  return null;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Waits until something on `port` greets with 220 (10 s at most). */
async function greets(port: number, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', (d: Buffer) => (s.destroy(), resolve(d.toString().startsWith('220')))).once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing greets on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops a child by its PID: SIGTERM, then SIGKILL after 5 s. */
async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
}

/** Dovecot's auth service for Postfix, configured by `mailpass dovecot-config` on `dataDir`; auth cache on. */
async function startDovecot(dataDir: string, dir: string) {
  const cli = (args: string[]) => execFileSync(process.execPath, [path.join(ROOT, 'bin/mailpass.js'), ...args], { encoding: 'utf8', env: { ...process.env, DATA_DIR: dataDir } });
  for (const sub of ['run', 'state']) mkdirSync(path.join(dir, sub), { recursive: true });
  const sqlConf = path.join(dir, 'dovecot-sql.conf.ext');
  writeFileSync(sqlConf, cli(['dovecot-config', '--data-dir', dataDir, '--part', 'sql', '--uid', 'dovecot', '--gid', 'dovecot']));
  const authConf = path.join(dir, 'auth-mailpass.conf.ext');
  writeFileSync(authConf, cli(['dovecot-config', '--data-dir', dataDir, '--part', 'auth', '--sql-conf', sqlConf]));
  const socket = path.join(dir, 'run', 'auth-postfix');
  const conf = path.join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    [
      // Only what Postfix asks: SASL. Dovecot's defaults otherwise (its failure delay and penalty
      // included), with the auth cache on as its documentation recommends for SQL passdbs.
      'protocols =',
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'ssl = no',
      'default_internal_user = dovecot',
      'default_login_user = dovenull',
      'auth_mechanisms = plain login',
      'auth_cache_size = 10M',
      'auth_cache_ttl = 1 hour',
      'auth_cache_negative_ttl = 1 hour',
      'service auth {',
      `  unix_listener ${socket} {`,
      '    mode = 0666',
      '  }',
      '}',
      `!include ${authConf}`,
      '',
    ].join('\n'),
  );
  const argv = pinned([findDovecot()!, '-F', '-c', conf]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dovecot did not start: ${stderr}${existsSync(`${dir}/dovecot.log`) ? readFileSync(`${dir}/dovecot.log`, 'utf8') : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, socket, log: () => (existsSync(`${dir}/dovecot.log`) ? readFileSync(`${dir}/dovecot.log`, 'utf8') : '') + stderr };
}

/** Postfix's submission service: STARTTLS required, SASL through Dovecot, with mailpass's certificate. */
async function startPostfix(dir: string, port: number, saslSocket: string, tlsDir: string) {
  const { etc, mainCf } = privatePostfix(dir);
  writeFileSync(
    path.join(etc, 'main.cf'),
    [
      ...mainCf,
      'myhostname = mail.test',
      'mydestination =',
      'mynetworks =',
      // A reverse lookup of 127.10.x.y would ask the system's resolver; mailpass does none either.
      'smtpd_peername_lookup = no',
      `smtpd_tls_cert_file = ${tlsDir}/cert.pem`,
      `smtpd_tls_key_file = ${tlsDir}/key.pem`,
      'smtpd_tls_security_level = encrypt',
      'smtpd_tls_auth_only = yes',
      'smtpd_sasl_auth_enable = yes',
      'smtpd_sasl_type = dovecot',
      `smtpd_sasl_path = ${saslSocket}`,
      'smtpd_relay_restrictions = permit_sasl_authenticated, reject',
      'default_process_limit = 200',
      // The generator is one client (or 4,096): no per-client connection cap, as mailpass's SMTP_MAX_CLIENTS_PER_IP here.
      'smtpd_client_connection_count_limit = 0',
      // For `postfix check` (run before postlogd exists); the master then logs to a file.
      'maillog_file = /dev/stdout',
      `maillog_file_prefixes = /dev/stdout, ${dir}`,
      'alias_maps =',
      'alias_database =',
      'biff = no',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(etc, 'master.cf'),
    [
      `127.0.0.1:${port} inet n - n - - smtpd`,
      'anvil unix - - n - 1 anvil',
      'tlsmgr unix - - n 1000? 1 tlsmgr',
      'proxymap unix - - n - - proxymap',
      'rewrite unix - - n - - trivial-rewrite',
      'cleanup unix n - n - 0 cleanup',
      'qmgr unix n - n 300 1 qmgr',
      'bounce unix - - n - 0 bounce',
      'defer unix - - n - 0 bounce',
      'trace unix - - n - 0 bounce',
      'postlog unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  );
  try {
    execFileSync('postfix', ['-c', etc, 'check'], { stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    throw new Error(`postfix check: ${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`);
  }
  execFileSync('postconf', ['-c', etc, '-e', `maillog_file = ${dir}/postfix.log`]);
  const argv = pinned([MASTER, '-c', etc, '-d']);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, MAIL_CONFIG: etc } });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (output += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (output += t));
  const log = () => (existsSync(`${dir}/postfix.log`) ? readFileSync(`${dir}/postfix.log`, 'utf8') : '') + output;
  await greets(port, child, log);
  return { child, log };
}

async function main() {
  const why = missing();
  if (why) {
    note(`bench:peers not run: ${why}`);
    process.exitCode = 2;
    return;
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-peers-'));
  chmodSync(dataDir, 0o755);
  const peerDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-peer-'));
  chmodSync(peerDir, 0o755);
  let mailpass: ServerProcess | null = null;
  let dovecot: Awaited<ReturnType<typeof startDovecot>> | null = null;
  let postfix: Awaited<ReturnType<typeof startPostfix>> | null = null;
  try {
    note(`seeding ${MAILBOXES} mailboxes (one shared hash, argon2 ${JSON.stringify(argon2Params())})`);
    await seedMailboxes(dataDir, { domain: DOMAIN, count: MAILBOXES, password: PASSWORD, localPart: (i) => `user${String(i).padStart(6, '0')}` });
    if (CLIENT_CPUS) execFileSync('taskset', ['-apc', CLIENT_CPUS, String(process.pid)], { stdio: 'ignore' });
    // mailpass with its defaults (per-address and per-login limits included).
    mailpass = await startServerProcess(dataDir, { SMTP_MAX_CLIENTS: '1000', SMTP_MAX_CLIENTS_PER_IP: '1000' }, { cpus: SERVER_CPUS });
    // Dovecot reads the same database (it was made readable to it), Postfix uses mailpass's certificate.
    for (const f of ['mailpass.db', 'mailpass.db-wal', 'mailpass.db-shm']) if (existsSync(path.join(dataDir, f))) chmodSync(path.join(dataDir, f), 0o666);
    dovecot = await startDovecot(dataDir, path.join(peerDir, 'dovecot'));
    const postfixPort = await freePort();
    postfix = await startPostfix(path.join(peerDir, 'postfix'), postfixPort, dovecot.socket, path.join(dataDir, 'tls'));
    const built = cGenerator(mailpass.ports.smtp, path.join(dataDir, 'tls', 'cert.pem'), { prefix: 'user', digits: 6, suffix: `@${DOMAIN}`, modulo: MAILBOXES }, dataDir);
    if ('unavailable' in built) throw new Error(built.unavailable);
    const gen: SmtpGenerator = built;
    const layout = SERVER_CPUS ? `servers on CPU ${SERVER_CPUS}, generator on CPU ${CLIENT_CPUS}` : 'servers and generator share the processors';
    note(`mailpass on ${mailpass.ports.smtp}, Postfix+Dovecot on ${postfixPort} (${layout}); ${PAIRS} pairs of ${SECONDS} s, concurrency 64`);

    let next = 0;
    /** One run against `port`; distinct logins continue where the last run stopped (each mailbox cold once). */
    const run = async (port: number, logins: Logins, options: RunOptions = {}): Promise<SessionRun> => {
      const l = logins.kind === 'distinct' ? { ...logins, first: next } : logins;
      const r = await gen.run(64, SECONDS, l, WARMUP, { ...options, port });
      if (logins.kind === 'distinct') next += r.ops + r.errors + 64;
      return r;
    };
    const figures = [
      { figure: 'cold logins', logins: { kind: 'distinct', first: 0, password: PASSWORD } as Logins, options: {}, target: 1 },
      { figure: 'warm logins', logins: { kind: 'same', index: 7, password: PASSWORD } as Logins, options: {}, target: 5 },
      { figure: 'right logins with 25% wrong passwords from 4,096 addresses', logins: { kind: 'distinct', first: 0, password: PASSWORD } as Logins, options: { wrongEvery: 4, sources: 4096 }, target: 5 },
    ];
    for (const f of figures) {
      note(f.figure);
      const pairs = await paired(() => run(postfixPort, f.logins, f.options), () => run(mailpass!.ports.smtp, f.logins, f.options), PAIRS);
      const rate = (r: SessionRun) => (f.options.wrongEvery ? r.acceptedRate : r.rate);
      const ratio = median(pairs.map((p) => rate(p.subject) / Math.max(rate(p.baseline), 1e-9)));
      report(`peers_${f.figure.split(' ').slice(0, 2).join('_')}`, median(pairs.map((p) => rate(p.subject))), 'logins/s', {
        what: f.figure,
        baseline: 'Postfix submission with Dovecot SASL, same generator and concurrency, run just before',
        baseline_rate: median(pairs.map((p) => rate(p.baseline))),
        ratio,
        target: `>= ${f.target}`,
        holds: ratio >= f.target,
        pairs: pairs.map((p) => ({ peer: round(rate(p.baseline)), mailpass: round(rate(p.subject)), peer_auth_p50_ms: round(p.baseline.p50Ms), mailpass_auth_p50_ms: round(p.subject.p50Ms), peer_errors: p.baseline.errors, mailpass_errors: p.subject.errors, peer_refused: p.baseline.refused, mailpass_refused: p.subject.refused })),
      });
    }
  } finally {
    await mailpass?.stop();
    if (postfix) await stopChild(postfix.child);
    if (dovecot) await stopChild(dovecot.child);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
}

await main();
