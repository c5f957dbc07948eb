-- SPEC §14 (SQLite's 011): DKIM keys, two a set (Ed25519 and RSA-2048), each with its own selector.
CREATE TABLE dkim_keys (
  domain_id   BIGINT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  selector    TEXT   NOT NULL,
  algorithm   TEXT   NOT NULL CHECK (algorithm IN ('ed25519', 'rsa')),
  private_key TEXT   NOT NULL,
  public_key  TEXT   NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (domain_id, selector)
);
