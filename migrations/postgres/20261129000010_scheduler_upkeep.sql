-- How long each scheduler run took (measured, in milliseconds), for the admin page; the
-- WebAuthn ceremony cleanup (links.cleanup) finds expired ceremonies through an index instead of
-- reading the whole table.

ALTER TABLE scheduler_runs ADD COLUMN duration_ms BIGINT NOT NULL DEFAULT 0;

CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
