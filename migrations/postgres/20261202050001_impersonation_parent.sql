-- "Login as client" sessions remember the admin session that opened them, so they end with it
-- (sign-out, timeout, revocation). Sessions opened before this migration have none and are
-- treated as ended on their next request: the admin signs in as the client again.
ALTER TABLE sessions ADD COLUMN impersonator_session_hash TEXT;
-- An admin-side end looks up that admin's "login as client" sessions (few, and only these rows).
CREATE INDEX sessions_impersonator ON sessions (impersonator_admin_id)
    WHERE impersonator_admin_id IS NOT NULL;
