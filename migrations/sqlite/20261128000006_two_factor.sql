-- Second factors, pending sign-ins and the Duo application's settings.
-- Secrets are sealed with the key outside the database (see src/sealing.rs); backup codes are
-- keyed hashes. Every row names its realm and subject, since admins and users are separate tables.

CREATE TABLE totp_secrets (
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    secret_sealed TEXT NOT NULL,
    -- NULL until the first valid code confirms the enrolment.
    confirmed_at BIGINT,
    -- The last accepted time step: a code for this step or an earlier one is a replay.
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (realm, subject_id)
);

CREATE TABLE backup_codes (
    id INTEGER PRIMARY KEY,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX backup_codes_subject ON backup_codes (realm, subject_id);

CREATE TABLE webauthn_keys (
    id INTEGER PRIMARY KEY,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    -- webauthn-rs's Passkey as JSON: public key and signature counter, no secret.
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX webauthn_keys_credential ON webauthn_keys (credential_id);
CREATE INDEX webauthn_keys_subject ON webauthn_keys (realm, subject_id);

CREATE TABLE duo_users (
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (realm, subject_id)
);

-- One row: the Duo "Web SDK" application.
CREATE TABLE duo_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    api_hostname TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A correct password whose second factor is still due. Not a session: nothing but the
-- challenge (or, under a "required" policy, enrolment) accepts it.
CREATE TABLE pending_signins (
    id_hash TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    client_id BIGINT,
    remember INTEGER NOT NULL DEFAULT 0,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    identifier TEXT NOT NULL,
    must_enrol INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    -- Set when Duo's health check failed during this sign-in (the outage policy applies).
    duo_down INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX pending_signins_expires ON pending_signins (expires_at);

-- WebAuthn ceremony state between the options request and the answer, keyed by the hash of the
-- session or pending sign-in it belongs to.
CREATE TABLE webauthn_ceremonies (
    owner_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (owner_hash, kind)
);

-- Step-up: when the session's owner last proved it again (password or a factor); changes to
-- second factors need a recent one.
ALTER TABLE sessions ADD COLUMN stepped_up_at BIGINT;
