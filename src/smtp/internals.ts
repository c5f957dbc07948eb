import type { Server as NetServer } from 'node:net';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { Closable } from './live-sessions.js';

// Every use of smtp-server's private parts, in one file. smtp-server is pinned to a minor range
// (package.json), and test/smtp/internals.test.ts fails when an update moves any of these.

/** An smtp-server connection: what a hook is not handed, but ending a session and fixing replies need. */
export type Connection = Closable & {
  session: SMTPServerSession;
  secure: boolean;
  send(code: number, data: string | string[], context?: string | false): void;
};

/** The open connections of a server (smtp-server keeps them in `connections`). */
export const connectionsOf = (server: SMTPServer): Set<Connection> => (server as unknown as { connections: Set<Connection> }).connections;

/** The listening socket of a server (`server`): its port, its errors, whether it still listens. */
export const netServerOf = (server: SMTPServer): NetServer => (server as unknown as { server: NetServer }).server;

/** How long `close` lets sessions finish before it ends them with 421 (`options.closeTimeout`). */
export const setCloseTimeout = (server: SMTPServer, ms: number) => {
  (server as unknown as { options: { closeTimeout: number } }).options.closeTimeout = ms;
};

/** The TLS version of a session (`tlsOptions`, false before TLS). */
export const tlsVersionOf = (session: SMTPServerSession): string => {
  const tls = (session as unknown as { tlsOptions?: { version?: string } | false }).tlsOptions;
  return tls ? (tls.version ?? 'TLS') : '';
};

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * smtp-server derives an enhanced status code from the reply code, which is wrong for some of
 * SPEC §6's replies (553 5.7.1, 550 5.6.0, 421 4.7.0, 538 5.7.11); a reply whose text already starts
 * with one is sent as it is. It also advertises AUTH before TLS; SPEC §6 advertises it only after.
 */
export function adjustConnection(conn: Connection) {
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

/** The connection of `session` among the servers' open connections. */
export function connectionOfSession(servers: readonly SMTPServer[], session: SMTPServerSession): Connection | null {
  for (const server of servers) for (const c of connectionsOf(server)) if (c.session === session) return c;
  return null;
}
