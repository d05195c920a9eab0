-- The session change log (issue 20; docs/deployment.md, "Sessions held in memory"): every change to
-- what a node keeps of a live session in memory adds a row here, written by the triggers below in
-- the same transaction as the change, so no code path (a page, the CLI, an operator's SQL) can
-- forget to tell the other nodes. Each node reads the rows after the last one it saw several
-- times a second and forgets what they name. Activity updates (`last_seen_at`), the sign-in
-- marker and step-up times are read from the database, not cached, and log nothing.
--
-- kind: 'session' (session_hash names it), 'user' (ref_id: the client-area user; their
-- sessions), 'client' (ref_id: the client account; sessions working in it), 'all'.
CREATE TABLE session_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    session_hash TEXT,
    ref_id BIGINT,
    -- PostgreSQL's writing transaction (its migration says why). SQLite's writers commit one at
    -- a time, so here seq order is commit order and readers follow seq; tx stays 0.
    tx BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX session_changes_tx ON session_changes (tx);
CREATE INDEX session_changes_at ON session_changes (at);

CREATE TRIGGER session_changes_session AFTER UPDATE OF
    realm, subject_id, client_id, impersonator_admin_id, ip, remember, expires_at, ended_at,
    end_reason, second_factor, impersonator_session_hash
ON sessions BEGIN
    INSERT INTO session_changes (kind, session_hash) VALUES ('session', OLD.id_hash);
END;

-- A live session removed outright (an operator's DELETE). Ended ones are already logged, and no
-- node serves one past its lifetime from memory, so the cleanup of expired sessions logs nothing.
CREATE TRIGGER session_changes_session_gone AFTER DELETE ON sessions
WHEN OLD.ended_at IS NULL AND OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER) BEGIN
    INSERT INTO session_changes (kind, session_hash) VALUES ('session', OLD.id_hash);
END;

CREATE TRIGGER session_changes_user AFTER UPDATE OF
    email, password_hash, disabled, email_verified_at
ON users BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.id);
END;

-- A name is also the label of the accounts a user owns, shown in other members' sessions.
CREATE TRIGGER session_changes_user_name AFTER UPDATE OF first_name, last_name ON users BEGIN
    INSERT INTO session_changes (kind) VALUES ('all');
END;

CREATE TRIGGER session_changes_user_gone AFTER DELETE ON users BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.id);
END;

CREATE TRIGGER session_changes_client AFTER UPDATE OF owner_user_id, company_name ON clients BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('client', OLD.id);
END;

CREATE TRIGGER session_changes_client_gone AFTER DELETE ON clients BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('client', OLD.id);
END;

CREATE TRIGGER session_changes_member_added AFTER INSERT ON client_users BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('user', NEW.user_id);
END;

CREATE TRIGGER session_changes_member_changed AFTER UPDATE ON client_users BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.user_id);
    INSERT INTO session_changes (kind, ref_id) VALUES ('user', NEW.user_id);
END;

CREATE TRIGGER session_changes_member_gone AFTER DELETE ON client_users BEGIN
    INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.user_id);
END;
