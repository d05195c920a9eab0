-- API credentials (issue 21): an identifier and a secret an admin makes for other systems of the
-- portal (billing, provisioning, a helpdesk) to call /api/v1/. Only the secret's SHA-256 is
-- stored: it is 256 random bits, so a fast hash is enough and no call waits for Argon2. Each
-- credential calls only its API roles, never beyond what its admin holds when the call is made.
CREATE TABLE api_credentials (
    id INTEGER PRIMARY KEY,
    -- Public, random, what the caller sends as the user name of HTTP Basic.
    identifier TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    admin_id BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    -- Space-separated API roles (`api_credential::ApiRole`).
    roles TEXT NOT NULL,
    -- Space-separated addresses or ranges the calls must come from; empty: any.
    allowed TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT,
    revoked_at BIGINT
);
CREATE INDEX api_credentials_admin ON api_credentials (admin_id);
