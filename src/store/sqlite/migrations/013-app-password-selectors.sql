-- Issue 29: Dovecot finds the app password a typed password may be by a selector, 16 bits of a
-- salted SHA-256 of the whole password that Dovecot computes itself, so that its query holds no
-- part of the password as text. Rows made before have none until their next SMTP login (tag
-- stays for mailpass's own lookup and for configurations printed before).
ALTER TABLE app_passwords ADD COLUMN selector TEXT;

DROP VIEW dovecot_app_passdb;
CREATE VIEW dovecot_app_passdb AS
SELECT a.login AS user, p.password_hash AS password, p.tag AS tag, p.selector AS selector
FROM app_passwords p JOIN accounts a ON a.id = p.account_id JOIN domains d ON d.id = a.domain_id
WHERE a.kind = 'mailbox' AND a.disabled = 0 AND d.verified = 1;
