-- SPEC §14: DKIM keys, two a set (Ed25519 and RSA-2048), each with its own selector. The private
-- key is kept here only (and in backups); the panel and the API show the public part.
CREATE TABLE dkim_keys (
  domain_id   INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  selector    TEXT    NOT NULL,
  algorithm   TEXT    NOT NULL CHECK (algorithm IN ('ed25519', 'rsa')),
  private_key TEXT    NOT NULL,
  public_key  TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (domain_id, selector)
) WITHOUT ROWID;
