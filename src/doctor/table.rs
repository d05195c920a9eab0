//! The one table of checks: each check's id, area, how it runs and its fix, in the order the
//! doctor runs them.
//!
//! [`super::run_all`], [`super::fix`], [`super::CHECK_IDS`], [`super::CheckResult::fix_label`] and
//! [`super::Area::of`] all read [`CHECKS`], so adding a check is one row here and one constant
//! in [`id`] (plus the check's own file, and its row in docs/checks.md, which a test holds).
//! The check files name their ids through [`id`] too, so each id is written once.

use super::{
    Area, CheckResult, FIX_TIME_BUDGET, FixError, FixScope, Fixed, accounts, api, config_sources,
    csrf, forward_auth, license, mail, oidc, oidc_keys, oidc_logout, proxy, scheduler, session,
    session_changes, storage, system_url, time, two_factor,
};
use crate::app::AppState;
use crate::domain::Actor;
use std::future::Future;
use std::pin::Pin;

/// Every check's stable id (`area.name`, or a bare area), as results, `--fix` and the JSON
/// report carry it.
pub mod id {
    pub const CONFIG: &str = "config";
    pub const SYSTEM_URL: &str = "system_url";
    pub const PROXY_CLOUDFLARE: &str = "proxy.cloudflare";
    pub const PROXY_SANITY: &str = "proxy.sanity";
    pub const FORWARD_AUTH_SETUP: &str = "forward_auth.setup";
    pub const STORAGE_DISK: &str = "storage.disk";
    pub const DATABASE_CONNECTION: &str = "database.connection";
    pub const STORAGE_SESSION_WRITE: &str = "storage.session_write";
    pub const DATABASE_MIGRATIONS: &str = "database.migrations";
    pub const SESSION_TIMEOUT: &str = "session.timeout";
    pub const SESSION_LOGOUTS: &str = "session.logouts";
    pub const SESSION_COOKIE_LOSS: &str = "session.cookie_loss";
    pub const SESSION_CHANGES: &str = "session.changes";
    pub const CSRF_FAILURES: &str = "csrf.failures";
    pub const MAIL_TRANSPORT: &str = "mail.transport";
    pub const MAIL_QUEUE: &str = "mail.queue";
    pub const ADMIN_ROLES: &str = "admin.roles";
    pub const CLIENT_OWNERS: &str = "client.owners";
    pub const API_CREDENTIALS: &str = "api.credentials";
    pub const TWO_FACTOR_KEY: &str = "two_factor.key";
    pub const TWO_FACTOR_DUO: &str = "two_factor.duo";
    pub const TIME_ZONE: &str = "time.zone";
    pub const SESSION_GC: &str = "session.gc";
    pub const CRON_HEARTBEAT: &str = "cron.heartbeat";
    pub const LICENSE_CONNECTION: &str = "license.connection";
    pub const OIDC_CLIENTS: &str = "oidc.clients";
    pub const OIDC_KEYS: &str = "oidc.keys";
    pub const OIDC_LOGOUT: &str = "oidc.logout";
}

/// A running check.
type Running<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;
/// A running fix.
type Fixing<'a> = Pin<Box<dyn Future<Output = Result<Fixed, FixError>> + Send + 'a>>;

/// One check of the doctor.
#[derive(Clone, Copy)]
pub struct Check {
    /// Its stable id (one of [`id`]).
    pub id: &'static str,
    /// Where System Health and the JSON report group it.
    pub area: Area,
    run: for<'a> fn(&'a AppState) -> Running<'a>,
    /// Its one-step fix, if it has a safe one.
    pub fix: Option<Fix>,
}

impl Check {
    /// Runs the check.
    pub fn run<'a>(&self, state: &'a AppState) -> Running<'a> {
        (self.run)(state)
    }
}

/// A check's one-step fix.
#[derive(Clone, Copy)]
pub struct Fix {
    /// What the fix button says: what the fix does, in a few words, because "Apply the fix" on
    /// every check leaves the admin guessing what will change.
    pub label: &'static str,
    apply: for<'a> fn(&'a AppState, &'a Actor, &'a str, FixScope) -> Fixing<'a>,
}

impl Fix {
    /// Applies it on behalf of `actor`, recording `from` as the address (empty: the request's).
    pub fn apply<'a>(
        &self,
        state: &'a AppState,
        actor: &'a Actor,
        from: &'a str,
        scope: FixScope,
    ) -> Fixing<'a> {
        (self.apply)(state, actor, from, scope)
    }
}

/// A row of the table: `now` marks a check that does not wait for anything.
macro_rules! check {
    ($id:expr, $area:ident, now $run:path) => {
        check!($id, $area, now $run, None)
    };
    ($id:expr, $area:ident, $run:path) => {
        check!($id, $area, $run, None)
    };
    ($id:expr, $area:ident, now $run:path, $fix:expr) => {
        Check {
            id: $id,
            area: Area::$area,
            run: |state| Box::pin(std::future::ready($run(state))),
            fix: $fix,
        }
    };
    ($id:expr, $area:ident, $run:path, $fix:expr) => {
        Check {
            id: $id,
            area: Area::$area,
            run: |state| Box::pin($run(state)),
            fix: $fix,
        }
    };
}

/// Every check, in the order the doctor runs and shows them.
pub const CHECKS: [Check; 28] = [
    check!(id::CONFIG, Configuration, now config_sources::check),
    check!(id::SYSTEM_URL, Configuration, system_url::check),
    check!(
        id::PROXY_CLOUDFLARE,
        Proxy,
        proxy::cloudflare,
        Some(Fix {
            label: "Trust Cloudflare's ranges now",
            apply: |state, actor, from, _| Box::pin(trust_cloudflare(state, actor, from)),
        })
    ),
    check!(id::PROXY_SANITY, Proxy, proxy::sanity),
    check!(id::FORWARD_AUTH_SETUP, Proxy, forward_auth::check),
    check!(id::STORAGE_DISK, Storage, now storage::disk),
    check!(id::DATABASE_CONNECTION, Storage, storage::connection),
    check!(id::STORAGE_SESSION_WRITE, Storage, storage::session_write),
    check!(id::DATABASE_MIGRATIONS, Storage, storage::migrations),
    check!(id::SESSION_TIMEOUT, Sessions, now session::timeout),
    check!(id::SESSION_LOGOUTS, Sessions, session::logouts),
    check!(id::SESSION_COOKIE_LOSS, Sessions, session::cookie_loss),
    check!(id::SESSION_CHANGES, Sessions, session_changes::check),
    check!(id::CSRF_FAILURES, Sessions, csrf::failures),
    check!(id::MAIL_TRANSPORT, Mail, mail::transport),
    check!(id::MAIL_QUEUE, Mail, mail::queue),
    check!(id::ADMIN_ROLES, Accounts, accounts::roles),
    check!(id::CLIENT_OWNERS, Accounts, accounts::owners),
    check!(id::API_CREDENTIALS, Accounts, api::check),
    check!(id::TWO_FACTOR_KEY, TwoFactor, two_factor::key),
    check!(id::TWO_FACTOR_DUO, TwoFactor, two_factor::duo),
    check!(id::TIME_ZONE, Time, time::zone),
    check!(
        id::SESSION_GC,
        Sessions,
        scheduler::session_gc,
        Some(Fix {
            label: "Remove expired sessions now",
            apply: |state, actor, from, scope| {
                Box::pin(scheduler::remove_expired_sessions(
                    state,
                    actor,
                    from,
                    FIX_TIME_BUDGET,
                    scope == FixScope::UntilDone,
                ))
            },
        })
    ),
    check!(id::CRON_HEARTBEAT, Time, scheduler::heartbeat),
    check!(id::LICENSE_CONNECTION, Licensing, license::connection),
    check!(id::OIDC_CLIENTS, OpenIdConnect, oidc::clients),
    check!(id::OIDC_KEYS, OpenIdConnect, oidc_keys::check),
    check!(id::OIDC_LOGOUT, OpenIdConnect, oidc_logout::check),
];

/// The row of the check with this id.
pub fn find(id: &str) -> Option<&'static Check> {
    let table: &'static [Check] = &CHECKS;
    table.iter().find(|c| c.id == id)
}

/// The `proxy.cloudflare` fix, in the shape of a fix.
async fn trust_cloudflare(state: &AppState, actor: &Actor, from: &str) -> Result<Fixed, FixError> {
    crate::proxy::trust_cloudflare(state, actor, from)
        .await
        .map(|message| Fixed {
            message,
            left: None,
        })
        .map_err(|e| FixError::Failed(id::PROXY_CLOUDFLARE.to_owned(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_each_prefix_belongs_to_one_area() {
        let prefix = |id: &'static str| id.split_once('.').map_or(id, |(p, _)| p);
        for (i, a) in CHECKS.iter().enumerate() {
            for b in &CHECKS[i + 1..] {
                assert_ne!(a.id, b.id);
                if prefix(a.id) == prefix(b.id) {
                    assert_eq!(a.area, b.area, "{} and {}", a.id, b.id);
                }
            }
        }
    }
}
