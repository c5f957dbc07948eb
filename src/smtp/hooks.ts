import type { SMTPServer, SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { randomBytes } from 'node:crypto';
import { UnavailableError } from '../core/errors.js';
import { addressKey } from '../core/login-names.js';
import { RelayMisconfigured, RelayUnavailable, type Logger, type Relay, type RelayTransaction } from '../core/ports.js';
import type { Services } from '../services.js';
import type { Closable, LiveSessions, SessionUser } from './live-sessions.js';
import { headerFromAddresses } from './header-from.js';
import { HeaderBlock, LineEndings, MAX_HEADER_BYTES } from './message-checks.js';
import { receivedHeader } from './trace.js';
import type { Spool } from './spool.js';

/** An SMTP reply from a hook: smtp-server sends `responseCode` and the message (which starts with our enhanced code). */
export class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const REPLIES = {
  badCredentials: () => new SmtpReply(535, '5.7.8 Authentication credentials invalid'),
  lockedOut: () => new SmtpReply(454, '4.7.0 Too many failed authentication attempts, try again later'),
  unavailable: () => new SmtpReply(451, '4.3.0 Temporary server error, try again later'),
  busy: () => new SmtpReply(451, '4.3.0 Too many logins in progress from this address, try again later'),
  authRequired: () => new SmtpReply(530, '5.7.0 Authentication required'),
  senderNotAllowed: () => new SmtpReply(553, '5.7.1 Sender address not allowed for this login'),
  bareLineEnding: () => new SmtpReply(550, '5.6.0 Message refused: bare LF or CR in message data'),
  tooLarge: (max: number) => new SmtpReply(552, `5.3.4 Message exceeds the maximum size of ${max} bytes`),
  tooManyRecipients: () => new SmtpReply(452, '4.5.3 Too many recipients'),
  tooManyConnections: () => new SmtpReply(421, '4.7.0 Too many connections from your address, try again later'),
  headerFromNotAllowed: () => new SmtpReply(553, '5.7.1 From: header address not allowed for this login'),
  headerTooLong: () => new SmtpReply(552, `5.6.0 Message refused: header block longer than ${MAX_HEADER_BYTES} bytes, its From: cannot be checked`),
  relayUnavailable: () => new SmtpReply(451, '4.4.1 The mail relay cannot be reached, try again later'),
  relayMisconfigured: () => new SmtpReply(451, '4.7.0 The mail relay refused this server, try again later'),
};

const MAX_RECIPIENTS = 100;
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

type Connection = Closable & { session: SMTPServerSession; secure: boolean; send(code: number, data: string | string[], context?: string | false): void };
type Server = SMTPServer & { connections: Set<Connection> };

/**
 * smtp-server derives an enhanced status code from the reply code, which is wrong for some of
 * SPEC §6's replies (553 5.7.1, 550 5.6.0, 421 4.7.0, 538 5.7.11); a reply whose text already starts with
 * one is sent as it is. It also advertises AUTH before TLS; SPEC §6 advertises it only after.
 */
function adjustConnection(conn: Connection) {
  const send = conn.send.bind(conn);
  conn.send = (code, data, context) => {
    if (typeof data === 'string' && ENHANCED.test(data)) return send(code, data, false);
    // RFC 5248: 5.7.11, encryption required for the requested authentication mechanism.
    if (code === 538) return send(538, '5.7.11 Must issue a STARTTLS command first', false);
    if (code === 250 && Array.isArray(data) && !conn.secure) {
      return send(code, data.filter((line) => !/^AUTH\b/.test(line)), context);
    }
    return send(code, data, context);
  };
}

export interface HookDeps {
  services: Services;
  live: LiveSessions;
  spool: Spool;
  log: Logger;
  maxMessageBytes: number;
  /** Connections one client address (an IPv6 /64) may hold at once. */
  maxClientsPerIp: number;
  /** SPEC §9: the relay accepted mail goes to, command by command; null: it is spooled. */
  relay: Relay | null;
  /** The name in the Received: header of relayed mail. */
  hostname: string;
  /** SMTP_TRACE_CLIENT_IP: the client's address in that header. */
  traceClientIp: boolean;
}


const clientIp = (session: SMTPServerSession) => session.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';

/** The smtp-server hooks, over the core: the only place where its callbacks meet promises. */
export function createHooks(servers: () => Server[], { services, live, spool, log, maxMessageBytes, maxClientsPerIp, relay, hostname, traceClientIp }: HookDeps) {
  // The open relay transaction of each session, from MAIL FROM to the end of its data.
  const transactions = new Map<string, RelayTransaction>();
  const endTransaction = (session: SMTPServerSession) => {
    const tx = transactions.get(session.id);
    transactions.delete(session.id);
    tx?.release();
  };
  // smtp-server hands hooks the session, not the connection; ending a session needs the connection.
  const connections = new Map<string, Connection>();
  // Connections per client address key, and the key each counted session was counted under.
  const perAddress = new Map<string, number>();
  const counted = new Map<string, string>();
  const connectionOf = (session: SMTPServerSession) => connections.get(session.id) ?? null;

  const reply = <T>(promise: Promise<T>, callback: (err: Error | null, value?: T) => void) => {
    promise.then(
      (value) => callback(null, value),
      (err: unknown) => {
        if (err instanceof SmtpReply) return callback(err);
        if (err instanceof UnavailableError) return callback(REPLIES.unavailable());
        if (err instanceof RelayUnavailable) {
          log.warn({ err: err.message }, 'relay unavailable');
          return callback(REPLIES.relayUnavailable());
        }
        // The relay adapter logged it, with RELAY_URL (its password masked).
        if (err instanceof RelayMisconfigured) return callback(REPLIES.relayMisconfigured());
        log.error({ err }, 'smtp hook failed');
        callback(REPLIES.unavailable());
      },
    );
  };

  const authenticate = async (auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SMTPServerAuthenticationResponse> => {
    const tls = (session as unknown as { tlsOptions?: { version?: string } | false }).tlsOptions;
    const result = await services.logins.attempt({
      protocol: 'smtp',
      name: auth.username,
      password: auth.password,
      ip: clientIp(session),
      mechanism: auth.method,
      tls: tls ? (tls.version ?? 'TLS') : '',
    });
    if (!result.ok) {
      if (result.reason === 'locked') throw REPLIES.lockedOut();
      if (result.reason === 'busy') throw REPLIES.busy();
      throw REPLIES.badCredentials();
    }
    if (result.principal.kind !== 'account') throw REPLIES.badCredentials();
    const { account } = result.principal;
    const user: SessionUser = {
      accountId: account.id,
      login: account.login,
      kind: account.kind,
      domainName: account.domainName,
      passwordVersion: account.passwordVersion,
      ...(result.appPasswordId !== undefined ? { appPasswordId: result.appPasswordId } : {}),
    };
    const conn = connectionOf(session);
    if (conn) live.add(conn, user);
    return { user };
  };

  const mayUseSender = (user: SessionUser, address: string) => {
    const from = address.toLowerCase();
    if (user.kind === 'mailbox') return from === user.login;
    return from.slice(from.lastIndexOf('@') + 1) === user.domainName;
  };

  // As Postfix's sender-login checks do for envelopes: each From: of the message must be an
  // address the login may send as, or any other address could be forged past the envelope check.
  // A message without one is let through (RFC 5322 wants one, but refusing is the receiver's call).
  const headersAllowed = (user: SessionUser) => (headers: string) => headerFromAddresses(headers).every((address) => mayUseSender(user, address));

  /** MAIL FROM on the relay (a transaction begins); its verdict is the client's. */
  const relayMailFrom = async (session: SMTPServerSession, address: string) => {
    let tx = transactions.get(session.id);
    if (!tx) transactions.set(session.id, (tx = await relay!.begin()));
    try {
      const verdict = await tx.mailFrom(address);
      if (verdict.code >= 400) throw new SmtpReply(verdict.code, verdict.text);
    } catch (err) {
      endTransaction(session);
      throw err;
    }
  };

  const relayRcptTo = async (session: SMTPServerSession, address: string) => {
    const tx = transactions.get(session.id);
    if (!tx) throw REPLIES.relayUnavailable();
    try {
      const verdict = await tx.rcptTo(address);
      if (verdict.code >= 400) throw new SmtpReply(verdict.code, verdict.text);
    } catch (err) {
      if (!(err instanceof SmtpReply)) endTransaction(session);
      throw err;
    }
  };

  /**
   * DATA through the relay: the header block is read first and checked (the relay never sees a
   * refused message); then DATA, the trace header and the message go to the relay as they arrive,
   * and the relay's reply to the end of data is the client's. A message found bad at its end (a
   * bare LF, too large) is never ended on the relay, which then discards it.
   */
  const relayData = async (stream: SMTPServerDataStream, session: SMTPServerSession, user: SessionUser) => {
    const tx = transactions.get(session.id);
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const drain = async () => {
      for (let r = await chunks.next(); !r.done; r = await chunks.next());
    };
    try {
      if (!tx) throw REPLIES.relayUnavailable();
      const endings = new LineEndings();
      const head = new HeaderBlock();
      let bytes = 0;
      const feed = (chunk: Buffer) => {
        endings.feed(chunk);
        head.feed(chunk);
        bytes += chunk.length;
        return bytes <= maxMessageBytes;
      };
      const first: Buffer[] = [];
      while (!head.done) {
        const r = await chunks.next();
        if (r.done) break;
        if (feed(r.value)) first.push(r.value);
      }
      // Nothing goes to the relay (and so nothing is signed) that the From: check did not read whole.
      if (head.tooLong) throw REPLIES.headerTooLong();
      if (endings.bad) throw REPLIES.bareLineEnding();
      if (!headersAllowed(user)(head.text)) throw REPLIES.headerFromNotAllowed();
      const trace = receivedHeader({
        helo: session.hostNameAppearsAs ?? '',
        clientIp: traceClientIp ? clientIp(session) : null,
        hostname,
        id: randomBytes(8).toString('hex'),
        date: new Date(services.clock.now() * 1000),
      });
      async function* message() {
        yield Buffer.from(trace, 'latin1');
        yield* first;
        // Past a bare CR or LF nothing more goes to the relay: the message is refused at its end anyway.
        for (let r = await chunks.next(); !r.done; r = await chunks.next()) if (feed(r.value) && !endings.bad) yield r.value;
        endings.end();
      }
      const complete = () => !endings.bad && !stream.sizeExceeded && bytes <= maxMessageBytes;
      // SPEC §14: mail of a domain with DKIM keys is held whole (at most SMTP_MAX_MESSAGE_BYTES)
      // and goes out with its signatures on top; other mail streams through as it comes.
      const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const senderDomain = sender.slice(sender.lastIndexOf('@') + 1);
      async function* signed(sign: (message: Buffer) => Promise<string>) {
        const parts: Buffer[] = [];
        for await (const part of message()) parts.push(part);
        const whole = Buffer.concat(parts);
        const signatures = complete() ? await sign(whole).catch((err: unknown) => (log.warn({ err }, 'DKIM signing failed'), '')) : '';
        if (signatures) yield Buffer.from(signatures, 'latin1');
        yield whole;
      }
      const signer = senderDomain === '' ? null : await services.dkim.signerFor(senderDomain);
      const verdict = await tx.data(signer ? signed(signer) : message(), complete);
      if (verdict === null) throw endings.bad ? REPLIES.bareLineEnding() : REPLIES.tooLarge(maxMessageBytes);
      if (verdict.code >= 400) throw new SmtpReply(verdict.code, verdict.text);
      log.info({ session: session.id, bytes, login: user.login, relay: verdict.text }, 'message relayed');
      return verdict.text;
    } finally {
      await drain();
      endTransaction(session);
    }
  };

  const receive = async (stream: SMTPServerDataStream, session: SMTPServerSession) => {
    const user = session.user as unknown as SessionUser;
    const conn = connectionOf(session);
    if (conn) live.setInMessage(conn, true);
    try {
      if (relay) return await relayData(stream, session, user);
      const result = await spool.accept(
        stream,
        {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          login: user.login,
          clientAddress: clientIp(session),
          receivedAt: services.clock.now(),
        },
        headersAllowed(user),
      );
      if (!result.ok) {
        if (result.reason === 'too-large') throw REPLIES.tooLarge(maxMessageBytes);
        if (result.reason === 'sender-not-allowed') throw REPLIES.headerFromNotAllowed();
        if (result.reason === 'header-too-long') throw REPLIES.headerTooLong();
        throw REPLIES.bareLineEnding();
      }
      log.info({ session: session.id, spoolId: result.id, bytes: result.bytes, login: user.login }, 'message spooled');
      return `2.0.0 Message queued as ${result.id}`;
    } finally {
      if (conn) {
        live.setInMessage(conn, false);
        // The reply to this message goes out first; then the session of a changed account ends.
        if (live.mustEndAfterMessage(conn)) setImmediate(() => live.endNow(conn));
      }
    }
  };

  return {
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const key = addressKey(clientIp(session));
      const held = perAddress.get(key) ?? 0;
      if (held >= maxClientsPerIp) return callback(REPLIES.tooManyConnections());
      perAddress.set(key, held + 1);
      counted.set(session.id, key);
      for (const server of servers()) {
        for (const c of server.connections) {
          if (c.session === session) {
            adjustConnection(c);
            connections.set(session.id, c);
          }
        }
      }
      callback();
    },
    onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) {
      reply(authenticate(auth, session), callback);
    },
    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const user = session.user as unknown as SessionUser | undefined;
      if (!user) return callback(REPLIES.authRequired());
      if (!mayUseSender(user, address.address)) return callback(REPLIES.senderNotAllowed());
      if (!relay) return callback();
      reply(relayMailFrom(session, address.address), callback);
    },
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      if (!session.user) return callback(REPLIES.authRequired());
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(REPLIES.tooManyRecipients());
      if (!relay) return callback();
      reply(relayRcptTo(session, address.address), callback);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      if (!session.user) {
        stream.resume();
        return callback(REPLIES.authRequired());
      }
      reply(receive(stream, session), callback);
    },
    onClose(session: SMTPServerSession) {
      const key = counted.get(session.id);
      if (key !== undefined) {
        counted.delete(session.id);
        const left = (perAddress.get(key) ?? 1) - 1;
        if (left > 0) perAddress.set(key, left);
        else perAddress.delete(key);
      }
      endTransaction(session);
      const conn = connectionOf(session);
      connections.delete(session.id);
      if (conn) live.remove(conn);
    },
  };
}
