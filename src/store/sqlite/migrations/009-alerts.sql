-- Issue 17 (alerts): the networks (IPv4 /24, IPv6 /64) each panel owner has logged in from, so
-- that a login from a new one is told to its owner; kept as long as the owner exists.
CREATE TABLE login_networks (
  owner    TEXT    NOT NULL,
  network  TEXT    NOT NULL,
  first_at INTEGER NOT NULL,
  PRIMARY KEY (owner, network)
) WITHOUT ROWID;

-- Alerts the owner has not seen yet: shown on its next panel visit when no mail could tell it.
CREATE TABLE notices (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  owner   TEXT    NOT NULL,
  kind    TEXT    NOT NULL,
  detail  TEXT    NOT NULL,
  at      INTEGER NOT NULL
);
CREATE INDEX notices_owner ON notices (owner, id);
