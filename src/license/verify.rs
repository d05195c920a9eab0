//! `POST /api/license/v1/verify`: the rate limits, the decision for one check, its log entry
//! and the signature. The endpoint parses the body and maps [`CheckError`] to a status.

use super::{License, Licenses};
use crate::db;
use crate::domain::{LicenseStatus, paths};
use license_verifier::key;
use license_verifier::protocol::{
    Answer, Bindings, Mismatch, SignedAnswer, Status, VerifyRequest, Which,
};

/// Why a request is refused before any decision.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error("{0}")]
    Signing(#[from] super::SigningError),
}

/// Which limit a refused check met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitedBy {
    /// Checks from one address (`license_server.checks_per_address`).
    Address,
    /// Checks of one key (`license_server.checks_per_key`).
    Key,
}

impl LimitedBy {
    /// The rate-limit counter this limit counts in (stored form).
    fn counter(self) -> &'static str {
        match self {
            Self::Address => "license_ip",
            Self::Key => "license_key",
        }
    }
}

/// The counter that lets one refused check of a key a minute into the access log.
const REFUSAL_LOGGED: &str = "license_refusal_logged";

/// A check refused before any decision, as the access log's verdict names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Over a per-minute limit.
    RateLimited,
    /// Without its identity fields, or with one too long.
    BadRequest,
}

impl Refused {
    fn verdict(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::BadRequest => "bad_request",
        }
    }
}

/// Where a check says it runs, each value normalised as bindings compare it (and cut to 512
/// characters, the longest a decided check may present).
#[derive(Debug, Clone)]
struct Place {
    domain: String,
    ip: String,
    directory: String,
}

impl Place {
    /// The three kinds of binding, in the order a mismatch is looked for.
    const KINDS: [Which; 3] = [Which::Domain, Which::Ip, Which::Directory];

    fn of(req: &VerifyRequest) -> Self {
        let field =
            |which: Which, v: &str| which.normalise(&v.chars().take(512).collect::<String>());
        Self {
            domain: field(Which::Domain, &req.domain),
            ip: field(Which::Ip, &req.ip),
            directory: field(Which::Directory, &req.directory),
        }
    }

    fn get(&self, which: Which) -> &str {
        match which {
            Which::Domain => &self.domain,
            Which::Ip => &self.ip,
            Which::Directory => &self.directory,
        }
    }
}

impl std::fmt::Display for LimitedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Address => "address",
            Self::Key => "key",
        })
    }
}

/// Why a check got no signed answer.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Over a per-minute limit; ask again in a minute.
    #[error("more than {limit} checks a minute from this {by}; try again in a minute")]
    RateLimited { limit: i64, by: LimitedBy },
    /// The rate limits cannot be read: nothing was decided.
    #[error("storage is unavailable; try again shortly")]
    LimitsUnavailable(#[source] sqlx::Error),
    /// A request without its identity fields, or with one too long.
    #[error("{0}")]
    BadRequest(String),
    /// Storage or signing failed while deciding.
    #[error(transparent)]
    Unavailable(VerifyError),
}

impl From<VerifyError> for CheckError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::BadRequest(why) => Self::BadRequest(why),
            other => Self::Unavailable(other),
        }
    }
}

impl Licenses {
    /// Answers one check from `remote_ip`: the rate limits per address and per key first, then
    /// the decision ([`Licenses::verify`]). Refusals of a known key are logged (a rate-limited
    /// key's once a minute, so a flood cannot grow the log by a row a request).
    ///
    /// # Errors
    /// Rate-limited, limits unreadable, a bad request, storage or signing failures.
    pub async fn answer(
        &self,
        request: &VerifyRequest,
        remote_ip: &str,
    ) -> Result<SignedAnswer, CheckError> {
        let now = self.clock.unix();
        let key = request.key.trim().to_ascii_uppercase();
        let (per_key, per_address) = self.config.license_limits;
        for (by, value, limit) in [
            (LimitedBy::Address, remote_ip, per_address),
            (LimitedBy::Key, key.as_str(), per_key),
        ] {
            let kind = by.counter();
            let counted_key = crate::token::hash(value);
            let admitted =
                db::rate_limit::admit(&self.db, kind, &counted_key, now, now - 60, limit)
                    .await
                    .map_err(CheckError::LimitsUnavailable)?;
            if !admitted {
                // The access log shows a key's first refusal of each minute, not every one: a
                // flood must not turn into a row per request (a bounded read decides).
                let key_hash = crate::token::hash(&key);
                if let Ok(true) =
                    db::rate_limit::admit(&self.db, REFUSAL_LOGGED, &key_hash, now, now - 60, 1)
                        .await
                {
                    self.log_refused_quietly(request, remote_ip, Refused::RateLimited)
                        .await;
                }
                return Err(CheckError::RateLimited { limit, by });
            }
        }
        match self.verify(request, remote_ip).await {
            Err(VerifyError::BadRequest(why)) => {
                self.log_refused_quietly(request, remote_ip, Refused::BadRequest)
                    .await;
                Err(CheckError::BadRequest(why))
            }
            other => Ok(other?),
        }
    }

    /// Logs a refused check of a known key; a failure to log does not change the answer.
    async fn log_refused_quietly(&self, request: &VerifyRequest, ip: &str, verdict: Refused) {
        if let Err(e) = self.log_refused(request, ip, verdict).await {
            tracing::warn!(error = %e, "licence check: cannot log a refused check");
        }
    }

    /// Decides, records and signs the answer to one check.
    ///
    /// # Errors
    /// A request without its identity fields (400), storage or signing failures.
    pub async fn verify(
        &self,
        req: &VerifyRequest,
        remote_ip: &str,
    ) -> Result<SignedAnswer, VerifyError> {
        let missing: Vec<&str> = [
            ("key", &req.key),
            ("domain", &req.domain),
            ("ip", &req.ip),
            ("directory", &req.directory),
            ("nonce", &req.nonce),
        ]
        .into_iter()
        .filter(|(_, v)| v.trim().is_empty())
        .map(|(k, _)| k)
        .collect();
        if !missing.is_empty() {
            return Err(VerifyError::BadRequest(format!(
                "missing: {}; an installation presents its key, domain, ip, directory and a nonce",
                missing.join(", ")
            )));
        }
        if [
            &req.key,
            &req.domain,
            &req.ip,
            &req.directory,
            &req.nonce,
            &req.verifier_version,
        ]
        .iter()
        .any(|v| v.len() > 512)
        {
            return Err(VerifyError::BadRequest(
                "a field is longer than 512 bytes".into(),
            ));
        }
        let now = self.clock.unix();
        let presented = Place::of(req);
        let mut answer = Answer {
            v: 1,
            key_id: String::new(),
            issued_at: now,
            nonce: req.nonce.clone(),
            license_key: req.key.trim().to_owned(),
            status: Status::Unknown,
            product: String::new(),
            bindings: Bindings::default(),
            mismatch: None,
            expires_at: None,
            // Unknown and malformed keys: ask again in a day, no grace.
            next_check_due: now + 86_400,
            grace_until: now,
            reissue_url: self.config.system_url.join(paths::ACCOUNT_LICENSES),
            reissues_left: None,
        };
        let mut license_id = None;
        match key::validate(&req.key) {
            Err(_) => answer.status = Status::Malformed,
            Ok(canonical) => {
                answer.license_key.clone_from(&canonical);
                if let Some(license) =
                    db::license::by_key_hash(&self.db, &super::key_hash(&canonical)).await?
                {
                    license_id = Some(license.id);
                    self.decide(&license, &presented, now, &mut answer).await?;
                }
            }
        }
        let (key_id, secret) = self.active_signing_key().await?;
        answer.key_id.clone_from(&key_id);
        let verdict = serde_json::to_value(answer.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let verdict = match &answer.mismatch {
            Some(m) => format!("{verdict}: {} {}", m.which.as_str(), m.presented),
            None => verdict,
        };
        db::license::log_check(
            &self.db,
            &db::license::Check {
                license_id,
                at: now,
                remote_ip: remote_ip.to_owned(),
                domain: presented.domain,
                ip: presented.ip,
                directory: presented.directory,
                verifier_version: req.verifier_version.chars().take(64).collect(),
                verdict,
                key_hint: key_hint(&req.key),
            },
        )
        .await?;
        Ok(SignedAnswer::sign(&answer, &key_id, &secret))
    }

    /// Logs a check refused before any decision (rate-limited, a bad request) when its key belongs
    /// to a licence, so the licence's access log shows every check. Checks with no known key are
    /// not logged here: a flood of them would only fill the table.
    ///
    /// # Errors
    /// Storage errors.
    async fn log_refused(
        &self,
        req: &VerifyRequest,
        remote_ip: &str,
        verdict: Refused,
    ) -> Result<(), sqlx::Error> {
        let Ok(canonical) = key::validate(&req.key) else {
            return Ok(());
        };
        let Some(license) =
            db::license::by_key_hash(&self.db, &super::key_hash(&canonical)).await?
        else {
            return Ok(());
        };
        let place = Place::of(req);
        db::license::log_check(
            &self.db,
            &db::license::Check {
                license_id: Some(license.id),
                at: self.clock.unix(),
                remote_ip: remote_ip.to_owned(),
                domain: place.domain,
                ip: place.ip,
                directory: place.directory,
                verifier_version: req.verifier_version.chars().take(64).collect(),
                verdict: verdict.verdict().to_owned(),
                key_hint: key_hint(&canonical),
            },
        )
        .await
    }

    /// Fills `answer` for a known licence: status, bindings (binding empty lists to this place),
    /// and the check schedule.
    async fn decide(
        &self,
        license: &License,
        presented: &Place,
        now: i64,
        answer: &mut Answer,
    ) -> Result<(), sqlx::Error> {
        let product = db::license::find_product(&self.db, license.product_id).await?;
        let (interval, grace, max) = product.as_ref().map_or((7, 3, 3), |p| {
            (p.check_interval_days, p.grace_days, p.max_reissues)
        });
        answer.product = product.map(|p| p.name).unwrap_or_default();
        answer.expires_at = license.expires_at;
        answer.next_check_due = now + interval * 86_400;
        answer.grace_until = answer.next_check_due + grace * 86_400;
        answer.reissues_left = u32::try_from((max - license.reissues).max(0)).ok();
        db::license::touch(&self.db, license.id, now).await?;
        match license.status.in_force(license.expires_at, now) {
            LicenseStatus::Suspended => {
                answer.status = Status::Suspended;
                return Ok(());
            }
            LicenseStatus::Expired => {
                // Set expired by hand without a date: no date is known, so none is invented (the
                // verifier then says "has expired", not "expired on" the moment of this check).
                answer.status = Status::Expired;
                return Ok(());
            }
            LicenseStatus::Active => {}
        }
        // The preset lists are compared first, and only a check that matches every one of them
        // binds the empty lists: a check from the wrong place must not record its IP or directory.
        if let Some(m) = mismatch(license, presented) {
            answer.status = Status::BindingMismatch;
            answer.bindings = bindings_of(license);
            answer.mismatch = Some(m);
            return Ok(());
        }
        // Only a licence with an unbound list is written to (the first check after issue or
        // reissue); the usual check reads.
        let bound = if license.domains.is_empty()
            || license.ips.is_empty()
            || license.directories.is_empty()
        {
            db::license::bind_empty(
                &self.db,
                license.id,
                std::slice::from_ref(&presented.domain),
                std::slice::from_ref(&presented.ip),
                std::slice::from_ref(&presented.directory),
            )
            .await?;
            db::license::find(&self.db, license.id)
                .await?
                .unwrap_or_else(|| license.clone())
        } else {
            license.clone()
        };
        answer.bindings = bindings_of(&bound);
        // Of two first checks racing from different places, the one that bound first wins; the
        // other meets the lists it bound.
        if let Some(m) = mismatch(&bound, presented) {
            answer.status = Status::BindingMismatch;
            answer.mismatch = Some(m);
            return Ok(());
        }
        answer.status = Status::Active;
        Ok(())
    }
}

/// The presented key masked for the access log: up to 10 characters before the first `-` (the
/// product prefix), then the first 8 hex digits of its SHA-256. Enough to group checks of one
/// key and to compare with a key a customer sends; never the key, which is a bearer secret.
pub fn key_hint(presented: &str) -> String {
    let trimmed = presented.trim().to_ascii_uppercase();
    let canonical = key::validate(&trimmed).unwrap_or(trimmed);
    let prefix: String = canonical
        .split('-')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect();
    let hash = crate::token::hash(&canonical);
    format!("{prefix}-…#{}", &hash[..8.min(hash.len())])
}

fn bindings_of(license: &License) -> Bindings {
    Bindings {
        domains: license.domains.clone(),
        ips: license.ips.clone(),
        directories: license.directories.clone(),
    }
}

/// The first presented value not in its list; an empty list (not bound yet) matches anything.
fn mismatch(license: &License, presented: &Place) -> Option<Mismatch> {
    Place::KINDS.into_iter().find_map(|which| {
        let value = presented.get(which);
        let allowed = super::bound(license, which);
        let matches = allowed.is_empty() || allowed.iter().any(|a| which.normalise(a) == value);
        (!matches).then(|| Mismatch {
            which,
            presented: value.to_owned(),
            allowed: allowed.to_vec(),
        })
    })
}
