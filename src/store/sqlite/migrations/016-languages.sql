-- SPEC §17: the language an owner chose in the panel (NULL: none chosen); its alert mails use it.
ALTER TABLE accounts ADD COLUMN language TEXT;
ALTER TABLE admins ADD COLUMN language TEXT;
