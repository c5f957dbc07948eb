// Issue 29: how long a failed SMTP login takes for an unknown login and for wrong passwords of an
// argon2id mailbox (the default parameters), an imported bcrypt cost-12 one and an imported
// SHA512-crypt one at 100,000 rounds (the import ceilings). Medians of BENCH_TRIES attempts each,
// with the failure floor (LOGIN_FAILURE_DELAY_MS, default 300) and, as the baseline, without it.
// `npm run bench:failures`
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import bcrypt from 'bcryptjs';
import { encrypt } from 'unixcrypt';
import { loadConfig } from '../src/config.js';
import { cliActor } from '../src/core/actors.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/main.js';
import { median, note, report, round } from './common.js';

const TRIES = Number(process.env.BENCH_TRIES ?? 15);
const PASSWORD = 'Floor-Pass#2019x';

/** One AUTH PLAIN over implicit TLS; the milliseconds from sending it to the reply. */
async function authOnce(port: number, login: string, password: string): Promise<{ code: number; ms: number }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  const lines: string[] = [];
  let buffered = '';
  let wake: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    buffered += d.toString('latin1');
    let i;
    while ((i = buffered.indexOf('\r\n')) >= 0) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 2);
    }
    wake?.();
  });
  const reply = async () => {
    for (;;) {
      const done = lines.findIndex((l) => /^\d{3} /.test(l));
      if (done >= 0) return lines.splice(0, done + 1).at(-1)!;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  try {
    await reply();
    socket.write('EHLO bench\r\n');
    await reply();
    const started = performance.now();
    socket.write(`AUTH PLAIN ${Buffer.from(`\0${login}\0${password}`).toString('base64')}\r\n`);
    const line = await reply();
    return { code: Number(line.slice(0, 3)), ms: performance.now() - started };
  } finally {
    socket.destroy();
  }
}

async function measure(floorMs: number) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-bench-failures-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    INITIAL_ADMIN_PASSWORD: 'Bench#Root-2024x',
    LOGIN_FAILURE_DELAY_MS: String(floorMs),
    SMTP_AUTH_MAX_FAILURES: '100000',
  });
  const server = await startServer(config, { log: createLogger('silent'), print: () => {}, smtpBind: { smtp: null, smtps: 0 } });
  try {
    const lines = [`blf@old.test:{BLF-CRYPT}${bcrypt.hashSync(PASSWORD, 12)}`, `sha@old.test:{SHA512-CRYPT}${encrypt(PASSWORD, '$6$rounds=100000$saltsalt')}`];
    await server.services.imports.importMailboxes(cliActor, lines.join('\n'), { format: 'passwd-file', createDomains: true });
    await server.services.mailboxes.addMailbox(cliActor, { address: 'argon@old.test', name: '', password: PASSWORD });
    const kinds = { unknown: 'nobody@old.test', argon2id: 'argon@old.test', 'bcrypt-12': 'blf@old.test', 'sha512-crypt-100k': 'sha@old.test' };
    const medians: Record<string, number> = {};
    for (const [kind, login] of Object.entries(kinds)) {
      const times: number[] = [];
      // Each try a new wrong password: a repeat would be answered from the cache of failures.
      for (let i = 0; i < TRIES; i++) times.push((await authOnce(server.smtpPorts.smtps!, login, `Wrong#${kind}-${i}x`)).ms);
      medians[kind] = median(times);
    }
    return medians;
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const floor of [0, loadConfig({}).login.failureDelayMs]) {
  note(`failed SMTP logins, LOGIN_FAILURE_DELAY_MS=${floor}, ${TRIES} tries each`);
  const medians = await measure(floor);
  const values = Object.values(medians);
  for (const [kind, ms] of Object.entries(medians)) report(`failure ${kind} (floor ${floor} ms)`, round(ms, 1), 'ms median');
  report(`failure slowest/fastest (floor ${floor} ms)`, round(Math.max(...values) / Math.min(...values), 2), 'ratio of medians');
}
