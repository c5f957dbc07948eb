/** Who owns a web session; every session of an owner ends with its password change. */
export type SessionOwner = `mailbox:${number}` | `admin:${number}`;

export interface SessionRow {
  data: string;
  expiresAt: number;
}

/** Web sessions, each with its owner (SPEC §4): the writes that end an owner's sessions are its account's. */
export interface SessionStore {
  getSession(key: string, now: number): Promise<SessionRow | null>;
  setSession(key: string, owner: SessionOwner | null, data: string, expiresAt: number): Promise<void>;
  touchSession(key: string, expiresAt: number): Promise<void>;
  destroySession(key: string): Promise<void>;
  countSessions(owner: SessionOwner): Promise<number>;
  pruneSessions(now: number): Promise<number>;
}
