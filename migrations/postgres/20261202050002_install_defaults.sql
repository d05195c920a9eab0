-- Defaults an installation takes when it is created, kept so that a later upgrade does not
-- change an existing installation's behaviour behind the operator's back.
--
-- two_factor.admin_policy: a new installation (no admin yet) requires admin two-step
-- verification unless the configuration says otherwise; an installation that already had
-- admins when it was upgraded keeps the old default, "optional".
CREATE TABLE install_defaults (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO install_defaults (name, value)
SELECT 'two_factor.admin_policy',
       CASE WHEN EXISTS (SELECT 1 FROM admins) THEN 'optional' ELSE 'required' END;
