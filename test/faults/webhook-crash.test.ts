import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { apiClient } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { tempDataDir, TEST_STORE } from '../helpers/env.js';
import { startReceiver, verifySignature, type Receiver } from '../helpers/webhook-receiver.js';
import { freePort, startChild, type ChildServer } from './child-server.js';

// SPEC §19: an event is written with its change, so a server killed after answering the change
// and before delivering it delivers it after a restart. The receiver is down while the first
// server runs, so nothing can have been delivered before the kill, whenever it falls.

const { dir, cleanup } = tempDataDir();
let child: ChildServer | null = null;
let receiver: Receiver | null = null;
after(async () => {
  await child?.kill();
  await receiver?.close();
  cleanup();
});

test(`a change answered, the server killed before delivering it: delivered after the restart (${TEST_STORE})`, { timeout: 120_000 }, async () => {
  const env = { DATA_DIR: dir, WEBHOOK_ALLOW_PRIVATE: 'true' };
  const port = await freePort();
  const cli = async (...argv: string[]) => {
    const r = await runCli(argv, { env });
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  await cli('domain', 'add', 'crash-hooks.test');
  await cli('admin', 'add', 'ops', '--super', '--generate');
  const token = await cli('token', 'add', 'ops', '--name', 'crash');
  const [, secret] = (await cli('webhook', 'add', `http://127.0.0.1:${port}/hook`, '--events', 'credential.created')).split('\n');

  child = await startChild(dir, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const created = await apiClient(child.url, token).post('/domains/crash-hooks.test/credentials', { name: 'Crash app' });
  assert.equal(created.status, 201);
  await child.kill();

  receiver = await startReceiver({ port });
  child = await startChild(dir, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  // A first attempt that failed before the kill is retried 5 s later; a lease the killed server
  // held (killed while sending) ends within 30 s.
  const [delivery] = await receiver.waitFor(1, 60_000);
  assert.equal(delivery!.json.type, 'credential.created');
  assert.equal(delivery!.json.data.username, (created.body as { data: { credential: { username: string } } }).data.credential.username);
  assert.ok(verifySignature(secret!, delivery!));
});
