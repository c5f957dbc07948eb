import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import tls from 'node:tls';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { adjustConnection, connectionOfSession, netServerOf, setCloseTimeout, tlsVersionOf, type Connection } from '../../src/smtp/internals.js';

// smtp-server's private parts that mailpass uses (src/smtp/internals.ts), on a bare smtp-server
// with its own test certificate: an update that moves any of them fails here first.

/** Reads SMTP replies off a socket, one whole reply at a time. */
function replies(socket: net.Socket | tls.TLSSocket) {
  let buffer = '';
  const waiting: Array<(line: string) => void> = [];
  const ready: string[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    for (let m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3} [^\r\n]*\r\n/.exec(buffer); m; m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3} [^\r\n]*\r\n/.exec(buffer)) {
      buffer = buffer.slice(m[0].length);
      const w = waiting.shift();
      if (w) w(m[0]);
      else ready.push(m[0]);
    }
  });
  return {
    next: () => (ready.length > 0 ? Promise.resolve(ready.shift()!) : new Promise<string>((resolve) => waiting.push(resolve))),
    cmd(line: string) {
      socket.write(`${line}\r\n`);
      return this.next();
    },
  };
}

test("smtp-server's private parts are where internals.ts reads them", { timeout: 15_000 }, async () => {
  let conn: Connection | null = null;
  let tlsVersion = '';
  let sessionSeen: SMTPServerSession | null = null;
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    hideENHANCEDSTATUSCODES: false,
    onConnect(session, callback) {
      sessionSeen = session;
      conn = connectionOfSession([server], session);
      if (conn) adjustConnection(conn);
      callback();
    },
    onMailFrom(_address, session, callback) {
      tlsVersion = tlsVersionOf(session);
      callback(Object.assign(new Error('5.7.1 Sender address not allowed for this login'), { responseCode: 553 }));
    },
  });
  const net0 = netServerOf(server);
  assert.ok(net0 instanceof net.Server, 'server.server is the listening net.Server');
  server.listen(0, '127.0.0.1');
  await once(net0, 'listening');
  try {
    assert.equal(net0.listening, true);
    const port = (net0.address() as net.AddressInfo).port;
    const plain = net.connect(port, '127.0.0.1');
    const r = replies(plain);
    assert.match(await r.next(), /^220 /);
    assert.ok(conn, 'the session is found among server.connections');
    const c = conn as Connection;
    assert.equal(c.session, sessionSeen);
    assert.equal(typeof c.send, 'function');
    assert.equal(typeof c.close, 'function');
    assert.equal(c.secure, false);
    assert.equal(tlsVersionOf(sessionSeen!), '', 'no TLS yet: tlsOptions is false');
    // AUTH is not advertised before TLS (the EHLO reply passes through conn.send).
    const ehlo = await r.cmd('EHLO client.example');
    assert.match(ehlo, /STARTTLS/);
    assert.doesNotMatch(ehlo, /AUTH/);
    assert.match(await r.cmd('STARTTLS'), /^220 /);
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await once(secure, 'secureConnect');
    const s = replies(secure);
    assert.match(await s.cmd('EHLO client.example'), /^250/);
    // A reply whose text starts with an enhanced code is sent as it is (not given a second one).
    assert.equal(await s.cmd('MAIL FROM:<a@example.com>'), '553 5.7.1 Sender address not allowed for this login\r\n');
    assert.match(tlsVersion, /^TLSv1\.[23]$/, 'tlsOptions.version after STARTTLS');
    // close() lets a session finish for options.closeTimeout (30 s unless set), then ends it with 421.
    setCloseTimeout(server, 50);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    assert.match(await s.next(), /^421 /);
    await closed;
  } catch (err) {
    server.close();
    throw err;
  }
});
