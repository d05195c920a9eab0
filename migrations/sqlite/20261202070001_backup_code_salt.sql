-- Every backup code gets its own random salt (ASVS 2.6.2). NULL marks a code stored before
-- salts, hashed without one; it keeps verifying until it is used or the set is regenerated.
ALTER TABLE backup_codes ADD COLUMN salt TEXT;
