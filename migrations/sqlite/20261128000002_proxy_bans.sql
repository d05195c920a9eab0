-- Runtime settings, the stored Cloudflare ranges, failed sign-ins, bans and the audit log.

-- Settings edited in the admin area; each overrides the boot configuration's value for its key.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- Downloaded address lists (Cloudflare's edge ranges), replacing the built-in copy.
CREATE TABLE network_lists (
    name TEXT PRIMARY KEY,
    v4 TEXT NOT NULL,
    v6 TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    source TEXT NOT NULL
);

-- One row per failed sign-in, by resolved client address and account identifier.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    realm TEXT NOT NULL,
    ip TEXT NOT NULL,
    account TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_ip ON login_failures (realm, ip, at);
CREATE INDEX login_failures_account ON login_failures (realm, account, ip, at);

-- Banned addresses; expires_at NULL means until lifted.
CREATE TABLE bans (
    ip TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    created_by TEXT NOT NULL
);

-- Who changed what, for settings, fixes and bans.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    ip TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
