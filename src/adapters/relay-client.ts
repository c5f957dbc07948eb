/**
 * A small SMTP client that speaks to the relay one command at a time.
 *
 * Why not nodemailer's SMTPConnection: a before-queue relay (Postfix's smtpd_proxy_filter model)
 * must hand each client command to the relay as it arrives and give the client the relay's own
 * reply to it: MAIL FROM now, each RCPT TO when the client sends it, DATA only once the client's
 * data begins. SMTPConnection's public API sends a whole envelope and message in one call
 * (`send(envelope, message)`) and decides itself what to do with refused recipients; its
 * per-command methods are private. So this client does the protocol part here, about 200 lines,
 * and nothing else: no queue, no retries, no pooling (the pool is in relay.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { RelayMisconfigured, RelayUnavailable } from '../core/ports.js';

export interface RelayReply {
  code: number;
  /** The reply's text lines without the code, e.g. ['2.0.0 Ok: queued as 4XyZ']. */
  lines: string[];
}

export interface RelayTarget {
  host: string;
  port: number;
  /** smtps: TLS from the first byte. */
  implicitTls: boolean;
  /** STARTTLS when offered ('may'), always ('required', refused without it), or never ('none'). */
  starttls: 'may' | 'required' | 'none';
  auth: { user: string; pass: string } | null;
  /** PEM CA certificates to verify the relay with, besides the system's. */
  ca?: string | Buffer;
  /** The name mailpass gives in EHLO. */
  heloName: string;
  timeoutMs: number;
}

/** One SMTP connection to the relay. Every method resolves with the relay's reply, or rejects with one of the errors above. */
export class RelayConnection {
  private socket: net.Socket;
  private buffer = '';
  private pending: { lines: string[] } = { lines: [] };
  private waiter: { resolve: (r: RelayReply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  /** Replies that arrived with nobody waiting (none should). */
  private early: RelayReply[] = [];
  closed = false;
  /** Whether the connection is between transactions and may go back to the pool. */
  reusable = true;

  private constructor(socket: net.Socket, private readonly target: RelayTarget) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects, reads the greeting, EHLO, STARTTLS when it should, EHLO again, AUTH when configured. */
  static async open(target: RelayTarget): Promise<RelayConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new RelayUnavailable(`no connection to ${target.host}:${target.port} within ${target.timeoutMs} ms`));
      }, target.timeoutMs);
      const done = (err?: Error) => {
        clearTimeout(timer);
        if (err) reject(new RelayUnavailable(`cannot connect to ${target.host}:${target.port}: ${err.message}`, { cause: err }));
        else resolve(s);
      };
      const s: net.Socket = target.implicitTls
        ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host, ca: target.ca ? [...tls.rootCertificates, String(target.ca)] : undefined }, () => done())
        : net.connect({ host: target.host, port: target.port }, () => done());
      s.once('error', (err) => done(err));
    });
    const conn = new RelayConnection(socket, target);
    try {
      await conn.handshake();
    } catch (err) {
      conn.destroy();
      throw err;
    }
    return conn;
  }

  private attach(socket: net.Socket) {
    // Lock-step commands and the end of data are small writes that wait for a reply: with Nagle's
    // algorithm each would wait for the relay's delayed ACK (40 ms on Linux), measured as a
    // 50 ms floor per relayed message.
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.setTimeout(this.target.timeoutMs, () => this.fail(new RelayUnavailable(`the relay did not answer within ${this.target.timeoutMs} ms`)));
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new RelayUnavailable(`relay connection failed: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new RelayUnavailable('the relay closed the connection')));
  }

  private onData(chunk: string) {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\r\n'); end >= 0; end = this.buffer.indexOf('\r\n')) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) return this.fail(new RelayUnavailable('the relay sent a line that is not an SMTP reply'));
      this.pending.lines.push(m[3]!);
      if (m[2] === ' ') {
        const reply = { code: Number(m[1]), lines: this.pending.lines };
        this.pending = { lines: [] };
        const w = this.waiter;
        this.waiter = null;
        if (w) w.resolve(reply);
        else this.early.push(reply);
      }
    }
    if (this.buffer.length > 64 * 1024) this.fail(new RelayUnavailable('the relay sent an over-long reply line'));
  }

  private fail(err: Error) {
    if (!this.failure) this.failure = err;
    this.closed = true;
    this.reusable = false;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
    this.socket.destroy();
  }

  /** The next reply from the relay. */
  read(): Promise<RelayReply> {
    if (this.early.length > 0) return Promise.resolve(this.early.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Sends one command line and reads its reply. */
  command(line: string): Promise<RelayReply> {
    if (this.failure) return Promise.reject(this.failure);
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  private async handshake() {
    const greeting = await this.read();
    if (greeting.code !== 220) throw new RelayUnavailable(`the relay greeted with ${greeting.code} ${greeting.lines.join(' ')}`);
    let ehlo = await this.command(`EHLO ${this.target.heloName}`);
    if (ehlo.code !== 250) throw new RelayUnavailable(`the relay refused EHLO: ${ehlo.code} ${ehlo.lines.join(' ')}`);
    const offers = (reply: RelayReply, word: string) => reply.lines.some((l) => l.toUpperCase().split(/\s+/)[0] === word);
    if (!this.target.implicitTls && this.target.starttls !== 'none') {
      if (offers(ehlo, 'STARTTLS')) {
        const r = await this.command('STARTTLS');
        if (r.code !== 220) throw new RelayMisconfigured(`the relay refused STARTTLS: ${r.code} ${r.lines.join(' ')}`);
        await this.upgrade();
        ehlo = await this.command(`EHLO ${this.target.heloName}`);
        if (ehlo.code !== 250) throw new RelayUnavailable(`the relay refused EHLO after STARTTLS: ${ehlo.code}`);
      } else if (this.target.starttls === 'required') {
        throw new RelayMisconfigured('the relay does not offer STARTTLS, which RELAY_URL requires (?tls=required)');
      }
    }
    if (this.target.auth) {
      const plain = Buffer.from(`\0${this.target.auth.user}\0${this.target.auth.pass}`).toString('base64');
      const r = await this.command(`AUTH PLAIN ${plain}`);
      if (r.code !== 235) throw new RelayMisconfigured(`the relay refused mailpass's login: ${r.code} ${r.lines.join(' ')}`);
    }
  }

  /**
   * STARTTLS: with tls=required the relay's certificate is verified (system CAs and the
   * configured CA); when TLS is only opportunistic it is not, as Postfix's smtp client does
   * with `smtp_tls_security_level = may`: encryption against passive listeners, no failure
   * where no verification was promised.
   */
  private async upgrade() {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    plain.setTimeout(0);
    const verify = this.target.starttls === 'required';
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect(
        {
          socket: plain,
          servername: net.isIP(this.target.host) ? undefined : this.target.host,
          rejectUnauthorized: verify,
          ca: this.target.ca ? [...tls.rootCertificates, String(this.target.ca)] : undefined,
        },
        () => resolve(s),
      );
      s.once('error', (err) => reject(verify ? new RelayMisconfigured(`TLS with the relay failed: ${err.message}`, { cause: err }) : new RelayUnavailable(`TLS with the relay failed: ${err.message}`, { cause: err })));
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** Writes message data (already dot-stuffed) without waiting for a reply. */
  write(chunk: Buffer | string): boolean {
    if (this.failure) return false;
    return this.socket.write(chunk);
  }

  /** Resolves once the socket can take more data (back-pressure from a slow relay slows the sender). */
  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        reject(this.failure ?? new RelayUnavailable('the relay closed the connection'));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /** Ends the session politely (QUIT), then closes. */
  quit() {
    if (this.failure) return;
    this.reusable = false;
    this.socket.end('QUIT\r\n');
    this.closed = true;
  }

  destroy() {
    this.closed = true;
    this.reusable = false;
    this.failure ??= new RelayUnavailable('closed by mailpass');
    this.socket.destroy();
  }
}
