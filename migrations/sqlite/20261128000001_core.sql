-- Core schema: accounts, sessions, one-time tokens, event counters, instance keys.
-- Portable by construction (the PostgreSQL twin differs only in id columns): instants are unix
-- seconds in BIGINT, flags are INTEGER 0/1, secrets are stored only as SHA-256 hex digests.

CREATE TABLE roles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    built_in INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (lower(name));
INSERT INTO roles (id, name, built_in, created_at) VALUES (1, 'Full Administrator', 1, 0);

CREATE TABLE admins (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role_id BIGINT NOT NULL REFERENCES roles (id),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX admins_username ON admins (lower(username));
CREATE UNIQUE INDEX admins_email ON admins (lower(email));

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    -- NULL: the user has no password yet (invited, or imported without one).
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE clients (
    id INTEGER PRIMARY KEY,
    owner_user_id BIGINT NOT NULL REFERENCES users (id),
    company_name TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX clients_owner ON clients (owner_user_id);

-- One row per sign-in. Ended sessions are kept (with their reason) until housekeeping removes
-- them, so the next sign-in page can say why the last one ended and the doctor can count reasons.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    client_id BIGINT,
    impersonator_admin_id BIGINT,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    remember INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT,
    signin_marker_hash TEXT
);
CREATE INDEX sessions_subject ON sessions (realm, subject_id);
CREATE INDEX sessions_ended ON sessions (ended_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE UNIQUE INDEX sessions_marker ON sessions (signin_marker_hash);

-- Single-use links (first-admin setup now; resets, verification and invites later).
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    subject_id BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX one_time_tokens_purpose ON one_time_tokens (purpose, expires_at);

-- Hourly buckets of diagnostic events (CSRF failures by kind, cookie loss, wrong origins), so a
-- doctor run in another process sees what the server saw, and "last 24 hours" is a range query.
CREATE TABLE event_counters (
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    sample TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (name, label, bucket)
);

-- Keys shared by every node of an installation (e.g. the CSRF signing key).
CREATE TABLE instance_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
