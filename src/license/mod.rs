//! The licensing server: products, licences, the verify decision and the signing keys.
//!
//! [`Licenses`] is the service every front end calls: the admin pages, the owner's page in the
//! client area and the API's verify and keys endpoints. It owns the rules (validation, who may
//! reissue, rate limits) and writes the audit entries; the front ends map its error enums to
//! pages and statuses. The operations are split by area: `product` (products), `issue`
//! (issuing from a form), `verify` (the check decision and its rate limits), `signing` (the
//! keys); this file holds the licences themselves (reveal, status, reissue, where each binding
//! came from, the pages' reads). A licence's status and the rule for the status in force are
//! `domain::LicenseStatus`, which storage parses when it reads a licence.
//! `client` is the other side: checking a licence against a server, for the CLI and doctor.
//!
//! Keys use the format of the `license-verifier` crate (prefix, random part, check character),
//! and answers its signed wire format, so the server and the verifier cannot drift apart. A
//! licence key is a bearer secret: only its SHA-256 finds it, and the key itself is sealed with
//! the installation's sealing key so the owner can still read it in the client area.

pub mod client;
pub mod confirmed;
pub mod issue;
pub mod product;
pub mod signing;
pub mod verify;

use crate::app::AppState;
use crate::clock::Clock;
use crate::db;
use crate::domain::{Action, Actor, AdminId, ClientId, LicenseStatus, UserId};
use license_verifier::key;
use std::sync::Arc;

/// The three kinds of binding (domain, IP address, directory), as the wire format names them.
pub use license_verifier::protocol::Which;

pub use crate::db::license::{Check, License, Product, SigningKey};
pub use confirmed::{OwnedError, Unconfirmed};
pub use issue::{IssueDraft, IssueError, IssueRequest};
pub use product::{ProductDraft, ProductError};
pub use signing::{ActivateError, KeyState, SigningError};
pub use verify::{CheckError, LimitedBy, VerifyError};

/// Sealing context of licence keys.
const KEY_CONTEXT: &str = "license-key";

/// The lookup hash of a canonical key.
pub fn key_hash(canonical: &str) -> String {
    crate::token::hash(canonical)
}

/// The licensing service: what it needs of the application state.
#[derive(Clone)]
pub struct Licenses {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    sealing: Arc<crate::sealing::SealingKey>,
    config: Arc<crate::config::Config>,
    settings: Arc<crate::settings::Store>,
}

impl From<&AppState> for Licenses {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            sealing: state.sealing.clone(),
            config: state.config.clone(),
            settings: state.settings.clone(),
        }
    }
}

/// A licence as the pages list it: the stored row with what the rules make of it now.
#[derive(Debug, Clone)]
pub struct Listed {
    pub license: License,
    /// The status in force now ([`LicenseStatus::in_force`]).
    pub status: LicenseStatus,
    /// The product's name, or `product N` when the product is gone.
    pub product: String,
    /// The product's maximum number of reissues (0 when the product is gone).
    pub max_reissues: i64,
}

impl Listed {
    /// A licence with its product and its status at `now`.
    fn new(license: License, products: &[Product], now: i64) -> Self {
        let product = products.iter().find(|p| p.id == license.product_id);
        Self {
            status: license.status.in_force(license.expires_at, now),
            product: product.map_or_else(
                || format!("product {}", license.product_id),
                |p| p.name.clone(),
            ),
            max_reissues: product.map_or(0, |p| p.max_reissues),
            license,
        }
    }

    /// Reissues left before the product's maximum.
    pub fn reissues_left(&self) -> i64 {
        (self.max_reissues - self.license.reissues).max(0)
    }

    /// One binding list, each entry with where it came from (what a reissue does to it).
    pub fn bindings(&self, which: Which) -> Vec<(&str, Origin)> {
        let preset = preset(&self.license, which);
        bound(&self.license, which)
            .iter()
            .map(|entry| {
                let origin = if preset.contains(entry) {
                    Origin::Preset
                } else {
                    Origin::BoundByCheck
                };
                (entry.as_str(), origin)
            })
            .collect()
    }
}

/// Where an entry of a binding list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Set by the admin at issue; a reissue keeps it.
    Preset,
    /// Bound by a check; a reissue clears it, so the next check binds anew.
    BoundByCheck,
}

/// A licence's list of one kind of binding, as checks compare it (preset and bound entries).
fn bound(license: &License, which: Which) -> &[String] {
    match which {
        Which::Domain => &license.domains,
        Which::Ip => &license.ips,
        Which::Directory => &license.directories,
    }
}

/// The part of a binding list the admin set at issue.
fn preset(license: &License, which: Which) -> &[String] {
    match which {
        Which::Domain => &license.preset_domains,
        Which::Ip => &license.preset_ips,
        Which::Directory => &license.preset_directories,
    }
}

/// The admin list page: products, every licence, checks of unknown keys, the signing keys.
#[derive(Debug, Clone)]
pub struct Overview {
    pub products: Vec<Product>,
    pub licenses: Vec<Listed>,
    /// The newest 50 checks whose key matched no licence.
    pub unmatched: Vec<Check>,
    pub keys: Vec<SigningKey>,
}

/// One licence with its key and its newest 50 checks, for the admin detail page.
#[derive(Debug, Clone)]
pub struct Detail {
    pub listed: Listed,
    /// The key, or why it cannot be shown.
    pub key: String,
    pub checks: Vec<Check>,
}

/// A licence of the owner's account, with its key.
#[derive(Debug, Clone)]
pub struct Owned {
    pub listed: Listed,
    /// The key, or why it cannot be shown.
    pub key: String,
}

/// Why a status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no such licence")]
    NotFound,
    /// A field that cannot be used; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why a reissue was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReissueError {
    /// Already reissued this many times, the product's maximum.
    #[error("reissued {0} times already, the product's maximum")]
    LimitReached(i64),
    /// No such licence, or (for an owner) one of another account: its existence is not theirs
    /// to learn.
    #[error("no such licence")]
    NotFound,
    /// The user acting in the client area has not confirmed their email address.
    #[error(transparent)]
    Unconfirmed(#[from] Unconfirmed),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Issues a licence ([`Licenses::issue`]); kept for callers holding the application state.
///
/// # Errors
/// As [`Licenses::issue`].
pub async fn issue(state: &AppState, req: &IssueRequest) -> Result<(i64, String), IssueError> {
    Licenses::from(state).issue(req).await
}

impl Licenses {
    /// A stored instant as people read it, in the configured timezone.
    pub fn show_time(&self, unix: i64) -> String {
        crate::clock::display(unix, &self.settings.snapshot().values.timezone)
    }

    /// The key of a stored licence, for its owner or an admin.
    ///
    /// # Errors
    /// The sealing key cannot open it (a different key file than the one that sealed it).
    pub fn reveal(&self, license: &License) -> anyhow::Result<String> {
        let bytes = self
            .sealing
            .open(&license.key_sealed, KEY_CONTEXT)
            .map_err(|_| anyhow::anyhow!("the sealing key cannot open this licence key"))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The key, or the reason it cannot be shown (the page shows either).
    fn key_or_reason(&self, license: &License) -> String {
        self.reveal(license).unwrap_or_else(|e| e.to_string())
    }

    /// Everything the admin list page shows.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn overview(&self) -> Result<Overview, sqlx::Error> {
        let products = db::license::products(&self.db).await?;
        let now = self.clock.unix();
        let licenses = db::license::list(&self.db, 0)
            .await?
            .into_iter()
            .map(|l| Listed::new(l, &products, now))
            .collect();
        Ok(Overview {
            licenses,
            unmatched: db::license::unmatched_checks(&self.db, 50).await?,
            keys: db::license::signing_keys(&self.db).await?,
            products,
        })
    }

    /// One licence with its key and access log; `None` when there is none.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn detail(&self, id: i64) -> Result<Option<Detail>, sqlx::Error> {
        let Some(license) = db::license::find(&self.db, id).await? else {
            return Ok(None);
        };
        let products = db::license::products(&self.db).await?;
        let checks = db::license::checks(&self.db, id, 50).await?;
        Ok(Some(Detail {
            key: self.key_or_reason(&license),
            listed: Listed::new(license, &products, self.clock.unix()),
            checks,
        }))
    }

    /// The licences of one client account, with their keys, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn owned(&self, account: ClientId) -> Result<Vec<Owned>, sqlx::Error> {
        let products = db::license::products(&self.db).await?;
        let now = self.clock.unix();
        Ok(db::license::list(&self.db, account.get())
            .await?
            .into_iter()
            .map(|l| Owned {
                key: self.key_or_reason(&l),
                listed: Listed::new(l, &products, now),
            })
            .collect())
    }

    /// Writes an audit entry; the request's address and user agent come from its origin.
    async fn audit<'e>(
        &self,
        ex: impl sqlx::Executor<'e, Database = db::Db>,
        actor: &Actor,
        action: Action,
        subject: &str,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        crate::audit::record(ex, self.clock.unix(), actor, action, subject, detail).await
    }

    /// Sets a licence's status (as the form sends it: `active`, `suspended` or `expired`) and
    /// expiry (a day typed as `YYYY-MM-DD`, or empty for none), audited as the admin's.
    ///
    /// # Errors
    /// No such licence, a status or date that cannot be used, storage errors.
    pub async fn set_status(
        &self,
        admin: AdminId,
        id: i64,
        status: &str,
        expires: &str,
    ) -> Result<(), StatusError> {
        db::license::find(&self.db, id)
            .await?
            .ok_or(StatusError::NotFound)?;
        let status = LicenseStatus::parse(status).ok_or_else(|| {
            StatusError::Invalid("Status: choose active, suspended or expired.".into())
        })?;
        let expires = self.end_of_day(expires).map_err(StatusError::Invalid)?;
        let detail = format!(
            "{status}{}",
            expires
                .map(|e| format!(", expires {}", self.show_time(e)))
                .unwrap_or_default()
        );
        let mut tx = self.db.begin().await?;
        db::license::set_status(&mut *tx, id, status, expires).await?;
        self.audit(
            &mut *tx,
            &Actor::Admin(admin),
            Action::LicenseStatus,
            &format!("license:{id}"),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Clears a licence's bindings so its next check binds it where it then runs; counted, and
    /// refused past the product's maximum. Audited as the admin's.
    ///
    /// # Errors
    /// No such licence, the maximum reached, storage errors.
    pub async fn reissue_by_admin(&self, admin: AdminId, id: i64) -> Result<(), ReissueError> {
        let license = db::license::find(&self.db, id)
            .await?
            .ok_or(ReissueError::NotFound)?;
        self.reissue(&license, &Actor::Admin(admin), "by an admin")
            .await
    }

    /// Reissues a licence of `account` from the client area for `user` (the signed-in user, or
    /// the client during "login as client"), who must have confirmed their email address.
    /// `actor` is whoever acts (the user, or the admin signed in as them); `signed_in_as` names
    /// the user during "login as client", so the entry says whom the admin acted as.
    ///
    /// # Errors
    /// `Unconfirmed`; `NotFound` also for another account's licence; the maximum reached;
    /// storage errors.
    pub async fn reissue_by_owner(
        &self,
        account: ClientId,
        user: UserId,
        id: i64,
        actor: &Actor,
        signed_in_as: Option<UserId>,
    ) -> Result<(), ReissueError> {
        self.confirmed(user).await??;
        let license = db::license::find(&self.db, id)
            .await?
            .filter(|l| l.client_id == account.get())
            .ok_or(ReissueError::NotFound)?;
        let detail = match signed_in_as {
            Some(user) => format!("by the account (signed in as client:{user})"),
            None => "by the account".to_owned(),
        };
        self.reissue(&license, actor, &detail).await
    }

    async fn reissue(
        &self,
        license: &License,
        actor: &Actor,
        detail: &str,
    ) -> Result<(), ReissueError> {
        let max = db::license::find_product(&self.db, license.product_id)
            .await?
            .map_or(0, |p| p.max_reissues);
        let mut tx = self.db.begin().await?;
        if !db::license::reissue(&mut *tx, license.id, max).await? {
            return Err(ReissueError::LimitReached(max));
        }
        self.audit(
            &mut *tx,
            actor,
            Action::LicenseReissued,
            &format!("license:{}", license.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The end of a day typed as `YYYY-MM-DD` in the configured zone, as unix seconds (`None`
    /// for an empty field): a licence expiring on a day is valid all of that day.
    ///
    /// # Errors
    /// The text is not such a date; the message names the field.
    pub fn end_of_day(&self, text: &str) -> Result<Option<i64>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || format!("Expiry: {text:?} is not a date like 2027-12-31.");
        let date: jiff::civil::Date = text.parse().map_err(|_| bad())?;
        let zone = self.settings.snapshot().values.timezone.clone();
        date.tomorrow()
            .map_err(|_| bad())?
            .to_zoned(zone.tz().clone())
            .map(|z| Some(z.timestamp().as_second()))
            .map_err(|_| bad())
    }

    /// The day an expiry instant falls at the end of, as the form shows it (the inverse of
    /// [`Licenses::end_of_day`]); empty for none.
    pub fn expiry_day(&self, expires_at: Option<i64>) -> String {
        expires_at
            .and_then(|at| jiff::Timestamp::from_second(at - 1).ok())
            .map(|t| {
                t.to_zoned(self.settings.snapshot().values.timezone.tz().clone())
                    .date()
                    .to_string()
            })
            .unwrap_or_default()
    }
}

/// The key format's random part, for `issue`.
fn compose_key(prefix: &str) -> anyhow::Result<String> {
    let random = crate::token::random_bytes::<{ key::RANDOM_CHARS }>()
        .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    key::compose(prefix, &random).map_err(|e| anyhow::anyhow!("product prefix {prefix}: {e}"))
}
