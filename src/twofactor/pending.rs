//! Pending sign-ins: the password was right, the second factor (or, under a "required" policy,
//! the enrolment of one) is still due.
//!
//! A pending sign-in is its own row and its own cookie, not a session, so nothing that accepts a
//! session can accept it by mistake. It lives ten minutes, ends after `two_factor.max_failures`
//! wrong codes (then counting as one failed sign-in for the ban rules), and completes at most
//! once (the end is a conditional update), after which the sign-in pages start a session with a
//! fresh id. Every wrong answer also counts for the account's limit (`crate::throttle`), so new
//! pending sign-ins do not buy new guesses; while its delay runs a code is refused unchecked.
//! The owner is told by mail when a second factor fails after the correct password (once per
//! pending sign-in, at most once an hour). The challenge's code check and the enrolment at sign-in are here; security keys
//! are [`super::keys`], Duo is [`super::duo::sign_in`].

use super::{PendingRow, TwoFactor};
use crate::config::DuoOutage;
use crate::db;
use crate::domain::{Action, Actor};
use crate::session::{Realm, SignIn};
use crate::throttle::{Delayed, Key, ThrottleError};

/// How long the second step may take.
pub const LIFETIME_SECONDS: i64 = 600;

/// What a wrong code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Another attempt is allowed; this many remain.
    TryAgain(i64),
    /// Too many wrong codes: the pending sign-in has ended and counted as a failed sign-in.
    Cancelled,
}

/// The kinds of code the challenge form accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    Backup,
}

/// A right answer to the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// After a backup code: how many remain.
    pub backup_left: Option<i64>,
}

/// Why a challenge code did not complete the sign-in.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    /// Duo is down and the policy is fail-closed: only a backup code gets through.
    #[error("only a backup code can complete this sign-in while Duo is down")]
    BackupOnly,
    /// The code is wrong or used (counted).
    #[error("wrong code")]
    Wrong(Failure),
    /// The account's delay runs (`crate::throttle`): the code was not checked.
    #[error(transparent)]
    Delayed(Delayed),
    /// A seed could not be opened with the configured key.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why the enrolment at sign-in did not complete.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The app's code is wrong (counted).
    #[error("wrong code")]
    Wrong(Failure),
    /// A seed could not be opened, or the random source failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// The realm a pending sign-in belongs to.
pub(super) fn realm_of(pending: &PendingRow) -> Realm {
    Realm::parse(&pending.realm).unwrap_or(Realm::Client)
}

impl TwoFactor {
    /// Stores a pending sign-in for the credentials just accepted; returns the cookie value.
    ///
    /// # Errors
    /// Storage errors or a failing random source.
    pub async fn start_pending(
        &self,
        sign_in: &SignIn<'_>,
        identifier: &str,
        must_enrol: bool,
    ) -> anyhow::Result<String> {
        let id = crate::token::generate()?;
        let now = self.clock.unix();
        let row = PendingRow {
            id_hash: id.hash,
            realm: sign_in.realm.as_str().to_owned(),
            subject_id: sign_in.subject_id,
            client_id: sign_in.client_id,
            remember: sign_in.remember,
            ip: sign_in.ip.to_string(),
            user_agent: sign_in.user_agent.chars().take(300).collect(),
            identifier: identifier.chars().take(254).collect(),
            must_enrol,
            failures: 0,
            duo_down: false,
            created_at: now,
            expires_at: now + LIFETIME_SECONDS,
        };
        db::two_factor::pending_insert(&self.db, &row).await?;
        Ok(id.plain)
    }

    /// The live pending sign-in a cookie names, if it belongs to `realm`.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find_pending(
        &self,
        realm: Realm,
        cookie_value: &str,
    ) -> Result<Option<PendingRow>, sqlx::Error> {
        if !crate::token::looks_valid(cookie_value) {
            return Ok(None);
        }
        let found = db::two_factor::pending_find(
            &self.db,
            &crate::token::hash(cookie_value),
            self.clock.unix(),
        )
        .await?;
        Ok(found.filter(|p| p.realm == realm.as_str()))
    }

    /// The pending sign-in as stored now (an attempt may have marked Duo down), or as it was
    /// when it has ended meanwhile.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reload_pending(&self, pending: &PendingRow) -> Result<PendingRow, sqlx::Error> {
        Ok(
            db::two_factor::pending_find(&self.db, &pending.id_hash, self.clock.unix())
                .await?
                .unwrap_or_else(|| pending.clone()),
        )
    }

    /// Ends a pending sign-in, completed or abandoned. True when it was still live: of two
    /// requests completing it, one wins and the other starts over.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn end_pending(&self, pending: &PendingRow) -> Result<bool, sqlx::Error> {
        db::two_factor::pending_end(&self.db, &pending.id_hash, self.clock.unix()).await
    }

    /// Whether Duo's outage locks this pending sign-in to backup codes (fail-closed policy).
    pub fn backup_only(&self, pending: &PendingRow) -> bool {
        pending.duo_down && self.config.two_factor.duo_outage == DuoOutage::FailClosed
    }

    /// Counts a wrong code; at the limit the pending sign-in ends and one failed sign-in is
    /// recorded for the ban rules, exactly as a wrong password would be.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn fail_pending(&self, pending: &PendingRow) -> Result<Failure, sqlx::Error> {
        let key = Key::Account(realm_of(pending), pending.subject_id);
        self.throttle.count_failure(&key).await?;
        self.wrong_answer(pending).await
    }

    /// A wrong answer already counted for the account's limit: counted for the pending sign-in,
    /// the owner told at the first one, and at the limit the sign-in cancelled.
    async fn wrong_answer(&self, pending: &PendingRow) -> Result<Failure, sqlx::Error> {
        let failures = db::two_factor::pending_fail(&self.db, &pending.id_hash).await?;
        if failures == 1 && !pending.must_enrol {
            self.tell_owner(pending).await;
        }
        let limit = i64::from(self.config.two_factor.max_failures);
        if failures < limit {
            return Ok(Failure::TryAgain(limit - failures));
        }
        self.end_pending(pending).await?;
        let realm = realm_of(pending);
        if let Ok(ip) = pending.ip.parse() {
            self.bans
                .record_failure(realm, ip, &pending.identifier)
                .await?;
        }
        let who = Actor::of(realm, pending.subject_id);
        crate::audit::record_from(
            &self.db,
            self.clock.unix(),
            &who,
            Action::SigninSecondFactorFailed,
            &who,
            &format!("{failures} wrong codes; the sign-in was cancelled"),
            crate::audit::Origin {
                ip: &pending.ip,
                user_agent: "",
            },
        )
        .await?;
        Ok(Failure::Cancelled)
    }

    /// Mails the owner that a second factor failed after their correct password, unless they
    /// were told within the hour. A failure to queue it is logged: it must not change the answer.
    async fn tell_owner(&self, pending: &PendingRow) {
        let realm = realm_of(pending);
        let id = pending.subject_id;
        let sent = match self.throttle.take_notice(realm, id).await {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.throttle
                    .send_second_factor_notice(realm, id, &pending.ip, self.clock.unix())
                    .await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not queue the notice of a failed second factor");
        }
    }

    /// Checks the challenge's TOTP or backup code. A used backup code is audited here; a wrong
    /// code is counted. The caller then ends the pending sign-in and starts the session.
    ///
    /// # Errors
    /// `BackupOnly` (TOTP while Duo is down, fail-closed), `Delayed` (the account's delay runs:
    /// nothing was checked), `Wrong`, or a storage or unexpected error.
    pub async fn answer_challenge(
        &self,
        pending: &PendingRow,
        method: Method,
        code: &str,
    ) -> Result<Answered, ChallengeError> {
        let realm = realm_of(pending);
        let id = pending.subject_id;
        if method == Method::Totp && self.backup_only(pending) {
            return Err(ChallengeError::BackupOnly);
        }
        // Counted before the check, so concurrent guesses cannot all pass on one read; the
        // completed sign-in clears the count (`SignIns::begin`).
        match self.throttle.admit(&Key::Account(realm, id)).await {
            Ok(_) => {}
            Err(ThrottleError::Delayed(d)) => return Err(ChallengeError::Delayed(d)),
            Err(ThrottleError::Storage(e)) => return Err(e.into()),
        }
        let (ok, backup_left) = match method {
            Method::Totp => (self.check_totp(realm, id, code).await?, None),
            Method::Backup => {
                let left = self.redeem_backup_code(realm, id, code).await?;
                (left.is_some(), left)
            }
        };
        if !ok {
            self.audit_wrong_code(pending, method).await?;
            return Err(ChallengeError::Wrong(self.wrong_answer(pending).await?));
        }
        if let Some(left) = backup_left {
            self.audit(
                &Actor::of(realm, id),
                Action::TwoFactorBackupCodeUsed,
                &format!("{left} backup codes remain"),
            )
            .await?;
        }
        Ok(Answered { backup_left })
    }

    /// Under a "required" policy: confirms the authenticator app set up at sign-in with its
    /// first code and issues backup codes (returned, to show once). A wrong code is counted.
    ///
    /// # Errors
    /// `Wrong`, or a storage or unexpected error.
    pub async fn enrol_at_sign_in(
        &self,
        pending: &PendingRow,
        code: &str,
    ) -> Result<Vec<String>, EnrolError> {
        let realm = realm_of(pending);
        let id = pending.subject_id;
        if !self.confirm_totp(realm, id, &pending.id_hash, code).await? {
            return Err(EnrolError::Wrong(self.fail_pending(pending).await?));
        }
        let codes = self.new_backup_codes(realm, id).await?;
        self.audit(
            &Actor::of(realm, id),
            Action::TwoFactorTotpEnabled,
            "authenticator app set up at sign-in (required policy); backup codes issued",
        )
        .await?;
        Ok(codes)
    }
}
