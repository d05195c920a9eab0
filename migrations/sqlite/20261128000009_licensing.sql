-- Software licensing: products, licences with their bindings, every check, and the keys that
-- sign the answers (sealed like the other secrets at rest).

CREATE TABLE license_products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL UNIQUE,
    check_interval_days BIGINT NOT NULL DEFAULT 7,
    grace_days BIGINT NOT NULL DEFAULT 3,
    max_reissues BIGINT NOT NULL DEFAULT 3,
    created_at BIGINT NOT NULL
);

CREATE TABLE licenses (
    id INTEGER PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES license_products (id),
    client_id BIGINT NOT NULL REFERENCES clients (id),
    -- SHA-256 of the canonical key finds the licence; the key itself is sealed, for its owner.
    key_hash TEXT NOT NULL UNIQUE,
    key_sealed TEXT NOT NULL,
    -- The key's last group, for lists and logs.
    key_hint TEXT NOT NULL,
    -- active, suspended or expired (an expiry date in the past also counts as expired).
    status TEXT NOT NULL DEFAULT 'active',
    expires_at BIGINT,
    -- Newline-separated; empty lists are bound by the first check.
    domains TEXT NOT NULL DEFAULT '',
    ips TEXT NOT NULL DEFAULT '',
    directories TEXT NOT NULL DEFAULT '',
    reissues BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_check_at BIGINT
);
CREATE INDEX licenses_client ON licenses (client_id);

CREATE TABLE license_checks (
    id INTEGER PRIMARY KEY,
    license_id BIGINT,
    at BIGINT NOT NULL,
    -- The address the check came from, and the identity the installation presented.
    remote_ip TEXT NOT NULL,
    domain TEXT NOT NULL,
    ip TEXT NOT NULL,
    directory TEXT NOT NULL,
    verifier_version TEXT NOT NULL,
    verdict TEXT NOT NULL
);
CREATE INDEX license_checks_license ON license_checks (license_id, at);
CREATE INDEX license_checks_at ON license_checks (at);

CREATE TABLE license_signing_keys (
    key_id TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- A new key is published first and signs only once activated, so vendors can ship it in
    -- their software before answers depend on it.
    activated_at BIGINT,
    retired_at BIGINT
);
