-- The OpenID provider's authorization flow (src/oidc/grant.rs and its neighbours).
--
-- `sessions.second_factor`: which second factor completed the sign-in (totp, backup_code,
-- webauthn, duo), so ID tokens can say so in `amr`/`acr`; NULL for a password alone.
ALTER TABLE sessions ADD COLUMN second_factor TEXT;

-- An authorization request waiting for the person to sign in or consent. The browser holds the
-- random id (a cookie, or the consent form); only its SHA-256 is kept. Gone after 30 minutes.
CREATE TABLE oidc_parked_requests (
    id_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_parked_requests_expiry ON oidc_parked_requests (expires_at);

-- A person's consent to one application, for the scopes listed (space separated).
CREATE TABLE oidc_consents (
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    application_id BIGINT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (realm, subject_id, application_id)
);
CREATE INDEX oidc_consents_application ON oidc_consents (application_id);

-- Authorization codes: hashed, single use, 60 seconds, bound to everything the token request
-- must repeat or the ID token must say. `used_at` is set once, by the exchange that wins.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    application_id BIGINT NOT NULL,
    session_id_hash TEXT NOT NULL,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time BIGINT NOT NULL,
    second_factor TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    family_id TEXT
);
CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);

-- Access and refresh tokens: only hashes. A family is every token descended from one code;
-- reusing a replaced refresh token after its grace revokes the whole family. `issuer` is the
-- System URL the token's ID token named, so the doctor can tell when it changed (F16).
CREATE TABLE oidc_tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    family_id TEXT NOT NULL,
    application_id BIGINT NOT NULL,
    session_id_hash TEXT NOT NULL,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    scopes TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    second_factor TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    replaced_at BIGINT,
    grace_used BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT,
    revoked_reason TEXT,
    issuer TEXT NOT NULL
);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family_id);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_id_hash);
CREATE INDEX oidc_tokens_subject ON oidc_tokens (realm, subject_id, application_id);
CREATE INDEX oidc_tokens_expiry ON oidc_tokens (expires_at);

-- Back-channel logout (Back-Channel Logout 1.0): one delivery per application and ended
-- session, queued in the transaction that ends the session (or by the sessions cleanup for a
-- session that timed out unseen), sent by `serve` with retries and backoff, each attempt's
-- answer kept. The unique index sends it once, whichever node ends the session.
CREATE TABLE oidc_logout_deliveries (
    id INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL,
    session_id_hash TEXT NOT NULL,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    uri TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    last_status BIGINT,
    last_reply TEXT
);
CREATE UNIQUE INDEX oidc_logout_deliveries_once ON oidc_logout_deliveries (application_id, session_id_hash);
CREATE INDEX oidc_logout_deliveries_due ON oidc_logout_deliveries (state, next_attempt_at);
