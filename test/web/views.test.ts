import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { renderWith, templateNames, Views } from '../../src/web/views.js';

// Issue 36.1: pages render through views.ts, not Express's render. What a template reads must be
// what ejs gave it before: the page's values over res.locals over app.locals, an include's values
// over its caller's, escaping, and nothing from Object.prototype.
let dir: string;
let app: express.Express;
let server: http.Server;

const raw = (url: string, acceptEncoding: string) =>
  new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${(server.address() as AddressInfo).port}${url}`, { headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailpass-views-'));
  mkdirSync(path.join(dir, 'partials'));
  const files: Record<string, string> = {
    'page.ejs': `<p><%= title %>|<%= who %>|<%= site %></p><%- include('/partials/row', { who: 'inner' }) %><%- include('/partials/row') %>`,
    'partials/row.ejs': `[<%= who %>/<%= title %><%- include('/partials/leaf', { depth: 2 }) %>]`,
    'partials/leaf.ejs': `(<%= who %>,<%= depth %>)`,
    'broken.ejs': `<%= missing.value %>`,
    // A function it declares, a var named as a value it is given, a global it calls, a global its
    // data may stand for, and a name nobody gave it.
    'names.ejs': `<% function twice(x) { return x + x; } var who = who + '!'; %><%= twice(who) %>|<%= encodeURIComponent('a b') %>|<%= typeof Date === 'number' ? 'data' : 'global' %>|<%= typeof nothing %>`,
    'big.ejs': `<% for (let i = 0; i < 200; i++) { %><p>row <%= i %> of a long page</p><% } %>`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  app = express();
  renderWith(app, new Views(dir));
  app.locals.site = 'app';
  app.locals.who = 'app-who';
  app.get('/page', (_req, res) => {
    res.locals.who = 'res-who';
    res.render('page', { title: '<T&"x">' });
  });
  app.get('/names', (req, res) => res.render('names', req.query.date ? { Date: 1 } : {}));
  app.get('/broken', (_req, res) => res.render('broken'));
  app.get('/big', (_req, res) => res.render('big'));
  app.get('/xml', (_req, res) => res.type('application/xml').render('big'));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).type('text/plain').send(err.message));
  server = app.listen(0, '127.0.0.1');
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('views', () => {
  test('a page reads its values over res.locals over app.locals, escaped; includes over their caller', async () => {
    const res = await request(app).get('/page').set('accept-encoding', 'identity');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers.etag, undefined, 'a page made for one session has no ETag');
    assert.equal(
      res.text,
      '<p>&lt;T&amp;&#34;x&#34;&gt;|res-who|app</p>' +
        '[inner/&lt;T&amp;&#34;x&#34;&gt;(inner,2)]' +
        '[res-who/&lt;T&amp;&#34;x&#34;&gt;(res-who,2)]',
    );
  });

  test('nothing added to Object.prototype stands in for what a template calls', async () => {
    // ejs's compiled function calls escapeFn and __append from inside with(locals): were the
    // locals' chain to reach Object.prototype, a polluted one would replace them.
    const proto = Object.prototype as Record<string, unknown>;
    proto.escapeFn = () => 'polluted';
    proto.__append = () => undefined;
    proto.include = () => 'polluted';
    try {
      const res = await request(app).get('/page').set('accept-encoding', 'identity');
      assert.equal(res.text, '<p>&lt;T&amp;&#34;x&#34;&gt;|res-who|app</p>[inner/&lt;T&amp;&#34;x&#34;&gt;(inner,2)][res-who/&lt;T&amp;&#34;x&#34;&gt;(res-who,2)]');
    } finally {
      delete proto.escapeFn;
      delete proto.__append;
      delete proto.include;
    }
  });

  test('HEAD: the headers of the page, no body', async () => {
    const get = await raw('/big', 'gzip');
    const head = await new Promise<http.IncomingMessage & { bytes: number }>((resolve, reject) => {
      const req = http.request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/big`, { method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve(Object.assign(res, { bytes })));
      });
      req.on('error', reject).end();
    });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.headers['content-encoding'], 'gzip');
    assert.equal(head.bytes, 0);
  });

  test('a template that throws goes to the error handler, naming its view', async () => {
    const res = await request(app).get('/broken');
    assert.equal(res.status, 500);
    assert.match(res.text, /Cannot read properties of undefined \(reading 'value'\) \(in view broken\)/);
  });

  test("a template's names: its functions and vars, the runtime's globals unless its data has them", async () => {
    // Templates read their data as variables, not through with(locals) (issue 36.1); what they read is the same.
    assert.equal((await request(app).get('/names').set('accept-encoding', 'identity')).text, 'app-who!app-who!|a%20b|global|undefined');
    assert.equal((await request(app).get('/names?date=1').set('accept-encoding', 'identity')).text, 'app-who!app-who!|a%20b|data|undefined');
  });

  test('templateNames: names read, not those in strings, comments, properties or declared functions', () => {
    const names = templateNames(`; var a = b.c + "d e" + 'f'; // g h\n /* i */ function j(k) { return Math.max(k, l) } __append(escapeFn(m))`);
    assert.deepEqual(names, { data: ['a', 'b', 'k', 'l', 'm'], globals: ['Math'] });
  });

  test('compressed in one piece as the client takes it: gzip first, brotli when only brotli', async () => {
    const plain = await request(app).get('/big').set('accept-encoding', 'identity');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(plain.headers.vary!, /Accept-Encoding/);
    const gz = await raw('/big', 'gzip, deflate, br');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), plain.text);
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    const br = await raw('/big', 'br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), plain.text);
    const typed = await raw('/xml', 'gzip');
    assert.equal(typed.headers['content-type'], 'application/xml; charset=utf-8', 'a type set before render stays');
    assert.equal(zlib.gunzipSync(typed.body).toString(), plain.text);
  });
});
