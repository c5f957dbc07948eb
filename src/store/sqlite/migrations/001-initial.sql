-- Domains, and the one login namespace of SMTP: mailboxes and application credentials are both
-- accounts, so a login can never resolve to two of them.
CREATE TABLE domains (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL UNIQUE,
  verified   INTEGER NOT NULL DEFAULT 1 CHECK (verified IN (0, 1)),
  created_at INTEGER NOT NULL
);

-- AUTOINCREMENT: an id is never reused, so a cache entry, a live SMTP session or a web session
-- of a deleted account can never match a new account that gets the same login.
CREATE TABLE accounts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  kind             TEXT    NOT NULL CHECK (kind IN ('mailbox', 'credential')),
  domain_id        INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  login            TEXT    NOT NULL UNIQUE,
  local_part       TEXT    NOT NULL,
  name             TEXT    NOT NULL DEFAULT '',
  guid             TEXT    UNIQUE,
  password_hash    TEXT    NOT NULL,
  password_version INTEGER NOT NULL DEFAULT 1,
  disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  last_login_at    INTEGER,
  last_login_ip    TEXT,
  CHECK ((kind = 'credential') = (guid IS NOT NULL))
);
-- The domain page lists and searches one kind of account of one domain in login order.
CREATE INDEX accounts_domain_kind_login ON accounts (domain_id, kind, login);

CREATE TABLE admins (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  username         TEXT    NOT NULL UNIQUE,
  password_hash    TEXT    NOT NULL,
  password_version INTEGER NOT NULL DEFAULT 1,
  is_super         INTEGER NOT NULL DEFAULT 0 CHECK (is_super IN (0, 1)),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);

CREATE TABLE admin_domains (
  admin_id  INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
  domain_id INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  PRIMARY KEY (admin_id, domain_id)
) WITHOUT ROWID;

CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
  name         TEXT    NOT NULL,
  prefix       TEXT    NOT NULL,
  token_hash   TEXT    NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX api_tokens_admin ON api_tokens (admin_id);

-- Web sessions, keyed by a SHA-256 of the session id (the id itself is never stored)
-- and indexed by owner so that a password change ends them all in its own transaction.
CREATE TABLE sessions (
  key        TEXT    PRIMARY KEY,
  owner      TEXT,
  data       TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_owner ON sessions (owner) WHERE owner IS NOT NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL,
  target TEXT    NOT NULL DEFAULT '',
  ip     TEXT,
  detail TEXT
);

-- Secrets of this installation that must survive restarts, such as the session cookie signing key.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
