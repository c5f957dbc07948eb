-- Issue 29: Dovecot finds an app password by a selector it computes from the typed password
-- (16 bits of a salted SHA-256), so that its query holds no part of the password as text.
ALTER TABLE app_passwords ADD COLUMN selector TEXT;

DROP VIEW dovecot_app_passdb;
CREATE VIEW dovecot_app_passdb AS
SELECT a.login AS "user", p.password_hash AS password, p.tag AS tag, p.selector AS selector
FROM app_passwords p JOIN accounts a ON a.id = p.account_id JOIN domains d ON d.id = a.domain_id
WHERE a.kind = 'mailbox' AND a.disabled = 0 AND d.verified = 1;
