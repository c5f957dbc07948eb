import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import request from 'supertest';
import { openServices } from '../../src/compose.js';
import { strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { silentLog, storeEnvOf, tempDataDir, testConfig, TEST_ENV } from '../helpers/env.js';
import { csrfOf } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { freePort } from '../faults/child-server.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

// SPEC §12: WORKERS=N runs N processes of one host on the same listeners (node:cluster); a
// change made in one worker ends the live sessions the others hold; a worker that dies is
// replaced; SIGTERM drains them all; a webhook gets each event once from either worker. Runs on both stores (the PostgreSQL half gives DATABASE_URL).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { dir, cleanup } = tempDataDir();
let primary: ChildProcess | null = null;
after(() => {
  if (primary && primary.exitCode === null) primary.kill('SIGKILL');
  cleanup();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('WORKERS=2: two workers share the listeners; a change in one ends sessions held by the other; a dead worker is replaced; SIGTERM stops all', async () => {
  const address = 'jo@workers.test';
  const password = strongPassword('W');
  assert.equal((await runCli(['domain', 'add', 'workers.test', '--data-dir', dir])).code, 0);
  assert.equal((await runCli(['mailbox', 'add', address, '--password-stdin', '--data-dir', dir], { stdin: `${password}\n` })).code, 0);

  const smtpPort = await freePort();
  primary = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV, DATA_DIR: dir, ...storeEnvOf([], { DATA_DIR: dir }), WORKERS: '2', PORT: '0', SMTP_PORT: String(smtpPort), SMTPS_PORT: '0', LOG_LEVEL: 'info', WEBHOOK_ALLOW_PRIVATE: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  primary.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => primary!.once('exit', (code) => resolve(code)));
  const listening = new Map<number, number>();
  let onListen: (() => void) | null = null;
  createInterface({ input: primary.stdout! }).on('line', (text) => {
    try {
      const line = JSON.parse(text) as { msg?: string; pid?: number; port?: number };
      if (line.msg === 'web panel listening') {
        listening.set(line.pid!, line.port!);
        onListen?.();
      }
    } catch {
      // not a log line
    }
  });
  const workersListening = async (n: number) => {
    const deadline = Date.now() + 30_000;
    while (listening.size < n) {
      assert.ok(Date.now() < deadline, `${listening.size} of ${n} workers listening; stderr: ${stderr}`);
      await new Promise<void>((resolve) => {
        onListen = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  await workersListening(2);
  const [first, second] = [...listening.keys()];
  assert.notEqual(first, second);
  assert.ok(first !== primary.pid && second !== primary.pid, 'the workers are processes of their own');
  const ports = new Set(listening.values());
  assert.equal(ports.size, 1, 'both workers serve one port');
  const url = `http://127.0.0.1:${[...ports][0]}`;

  // An app password, made from another process (as the CLI would); then four SMTP sessions with
  // it, which the cluster hands to both workers in turn.
  const opened = await openServices(testConfig(dir), silentLog);
  const mailbox = (await opened.services.mailboxes.getMailbox({ kind: 'system', name: 'test' }, (await opened.services.domains.requireDomain({ kind: 'system', name: 'test' }, 'workers.test'))!, address))!;
  const { appPassword, password: app } = await opened.services.appPasswords.create({ kind: 'mailbox', id: mailbox.id, login: address }, 'Phone');
  await opened.close();
  const sessions: RawSmtp[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await RawSmtp.ready(smtpPort, { dataDir: dir });
    assert.equal((await c.authPlain(address, app)).code, 235);
    sessions.push(c);
  }

  // The owner revokes it in the panel: whichever worker answers, every session ends.
  const agent = request.agent(url);
  const login = await agent.get('/login');
  assert.equal((await agent.post('/login').type('form').send({ email: address, password, _csrf: csrfOf(login.text) })).status, 303);
  const page = await agent.get('/account/security');
  const since = Date.now();
  const revoked = await agent.post(`/account/security/app-passwords/${appPassword.id}/revoke`).type('form').send({ _csrf: csrfOf(page.text) });
  assert.equal(revoked.status, 303);
  for (const c of sessions) {
    const reply = await c.read(5_000);
    assert.equal(reply.code, 421);
  }
  assert.ok(Date.now() - since < 2_000, `the sessions ended after ${Date.now() - since} ms`);

  // SPEC §19: changes answered by both workers reach a webhook once each, in order; both workers
  // poll the outbox, the webhook's lease makes one of them its sender at a time.
  const receiver = await startReceiver();
  try {
    const setup = await openServices(testConfig(dir, { WEBHOOK_ALLOW_PRIVATE: 'true' }), silentLog);
    await setup.services.webhooks.add({ kind: 'system', name: 'test' }, { url: receiver.url, events: ['credential.created'], domain: 'workers.test' });
    await setup.services.admins.addAdmin({ kind: 'system', name: 'test' }, { username: 'hooks', isSuper: true, domains: [], password: strongPassword('H') });
    const { plaintext } = await setup.services.tokens.createToken({ kind: 'system', name: 'test' }, { adminUsername: 'hooks', name: 'workers' });
    await setup.close();
    const made: string[] = [];
    for (let i = 0; i < 20; i++) {
      // A connection each: the cluster hands them to both workers in turn.
      const res = await request(url).post('/api/domains/workers.test/credentials').set('Authorization', `Bearer ${plaintext}`).set('Connection', 'close').send({ name: `Worker app ${i}` });
      assert.equal(res.status, 201);
      made.push(res.body.data.credential.username);
    }
    const got = await receiver.waitFor(20, 30_000);
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(receiver.received.length, 20, 'each event sent once');
    assert.deepEqual(got.map((x) => x.json.data.username), made);
  } finally {
    await receiver.close();
  }

  // A worker that dies is replaced by a new one, on the same port.
  process.kill(first!, 'SIGKILL');
  await workersListening(3);
  const replacement = [...listening.keys()].find((p) => p !== first && p !== second)!;
  assert.ok(alive(replacement));
  assert.equal((await request(url).get('/healthz')).status, 200);

  // SIGTERM to the primary: every worker stops, and the primary exits 0.
  primary.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const pid of [second!, replacement]) assert.ok(!alive(pid), `worker ${pid} still runs`);
});

test('WORKERS=2: a SIGTERM while the workers are still starting stops everything with exit 0 (issue 29)', async () => {
  const early = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV, DATA_DIR: dir, ...storeEnvOf([], { DATA_DIR: dir }), WORKERS: '2', PORT: '0', SMTP_PORT: '0', SMTPS_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  early.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => early.once('exit', (code) => resolve(code)));
  // The primary has forked its workers, which are still loading: stop it now.
  await new Promise<void>((resolve) =>
    createInterface({ input: early.stdout! }).on('line', (text) => {
      if (text.includes('primary started its workers')) resolve();
    }),
  );
  early.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
