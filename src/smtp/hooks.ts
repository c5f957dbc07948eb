import type { SMTPServer, SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { UnavailableError } from '../core/errors.js';
import { addressKey } from '../core/login-names.js';
import type { Logger } from '../core/ports.js';
import type { Services } from '../services.js';
import type { Closable, LiveSessions, SessionUser } from './live-sessions.js';
import { headerFromAddresses } from './header-from.js';
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
}


const clientIp = (session: SMTPServerSession) => session.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';

/** The smtp-server hooks, over the core: the only place where its callbacks meet promises. */
export function createHooks(servers: () => Server[], { services, live, spool, log, maxMessageBytes, maxClientsPerIp }: HookDeps) {
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
        log.error({ err }, 'smtp hook failed');
        callback(REPLIES.unavailable());
      },
    );
  };

  const authenticate = async (auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SMTPServerAuthenticationResponse> => {
    const result = await services.logins.attempt({ protocol: 'smtp', name: auth.username, password: auth.password, ip: clientIp(session) });
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

  const receive = async (stream: SMTPServerDataStream, session: SMTPServerSession) => {
    const user = session.user as unknown as SessionUser;
    const conn = connectionOf(session);
    if (conn) live.setInMessage(conn, true);
    try {
      // As Postfix's sender-login checks do for envelopes: each From: of the message must be an
      // address the login may send as, or any other address could be forged past the envelope check.
      // A message without one is let through (RFC 5322 wants one, but refusing is the receiver's call).
      const headersAllowed = (headers: string) => {
        const from = headerFromAddresses(headers);
        return from.every((address) => mayUseSender(user, address));
      };
      const result = await spool.accept(
        stream,
        {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          login: user.login,
          clientAddress: clientIp(session),
          receivedAt: services.clock.now(),
        },
        headersAllowed,
      );
      if (!result.ok) {
        if (result.reason === 'too-large') throw REPLIES.tooLarge(maxMessageBytes);
        if (result.reason === 'sender-not-allowed') throw REPLIES.headerFromNotAllowed();
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
      callback();
    },
    onRcptTo(_address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      if (!session.user) return callback(REPLIES.authRequired());
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(REPLIES.tooManyRecipients());
      callback();
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
      const conn = connectionOf(session);
      connections.delete(session.id);
      if (conn) live.remove(conn);
    },
  };
}
