// `npm run bench`'s cost of SPEC §15's limit check: server CPU per accepted recipient with the
// limits counted in the store (the defaults), against the same traffic over a store that reads and
// counts nothing (BENCH_SEND_LIMITS=off, bench/server.mjs), in alternating pairs on one data dir.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, note, paired, report, round } from './common.js';
import { seedMailboxes, startServerProcess } from './server-process.js';
import { Session } from './smtp-session.js';

const DOMAIN = 'limits.test';
const PASSWORD = 'Limit#Bench-2024x';
/** 64 sessions at once (smtp-server holds each greeting 100 ms), one login each. */
const SESSIONS = 64;
const MESSAGES = 10;
const RECIPIENTS = 10;
const message = (from: string) => `Subject: limits\r\nFrom: <${from}>\r\n\r\n${'A line of a message body, as mail has.\r\n'.repeat(20)}`;

/** One server's run: logins first (not counted), then every session sends its messages. */
async function run(dataDir: string, limits: 'on' | 'off', cpus: string | undefined) {
  const server = await startServerProcess(dataDir, { SMTP_MAX_CLIENTS_PER_IP: '1000', ...(limits === 'off' ? { BENCH_SEND_LIMITS: 'off' } : {}) }, { cpus });
  try {
    const ca = readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => Session.open(server.ports.smtp, ca, `user${i}@${DOMAIN}`, PASSWORD)));
    const before = (await server.ask<{ cpuMs: number }>('stats')).cpuMs;
    const t0 = performance.now();
    const rcpts = Array.from({ length: RECIPIENTS }, (_, r) => `friend${r}@example.net`);
    await Promise.all(
      sessions.map(async (s, i) => {
        for (let m = 0; m < MESSAGES; m++) await s.send(`user${i}@${DOMAIN}`, message(`user${i}@${DOMAIN}`), rcpts);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = (await server.ask<{ cpuMs: number }>('stats')).cpuMs - before;
    await Promise.all(sessions.map((s) => s.quit()));
    const recipients = SESSIONS * MESSAGES * RECIPIENTS;
    return { cpuMsPerRecipient: cpuMs / recipients, recipientsPerSecond: recipients / seconds };
  } finally {
    await server.stop();
  }
}

export async function sendLimitCost(cpus: string | undefined) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-limits-'));
  try {
    await seedMailboxes(dataDir, { domain: DOMAIN, count: SESSIONS, password: PASSWORD, localPart: (i) => `user${i}` });
    note(`sending limits: ${SESSIONS} sessions x ${MESSAGES} messages x ${RECIPIENTS} recipients, counted and not, three pairs`);
    // Three pairs add 300 recipients a login, under the default 1000 an hour: nothing is refused.
    const pairs = await paired(() => run(dataDir, 'off', cpus), () => run(dataDir, 'on', cpus));
    const added = pairs.map((p) => p.subject.cpuMsPerRecipient - p.baseline.cpuMsPerRecipient);
    report('smtp_send_limit_cpu_ms_per_recipient', round(median(added), 4), 'ms', {
      baseline_cpu_ms_per_recipient: round(median(pairs.map((p) => p.baseline.cpuMsPerRecipient)), 4),
      with_limits_cpu_ms_per_recipient: round(median(pairs.map((p) => p.subject.cpuMsPerRecipient)), 4),
      pairs_added_ms: added.map((a) => round(a, 4)),
      recipients_per_s: round(median(pairs.map((p) => p.subject.recipientsPerSecond)), 0),
      baseline_recipients_per_s: round(median(pairs.map((p) => p.baseline.recipientsPerSecond)), 0),
      target: '<= 0.2',
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// `npm run bench:limits`: this figure alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await sendLimitCost(process.env.BENCH_SERVER_CPUS);
