// `npm run bench:peers`: mailpass beside the peer users would pick instead, Postfix's submission
// service with Dovecot SASL, both reading the same mailboxes (Dovecot through `mailpass
// dovecot-config`, with its auth cache on, as Dovecot runs it). The same C load generator drives
// both at the same concurrency, one after the other, in pairs against drift: cold logins, warm
// (repeated) logins, and cold logins with 25% wrong passwords from 4,096 client addresses. Needs
// Postfix, Dovecot (dovecot-sqlite), root (a private Postfix instance runs its master as root), a C
// compiler and OpenSSL's headers; everything listens on 127.0.0.1 and is stopped by its PID.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOVECOT } from '../test/helpers/dovecot.js';
import { POSTFIX, privatePostfix, runMaster, type RunningPostfix } from '../test/helpers/postfix.js';
import { freePort, stopProcess } from '../test/helpers/processes.js';
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
const CPU_COUNT = os.availableParallelism();
// As `npm run bench` does: the servers on the first processors, the generator on the last.
const SPLIT = CPU_COUNT >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
const SERVER_CPUS = SPLIT ? (CPU_COUNT === 2 ? '0' : `0-${CPU_COUNT - 2}`) : undefined;
const CLIENT_CPUS = SPLIT ? String(CPU_COUNT - 1) : undefined;
const pinned = (argv: string[]) => (SERVER_CPUS ? ['taskset', '-c', SERVER_CPUS, ...argv] : argv);

/** Why the peer cannot run here, or null. */
function missing(): string | null {
  if (!POSTFIX) return 'Postfix is not installed (apt-get install postfix), or this is not root (a private Postfix instance needs it)';
  if (!DOVECOT) return 'Dovecot is not installed (apt-get install dovecot-imapd dovecot-sqlite)';
  return null;
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
  const argv = pinned([DOVECOT!, '-F', '-c', conf]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`dovecot did not start: ${stderr}${existsSync(`${dir}/dovecot.log`) ? readFileSync(`${dir}/dovecot.log`, 'utf8') : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { socket, stop: () => stopProcess(child) };
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
  return runMaster(dir, port, SERVER_CPUS ? ['taskset', '-c', SERVER_CPUS] : []);
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
  let postfix: RunningPostfix | null = null;
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
    await postfix?.stop();
    await dovecot?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
}

await main();
