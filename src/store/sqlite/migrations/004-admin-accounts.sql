-- SPEC §8: admins own their accounts. A disabled admin cannot log in and its tokens stop;
-- an admin whose password was printed (generated) must choose a new one at its first login.
ALTER TABLE admins ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE admins ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1));
