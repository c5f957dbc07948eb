import type { SMTPServer, SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { UnavailableError } from '../core/errors.js';
import { addressKey } from '../core/login-names.js';
import { MAX_HEADER_BYTES } from '../core/message-checks.js';
import { RelayMisconfigured, RelayUnavailable, type Logger } from '../core/ports.js';
import { RelayRefused, SubmissionRefused, type RefusalReason, type SubmissionSession } from '../core/submission.js';
import type { Services } from '../services.js';
import { adjustConnection, connectionOfSession, tlsVersionOf, type Connection } from './internals.js';
import type { LiveSessions, SessionUser } from './live-sessions.js';

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
  tooManyConnections: () => new SmtpReply(421, '4.7.0 Too many connections from your address, try again later'),
  relayUnavailable: () => new SmtpReply(451, '4.4.1 The mail relay cannot be reached, try again later'),
  relayMisconfigured: () => new SmtpReply(451, '4.7.0 The mail relay refused this server, try again later'),
};

/** The submission use case's refusals, in SPEC §6, §9 and §15's replies. */
const REFUSALS: Record<RefusalReason, (maxBytes: number) => SmtpReply> = {
  'sender-not-allowed': () => new SmtpReply(553, '5.7.1 Sender address not allowed for this login'),
  'header-from-not-allowed': () => new SmtpReply(553, '5.7.1 From: header address not allowed for this login'),
  'header-too-long': () => new SmtpReply(552, `5.6.0 Message refused: header block longer than ${MAX_HEADER_BYTES} bytes, its From: cannot be checked`),
  'bare-line-ending': () => new SmtpReply(550, '5.6.0 Message refused: bare LF or CR in message data'),
  'too-large': (max) => new SmtpReply(552, `5.3.4 Message exceeds the maximum size of ${max} bytes`),
  'too-many-recipients': () => new SmtpReply(452, '4.5.3 Too many recipients'),
  'limit-reached': () => new SmtpReply(451, '4.7.1 Sending limit reached, try again later'),
  'relay-unavailable': () => REPLIES.relayUnavailable(),
};

export interface HookDeps {
  services: Services;
  live: LiveSessions;
  log: Logger;
  maxMessageBytes: number;
  /** Connections one client address (an IPv6 /64) may hold at once. */
  maxClientsPerIp: number;
}

const clientIp = (session: SMTPServerSession) => session.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';

/**
 * The smtp-server hooks over the core: the only place where its callbacks meet promises. They
 * translate: a login to `logins.attempt`, each mail command to the submission use case, and
 * every answer back into an SMTP reply.
 */
export function createHooks(servers: () => SMTPServer[], { services, live, log, maxMessageBytes, maxClientsPerIp }: HookDeps) {
  // The submission of each authenticated session.
  const submissions = new Map<string, SubmissionSession>();
  // smtp-server hands hooks the session, not the connection; ending a session needs the connection.
  const connections = new Map<string, Connection>();
  // Connections per client address key, and the key each counted session was counted under.
  const perAddress = new Map<string, number>();
  const counted = new Map<string, string>();

  const reply = <T>(promise: Promise<T>, callback: (err: Error | null, value?: T) => void) => {
    promise.then(
      (value) => callback(null, value),
      (err: unknown) => {
        if (err instanceof SmtpReply) return callback(err);
        if (err instanceof SubmissionRefused) return callback(REFUSALS[err.reason](maxMessageBytes));
        if (err instanceof RelayRefused) return callback(new SmtpReply(err.verdict.code, err.verdict.text));
        if (err instanceof UnavailableError) return callback(REPLIES.unavailable());
        if (err instanceof RelayUnavailable) {
          log.warn({ err: err.message }, 'relay unavailable');
          return callback(REPLIES.relayUnavailable());
        }
        // The relay adapter logged it, with RELAY_URL (its password masked).
        if (err instanceof RelayMisconfigured) return callback(REPLIES.relayMisconfigured());
        // smtp-server ends the message's stream so when the client goes away in the middle of
        // DATA: ordinary (a dropped phone, a killed script), and nothing of the message was kept.
        if ((err as { code?: unknown }).code === 'ECONNECTION') {
          log.debug({ err: (err as Error).message }, 'client left during its message');
          return callback(REPLIES.unavailable());
        }
        log.error({ err }, 'smtp hook failed');
        callback(REPLIES.unavailable());
      },
    );
  };

  const authenticate = async (auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SMTPServerAuthenticationResponse> => {
    const result = await services.logins.attempt({
      protocol: 'smtp',
      name: auth.username,
      password: auth.password,
      ip: clientIp(session),
      mechanism: auth.method,
      tls: tlsVersionOf(session),
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
    // The client left while its password was verified: a session that ended keeps nothing here,
    // or its submission would stay in the map for good.
    if (!counted.has(session.id)) return { user };
    submissions.get(session.id)?.close();
    submissions.set(
      session.id,
      services.submission.open(user, {
        id: session.id,
        ip: clientIp(session),
        get helo() {
          return session.hostNameAppearsAs ?? '';
        },
      }),
    );
    const conn = connections.get(session.id);
    if (conn) live.add(conn, user);
    return { user };
  };

  const receive = async (stream: SMTPServerDataStream, session: SMTPServerSession, submission: SubmissionSession) => {
    const conn = connections.get(session.id);
    if (conn) live.setInMessage(conn, true);
    try {
      return await submission.data(stream, () => stream.sizeExceeded, {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcptTo: session.envelope.rcptTo.map((r) => r.address),
      });
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
      const conn = connectionOfSession(servers(), session);
      if (conn) {
        adjustConnection(conn);
        connections.set(session.id, conn);
      }
      callback();
    },
    onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) {
      reply(authenticate(auth, session), callback);
    },
    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const submission = submissions.get(session.id);
      if (!session.user || !submission) return callback(REPLIES.authRequired());
      reply(submission.mailFrom(address.address), callback);
    },
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const submission = submissions.get(session.id);
      if (!session.user || !submission) return callback(REPLIES.authRequired());
      reply(submission.rcptTo(address.address), callback);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const submission = submissions.get(session.id);
      if (!session.user || !submission) {
        stream.resume();
        return callback(REPLIES.authRequired());
      }
      reply(receive(stream, session, submission), callback);
    },
    onClose(session: SMTPServerSession) {
      const key = counted.get(session.id);
      if (key !== undefined) {
        counted.delete(session.id);
        const left = (perAddress.get(key) ?? 1) - 1;
        if (left > 0) perAddress.set(key, left);
        else perAddress.delete(key);
      }
      submissions.get(session.id)?.close();
      submissions.delete(session.id);
      const conn = connections.get(session.id);
      connections.delete(session.id);
      if (conn) live.remove(conn);
    },
  };
}
