-- The outgoing mail queue, every delivery attempt, email verification, and request rate limits.

CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY,
    to_addr TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- Bodies hold links with tokens; they are emptied once the message is sent or has failed.
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- A node that claims a message leases it; an expired lease can be claimed again.
    lease_until BIGINT,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    last_reply TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_messages_due ON mail_messages (state, next_attempt_at);
CREATE INDEX mail_messages_created ON mail_messages (created_at);

CREATE TABLE mail_attempts (
    id INTEGER PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    ok INTEGER NOT NULL,
    code INTEGER,
    reply TEXT NOT NULL
);
CREATE INDEX mail_attempts_message ON mail_attempts (message_id);

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

-- Requests that are rate-limited by address or account (password reset, resending links).
CREATE TABLE request_log (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX request_log_key ON request_log (kind, key, at);
