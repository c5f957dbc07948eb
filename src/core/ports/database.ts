/** The database as a whole: what operations, the health check and the key's start-up ask of it. */
export interface Database {
  /** A consistent copy of the database, taken while it is in use. */
  backup(file: string): Promise<void>;
  /** Answers while the database can be read. */
  ping(): Promise<void>;
  /**
   * Issue 29: rewrites stored secrets in one transaction: each setting (`where`: its key), TOTP
   * secret (its owner) and DKIM private key (`<domain id>:<selector>`) is passed to `rewrite`, and
   * replaced when it returns a value. Returns how many were replaced.
   */
  rewriteSecrets(rewrite: (kind: 'setting' | 'totp' | 'dkim', where: string, value: string) => string | null): Promise<number>;
  close(): void;
}
