-- SPEC §13 (SQLite's 010): imported hashes keep Dovecot's {SCHEME} prefix until their first login
-- re-hashes them; this index holds only those rows, for the domain page's count per scheme.
CREATE INDEX accounts_imported_hash ON accounts (domain_id) WHERE substr(password_hash, 1, 1) = '{';
