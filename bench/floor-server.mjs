// The floor of `npm run bench:load` (BENCH_SERVER=floor): a server that does only what the
// runtime must do for the same traffic, speaking the same IPC as bench/server.mjs. SMTP: the
// commands the generator sends, STARTTLS with the server's certificate, AUTH taken without a
// check, each message written to the spool directory with one fsynced writeFile. Web: the pages
// the web users ask for, made and compressed once at start. No smtp-server, no Express, no
// database, no argon2, no session. What the real server measures beyond this is its own cost.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { loadTls } from '../dist/smtp/tls.js';
import { reportStats } from './process-stats.mjs';

const dataDir = process.env.DATA_DIR;
const spool = path.join(dataDir, 'spool');
mkdirSync(spool, { recursive: true });
const { key, cert } = await loadTls({ dataDir, hostname: process.env.SMTP_HOSTNAME ?? 'mail.test' });
const secureContext = tls.createSecureContext({ key, cert });

/** An SMTP session: one command a line; after DATA, everything up to the lone dot. */
function smtpSession(plain) {
  let socket = plain;
  let buffer = '';
  let data = null;
  const onData = (chunk) => {
    if (data !== null) {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n.\r\n');
      if (end === -1) return;
      const id = randomUUID();
      const message = data.slice(0, end + 2);
      data = null;
      writeFile(path.join(spool, `${id}.json`), message, { flush: true }).then(
        () => socket.write(`250 2.0.0 Ok: queued as ${id}\r\n`),
        () => socket.write('451 4.3.0 Not queued\r\n'),
      );
      return;
    }
    buffer += chunk.toString('latin1');
    let eol;
    while ((eol = buffer.indexOf('\r\n')) !== -1) {
      const line = buffer.slice(0, eol);
      buffer = buffer.slice(eol + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') socket.write('250-floor\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n');
      else if (verb === 'STAR') {
        socket.write('220 2.0.0 Ready to start TLS\r\n');
        socket.off('data', onData);
        socket = new tls.TLSSocket(plain, { isServer: true, secureContext });
        socket.on('data', onData);
        socket.on('error', () => socket.destroy());
      } else if (verb === 'AUTH') socket.write('235 2.7.0 Authentication successful\r\n');
      else if (verb === 'MAIL' || verb === 'RCPT') socket.write('250 2.1.0 Ok\r\n');
      else if (verb === 'DATA') {
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        data = buffer;
        buffer = '';
        return onData(Buffer.alloc(0));
      } else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
      else socket.write('502 5.5.2 Error: command not recognized\r\n');
    }
  };
  plain.on('data', onData);
  plain.on('error', () => plain.destroy());
  plain.write('220 floor ESMTP\r\n');
}

/** A page of about the account page's size, with the form token the generator looks for. */
const page = (title) =>
  `<!doctype html><html><head><title>${title}</title></head><body><form method="post"><input type="hidden" name="_csrf" value="${randomUUID()}"></form><table>` +
  Array.from({ length: 120 }, (_, i) => `<tr><td>2026-12-${String(1 + (i % 28)).padStart(2, '0')}</td><td>smtp</td><td>PLAIN</td><td>127.0.1.${i % 25}</td><td>TLSv1.3</td></tr>`).join('') +
  '</table></body></html>';
const bodies = Object.fromEntries(
  ['login', 'account'].map((name) => {
    const raw = Buffer.from(page(name));
    return [name, { raw, br: zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }), gzip: zlib.gzipSync(raw) }];
  }),
);
const sendPage = (req, res, name, headers = {}) => {
  const accept = req.headers['accept-encoding'] ?? '';
  const coding = /\bbr\b/.test(accept) ? 'br' : /\bgzip\b/.test(accept) ? 'gzip' : null;
  const body = coding ? bodies[name][coding] : bodies[name].raw;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...(coding ? { 'content-encoding': coding } : {}), ...headers });
  res.end(body);
};
const web = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (req.method === 'GET' && url === '/healthz') return res.end('ok');
  if (req.method === 'GET' && url === '/login') return sendPage(req, res, 'login', { 'set-cookie': `sid=${randomUUID()}; HttpOnly` });
  if (req.method === 'GET' && url === '/account') return sendPage(req, res, 'account');
  if (req.method === 'POST') {
    req.resume();
    return req.on('end', () => {
      if (url === '/login') {
        res.writeHead(303, { location: '/account', 'set-cookie': `sid=${randomUUID()}; HttpOnly` });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ password: randomUUID() }));
      }
    });
  }
  res.writeHead(404);
  res.end();
});
const smtp = net.createServer(smtpSession);
await Promise.all([new Promise((r) => web.listen(0, '127.0.0.1', r)), new Promise((r) => smtp.listen(0, '127.0.0.1', r))]);

const stopStats = reportStats((msg) => {
  if (msg.cmd === 'stop') {
    stopStats();
    process.exit(0);
  }
});
process.send({ cmd: 'ready', http: web.address().port, smtp: smtp.address().port, smtps: 0 });
