-- Invitations carry what they grant (an admin's email and role) with the token.
ALTER TABLE one_time_tokens ADD COLUMN data TEXT NOT NULL DEFAULT '';
CREATE INDEX one_time_tokens_data ON one_time_tokens (purpose, data);
