import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createArgon2Hasher } from '../../src/adapters/argon2-hasher.js';
import { md5Crypt, verifyScheme } from '../../src/adapters/legacy-hashes.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encrypt as shaCryptEncrypt } from 'unixcrypt';
import { parseImportedHash, splitStored, type Scheme } from '../../src/core/hash-schemes.js';
import bcrypt from 'bcryptjs';
import { cliActor } from '../../src/core/actors.js';
import { aMailbox, strongPassword } from '../helpers/builders.js';
import { runCli } from '../helpers/cli.js';
import { ADMIN_PASSWORD } from '../helpers/env.js';
import { loginAsAdmin, loginAsMailbox, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from '../helpers/smtp-client.js';

// SPEC §13: mailboxes moved in with the hashes of their old server. The vectors were made by
// Dovecot itself (`doveadm pw -s SCHEME`, test/data/legacy-hashes.json); the IMAP test logs them
// in through the real Dovecot too.

interface Vector {
  scheme: Scheme;
  password: string;
  hash: string;
}
const { vectors } = JSON.parse(readFileSync(new URL('../data/legacy-hashes.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const shaCrypt = (password: string, rounds: number) => shaCryptEncrypt(password, `$6$rounds=${rounds}$saltsalt`);
const userOf = (v: Vector, i: number) => `${v.scheme.toLowerCase()}-${i}`;

describe('old schemes verify as Dovecot made them', () => {
  test('every vector verifies with its password, none with another', async () => {
    for (const v of vectors) {
      const parsed = parseImportedHash(v.hash);
      assert.ok(!('error' in parsed), `${v.scheme}: ${JSON.stringify(parsed)}`);
      const { scheme, hash } = splitStored(parsed.stored);
      assert.equal(scheme, v.scheme);
      assert.equal(await verifyScheme(v.scheme, hash, v.password), true, `${v.scheme} ${v.password}`);
      assert.equal(await verifyScheme(v.scheme, hash, `${v.password} `), false, `${v.scheme} with another password`);
    }
  });

  test('hashes doveadm makes now verify too (where Dovecot is installed)', async (t) => {
    const doveadm = ['/usr/bin/doveadm', '/usr/local/bin/doveadm'].find((f) => existsSync(f));
    if (!doveadm) return t.diagnostic('doveadm is not installed: the checked-in vectors above are what it made');
    const password = `Fresh ${Date.now()} ü`;
    for (const scheme of ['ARGON2ID', 'ARGON2I', 'BLF-CRYPT', 'SHA512-CRYPT', 'SHA256-CRYPT', 'MD5-CRYPT', 'SSHA512', 'SSHA256'] as const) {
      const made = execFileSync(doveadm, ['pw', '-s', scheme, '-p', password, ...(scheme === 'BLF-CRYPT' ? ['-r', '5'] : [])], { encoding: 'utf8' }).trim();
      const parsed = parseImportedHash(made);
      assert.ok(!('error' in parsed), `${scheme}: ${made}`);
      const { hash } = splitStored(parsed.stored);
      assert.equal(await verifyScheme(scheme, hash, password), true, `${scheme}: ${made}`);
      assert.equal(await verifyScheme(scheme, hash, password.toUpperCase()), false, scheme);
    }
  });

  test('MD5-crypt matches OpenSSL\'s (`openssl passwd -1 -salt saltstri password`), the salt cut to 8 characters', () => {
    assert.equal(md5Crypt('password', 'saltstring'), '$1$saltstri$qQY4WxjABChYG1ccLpfkz/');
  });

  test('an old scheme is verified under the hashing limit, in a worker: the event loop keeps turning (issue 29)', async () => {
    const ops: string[] = [];
    const hasher = createArgon2Hasher({ memoryKib: 1024, timeCost: 1, parallelism: 1 }, 2, (op) => ops.push(op));
    // 100,000 rounds (the ceiling): about 130 ms of JavaScript a verification, which unixcrypt does in one synchronous call.
    const heavy = `{SHA512-CRYPT}${shaCrypt('Heavy-Pass#2019', 100_000)}`;
    assert.equal(await hasher.verify(heavy, 'Heavy-Pass#2019'), true);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const started = performance.now();
    const results = await Promise.all([hasher.verify(heavy, 'wrong one'), hasher.verify(heavy, 'wrong two')]);
    const took = performance.now() - started;
    delay.disable();
    assert.deepEqual(results, [false, false]);
    assert.equal(ops.filter((o) => o === 'verify').length, 3, 'each check counted under the hashing limit');
    // On the event loop the loop would have stood still for the whole verification.
    assert.ok(delay.max / 1e6 < took / 2, `the loop stalled ${(delay.max / 1e6).toFixed(0)} ms during ${took.toFixed(0)} ms of verifying`);
    assert.equal(hasher.needsRehash(heavy), true);
  });

  test('costs above the ceilings are refused at import, naming the cost', () => {
    assert.deepEqual(parseImportedHash(`{BLF-CRYPT}$2y$13$${'a'.repeat(53)}`), { error: 'bcrypt cost 13 is above 12' });
    assert.deepEqual(parseImportedHash(`$6$rounds=999999999$saltsalt$${'a'.repeat(86)}`), { error: '999999999 rounds is above 100000' });
    assert.deepEqual(parseImportedHash(`{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHQ$${'a'.repeat(43)}`), { error: 'argon2 memory 4194304 KiB is above 262144' });
    assert.deepEqual(parseImportedHash(`{ARGON2ID}$argon2id$v=19$m=65536,t=40,p=1$c2FsdHNhbHQ$${'a'.repeat(43)}`), { error: 'argon2 time cost 40 is above 4' });
    assert.ok(!('error' in parseImportedHash(`{BLF-CRYPT}$2y$12$${'a'.repeat(53)}`)), 'the ceiling itself is allowed');
    assert.ok(!('error' in parseImportedHash(`$6$rounds=100000$saltsalt$${'a'.repeat(86)}`)));
  });

  test('hashes are recognised by {SCHEME}, {CRYPT} or a bare crypt prefix; anything else is refused', () => {
    const sha = vectors.find((v) => v.scheme === 'SHA512-CRYPT')!.hash;
    const bare = sha.slice(sha.indexOf('}') + 1);
    assert.deepEqual(parseImportedHash(bare), { stored: sha, scheme: 'SHA512-CRYPT' });
    assert.deepEqual(parseImportedHash(`{CRYPT}${bare}`), { stored: sha, scheme: 'SHA512-CRYPT' });
    assert.deepEqual(parseImportedHash('{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99'), { error: 'unknown scheme {PLAIN-MD5}' });
    assert.deepEqual(parseImportedHash('{SHA512-CRYPT}$6$short'), { error: 'not a SHA512-CRYPT hash' });
    assert.deepEqual(parseImportedHash('secret'), { error: 'not a hash of a known scheme (give it a {SCHEME} prefix)' });
    const argon = vectors.find((v) => v.scheme === 'ARGON2ID')!.hash;
    assert.equal((parseImportedHash(argon) as { stored: string }).stored, argon.replace('{ARGON2ID}', ''), 'argon2id is stored bare, as mailpass stores its own');
  });
});

describe('mailpass import', () => {
  let server: TestServer;
  let passwd: string;
  before(async () => {
    server = await startTestServer({}, { smtp: true });
    passwd = path.join(server.dataDir, 'users.passwd');
    // A Dovecot passwd-file as an old server has it: some users with their domain, some without.
    const lines = vectors.map((v, i) => `${userOf(v, i)}${i % 2 ? '@old.test' : ''}:${v.hash}:5000:5000:User ${i}::/var/vmail/${i}::`);
    writeFileSync(passwd, `# exported from the old server\n${lines.join('\n')}\n`);
  });
  after(() => server.stop());

  const cli = (...argv: string[]) => runCli([...argv, '--data-dir', server.dataDir]);

  test('refuses a file with one bad line, naming it, and imports nothing', async () => {
    const bad = path.join(server.dataDir, 'bad.passwd');
    writeFileSync(bad, `${readFileSync(passwd, 'utf8')}plain@old.test:{PLAIN-MD5}5f4dcc3b5aa765d61d8327deb882cf99\nnot an address:{SSHA512}aGFzaA==\n`);
    const r = await cli('import', bad, '--domain', 'old.test', '--create-domains');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^line 18: unknown scheme \{PLAIN-MD5\}\nline 19: "not an address" is not an address\nmailpass: 2 lines refused; nothing was imported\n$/);
    assert.equal((await server.query<{ n: number }>("SELECT count(*) AS n FROM domains WHERE name = 'old.test'"))[0]!.n, 0);
    const missing = await cli('import', passwd, '--domain', 'old.test');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no domain old\.test \(add it, or give --create-domains\)/);
    assert.equal((await server.query<{ n: number }>("SELECT count(*) AS n FROM accounts WHERE login LIKE '%@old.test'"))[0]!.n, 0);
  });

  test('imports every scheme once; a second run changes nothing', async () => {
    const r = await cli('import', passwd, '--domain', 'old.test', '--create-domains');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created 16, unchanged 0 \(already in mailpass\), refused 0\ndomains added: old\.test\n/);
    for (const scheme of ['ARGON2ID', 'ARGON2I', 'BLF-CRYPT', 'SHA512-CRYPT', 'SHA256-CRYPT', 'MD5-CRYPT', 'SSHA512', 'SSHA256']) assert.match(r.stdout, new RegExp(`^${scheme} +2$`, 'm'));
    const again = await cli('import', passwd, '--domain', 'old.test');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^created 0, unchanged 16 /);
  });

  test('each imported password logs in over the web and SMTP at once, and is re-hashed to argon2id after', async () => {
    for (const [i, v] of vectors.entries()) {
      const address = `${userOf(v, i)}@old.test`;
      assert.ok(await loginAsMailbox(server.url, address, v.password), `${v.scheme}: web login`);
      // Each from an address of its own: the wrong ones must not add up to a per-address lock.
      for (const [password, code] of [[`${v.password}x`, 535], [v.password, 235]] as const) {
        const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir, localAddress: `127.0.5.${i + 1}` });
        try {
          assert.equal((await c.authPlain(address, password)).code, code, `${v.scheme}: SMTP ${code}`);
        } finally {
          c.close();
        }
      }
    }
    // The new hashes are made after each reply and written with the next batch.
    const rows = () => server.query<{ login: string; password_hash: string }>("SELECT login, password_hash FROM accounts WHERE login LIKE '%@old.test'");
    const deadline = Date.now() + 10_000;
    while ((await rows()).some((r) => !r.password_hash.startsWith('$argon2id$')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.adapters.batcher.flush();
    }
    const left = await rows();
    assert.equal(left.length, 16);
    for (const row of left) assert.match(row.password_hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, `${row.login} was not re-hashed`);
    for (const [i, v] of vectors.entries()) assert.ok(await loginAsMailbox(server.url, `${userOf(v, i)}@old.test`, v.password), `${v.scheme}: after its re-hash`);
  });

  test('the domain page counts what is left per scheme (weak ones flagged); the mailbox page names its scheme, never the hash', async () => {
    const csv = path.join(server.dataDir, 'export.csv');
    const md5 = vectors.find((v) => v.scheme === 'MD5-CRYPT')!;
    const sha = vectors.find((v) => v.scheme === 'SHA256-CRYPT')!;
    writeFileSync(csv, `address,password_hash,name,active\nann@csv.test,${md5.hash.replace('{MD5-CRYPT}', '')},"Ann, from CSV",1\nbob@csv.test,${sha.hash},Bob,0\n`);
    const r = await cli('import', csv, '--create-domains');
    assert.equal(r.code, 0, r.stderr);
    const admin = await loginAsAdmin(server.url, 'admin', ADMIN_PASSWORD);
    const page = await admin.get('/admin/domains/csv.test');
    assert.match(page.text, /Imported passwords not yet re-hashed:\s*MD5-CRYPT 1 <span class="badge warn">weak<\/span>, SHA256-CRYPT 1\./);
    const ann = await admin.get('/admin/domains/csv.test/mailboxes/ann@csv.test');
    assert.match(ann.text, /MD5-CRYPT, weak<\/span> imported; becomes argon2id at the next login/);
    assert.match(ann.text, /Ann, from CSV/);
    assert.ok(!ann.text.includes(md5.hash.slice(12)), 'the hash is not on the page');
    const bob = await server.adapters.stores.accounts.findAccountByLogin('bob@csv.test');
    assert.equal(bob!.disabled, true, 'active 0 is a disabled mailbox');
  });

  test('ALLOW_LEGACY_SCHEMES=false refuses weak schemes at import', async () => {
    const file = path.join(server.dataDir, 'weak.passwd');
    writeFileSync(file, `weak@weak.test:${vectors.find((v) => v.scheme === 'MD5-CRYPT')!.hash}\n`);
    const r = await runCli(['import', file, '--create-domains', '--data-dir', server.dataDir], { env: { ALLOW_LEGACY_SCHEMES: 'false' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^line 1: MD5-CRYPT is weak and ALLOW_LEGACY_SCHEMES is false\n/);
  });

  // Issue 36: the file is read a chunk (64 KiB) at a time, twice, never held whole.
  const CHUNK = 2 ** 16;
  test('a file of several chunks, with CRLF lines and names of several bytes across the chunks, imports whole', async () => {
    const hash = vectors.find((v) => v.scheme === 'SSHA512')!.hash;
    const name = (i: number) => `Zoë Ŝtraße 🦊 ${i}`;
    const lines = Array.from({ length: 20_000 }, (_, i) => `big${i}@big.test,${hash},"${name(i)}",${i % 7 === 0 ? 0 : 1}`);
    const file = path.join(server.dataDir, 'big.csv');
    const head = Buffer.from('address,password_hash,name,active\r\n');
    const body = Buffer.from(`${lines.join('\r\n')}\r\n`);
    // A comment line after the header, long enough that the first chunk ends inside a fox's four bytes.
    const fox = Buffer.from('🦊');
    const at = body.lastIndexOf(fox, CHUNK - 8 - head.length);
    const comment = Buffer.from(`#${'x'.repeat(CHUNK - 2 - head.length - at - 3)}\r\n`);
    const bytes = Buffer.concat([head, comment, body]);
    assert.ok(bytes.subarray(CHUNK - 2, CHUNK + 2).equals(fox) && bytes.length > 20 * CHUNK, 'many chunks, the first ending in a character');
    writeFileSync(file, bytes);
    const r = await cli('import', file, '--create-domains');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created 20000, unchanged 0 /);
    const rows = await server.query<{ login: string; name: string; disabled: number | boolean }>("SELECT login, name, disabled FROM accounts WHERE login LIKE 'big%@big.test'");
    assert.equal(rows.length, 20_000);
    const wrong = rows.filter((row) => {
      const i = Number(row.login.slice(3, row.login.indexOf('@')));
      return row.name !== name(i) || Boolean(row.disabled) !== (i % 7 === 0);
    });
    assert.deepEqual(wrong, [], 'every name whole, wherever a chunk ended');
  });

  test('a file that is not UTF-8 (a bad byte after the first chunk) or cannot be read: one line, exit 1, nothing imported', async () => {
    const hash = vectors.find((v) => v.scheme === 'SSHA512')!.hash;
    const file = path.join(server.dataDir, 'latin1.passwd');
    const good = Array.from({ length: 20_000 }, (_, i) => `l${i}@latin.test:${hash}`).join('\n');
    writeFileSync(file, Buffer.concat([Buffer.from(`${good}\nlast@latin.test:${hash}:5000:5000:Ren`), Buffer.from([0xe9]), Buffer.from('e::\n')]));
    assert.ok(readFileSync(file).length > 2 * CHUNK, 'the bad byte is after the first chunk');
    const r = await cli('import', file, '--create-domains');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `mailpass: ${file} is not UTF-8 text\n`);
    assert.equal((await server.query<{ n: number }>("SELECT count(*) AS n FROM domains WHERE name = 'latin.test'"))[0]!.n, 0);
    const gone = await cli('import', path.join(server.dataDir, 'no-such.passwd'));
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^mailpass: cannot read .*no-such\.passwd \(ENOENT\)\n$/);
  });

  test('an address given twice (in any case) is refused at each repeat, by line, and nothing is imported', async () => {
    const hash = vectors.find((v) => v.scheme === 'SSHA512')!.hash;
    const lines = Array.from({ length: 3000 }, (_, i) => `d${i}@twice.test:${hash}`);
    lines.splice(1500, 0, `D17@Twice.test:${hash}`);
    lines.push(`d2999@twice.test:${hash}`, `d17@twice.test:{PLAIN-MD5}x`);
    const file = path.join(server.dataDir, 'twice.passwd');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await cli('import', file, '--create-domains');
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'line 1501: d17@twice.test is in the file twice\nline 3002: d2999@twice.test is in the file twice\n' +
        'line 3003: unknown scheme {PLAIN-MD5}\nline 3003: d17@twice.test is in the file twice\nmailpass: 3 lines refused; nothing was imported\n',
    );
    assert.equal((await server.query<{ n: number }>("SELECT count(*) AS n FROM domains WHERE name = 'twice.test'"))[0]!.n, 0);
  });

  test('a file that changes between the check and the write: refused, and nothing of it is written', async () => {
    const hash = vectors.find((v) => v.scheme === 'SSHA512')!.hash;
    const first = Array.from({ length: 20 }, (_, i) => `c${i}@changed.test:${hash}`);
    // More lines, fewer, a line now refused, and the last address swapped for the first's (as many valid lines, one given twice).
    for (const second of [[...first, `c20@changed.test:${hash}`], first.slice(0, 19), [...first.slice(0, 19), 'c19@changed.test:{PLAIN-MD5}x'], [...first.slice(0, 19), `c0@changed.test:${hash}`]]) {
      let reads = 0;
      const lines = () => (++reads === 1 ? first : second);
      await assert.rejects(server.services.imports.importMailboxes(cliActor, lines, { format: 'passwd-file', createDomains: true }), /the file changed while it was imported; nothing was imported/);
      assert.equal(reads, 2);
      assert.equal((await server.query<{ n: number }>("SELECT count(*) AS n FROM domains WHERE name = 'changed.test'"))[0]!.n, 0);
      assert.equal((await server.query<{ n: number }>("SELECT count(*) AS n FROM accounts WHERE login LIKE '%@changed.test'"))[0]!.n, 0);
    }
    assert.equal((await server.services.imports.importMailboxes(cliActor, () => first, { format: 'passwd-file', createDomains: true })).created, 20, 'the same lines twice: imported');
  });

  test('bad usage exits 2 naming the option', async () => {
    assert.equal((await cli('import', passwd, '--format', 'ldif')).code, 2);
    const d = await cli('import', passwd, '--domain', 'not a domain');
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--domain/);
  });
});

describe('a failed login takes the same time whatever the hash (issue 29)', () => {
  const FLOOR_MS = 400;
  let server: TestServer;
  const accounts: Record<string, string> = {};
  before(async () => {
    server = await startTestServer({ LOGIN_FAILURE_DELAY_MS: String(FLOOR_MS), LOGIN_MAX_ATTEMPTS: '1000', LOGIN_MAX_ATTEMPTS_PER_IP: '1000' }, { smtp: true });
    const file = path.join(server.dataDir, 'floor.passwd');
    const password = 'Floor-Pass#2019';
    writeFileSync(
      file,
      [
        `blf@floor.test:{BLF-CRYPT}${bcrypt.hashSync(password, 12).replace(/^\$2b\$/, '$2y$')}`,
        `sha@floor.test:{SHA512-CRYPT}${shaCrypt(password, 100_000)}`,
      ].join('\n'),
    );
    const r = await runCli(['import', file, '--create-domains', '--data-dir', server.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    Object.assign(accounts, { blf: 'blf@floor.test', sha: 'sha@floor.test', unknown: 'nobody@floor.test' });
    accounts.argon2 = (await aMailbox(server.services, { domain: 'floor.test' })).address;
  });
  after(() => server.stop());

  const smtpAuth = async (login: string, password: string) => {
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    try {
      const started = performance.now();
      const { code } = await c.authPlain(login, password);
      return { code, ms: performance.now() - started };
    } finally {
      c.close();
    }
  };

  test(`an unknown login and wrong argon2id, bcrypt and SHA-crypt passwords each answer 535 after at least ${FLOOR_MS} ms; a right one does not wait`, async () => {
    for (const [kind, login] of Object.entries(accounts)) {
      const { code, ms } = await smtpAuth(login, `Wrong#${kind}-guess1`);
      assert.equal(code, 535, kind);
      assert.ok(ms >= FLOOR_MS - 5, `${kind}: ${ms.toFixed(0)} ms`);
    }
    // Repeated wrong passwords are answered from a cache without argon2; they wait for the floor too.
    assert.ok((await smtpAuth(accounts.argon2!, 'Wrong#argon2-guess1')).ms >= FLOOR_MS - 5);
    const right = await smtpAuth(accounts.argon2!, strongPassword());
    assert.equal(right.code, 235);
    assert.ok(right.ms < FLOOR_MS, `a right password waited ${right.ms.toFixed(0)} ms`);
  });
});
