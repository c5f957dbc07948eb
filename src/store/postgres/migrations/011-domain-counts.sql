-- Issue 36: each domain's mailboxes and credentials counted as they come and go, so that the
-- domain list and the domain page read two numbers instead of counting a million rows. One
-- update per statement (transition tables), so that an import of a million rows costs one.
ALTER TABLE domains ADD COLUMN mailbox_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE domains ADD COLUMN credential_count BIGINT NOT NULL DEFAULT 0;
UPDATE domains SET
  mailbox_count = (SELECT count(*) FROM accounts WHERE domain_id = domains.id AND kind = 'mailbox'),
  credential_count = (SELECT count(*) FROM accounts WHERE domain_id = domains.id AND kind = 'credential');

-- An account's kind and domain never change: insert and delete are all there is to count.
CREATE FUNCTION accounts_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE domains d SET
    mailbox_count = d.mailbox_count + c.sign * c.mailboxes,
    credential_count = d.credential_count + c.sign * c.credentials
  FROM (SELECT domain_id, CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END AS sign,
          count(*) FILTER (WHERE kind = 'mailbox') AS mailboxes, count(*) FILTER (WHERE kind = 'credential') AS credentials
        FROM changed GROUP BY domain_id) c
  WHERE d.id = c.domain_id;
  RETURN NULL;
END $$;
CREATE TRIGGER accounts_counted AFTER INSERT ON accounts REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION accounts_count();
CREATE TRIGGER accounts_uncounted AFTER DELETE ON accounts REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION accounts_count();
