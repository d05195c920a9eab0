-- OpenID Connect relying parties ("applications"), their registered redirect URIs, and the
-- record of the requests refused on their behalf (F14/F15: the admin sees why a client failed).
-- Deleting an application deletes its URIs and refusals in the service's transaction, so the
-- engines' cascade differences never matter.

CREATE TABLE oidc_applications (
    id INTEGER PRIMARY KEY,
    -- Random, URL-safe, what the application sends as client_id.
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- Whose people sign in through it: 'client' or 'admin'.
    realm TEXT NOT NULL,
    -- 'confidential' (holds a secret) or 'public' (cannot keep one: SPA, mobile).
    kind TEXT NOT NULL,
    -- SHA-256 hex of the client secret; NULL for a public application.
    secret_hash TEXT,
    secret_set_at BIGINT,
    -- 'client_secret_basic', 'client_secret_post' or 'none'.
    auth_method TEXT NOT NULL,
    -- 'RS256', 'ES256' or 'EdDSA'.
    signing_alg TEXT NOT NULL DEFAULT 'RS256',
    -- Space-separated scopes the application may ask for.
    allowed_scopes TEXT NOT NULL,
    id_token_seconds BIGINT NOT NULL DEFAULT 300,
    access_token_seconds BIGINT NOT NULL DEFAULT 900,
    refresh_token_seconds BIGINT NOT NULL DEFAULT 2592000,
    -- 1: no consent screen (the installation's own application).
    first_party BIGINT NOT NULL DEFAULT 0,
    backchannel_logout_uri TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by BIGINT NOT NULL
);

CREATE TABLE oidc_redirect_uris (
    id INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES oidc_applications (id),
    uri TEXT NOT NULL,
    -- 'login' (redirect_uri) or 'post_logout' (post_logout_redirect_uri).
    kind TEXT NOT NULL
);
CREATE INDEX oidc_redirect_uris_application ON oidc_redirect_uris (application_id);

CREATE TABLE oidc_refusals (
    id INTEGER PRIMARY KEY,
    -- NULL when the client_id sent matches no application.
    application_id BIGINT,
    -- The client_id as sent (bounded by the service).
    client_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- 'authorize', 'token', 'userinfo', 'end_session', 'revoke', 'introspect'...
    endpoint TEXT NOT NULL,
    -- A stable code ('wrong_secret', 'redirect_uri_mismatch', ...).
    reason TEXT NOT NULL,
    -- What an admin needs to understand it; never a secret.
    detail TEXT NOT NULL
);
CREATE INDEX oidc_refusals_application_at ON oidc_refusals (application_id, at);
