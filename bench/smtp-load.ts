import net from 'node:net';
import tls from 'node:tls';

// The client shares the machine's cores with the server: one TLS context for every connection,
// rather than parsing the CA again for each, keeps the load generator's own cost down.
const contexts = new WeakMap<Buffer, tls.SecureContext>();
const contextFor = (ca: Buffer) => {
  let ctx = contexts.get(ca);
  if (!ctx) contexts.set(ca, (ctx = tls.createSecureContext({ ca })));
  return ctx;
};

/** One SMTP conversation over STARTTLS, as lean as a client can be: greeting, EHLO, STARTTLS, EHLO, [AUTH PLAIN], QUIT. */
export async function smtpSession(port: number, ca: Buffer, auth: { login: string; password: string } | null): Promise<{ authCode: number | null; authMs: number }> {
  const plain = net.connect({ host: '127.0.0.1', port });
  let socket: net.Socket = plain;
  let buf = '';
  let waiter: ((line: string) => void) | null = null;
  const onData = (d: Buffer) => {
    buf += d.toString('latin1');
    const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buf);
    if (m && waiter) {
      const w = waiter;
      waiter = null;
      const line = buf;
      buf = '';
      w(line);
    }
  };
  const reply = () => new Promise<string>((resolve) => (waiter = resolve));
  const send = (line: string) => {
    const r = reply();
    socket.write(`${line}\r\n`);
    return r;
  };
  plain.on('data', onData);
  try {
    await new Promise<void>((resolve, reject) => {
      plain.once('connect', resolve);
      plain.once('error', reject);
    });
    await reply();
    await send('EHLO bench.test');
    await send('STARTTLS');
    plain.off('data', onData);
    const secure = tls.connect({ socket: plain, secureContext: contextFor(ca), servername: 'mail.test' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    socket = secure;
    secure.on('data', onData);
    await send('EHLO bench.test');
    let authCode: number | null = null;
    let authMs = 0;
    if (auth) {
      const t = performance.now();
      const r = await send(`AUTH PLAIN ${Buffer.from(`\0${auth.login}\0${auth.password}`).toString('base64')}`);
      authMs = performance.now() - t;
      authCode = Number(r.slice(0, 3));
    }
    socket.write('QUIT\r\n');
    return { authCode, authMs };
  } finally {
    socket.destroy();
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface LoadResult {
  /** Operations that ended well, over the whole run. */
  ops: number;
  errors: number;
  /** The measured window: from the end of the warm-up to the deadline. */
  seconds: number;
  /** Operations that ended in the window, a second. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `task` with `concurrency` workers for `seconds`. The rate and latencies count only
 * operations that end after `warmupSeconds` and before the deadline: at the start every worker
 * is in the same phase and the server is not yet saturated.
 */
export async function load(concurrency: number, seconds: number, task: (i: number) => Promise<number>, warmupSeconds = 0): Promise<LoadResult> {
  const latencies: number[] = [];
  let ops = 0;
  let errors = 0;
  let started = 0;
  const t0 = performance.now();
  const windowStart = t0 + warmupSeconds * 1000;
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const i = started++;
        try {
          const ms = await task(i);
          ops++;
          const now = performance.now();
          if (now >= windowStart && now <= deadline) latencies.push(ms);
        } catch {
          errors++;
        }
      }
    }),
  );
  const window = seconds - warmupSeconds;
  latencies.sort((a, b) => a - b);
  return { ops, errors, seconds: window, rate: latencies.length / window, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}
