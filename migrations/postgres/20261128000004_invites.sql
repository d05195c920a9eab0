-- PostgreSQL twin of migrations/sqlite/20261128000004_invites.sql (same tables, columns and indexes; identity
-- columns for INTEGER PRIMARY KEY, BIGINT for every integer). tests/api/schema.rs compares them.
-- Invitations carry what they grant (an admin's email and role) with the token.
ALTER TABLE one_time_tokens ADD COLUMN data TEXT NOT NULL DEFAULT '';
CREATE INDEX one_time_tokens_data ON one_time_tokens (purpose, data);
