-- SPEC §11: second factors of the panel login, per owner (`mailbox:<id>` or `admin:<id>`, as
-- sessions name them). A TOTP secret must be readable to check a code, so it is stored as it is;
-- `last_step` makes each code work once. Recovery codes are stored as SHA-256 (they are random).
CREATE TABLE second_factors (
  owner      TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind IN ('totp')),
  secret     TEXT    NOT NULL,
  last_step  INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (owner, kind)
) WITHOUT ROWID;

CREATE TABLE recovery_codes (
  owner     TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  used_at   INTEGER,
  PRIMARY KEY (owner, code_hash)
) WITHOUT ROWID;
