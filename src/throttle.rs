//! The limit per account: failed authentication steps (a password at sign-in, a second factor,
//! the current password on the password and email forms) are counted per account, across
//! addresses, and past a few of them each further attempt waits a growing delay. The
//! [`Throttle`] service.
//!
//! The numbers, and why:
//! - [`FREE_FAILURES`] (5) failures cost nothing: people mistype, and the per-address bans
//!   (`crate::ban`) already stop one address guessing fast.
//! - From the 5th failure on, the next attempt waits [`FIRST_DELAY_SECONDS`] (1 s), doubling
//!   with each further failure up to [`MAX_DELAY_SECONDS`] (15 minutes, reached at the 15th).
//!   At the cap an attacker spread over any number of addresses gets 4 guesses an hour, about
//!   100 a day: a 6-digit code (3 accepted per 30 s) then holds for decades, and ASVS 2.2.1's
//!   "no more than 100 failed attempts per hour" holds from the first hour.
//! - It is a delay, never a lock: the owner waits at most 15 minutes, and their own successful
//!   sign-in (or correct current password) clears the count.
//! - A count untouched for [`FORGET_AFTER_SECONDS`] (a day) starts again from zero.
//!
//! While a delay runs, an attempt is refused *without* checking the password or code
//! ([`Delayed`], which says until when), and the refusal is not counted, so waiting is all it
//! takes. Each attempt is counted when it is admitted ([`Throttle::admit`]), before the check,
//! so concurrent guesses cannot all pass on one read; a correct password that still needs a
//! second factor gives its count back ([`Throttle::refund`]), and a completed sign-in clears it
//! ([`Throttle::clear`]).
//!
//! An identifier that names no account is counted the same way under a keyed hash of what was
//! typed ([`Key::Unknown`]), so the answers and delays never tell whether an account exists,
//! and the audit log names it by a short form of that hash ([`Key::unknown_mark`]), never the
//! text (a password typed into the wrong field would otherwise be kept there).

use crate::app::AppState;
use crate::ban::Bans;
use crate::clock::Clock;
use crate::db;
use crate::db::throttle::ThrottleRow;
use crate::domain::Realm;
use crate::sealing::SealingKey;
use crate::settings::Settings;
use std::net::IpAddr;
use std::sync::Arc;

/// Failures before any delay.
pub const FREE_FAILURES: i64 = 5;
/// The delay after the [`FREE_FAILURES`]th failure; it doubles with each further one.
pub const FIRST_DELAY_SECONDS: i64 = 1;
/// The longest delay: what an attacker can make the owner wait, at most.
pub const MAX_DELAY_SECONDS: i64 = 900;
/// A count untouched this long starts again from zero.
pub const FORGET_AFTER_SECONDS: i64 = 86_400;
/// At most one notice of a failed second factor per account in this time.
pub const NOTICE_EVERY_SECONDS: i64 = 3600;
/// Admissions tried again after losing a race before the attempt is treated as delayed.
const RACE_RETRIES: usize = 8;

/// The delay before the next attempt after `failures` failures.
pub fn delay_after(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES).unwrap_or(u32::MAX);
    FIRST_DELAY_SECONDS
        .checked_shl(doublings.min(62))
        .map_or(MAX_DELAY_SECONDS, |d| d.min(MAX_DELAY_SECONDS))
}

/// Whose attempts are counted together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// An account that exists.
    Account(Realm, i64),
    /// An identifier that names no account: the keyed hash of its normalised form.
    Unknown(Realm, String),
}

impl Key {
    fn realm(&self) -> Realm {
        match self {
            Self::Account(realm, _) | Self::Unknown(realm, _) => *realm,
        }
    }

    /// The stored `subject`.
    fn stored(&self) -> String {
        match self {
            Self::Account(_, id) => format!("id:{id}"),
            Self::Unknown(_, hash) => format!("unknown:{hash}"),
        }
    }

    /// How the audit log names an identifier that named no account: `unknown:` and 12 hex
    /// digits of the keyed hash, which lets an operator group attempts at one identifier
    /// without keeping what was typed. `None` for an account that exists.
    pub fn unknown_mark(&self) -> Option<String> {
        match self {
            Self::Account(..) => None,
            Self::Unknown(_, hash) => Some(format!("unknown:{}", &hash[..hash.len().min(12)])),
        }
    }
}

/// What was typed at sign-in, resolved: whose attempts it counts under and how the audit log
/// and the ban counts name it (an account by its stored email or username, as before; an
/// identifier that names no account by [`Key::unknown_mark`], never as typed).
#[derive(Debug, Clone)]
pub struct Identified {
    pub key: Key,
    pub subject: String,
}

/// An attempt refused unchecked because the account's delay runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Delayed {
    /// When attempts are checked again (unix seconds).
    pub until: i64,
    /// Seconds from now until then (at least 1): a `Retry-After`.
    pub seconds: i64,
    /// What the person is told: why, and when to try again.
    pub message: String,
}

/// Why an attempt was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error(transparent)]
    Delayed(#[from] Delayed),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// On the password and email forms the refusal is the current password's field error, which
/// says until when.
impl From<ThrottleError> for crate::account::CreateError {
    fn from(e: ThrottleError) -> Self {
        match e {
            ThrottleError::Delayed(d) => Self::Invalid(vec![crate::account::FieldError::new(
                "current_password",
                d.message,
            )]),
            ThrottleError::Storage(e) => e.into(),
        }
    }
}

/// An admitted attempt: what the counter was before it, for [`Throttle::refund`].
#[derive(Debug, Clone)]
pub struct Admitted {
    pub key: Key,
    before: Option<ThrottleRow>,
    after: ThrottleRow,
}

/// The per-account limit service.
#[derive(Clone)]
pub struct Throttle {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    sealing: Arc<SealingKey>,
    settings: Settings,
    config: Arc<crate::config::Config>,
    /// A wrong current password on a form counts for the per-address bans too.
    bans: Bans,
}

impl From<&AppState> for Throttle {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            sealing: state.sealing.clone(),
            settings: Settings::from(state),
            config: state.config.clone(),
            bans: Bans::from(state),
        }
    }
}

/// What was typed to name an account, as it is compared (`auth::login` trims, storage lowers).
fn normalised(identifier: &str) -> String {
    identifier.trim().to_lowercase()
}

impl Throttle {
    /// The key of what was typed at sign-in (the account it names, or its keyed hash) and the
    /// name the logs give it.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn identify(
        &self,
        realm: Realm,
        identifier: &str,
    ) -> Result<Identified, sqlx::Error> {
        let typed = identifier.trim();
        let found = match realm {
            Realm::Client => db::account::find_user_by_email(&self.db, typed)
                .await?
                .map(|u| (u.id, u.email)),
            Realm::Admin => db::account::find_admin_by_username(&self.db, typed)
                .await?
                .map(|a| (a.id, a.username)),
        };
        if let Some((id, name)) = found {
            return Ok(Identified {
                key: Key::Account(realm, id),
                subject: name,
            });
        }
        let key = self.unknown(realm, identifier);
        let subject = key.unknown_mark().unwrap_or_default();
        Ok(Identified { key, subject })
    }

    /// The key of an identifier that names no account.
    pub fn unknown(&self, realm: Realm, identifier: &str) -> Key {
        let hash = self.sealing.keyed_hash(&format!(
            "throttle:{}:{}",
            realm.as_str(),
            normalised(identifier)
        ));
        Key::Unknown(realm, hash)
    }

    /// Admits one attempt for `key` and counts it as a failure until it proves right, or
    /// refuses it unchecked while the account's delay runs.
    ///
    /// # Errors
    /// [`ThrottleError::Delayed`] with when to try again, or storage errors.
    pub async fn admit(&self, key: &Key) -> Result<Admitted, ThrottleError> {
        let (realm, subject) = (key.realm().as_str(), key.stored());
        for _ in 0..RACE_RETRIES {
            let now = self.clock.unix();
            let seen = db::throttle::get(&self.db, realm, &subject).await?;
            if let Some(row) = seen
                && row.blocked_until > now
            {
                return Err(self.delayed(row.blocked_until, now).into());
            }
            let earlier = seen
                .filter(|r| r.updated_at > now - FORGET_AFTER_SECONDS)
                .map_or(0, |r| r.failures);
            let failures = earlier + 1;
            let next = ThrottleRow {
                failures,
                blocked_until: now + delay_after(failures),
                updated_at: now,
            };
            if db::throttle::swap(&self.db, realm, &subject, seen, next).await? {
                if delay_after(failures) > 0 {
                    tracing::warn!(
                        realm,
                        subject = %key.stored(),
                        failures,
                        "account sign-ins delayed after repeated failures"
                    );
                }
                return Ok(Admitted {
                    key: key.clone(),
                    before: seen,
                    after: next,
                });
            }
        }
        // Many requests for one account at the same instant: that is an attack, not a person.
        let now = self.clock.unix();
        Err(self.delayed(now + FIRST_DELAY_SECONDS, now).into())
    }

    /// Gives an admitted attempt's count back: the password was right and a second factor is
    /// now due (clearing here would let whoever holds the password reset the count of wrong
    /// codes with each new sign-in). When the counter moved meanwhile, only the count is taken
    /// back.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn refund(&self, admitted: &Admitted) -> Result<(), sqlx::Error> {
        let (realm, subject) = (admitted.key.realm().as_str(), admitted.key.stored());
        let restored = admitted.before.map_or(
            ThrottleRow {
                failures: 0,
                blocked_until: 0,
                updated_at: admitted.after.updated_at,
            },
            |before| ThrottleRow {
                updated_at: admitted.after.updated_at,
                ..before
            },
        );
        if db::throttle::swap(&self.db, realm, &subject, Some(admitted.after), restored).await? {
            return Ok(());
        }
        let Some(now) = db::throttle::get(&self.db, realm, &subject).await? else {
            return Ok(());
        };
        let fewer = ThrottleRow {
            failures: (now.failures - 1).max(0),
            ..now
        };
        db::throttle::swap(&self.db, realm, &subject, Some(now), fewer).await?;
        Ok(())
    }

    /// Counts one failure that was not admitted first (a refused security key or Duo answer,
    /// a wrong code at enrolment); an account whose delay runs is not made to wait longer.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn count_failure(&self, key: &Key) -> Result<(), sqlx::Error> {
        match self.admit(key).await {
            Ok(_) | Err(ThrottleError::Delayed(_)) => Ok(()),
            Err(ThrottleError::Storage(e)) => Err(e),
        }
    }

    /// Forgets the account's failures: its owner completed a sign-in or proved the password.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn clear(&self, realm: Realm, subject_id: i64) -> Result<(), sqlx::Error> {
        let key = Key::Account(realm, subject_id);
        db::throttle::clear(&self.db, realm.as_str(), &key.stored()).await
    }

    /// After the current password on the password or email form was checked (an attempt
    /// admitted first): a right one clears the account's failures (the owner proved it); a
    /// wrong one stays counted and counts for the per-address bans like a failed sign-in.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn current_password(
        &self,
        realm: Realm,
        subject_id: i64,
        verified: &crate::auth::password::Verification,
    ) -> Result<(), sqlx::Error> {
        if matches!(verified, crate::auth::password::Verification::Match { .. }) {
            return self.clear(realm, subject_id).await;
        }
        self.wrong_current_password(realm, subject_id).await;
        Ok(())
    }

    /// A wrong current password on a form: one failure for the per-address bans, from the
    /// request's address. Errors are logged, never shown: the form's answer is the same.
    async fn wrong_current_password(&self, realm: Realm, subject_id: i64) {
        let ip = crate::request_origin::current().and_then(|(ip, _)| ip.parse::<IpAddr>().ok());
        let Some(ip) = ip else {
            return;
        };
        let name = match realm {
            Realm::Client => db::account::find_user_by_id(&self.db, subject_id)
                .await
                .map(|u| u.map(|u| u.email)),
            Realm::Admin => db::account::find_admin_by_id(&self.db, subject_id)
                .await
                .map(|a| a.map(|a| a.username)),
        };
        let subject = match name {
            Ok(Some(name)) => name,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not count a wrong current password for the bans");
                return;
            }
        };
        if let Err(e) = self.bans.record_failure(realm, ip, &subject).await {
            tracing::warn!(error = %e, "could not count a wrong current password for the bans");
        }
    }

    /// Whether the owner of `realm`/`subject_id` should be told now about a failed second
    /// factor: true at most once per [`NOTICE_EVERY_SECONDS`].
    ///
    /// # Errors
    /// Storage errors.
    pub async fn take_notice(&self, realm: Realm, subject_id: i64) -> Result<bool, sqlx::Error> {
        let now = self.clock.unix();
        let key = Key::Account(realm, subject_id);
        db::throttle::take_notice(
            &self.db,
            realm.as_str(),
            &key.stored(),
            now,
            now - NOTICE_EVERY_SECONDS,
        )
        .await
    }

    /// Queues the notice of a second factor that failed after the correct password, to the
    /// account's address (nothing when the account has none or is gone).
    ///
    /// # Errors
    /// Storage errors, or the template failed to render.
    pub async fn send_second_factor_notice(
        &self,
        realm: Realm,
        subject_id: i64,
        ip: &str,
        at: i64,
    ) -> anyhow::Result<()> {
        let Some((email, name)) = db::account::recipient(&self.db, realm, subject_id).await? else {
            return Ok(());
        };
        let url = &self.config.system_url;
        let rendered = crate::mail::template::SecondFactorFailed {
            portal: crate::mail::template::portal_name(url),
            name,
            when: self.settings.show_time(at),
            ip: ip.to_owned(),
            password_link: url.join(realm.password_path()),
            reset_link: url.join(realm.reset_path()),
        }
        .render()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        crate::mail::queue::enqueue(&self.db, &email, &rendered, self.clock.unix()).await?;
        Ok(())
    }

    /// The refusal while the delay runs until `until`.
    fn delayed(&self, until: i64, now: i64) -> Delayed {
        let seconds = (until - now).max(1);
        let wait = if seconds < 120 {
            format!("{seconds} second{}", if seconds == 1 { "" } else { "s" })
        } else {
            let minutes = (seconds + 59) / 60;
            format!("{minutes} minutes")
        };
        // The configured clock shows minutes: the minute after `until` is never too early.
        let by = self.settings.show_time((until + 59) / 60 * 60);
        Delayed {
            until,
            seconds,
            message: format!(
                "Too many failed attempts to sign in to this account. For its protection, attempts are paused for {wait} (until {by} at the latest); try again then. Nothing you enter before then is checked."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_after_five_failures_doubles_and_stops_at_fifteen_minutes() {
        let delays: Vec<i64> = (0..=16).map(delay_after).collect();
        assert_eq!(
            delays,
            [
                0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900
            ]
        );
        assert_eq!(delay_after(i64::MAX), MAX_DELAY_SECONDS);
    }

    #[test]
    fn the_audit_form_of_an_unknown_identifier_is_a_short_hash() {
        let key = Key::Unknown(Realm::Client, "ab".repeat(32));
        assert_eq!(key.unknown_mark().unwrap(), "unknown:abababababab");
        assert_eq!(Key::Account(Realm::Admin, 3).unknown_mark(), None);
    }
}
