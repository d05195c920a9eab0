-- Bans apply to an area (issue 18 item 12): 'admin' (the admin area, /admin...), 'client'
-- (everything else) or 'both'. Automatic bans take the area whose sign-ins failed, so an
-- admin-realm ban no longer cuts every customer behind the same NAT out of the client area.
-- The key becomes (ip, scope): one address may hold an admin ban and a client ban with
-- different ends. `ip` is the banned key: an IPv4 address, or an IPv6 /64 written as a range
-- ("2001:db8:1:2::/64"). Bans made before this migration applied everywhere, so they become
-- 'both'.
CREATE TABLE bans_scoped (
    ip TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT 'both' CHECK (scope IN ('admin', 'client', 'both')),
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    created_by TEXT NOT NULL,
    PRIMARY KEY (ip, scope)
);
INSERT INTO bans_scoped (ip, scope, reason, created_at, expires_at, created_by)
    SELECT ip, 'both', reason, created_at, expires_at, created_by FROM bans;
DROP TABLE bans;
ALTER TABLE bans_scoped RENAME TO bans;
CREATE INDEX bans_expires ON bans (expires_at);
