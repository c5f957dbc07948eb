-- SPEC §11: passkeys (WebAuthn) as a second factor of the panel login, per owner. `id` is the
-- credential ID (base64url), `public_key` its COSE key; `counter` rejects a cloned authenticator.
CREATE TABLE passkeys (
  id           TEXT    PRIMARY KEY,
  owner        TEXT    NOT NULL,
  public_key   BLOB    NOT NULL,
  counter      INTEGER NOT NULL DEFAULT 0,
  transports   TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_owner ON passkeys (owner);
