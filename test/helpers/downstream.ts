import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { loadTls } from '../../src/smtp/tls.js';

export interface Received {
  from: string;
  to: string[];
  data: string;
  secure: boolean;
  user: string | null;
}

/** What the downstream answers to the end of data, set by each test. */
export type DataMode = 'accept' | 'reject' | 'defer' | 'drop' | 'stall';

/**
 * A scriptable downstream relay for the relay tests: a real smtp-server on 127.0.0.1:0 that refuses,
 * defers, stalls or drops on cue, and records every message it accepted.
 */
export async function startDownstream({ tlsDir, auth }: { tlsDir?: string; auth?: { user: string; pass: string } } = {}) {
  const received: Received[] = [];
  const state = {
    dataMode: 'accept' as DataMode,
    /** Recipients refused at RCPT TO, with the reply to give. */
    refuse: new Map<string, { code: number; text: string }>(),
    /** Connections open now, and the most seen at once. */
    open: 0,
    peak: 0,
    /** Each message's data as it began to arrive (also those never ended). */
    started: 0,
    /** Message data bytes received, of every message (also those never ended). */
    bytes: 0,
  };
  const tls = tlsDir ? await loadTls({ dataDir: tlsDir, hostname: 'relay.test' }) : null;
  const options: SMTPServerOptions = {
    name: 'relay.test',
    secure: false,
    authOptional: !auth,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: tls ? [] : ['STARTTLS'],
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    logger: false,
    onConnect(_session, cb) {
      state.open++;
      state.peak = Math.max(state.peak, state.open);
      cb();
    },
    onClose() {
      state.open--;
    },
    onAuth(a, _session, cb) {
      if (auth && a.username === auth.user && a.password === auth.pass) return cb(null, { user: a.username });
      cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, cb) {
      const refusal = state.refuse.get(address.address);
      if (refusal) return cb(Object.assign(new Error(refusal.text), { responseCode: refusal.code }));
      cb();
    },
    onData(stream, session, cb) {
      state.started++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        state.bytes += c.length;
        if (state.dataMode === 'drop') dropAll();
      });
      stream.on('end', () => {
        const mode = state.dataMode;
        if (mode === 'stall' || mode === 'drop') return;
        if (mode === 'reject') return cb(Object.assign(new Error('5.7.1 Message refused by policy'), { responseCode: 554 }));
        if (mode === 'defer') return cb(Object.assign(new Error('4.3.0 Try again later'), { responseCode: 451 }));
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          user: (session.user as string | undefined) ?? null,
        });
        cb(null, `2.0.0 Ok: queued as Q${received.length}`);
      });
    },
  };
  const server = new SMTPServer(options);
  const sockets = new Set<import('node:net').Socket>();
  const net = (server as unknown as { server: import('node:net').Server }).server;
  net.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (net.address() as AddressInfo).port;
  return {
    port,
    received,
    state,
    async stop() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
