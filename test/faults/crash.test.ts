import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { tempDataDir, TEST_STORE } from '../helpers/env.js';
import { csrfOf } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { startChild, type ChildServer } from './child-server.js';

// A server process is SIGKILLed while clients stream password changes and messages at it. What it
// acknowledged before dying must be in force after a restart: nothing acknowledged is lost, nothing
// revoked comes back, and the database file is intact.

const { dir, cleanup } = tempDataDir();
let child: ChildServer | null = null;
after(async () => {
  await child?.kill();
  cleanup();
});

const DOMAIN = 'crash.test';
const ENV = { API_RATE_LIMIT: '1000000', LOGIN_MAX_ATTEMPTS: '1000000', LOGIN_MAX_ATTEMPTS_PER_IP: '1000000' };
const ROUNDS = 2;
let serial = 0;
/** A new password that meets the policy and was never used before. */
const nextPassword = () => `Tm4!qRz8#Lw-${++serial}`;

interface Box {
  address: string;
  /** The password of the last change the server acknowledged. */
  acked: string;
  /** Passwords replaced by an acknowledged change: none may work again. */
  replaced: string[];
  /** A change sent but not answered when the server died: it may or may not have committed. */
  inflight: string | null;
  acks: number;
}

const sid = (res: Response) => /mailpass\.sid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? null;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = 'application/x-www-form-urlencoded';

/** Logs in as a mailbox over the web form; the session cookie, or null when the login is refused (401). */
async function webLogin(url: string, email: string, password: string): Promise<string | null> {
  const page = await fetch(`${url}/login`);
  const cookie = sid(page);
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `mailpass.sid=${cookie}`, 'content-type': FORM },
    body: form({ email, password, _csrf: csrfOf(await page.text()) }),
  });
  await res.arrayBuffer();
  if (res.status === 401) return null;
  assert.equal(res.status, 303, `login of ${email}: ${res.status}`);
  return sid(res);
}

/** 200 while the session is alive; 303 to /login once it has ended. */
async function accountStatus(url: string, cookie: string): Promise<number> {
  const res = await fetch(`${url}/account`, { redirect: 'manual', headers: { cookie: `mailpass.sid=${cookie}` } });
  await res.arrayBuffer();
  return res.status;
}

/** SQLite's own check of the file (on PostgreSQL the killed process holds no database file to break). */
function integrity(): string {
  const db = new Database(path.join(dir, 'mailpass.db'));
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

test('SIGKILL mid-stream: every acknowledged change survives, revoked sessions stay revoked, the file is intact', async (t) => {
  const cli = async (argv: string[], stdin = '') => {
    const r = await runCli([...argv, '--data-dir', dir], { stdin });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  // Set up with the CLI before the first start, as an operator would; generated passwords are printed once.
  await cli(['domain', 'add', DOMAIN]);
  await cli(['admin', 'add', 'ops', '--super', '--generate']);
  const token = await cli(['token', 'add', 'ops', '--name', 'crash']);
  const mailbox = async (local: string) => ({ address: `${local}@${DOMAIN}`, password: await cli(['mailbox', 'add', `${local}@${DOMAIN}`, '--generate']) });
  const boxes: Box[] = [];
  for (const local of ['api1', 'api2', 'api3', 'web1']) {
    const { address, password } = await mailbox(local);
    boxes.push({ address, acked: password, replaced: [], inflight: null, acks: 0 });
  }
  const keeper = await mailbox('keeper');
  const sender = await mailbox('sender');
  const [api1, api2, api3, web1] = boxes as [Box, Box, Box, Box];

  const liveSessions: string[] = [];
  const revokedSessions: string[] = [];
  const queued: string[] = [];

  child = await startChild(dir, { smtp: true, env: ENV });
  for (let round = 1; round <= ROUNDS; round++) {
    const url: string = child.url;

    // Sessions that must keep their state across the crash: one alive, one logged out, one ended by a password change.
    const alive = (await webLogin(url, keeper.address, keeper.password))!;
    const loggedOut = (await webLogin(url, keeper.address, keeper.password))!;
    const page = await fetch(`${url}/account`, { headers: { cookie: `mailpass.sid=${loggedOut}` } });
    const out = await fetch(`${url}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `mailpass.sid=${loggedOut}`, 'content-type': FORM },
      body: form({ _csrf: csrfOf(await page.text()) }),
    });
    assert.equal(out.status, 303);
    const endedByChange = (await webLogin(url, api1.address, api1.acked))!;
    liveSessions.push(alive);
    revokedSessions.push(loggedOut, endedByChange);

    let stopping = false;
    let dead!: () => void;
    const died = new Promise<never>((_, reject) => (dead = () => reject(new Error('server killed'))));
    died.catch(() => {});

    const apiStream = async (box: Box) => {
      while (!stopping) {
        const next = nextPassword();
        box.inflight = next;
        let res: Response;
        try {
          res = await fetch(`${url}/api/domains/${DOMAIN}/mailboxes/${box.address}/password`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ password: next }),
          });
          await res.arrayBuffer().catch(() => {});
        } catch {
          return; // the server died with this change in flight
        }
        assert.equal(res.status, 200, `API change of ${box.address}`);
        box.replaced.push(box.acked);
        box.acked = next;
        box.inflight = null;
        box.acks++;
      }
    };

    const webStream = async (box: Box) => {
      while (!stopping) {
        let cookie: string | null;
        let res: Response;
        const next = nextPassword();
        try {
          cookie = await webLogin(url, box.address, box.acked);
          assert.ok(cookie, `web login of ${box.address} with its acknowledged password`);
          const page = await fetch(`${url}/account`, { headers: { cookie: `mailpass.sid=${cookie}` } });
          const csrf = csrfOf(await page.text());
          box.inflight = next;
          res = await fetch(`${url}/account`, {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie: `mailpass.sid=${cookie}`, 'content-type': FORM },
            body: form({ current_password: box.acked, new_password: next, confirm_password: next, _csrf: csrf }),
          });
          await res.arrayBuffer().catch(() => {});
        } catch (err) {
          if (stopping) return;
          throw err;
        }
        assert.equal(res.status, 303, `web change of ${box.address}`);
        assert.equal(res.headers.get('location'), '/login?updated=1');
        box.replaced.push(box.acked);
        box.acked = next;
        box.inflight = null;
        box.acks++;
        revokedSessions.push(cookie);
      }
    };

    const smtpStream = async () => {
      const c = await RawSmtp.ready(child!.smtpPort, { dataDir: dir });
      const send = (line: string) => {
        c.write(`${line}\r\n`);
        return Promise.race([c.read(5000), died]);
      };
      try {
        assert.equal((await send(`AUTH PLAIN ${Buffer.from(`\0${sender.address}\0${sender.password}`).toString('base64')}`)).code, 235);
        for (let i = 0; !stopping; i++) {
          assert.equal((await send(`MAIL FROM:<${sender.address}>`)).code, 250);
          assert.equal((await send('RCPT TO:<friend@example.net>')).code, 250);
          assert.equal((await send('DATA')).code, 354);
          const reply = await send(`Subject: round ${round} message ${i}\r\n\r\n${'line of text\r\n'.repeat(200)}.`);
          assert.equal(reply.code, 250, reply.text);
          queued.push(/queued as ([0-9a-f-]{36})/.exec(reply.text)![1]!);
        }
      } catch (err) {
        if (!stopping) throw err;
      } finally {
        c.close();
      }
    };

    const streams = [api1, api2, api3].map(apiStream).concat(webStream(web1), smtpStream());
    const acksBefore = boxes.map((b) => b.acks);
    const queuedBefore = queued.length;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && boxes.some((b, i) => b.acks - acksBefore[i]! < 3)) await new Promise((r) => setTimeout(r, 20));
    assert.ok(Date.now() < deadline, `too few acknowledged changes: ${boxes.map((b) => b.acks)}`);
    // The session of api1 ended with its first acknowledged change, before the crash.
    assert.equal(await accountStatus(url, endedByChange), 303);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
    stopping = true;
    await child.kill();
    dead();
    await Promise.all(streams);
    t.diagnostic(`round ${round}: killed after ${boxes.map((b) => b.acks).join('/')} acknowledged changes, ${queued.length - queuedBefore} messages; in flight: ${boxes.filter((b) => b.inflight).length}`);

    if (TEST_STORE === 'sqlite') assert.equal(integrity(), 'ok');

    child = await startChild(dir, { smtp: true, env: ENV });
    for (const box of boxes) {
      let inForce = box.acked;
      if (!(await webLogin(child.url, box.address, box.acked))) {
        // Only a change in flight at the crash may have replaced the acknowledged password.
        assert.ok(box.inflight, `${box.address}: the acknowledged password no longer works`);
        assert.ok(await webLogin(child.url, box.address, box.inflight), `${box.address}: neither the acknowledged nor the in-flight password works`);
        inForce = box.inflight;
      }
      for (const old of new Set([...box.replaced.slice(-3), box.replaced[0]!])) {
        assert.equal(await webLogin(child.url, box.address, old), null, `${box.address}: a replaced password works again`);
      }
      if (inForce !== box.acked) box.replaced.push(box.acked);
      box.acked = inForce;
      box.inflight = null;
    }
    for (const s of revokedSessions) assert.equal(await accountStatus(child.url, s), 303, 'a revoked session came back');
    for (const s of liveSessions) assert.equal(await accountStatus(child.url, s), 200, 'a live session was lost');

    // Every message answered 250 is complete in the spool: its envelope marks it, its data is all there.
    const spool = path.join(dir, 'spool');
    for (const id of queued) {
      const meta = JSON.parse(readFileSync(path.join(spool, `${id}.json`), 'utf8')) as { login: string; size: number };
      assert.equal(meta.login, sender.address);
      assert.equal(readFileSync(path.join(spool, `${id}.eml`)).length, meta.size);
    }
    for (const f of readdirSync(spool).filter((n) => n.endsWith('.json'))) assert.ok(existsSync(path.join(spool, f.replace(/\.json$/, '.eml'))), f);
    // The restarted server is the one the next round streams at.
  }
  await child.kill();
  if (TEST_STORE === 'sqlite') assert.equal(integrity(), 'ok');
});
