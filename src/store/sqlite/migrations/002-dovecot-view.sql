-- What Dovecot reads (`mailpass dovecot-config`). Its queries name only these views, so the tables
-- can change without breaking a running Dovecot.

-- Who may log in over IMAP/POP3: mailboxes only (an SMTP credential is for submission), enabled,
-- of a verified domain. `password` is the argon2id PHC string in the m,t,p order libsodium reads.
CREATE VIEW dovecot_passdb AS
SELECT a.login AS user, a.password_hash AS password, a.local_part AS username, d.name AS domain
FROM accounts a JOIN domains d ON d.id = a.domain_id
WHERE a.kind = 'mailbox' AND a.disabled = 0 AND d.verified = 1;

-- Where mail lives: every mailbox, also a disabled one (it keeps its mail and may still receive
-- some, like a suspended account); logging in is what dovecot_passdb decides.
CREATE VIEW dovecot_userdb AS
SELECT a.login AS user, a.local_part AS username, d.name AS domain
FROM accounts a JOIN domains d ON d.id = a.domain_id
WHERE a.kind = 'mailbox';
