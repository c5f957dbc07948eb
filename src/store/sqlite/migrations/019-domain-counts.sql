-- Issue 36: each domain's mailboxes and credentials counted as they come and go, so that the
-- domain list and the domain page read two numbers instead of counting a million rows.
ALTER TABLE domains ADD COLUMN mailbox_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE domains ADD COLUMN credential_count INTEGER NOT NULL DEFAULT 0;
UPDATE domains SET
  mailbox_count = (SELECT count(*) FROM accounts WHERE domain_id = domains.id AND kind = 'mailbox'),
  credential_count = (SELECT count(*) FROM accounts WHERE domain_id = domains.id AND kind = 'credential');
-- An account's kind and domain never change: insert and delete are all there is to count.
CREATE TRIGGER accounts_counted AFTER INSERT ON accounts BEGIN
  UPDATE domains SET mailbox_count = mailbox_count + (NEW.kind = 'mailbox'), credential_count = credential_count + (NEW.kind = 'credential')
  WHERE id = NEW.domain_id;
END;
CREATE TRIGGER accounts_uncounted AFTER DELETE ON accounts BEGIN
  UPDATE domains SET mailbox_count = mailbox_count - (OLD.kind = 'mailbox'), credential_count = credential_count - (OLD.kind = 'credential')
  WHERE id = OLD.domain_id;
END;
