import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { storeEnvOf, TEST_ENV, tempDataDir } from '../helpers/env.js';
import { freePort } from '../helpers/processes.js';
import { RawSmtp } from '../helpers/smtp-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { dir, cleanup } = tempDataDir();
let child: ChildProcess | null = null;
after(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  cleanup();
});


type LogLine = Record<string, unknown> & { msg?: string };

/** Reads the child's JSON log lines; `waitFor(msg)` resolves with the first line of that message. */
function logLines(proc: ChildProcess) {
  const seen: LogLine[] = [];
  const waiting: Array<{ msg: string; resolve: (l: LogLine) => void }> = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    seen.push(line);
    for (const w of waiting.filter((w) => w.msg === line.msg)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(line);
    }
  });
  return {
    seen,
    waitFor(msg: string, ms = 10_000): Promise<LogLine> {
      const found = seen.find((l) => l.msg === msg);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log line within ${ms} ms`)), ms);
        waiting.push({ msg, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** True once a new connection to the port is refused (the listener is closed). */
async function refuses(port: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    try {
      const s = await connect(port);
      s.destroy();
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('SIGTERM: listeners stop accepting, an SMTP message and an HTTP request in flight both finish, exit 0', async (t) => {
  const address = 'jane@shutdown.test';
  assert.equal((await runCli(['domain', 'add', 'shutdown.test', '--data-dir', dir])).code, 0);
  assert.equal((await runCli(['mailbox', 'add', address, '--password-stdin', '--data-dir', dir], { stdin: `${strongPassword()}\n` })).code, 0);

  const [smtpPort, smtpsPort] = [await freePort(), await freePort()];
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV, DATA_DIR: dir, ...storeEnvOf([], { DATA_DIR: dir }), PORT: '0', SMTP_PORT: String(smtpPort), SMTPS_PORT: String(smtpsPort), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
  const log = logLines(child);
  const web = await log.waitFor('web panel listening', 30_000);
  const smtp = await log.waitFor('smtp listening');
  const httpPort = web.port as number;
  assert.deepEqual([smtp.smtp, smtp.smtps], [smtpPort, smtpsPort]);

  // An authenticated SMTP session in the middle of its message data.
  const c = await RawSmtp.ready(smtpPort, { dataDir: dir });
  assert.equal((await c.authPlain(address, strongPassword())).code, 235);
  assert.equal((await c.cmd(`MAIL FROM:<${address}>`)).code, 250);
  assert.equal((await c.cmd('RCPT TO:<friend@example.net>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write('Subject: sent across a shutdown\r\n\r\nfirst half\r\n');

  // An HTTP request in flight: its request line and first header are in, the rest is still coming.
  const http = await connect(httpPort);
  let response = '';
  http.on('data', (d: Buffer) => (response += d.toString('utf8')));
  const httpClosed = new Promise<void>((resolve) => http.once('close', () => resolve()));
  http.write('GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  await new Promise((r) => setTimeout(r, 100));

  const signalled = Date.now();
  child.kill('SIGTERM');
  await log.waitFor('shutting down');
  assert.ok(await refuses(httpPort), 'the web listener still accepts after SIGTERM');
  assert.ok(await refuses(smtpPort), 'the SMTP listener still accepts after SIGTERM');

  http.write('Accept: text/html\r\n\r\n');
  c.write('second half\r\n.\r\n');
  const queued = await c.read();
  assert.equal(queued.code, 250, queued.text);
  // A stopping smtp-server answers any further command, QUIT too, with 421 and closes (RFC 5321 §3.8).
  assert.ok([221, 421].includes((await c.cmd('QUIT')).code));
  c.close();

  const id = /queued as ([0-9a-f-]{36})/.exec(queued.text)![1]!;
  const spool = path.join(dir, 'spool');
  assert.equal(readFileSync(path.join(spool, `${id}.eml`), 'utf8'), 'Subject: sent across a shutdown\r\n\r\nfirst half\r\nsecond half\r\n');
  assert.equal(JSON.parse(readFileSync(path.join(spool, `${id}.json`), 'utf8')).login, address);
  assert.deepEqual(readdirSync(path.join(spool, 'tmp')), []);

  const result = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000).unref())]);
  const seconds = (Date.now() - signalled) / 1000;
  assert.ok(result, `still running 15 s after SIGTERM; stderr: ${stderr}`);
  assert.deepEqual(result, { code: 0, signal: null }, stderr);
  await httpClosed;
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.match(response, /Email address/);
  assert.ok(log.seen.some((l) => l.msg === 'stopped'));
  t.diagnostic(`exited ${seconds.toFixed(2)} s after SIGTERM`);
});

test('first start: the generated admin password goes to stderr on a line of its own, never into the JSON log; its first login must choose a new one', async () => {
  const fresh = tempDataDir();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV, INITIAL_ADMIN_PASSWORD: '', DATA_DIR: fresh.dir, ...storeEnvOf([], { DATA_DIR: fresh.dir }), PORT: '0', SMTP_PORT: '0', SMTPS_PORT: '0', LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    const log = logLines(proc);
    const web = await log.waitFor('web panel listening', 30_000);
    const password = /^Initial admin password: (\S{20})$/m.exec(stderr)?.[1];
    assert.ok(password, `no password line on stderr: ${stderr}`);
    const { default: request } = await import('supertest');
    const { postForm } = await import('../helpers/server.js');
    const agent = request.agent(`http://127.0.0.1:${web.port as number}`);
    const login = await postForm(agent, '/admin/login', '/admin/login', { username: 'admin', password });
    assert.equal(login.headers.location, '/admin/account');
    assert.equal((await agent.get('/admin/domains')).headers.location, '/admin/account');
    assert.ok(!stdout.includes(password), 'the password reached the JSON log stream');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((resolve) => proc.once('exit', resolve));
    fresh.cleanup();
  }
});
