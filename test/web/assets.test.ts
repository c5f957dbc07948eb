import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import request from 'supertest';
import { chooseEncoding } from '../../src/web/assets.js';
import { aDomain, aMailbox } from '../helpers/builders.js';
import { csrfOf, loginAsMailbox, startTestServer, type TestServer } from '../helpers/server.js';

// Issue 21: the panel's bytes. Static files under content-hashed names, compressed at build time
// and kept by browsers for good; pages compressed as they are made, with the CSRF token masked in
// each (BREACH).

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

/** A response's bytes as they came over the wire (supertest would decode them). */
const raw = (path: string, acceptEncoding: string) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http
      .get(`${server.url}${path}`, { headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });

/** Every static URL a page names. */
const assetsOf = (html: string) => [...html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g), ...html.matchAll(/data-estimator="([^"]+)"/g)].flatMap((m) => m[1]!.split(' '));

describe('static files', () => {
  test('each under a hashed name, immutable for a year, brotli or gzip as the client takes, the same bytes decoded', async () => {
    const page = await request(server.url).get('/login');
    const urls = assetsOf(page.text);
    assert.equal(new Set(urls).size, 8, urls.join(' ')); // favicon, style, app and its words, three estimator files, the meter's hints in the page's language
    for (const url of new Set(urls)) {
      assert.match(url, /^\/assets\/[a-z-]+\.[0-9a-f]{12}\.(js|css|svg)$/);
      const plain = await raw(url, 'identity');
      const br = await raw(url, 'gzip, deflate, br');
      const gz = await raw(url, 'gzip');
      for (const r of [plain, br, gz]) {
        assert.equal(r.status, 200, url);
        assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
        assert.equal(r.headers.vary, 'Accept-Encoding');
      }
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(br.headers['content-encoding'], 'br');
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.deepEqual(zlib.brotliDecompressSync(br.body), plain.body);
      assert.deepEqual(zlib.gunzipSync(gz.body), plain.body);
      assert.ok((br.body).length < (plain.body).length, url);
      assert.equal(Number(br.headers['content-length']), (br.body).length);
      // A revalidation (a reload) costs no body.
      const again = await request(server.url).get(url).set('Accept-Encoding', 'br').set('If-None-Match', br.headers.etag!);
      assert.equal(again.status, 304);
    }
    // The content hash is the file's: the served style sheet is public/style.css as it is now.
    const style = urls.find((u) => u.includes('/style.'))!;
    assert.deepEqual((await raw(style, 'identity')).body, readFileSync('public/style.css'));
  });

  test('the strength meter\'s dictionaries (1.7 MB) travel as a fraction, and only when a password is typed', async () => {
    const box = await aMailbox(server.services, { domain: (await aDomain(server.services)).name });
    const agent = await loginAsMailbox(server.url, box.address, box.password);
    const account = (await agent.get('/account')).text;
    const [, estimator] = /data-estimator="([^"]+)"/.exec(account)!;
    let plain = 0;
    let sent = 0;
    for (const url of estimator!.split(' ')) {
      plain += ((await raw(url, 'identity')).body).length;
      sent += ((await raw(url, 'br')).body).length;
    }
    assert.ok(plain > 1_500_000, `${plain}`);
    assert.ok(sent < plain / 2, `${sent} of ${plain}`);
    // Not loaded by the page: no <script> names them (app.js fetches them on the first keystroke).
    assert.doesNotMatch(account, /<script src="\/assets\/zxcvbn/);
  });

  test('old and unknown names: 404; only GET and HEAD', async () => {
    for (const path of ['/app.js', '/style.css', '/vendor/zxcvbn-ts/core/zxcvbn-ts.js', '/assets/app.000000000000.js', '/assets/manifest.json', '/assets/../package.json']) {
      assert.equal((await request(server.url).get(path)).status, 404, path);
    }
    const url = assetsOf((await request(server.url).get('/login')).text)[0]!;
    const head = await request(server.url).head(url).set('Accept-Encoding', 'br');
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers['content-length']) > 0);
  });

  test('Accept-Encoding: brotli first, gzip next, q=0 refuses, nothing or unknown gets the file as it is', () => {
    assert.equal(chooseEncoding('gzip, deflate, br, zstd'), 'br');
    assert.equal(chooseEncoding('gzip'), 'gzip');
    assert.equal(chooseEncoding('br;q=0, gzip;q=0.5'), 'gzip');
    assert.equal(chooseEncoding('*'), 'gzip');
    assert.equal(chooseEncoding(undefined), 'identity');
    assert.equal(chooseEncoding('deflate'), 'identity');
    assert.equal(chooseEncoding('identity'), 'identity');
  });
});

describe('pages', () => {
  test('compressed for a client that takes it, and plain for one that does not', async () => {
    const br = await raw('/login', 'br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.match(zlib.brotliDecompressSync(br.body).toString(), /Email address/);
    const gz = await raw('/login', 'gzip');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const plain = await raw('/login', 'identity');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match((plain.body).toString(), /Email address/);
  });

  test('BREACH: the CSRF token differs in every page, each copy works, a changed one is refused', async () => {
    const agent = request.agent(server.url);
    const first = csrfOf((await agent.get('/login')).text);
    const second = csrfOf((await agent.get('/login')).text);
    assert.notEqual(first, second);
    const box = await aMailbox(server.services, { domain: (await aDomain(server.services)).name });
    // A bad password with either token is a form error (200), not a CSRF refusal (403).
    for (const token of [first, second]) {
      const res = await agent.post('/login').type('form').send({ email: box.address, password: 'wrong-Password-1', _csrf: token });
      assert.equal(res.status, 401, token);
    }
    const [pad, body] = first.split('.');
    const flipped = `${pad}.${Buffer.from(Buffer.from(body!, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url')}`;
    for (const token of [flipped, `${first}.x`, 'not-a-token', '']) {
      assert.equal((await agent.post('/login').type('form').send({ email: box.address, password: box.password, _csrf: token })).status, 403, token);
    }
  });
});
