import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { load, smtpSession, type LoadResult } from './smtp-load.js';

/** Logins of the form prefix + zero-padded number + suffix, as the bench seeds them. */
export interface LoginShape {
  prefix: string;
  digits: number;
  suffix: string;
  /** How many mailboxes there are: session i logs in as number (first + i) % modulo. */
  modulo: number;
}

export const loginAt = (shape: LoginShape, i: number) => `${shape.prefix}${String(i % shape.modulo).padStart(shape.digits, '0')}${shape.suffix}`;

/** What each session does after the second EHLO: nothing, AUTH as one login, or AUTH as a new login each. */
export type Logins = { kind: 'none' } | { kind: 'same'; index: number; password: string } | { kind: 'distinct'; first: number; password: string };

export interface SessionRun extends LoadResult {
  /** AUTH answered with anything but 235. */
  refused: number;
  /** AUTH answered 235 in the window, a second (with wrong passwords mixed in: the right ones that got in). */
  acceptedRate: number;
  /** Handshakes that resumed a TLS session. */
  resumed: number;
  /** The load generator's own CPU time over the run. */
  clientCpuMs: number;
}

export interface SmtpGenerator {
  name: string;
  /**
   * `concurrency` STARTTLS sessions at a time for `seconds`; latencies are of AUTH (of the whole
   * session without AUTH). Rate and latencies count the sessions that end after `warmupSeconds`.
   */
  run(concurrency: number, seconds: number, logins: Logins, warmupSeconds?: number, options?: RunOptions): Promise<SessionRun>;
}

export interface RunOptions {
  /** Every Nth session sends a wrong password (4: 25%). */
  wrongEvery?: number;
  /** Sessions come from this many loopback addresses (127.10.x.y), as that many clients. */
  sources?: number;
  /** Resume the server's last TLS session (tickets), as a returning client does. */
  resume?: boolean;
  /** Another server's port than the generator's own. */
  port?: number;
}

/** The lean client of smtp-load.ts, in this process. */
export function nodeGenerator(port: number, caFile: string, shape: LoginShape): SmtpGenerator {
  const ca = readFileSync(caFile);
  return {
    name: 'node',
    async run(concurrency, seconds, logins, warmupSeconds = 0, options = {}) {
      if (options.wrongEvery || options.sources || options.resume || options.port) throw new Error('wrong passwords, source addresses, resumption and other ports need the C generator (bench/smtp-flood.c)');
      let refused = 0;
      const before = process.cpuUsage();
      const result = await load(concurrency, seconds, async (i) => {
        const t = performance.now();
        const auth = logins.kind === 'none' ? null : { login: loginAt(shape, logins.kind === 'same' ? logins.index : logins.first + i), password: logins.password };
        const r = await smtpSession(port, ca, auth);
        if (auth && r.authCode !== 235) refused++;
        return auth ? r.authMs : performance.now() - t;
      }, warmupSeconds);
      const cpu = process.cpuUsage(before);
      return { ...result, refused, acceptedRate: logins.kind === 'none' ? 0 : result.rate * (1 - refused / Math.max(1, result.ops)), resumed: 0, clientCpuMs: (cpu.user + cpu.system) / 1000 };
    },
  };
}

/**
 * bench/smtp-flood.c, built with the system's C compiler and OpenSSL into `dir`, or why it
 * cannot be built, so that the bench can still run with the Node.js client.
 */
export function cGenerator(port: number, caFile: string, shape: LoginShape, dir: string): SmtpGenerator | { unavailable: string } {
  const source = fileURLToPath(new URL('./smtp-flood.c', import.meta.url));
  const binary = path.join(dir, 'smtp-flood');
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', binary, source, '-lssl', '-lcrypto'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? err).split('\n').find((l) => l.trim()) ?? 'failed';
    return { unavailable: `cannot build bench/smtp-flood.c (a C compiler and OpenSSL's headers are needed): ${stderr.trim()}` };
  }
  const run = promisify(execFile);
  return {
    name: 'smtp-flood (C)',
    async run(concurrency, seconds, logins, warmupSeconds = 0, options = {}) {
      const args = ['--port', String(options.port ?? port), '--ca', caFile, '--concurrency', String(concurrency), '--seconds', String(seconds), '--warmup', String(warmupSeconds)];
      if (logins.kind === 'same') args.push('--login', loginAt(shape, logins.index), '--password', logins.password);
      if (logins.kind === 'distinct') {
        args.push('--login-prefix', shape.prefix, '--login-digits', String(shape.digits), '--login-suffix', shape.suffix);
        args.push('--first', String(logins.first), '--modulo', String(shape.modulo), '--password', logins.password);
      }
      if (options.wrongEvery) args.push('--wrong-every', String(options.wrongEvery));
      if (options.sources) args.push('--sources', String(options.sources));
      if (options.resume) args.push('--resume', '1');
      const { stdout } = await run(binary, args);
      const r = JSON.parse(stdout) as { ops: number; errors: number; refused: number; seconds: number; rate: number; p50_ms: number; p99_ms: number; cpu_ms: number; accepted_rate: number; resumed: number };
      return {
        ops: r.ops,
        errors: r.errors,
        refused: r.refused,
        seconds: r.seconds,
        rate: r.rate,
        p50Ms: r.p50_ms,
        p99Ms: r.p99_ms,
        clientCpuMs: r.cpu_ms,
        acceptedRate: r.accepted_rate,
        resumed: r.resumed,
      };
    },
  };
}
