-- PostgreSQL twin of migrations/sqlite/20261128000007_roles_audit.sql (same tables, columns and indexes; identity
-- columns for INTEGER PRIMARY KEY, BIGINT for every integer). tests/api/schema.rs compares them.
-- Roles as sets of permissions, the two further shipped roles, and the audit log's subject and
-- user agent. Full Administrator (id 1) holds every permission by definition, so it has no rows.

CREATE TABLE role_permissions (
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_id, permission)
);

INSERT INTO roles (id, name, built_in, created_at) VALUES (2, 'Sales Operator', 0, 0);
INSERT INTO roles (id, name, built_in, created_at) VALUES (3, 'Support Operator', 0, 0);
INSERT INTO role_permissions (role_id, permission) VALUES
    (2, 'main_homepage'), (2, 'list_clients'), (2, 'view_client_profile'),
    (3, 'main_homepage'), (3, 'list_clients'), (3, 'view_client_profile'), (3, 'login_as_client'),
    (3, 'view_banned_ips'), (3, 'view_mail_log'), (3, 'view_system_health');

ALTER TABLE audit_log ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_action ON audit_log (action, at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

-- Rows inserted with explicit ids leave the identity behind; move it past them.
SELECT setval(pg_get_serial_sequence('roles', 'id'), (SELECT MAX(id) FROM roles));
