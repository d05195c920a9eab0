-- PostgreSQL twin of migrations/sqlite/20261128000005_client_users.sql (same tables, columns and indexes; identity
-- columns for INTEGER PRIMARY KEY, BIGINT for every integer). tests/api/schema.rs compares them.
-- Users who share a client account besides its owner (accepted invitations). Per-account
-- permissions arrive with the roles and accounts issue; `permissions` holds them as text.
CREATE TABLE client_users (
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permissions TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, user_id)
);
CREATE INDEX client_users_user ON client_users (user_id);
