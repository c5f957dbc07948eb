-- SPEC §13: imported hashes keep Dovecot's {SCHEME} prefix until their first login re-hashes them.
-- The domain page counts them per scheme; this index holds only those rows, so the count costs
-- nothing once every password is argon2id.
CREATE INDEX accounts_imported_hash ON accounts (domain_id) WHERE substr(password_hash, 1, 1) = '{';
