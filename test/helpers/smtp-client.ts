import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
  /** The whole reply, lines joined with \n. */
  text: string;
}

export interface ConnectOptions {
  implicitTls?: boolean;
  dataDir: string;
  servername?: string;
  /** A loopback source address other than 127.0.0.1, to act as another client. */
  localAddress?: string;
}

/**
 * A raw SMTP client for exact reply checks: one command, one reply. TLS is verified against the
 * server's own (self-signed) certificate and host name, as a client pinning it would.
 */
export class RawSmtp {
  private buffer = '';
  private waiting: Array<(r: Reply) => void> = [];
  private replies: Reply[] = [];
  private closedFlag = false;
  private socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  get closed() {
    return this.closedFlag;
  }

  private attach(socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d.toString('binary')));
    socket.on('close', () => {
      this.closedFlag = true;
    });
    socket.on('error', () => {
      this.closedFlag = true;
    });
  }

  private onData(chunk: string) {
    this.buffer += chunk;
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*)(\d{3}) ?([^\r\n]*)\r\n/.exec(this.buffer);
      if (!m) return;
      this.buffer = this.buffer.slice(m[0].length);
      const lines = m[0].trimEnd().split('\r\n');
      const reply = { code: Number(m[2]), lines, text: lines.join('\n') };
      const w = this.waiting.shift();
      if (w) w(reply);
      else this.replies.push(reply);
    }
  }

  /** The next reply from the server (within `ms`). */
  read(ms = 30_000): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SMTP reply within ${ms} ms`)), ms);
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  write(raw: string | Buffer) {
    this.socket.write(raw);
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  static async connect(port: number, { implicitTls = false, dataDir, servername = 'mail.test', localAddress }: ConnectOptions) {
    const ca = readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
    const plain = net.connect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => {
      plain.once('connect', () => resolve());
      plain.once('error', reject);
    });
    let socket: net.Socket = plain;
    if (implicitTls) {
      const secure = tls.connect({ socket: plain, ca, servername });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', reject);
      });
      socket = secure;
    }
    const client = new RawSmtp(socket);
    (client as unknown as { ca: Buffer; servername: string }).ca = ca;
    (client as unknown as { ca: Buffer; servername: string }).servername = servername;
    return client;
  }

  /** STARTTLS, then the TLS handshake over the same socket. */
  async startTls(): Promise<Reply> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) return r;
    const { ca, servername } = this as unknown as { ca: Buffer; servername: string };
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, ca, servername });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return r;
  }

  /** Greeting, EHLO and (on the STARTTLS port) STARTTLS + EHLO again: ready for AUTH. */
  static async ready(port: number, opts: ConnectOptions) {
    const c = await RawSmtp.connect(port, opts);
    const greeting = await c.read();
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
    await c.cmd('EHLO client.test');
    if (!opts.implicitTls) {
      await c.startTls();
      await c.cmd('EHLO client.test');
    }
    return c;
  }

  /** One AUTH PLAIN on a fresh implicit-TLS connection to `server`; the reply code (235, 535, 454...). */
  static async authCode(server: { smtpPorts: { smtps: number }; dataDir: string }, login: string, password: string): Promise<number> {
    const c = await RawSmtp.ready(server.smtpPorts.smtps, { implicitTls: true, dataDir: server.dataDir });
    try {
      return (await c.authPlain(login, password)).code;
    } finally {
      c.close();
    }
  }

  authPlain(login: string, password: string) {
    return this.cmd(`AUTH PLAIN ${Buffer.from(`\0${login}\0${password}`).toString('base64')}`);
  }

  close() {
    this.socket.destroy();
  }
}
