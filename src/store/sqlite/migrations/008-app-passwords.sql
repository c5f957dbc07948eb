-- SPEC §11: app passwords of a mailbox, for SMTP and (through Dovecot) IMAP. `tag` is the first
-- characters of the password, stored as they are: a login finds the one app password it may be
-- and verifies one hash, never one per app password.
CREATE TABLE app_passwords (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name          TEXT    NOT NULL,
  tag           TEXT    NOT NULL,
  password_hash TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  last_login_at INTEGER,
  last_login_ip TEXT,
  UNIQUE (account_id, tag)
);

-- With a second factor on, the mailbox password no longer logs in over IMAP: only app passwords.
DROP VIEW dovecot_passdb;
CREATE VIEW dovecot_passdb AS
SELECT a.login AS user, a.password_hash AS password, a.local_part AS username, d.name AS domain
FROM accounts a JOIN domains d ON d.id = a.domain_id
WHERE a.kind = 'mailbox' AND a.disabled = 0 AND d.verified = 1
  AND NOT EXISTS (SELECT 1 FROM second_factors f WHERE f.owner = 'mailbox:' || a.id)
  AND NOT EXISTS (SELECT 1 FROM passkeys k WHERE k.owner = 'mailbox:' || a.id);

-- App passwords of mailboxes that may log in, by their tag.
CREATE VIEW dovecot_app_passdb AS
SELECT a.login AS user, p.password_hash AS password, p.tag AS tag
FROM app_passwords p JOIN accounts a ON a.id = p.account_id JOIN domains d ON d.id = a.domain_id
WHERE a.kind = 'mailbox' AND a.disabled = 0 AND d.verified = 1;
