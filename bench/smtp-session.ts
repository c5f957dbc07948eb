import net from 'node:net';
import tls from 'node:tls';

/** A lean SMTP client over STARTTLS: one reply per command, every reply checked. */
export class Session {
  private socket: net.Socket;
  private buffer = '';
  private waiter: ((reply: string) => void) | null = null;
  private failure: ((err: Error) => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  private listen(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(this.buffer);
      if (m && this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        const reply = this.buffer;
        this.buffer = '';
        const lastLine = reply.lastIndexOf('\r\n', reply.length - 3);
        w(reply.slice(lastLine === -1 ? 0 : lastLine + 2));
      }
    });
    socket.on('error', (err) => this.failure?.(err));
    socket.on('close', () => this.failure?.(new Error('connection closed')));
  }

  private reply(ms = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within 30 s')), ms);
      this.waiter = (r) => {
        clearTimeout(timer);
        this.failure = null;
        resolve(r);
      };
      this.failure = (err) => {
        clearTimeout(timer);
        this.waiter = null;
        this.failure = null;
        reject(err);
      };
    });
  }

  async expect(line: string | null, code: number): Promise<string> {
    const r = this.reply();
    if (line !== null) this.socket.write(`${line}\r\n`);
    const text = await r;
    if (!text.startsWith(`${code} `)) throw new Error(`${line?.slice(0, 20) ?? 'greeting'}: ${text.trim()}`);
    return text;
  }

  static async open(port: number, ca: Buffer, login: string, password: string, localAddress = '127.0.0.1'): Promise<Session> {
    const plain = net.connect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => plain.once('connect', resolve).once('error', reject));
    const s = new Session(plain);
    await s.expect(null, 220);
    await s.expect('EHLO load.test', 250);
    await s.expect('STARTTLS', 220);
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = tls.connect({ socket: plain, ca, servername: 'mail.test' });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    s.socket = secure;
    s.listen(secure);
    await s.expect('EHLO load.test', 250);
    await s.expect(`AUTH PLAIN ${Buffer.from(`\0${login}\0${password}`).toString('base64')}`, 235);
    return s;
  }

  /** One message (its text ending in CRLF) to `rcpts`; resolves with the spool id of the 250 reply. */
  async send(from: string, message: string, rcpts = ['friend@example.net']): Promise<string> {
    await this.expect(`MAIL FROM:<${from}>`, 250);
    for (const rcpt of rcpts) await this.expect(`RCPT TO:<${rcpt}>`, 250);
    await this.expect('DATA', 354);
    const r = await this.expect(`${message}.`, 250);
    const id = /queued as ([0-9a-f-]{36})/.exec(r)?.[1];
    if (!id) throw new Error(`no spool id in ${r.trim()}`);
    return id;
  }

  async quit() {
    await this.expect('QUIT', 221).catch(() => {});
    this.socket.destroy();
  }

  destroy() {
    this.socket.destroy();
  }
}

