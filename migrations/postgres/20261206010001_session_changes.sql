-- The session change log (issue 20; docs/deployment.md, "Sessions held in memory"): every change to
-- what a node keeps of a live session in memory adds a row here, written by the triggers below in
-- the same transaction as the change, so no code path (a page, the CLI, an operator's SQL) can
-- forget to tell the other nodes. Each node reads the rows committed since its last read
-- several times a second and forgets what they name. Activity updates (`last_seen_at`), the
-- sign-in marker and step-up times are read from the database, not cached, and log nothing.
--
-- kind: 'session' (session_hash names it), 'user' (ref_id: the client-area user; their
-- sessions), 'client' (ref_id: the client account; sessions working in it), 'all'.
--
-- tx is the writing transaction's id. Sequence values are not handed out in commit order, so a
-- reader that followed seq could step past a row whose transaction commits later. A reader
-- instead remembers the oldest transaction still running when it read (the snapshot's xmin) and
-- next time reads every row from that transaction on: no row of an older transaction can appear
-- afterwards, and rows read twice are forgotten twice, which is harmless.
CREATE TABLE session_changes (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    session_hash TEXT,
    ref_id BIGINT,
    tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM now())::bigint)
);
CREATE INDEX session_changes_tx ON session_changes (tx);
CREATE INDEX session_changes_at ON session_changes (at);

CREATE FUNCTION session_changes_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nested by table: PL/pgSQL does not promise to stop evaluating an AND early, and a field
    -- another table's rows lack (or OLD on an INSERT) would fail the writer's statement.
    IF TG_TABLE_NAME = 'sessions' THEN
        INSERT INTO session_changes (kind, session_hash) VALUES ('session', OLD.id_hash);
    ELSIF TG_TABLE_NAME = 'users' THEN
        IF TG_OP = 'UPDATE' THEN
            IF OLD.first_name IS DISTINCT FROM NEW.first_name
                OR OLD.last_name IS DISTINCT FROM NEW.last_name THEN
                -- A name is also the label of the accounts a user owns, shown in other members'
                -- sessions.
                INSERT INTO session_changes (kind) VALUES ('all');
            ELSE
                INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.id);
            END IF;
        ELSE
            INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.id);
        END IF;
    ELSIF TG_TABLE_NAME = 'clients' THEN
        INSERT INTO session_changes (kind, ref_id) VALUES ('client', OLD.id);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO session_changes (kind, ref_id) VALUES ('user', NEW.user_id);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.user_id);
    ELSE
        INSERT INTO session_changes (kind, ref_id) VALUES ('user', OLD.user_id);
        IF NEW.user_id <> OLD.user_id THEN
            INSERT INTO session_changes (kind, ref_id) VALUES ('user', NEW.user_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER session_changes_session AFTER UPDATE OF
    realm, subject_id, client_id, impersonator_admin_id, ip, remember, expires_at, ended_at,
    end_reason, second_factor, impersonator_session_hash
ON sessions FOR EACH ROW EXECUTE FUNCTION session_changes_log();

-- A live session removed outright (an operator's DELETE). Ended ones are already logged, and no
-- node serves one past its lifetime from memory, so the cleanup of expired sessions logs nothing.
CREATE TRIGGER session_changes_session_gone AFTER DELETE ON sessions
FOR EACH ROW WHEN (OLD.ended_at IS NULL AND OLD.expires_at > EXTRACT(EPOCH FROM now())::bigint)
EXECUTE FUNCTION session_changes_log();

CREATE TRIGGER session_changes_user AFTER UPDATE OF
    email, password_hash, disabled, email_verified_at, first_name, last_name
ON users FOR EACH ROW EXECUTE FUNCTION session_changes_log();

CREATE TRIGGER session_changes_user_gone AFTER DELETE ON users
FOR EACH ROW EXECUTE FUNCTION session_changes_log();

CREATE TRIGGER session_changes_client AFTER UPDATE OF owner_user_id, company_name OR DELETE
ON clients FOR EACH ROW EXECUTE FUNCTION session_changes_log();

CREATE TRIGGER session_changes_member AFTER INSERT OR UPDATE OR DELETE ON client_users
FOR EACH ROW EXECUTE FUNCTION session_changes_log();
