//! Ending sessions: the one place that ends them and decides what the audit log says about it.
//!
//! Every way a session ends goes through [`end_in`] (inside a caller's transaction) or
//! [`Sessions::end`] (in its own): signing out, a timeout noticed on load, an account that is
//! gone, "Return to admin", ending sessions from the sessions page, a password change or reset,
//! and disabling or deleting an admin. The entries it writes keep the stored forms the log has
//! always had:
//!
//! - one session ([`Which::This`]): `signout` for a sign-out, `session.ended` (detail: the
//!   reason) for any other reason, and for a "login as client" session `impersonation.end` by
//!   the admin, so an admin's return, sign-out or timeout is never recorded as the client's doing;
//! - from the sessions page ([`Which::OneOf`], [`Which::OthersOf`]): one `session.ended` naming
//!   what was ended and how many;
//! - as part of another operation ([`Which::AllOf`], [`Which::AdminAndImpersonations`]): none,
//!   because that operation's own entry (`password.changed`, `password.reset`, `admin.updated`,
//!   `admin.deleted`) names the count.
//!
//! A "login as client" session ends with the admin session that opened it: when an admin's own
//! session ends here, so do the impersonations it opened (each recorded as `impersonation.end`
//! by the admin), and `Sessions::load` ends one whose admin session timed out unnoticed.
//!
//! Ending another of one's own sessions from the sessions page ([`Which::OneOf`],
//! [`Which::OthersOf`]) needs a recent step-up of the session asking (the password or a current
//! code within [`STEP_UP_SECONDS`], ASVS 4.0.3 3.3.4): a session left open on someone's desk
//! cannot be used to throw the owner out of their other sessions. Signing out (ending the
//! session itself) and ends that are part of another operation need none.
//!
//! The address and user agent of the entries are those of the request that ended the session
//! (`request_origin::with_origin`).
//!
//! The OpenID provider's tokens end here too: those an application got from a session that
//! ends (unless the person granted `offline_access`), and each such application with a
//! back-channel logout URI gets a logout token queued in the same transaction
//! (`oidc::backchannel`).

use super::{EndReason, Realm, Session, Sessions};
use crate::db;
use crate::domain::{Action, Actor, AdminId, ClientId, UserId};
use crate::twofactor::STEP_UP_SECONDS;

/// Why sessions were not ended.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    /// Ending another session on the person's request needs a step-up within
    /// [`STEP_UP_SECONDS`], and the session asking has none.
    #[error("confirm your password or a current code first")]
    StepUpNeeded,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// This session: a sign-out, a timeout, an account that is gone or disabled, "Return to
    /// admin".
    This(&'a Session),
    /// One of `owner`'s person's sessions, named by its id hash on their sessions page; a hash
    /// of someone else's session ends nothing.
    OneOf { owner: &'a Session, target: &'a str },
    /// Every session of `owner`'s person but `owner` itself, from their sessions page.
    OthersOf(&'a Session),
    /// Every session of a person except `except` (a password change keeps the session that
    /// made it; a reset keeps none). Recorded by the operation that asks for it.
    AllOf {
        realm: Realm,
        subject_id: i64,
        except: Option<&'a str>,
    },
    /// An admin's own sessions and the client sessions they opened with "login as client"
    /// (disabling or deleting the admin). Recorded by the operation that asks for it.
    AdminAndImpersonations(AdminId),
    /// One session of a person, named by its id hash by an operator (the admin API); a hash
    /// of another person's session ends nothing. Recorded by the operation that asks for it.
    Named {
        realm: Realm,
        subject_id: i64,
        target: &'a str,
    },
}

/// How many sessions ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Sessions of the person named (for [`Which::This`], 1 when it was still live).
    pub own: u64,
    /// Client sessions an admin opened by "login as client" ([`Which::AdminAndImpersonations`],
    /// or those whose admin session this end ended).
    pub as_client: u64,
}

impl Sessions {
    /// Ends `which` with `reason` in a transaction of its own and records it ([`end_in`]).
    /// Fails closed: another session on the person's request ([`Sessions::end_chosen`]'s
    /// rule) without a step-up ends nothing.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn end(&self, which: Which<'_>, reason: EndReason) -> Result<Ended, sqlx::Error> {
        match self.end_chosen(which, reason).await {
            Ok(ended) => Ok(ended),
            Err(EndError::StepUpNeeded) => Ok(Ended::default()),
            Err(EndError::Storage(e)) => Err(e),
        }
    }

    /// Ends `which` with `reason` like [`Sessions::end`], and says when it refused: ending
    /// another of the person's sessions ([`Which::OneOf`] naming another session,
    /// [`Which::OthersOf`]) needs a step-up of `owner` within [`STEP_UP_SECONDS`].
    ///
    /// # Errors
    /// [`EndError::StepUpNeeded`], or storage errors.
    pub async fn end_chosen(&self, which: Which<'_>, reason: EndReason) -> Result<Ended, EndError> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let asking = match which {
            Which::OneOf { owner, target } if target != owner.id_hash => Some(owner),
            Which::OthersOf(owner) => Some(owner),
            _ => None,
        };
        if let Some(owner) = asking {
            let at = db::session::stepped_up_at(&mut *tx, &owner.id_hash).await?;
            if !fresh(at, now) {
                return Err(EndError::StepUpNeeded);
            }
        }
        let ended = end_in(&mut tx, which, reason, now).await?;
        tx.commit().await?;
        // This node refuses them from the next request on; the others read the change log.
        if ended.own + ended.as_client > 0 {
            self.forget(which);
        }
        Ok(ended)
    }

    /// Forgets what this node keeps in memory of the sessions `which` names.
    fn forget(&self, which: Which<'_>) {
        match which {
            Which::This(s) => self.cache.forget_session(&s.id_hash),
            Which::OneOf { target, .. } | Which::Named { target, .. } => {
                self.cache.forget_session(target);
            }
            Which::OthersOf(owner) => self.cache.forget_subject(owner.realm, owner.subject_id),
            Which::AllOf {
                realm, subject_id, ..
            } => self.cache.forget_subject(realm, subject_id),
            Which::AdminAndImpersonations(id) => self.cache.forget_subject(Realm::Admin, id.get()),
        }
    }

    /// Whether `session` stepped up within [`STEP_UP_SECONDS`], so that the sessions page
    /// offers the ending buttons rather than the step-up form.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn stepped_up(&self, session: &Session) -> Result<bool, sqlx::Error> {
        let at = db::session::stepped_up_at(&self.db, &session.id_hash).await?;
        Ok(fresh(at, self.clock.unix()))
    }
}

/// The one reading of "a recent step-up": one at most [`STEP_UP_SECONDS`] old.
fn fresh(stepped_up_at: Option<i64>, now: i64) -> bool {
    stepped_up_at.is_some_and(|t| now - t <= STEP_UP_SECONDS)
}

/// Ends `which` with `reason` inside the caller's transaction and writes the audit entry the
/// module documentation describes (none when nothing ended).
///
/// # Errors
/// Storage errors.
pub async fn end_in(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    which: Which<'_>,
    reason: EndReason,
    now: i64,
) -> Result<Ended, sqlx::Error> {
    let stored = reason.as_str();
    let ended = match which {
        Which::This(session) => Ended {
            own: u64::from(db::session::end(&mut **tx, &session.id_hash, stored, now).await?),
            as_client: 0,
        },
        Which::OneOf { owner, target } => Ended {
            own: u64::from(
                db::session::end_for_subject(
                    &mut **tx,
                    owner.realm.as_str(),
                    owner.subject_id,
                    target,
                    stored,
                    now,
                )
                .await?,
            ),
            as_client: 0,
        },
        Which::Named {
            realm,
            subject_id,
            target,
        } => Ended {
            own: u64::from(
                db::session::end_for_subject(
                    &mut **tx,
                    realm.as_str(),
                    subject_id,
                    target,
                    stored,
                    now,
                )
                .await?,
            ),
            as_client: 0,
        },
        Which::OthersOf(owner) => Ended {
            own: db::session::end_all_for_subject(
                &mut **tx,
                owner.realm.as_str(),
                owner.subject_id,
                Some(&owner.id_hash),
                stored,
                now,
            )
            .await?,
            as_client: 0,
        },
        Which::AllOf {
            realm,
            subject_id,
            except,
        } => Ended {
            own: db::session::end_all_for_subject(
                &mut **tx,
                realm.as_str(),
                subject_id,
                except,
                stored,
                now,
            )
            .await?,
            as_client: 0,
        },
        Which::AdminAndImpersonations(id) => Ended {
            own: db::session::end_all_for_subject(
                &mut **tx,
                Realm::Admin.as_str(),
                id.get(),
                None,
                stored,
                now,
            )
            .await?,
            as_client: db::session::end_impersonations_by(&mut **tx, id.get(), stored, now).await?,
        },
    };
    if let Some((actor, action, subject, detail)) = entry(which, reason, ended) {
        crate::audit::record(&mut **tx, now, &actor, action, subject, &detail).await?;
    }
    let mut ended = ended;
    if let Some(admin) = admin_side(which) {
        ended.as_client += end_orphans(tx, admin, reason, now).await?;
    }
    if ended.own + ended.as_client > 0 {
        // What applications got from these sessions ends with them, and each application told
        // of it by back-channel logout (docs/oidc.md, F17).
        db::oidc_logout::queue_for_sessions_ended_at(&mut **tx, now).await?;
        db::oidc_token::revoke_for_sessions_ended_at(&mut **tx, now).await?;
    }
    Ok(ended)
}

/// The admin whose own sessions `which` may have ended, so that the "login as client"
/// sessions those opened end with them.
fn admin_side(which: Which<'_>) -> Option<AdminId> {
    let of = |realm: Realm, id: i64| (realm == Realm::Admin).then_some(AdminId(id));
    match which {
        Which::This(s) | Which::OneOf { owner: s, .. } | Which::OthersOf(s) => {
            of(s.realm, s.subject_id)
        }
        Which::AllOf {
            realm, subject_id, ..
        }
        | Which::Named {
            realm, subject_id, ..
        } => of(realm, subject_id),
        // Every "login as client" session of the admin ended with the admin's own.
        Which::AdminAndImpersonations(_) => None,
    }
}

/// Ends `admin`'s live "login as client" sessions whose admin session is no longer live, each
/// recorded as `impersonation.end` by the admin (the same entry as "Return to admin"), so an
/// impersonation never outlives the admin's sign-out, timeout or revoked session.
async fn end_orphans(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    admin: AdminId,
    reason: EndReason,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let mut count = 0;
    for row in db::session::orphaned_impersonations(&mut **tx, admin.get()).await? {
        if db::session::end(&mut **tx, &row.id_hash, reason.as_str(), now).await? {
            count += 1;
            let subject = Actor::Impersonated(
                ClientId(row.client_id.unwrap_or_default()),
                UserId(row.subject_id),
            );
            let detail = format!("{}: the admin's own session ended", reason.as_str());
            crate::audit::record(
                &mut **tx,
                now,
                &Actor::Admin(admin),
                Action::ImpersonationEnd,
                subject,
                &detail,
            )
            .await?;
        }
    }
    Ok(count)
}

/// The audit entry for an end: actor, action, subject and detail, or `None` when nothing is
/// recorded here.
fn entry(
    which: Which<'_>,
    reason: EndReason,
    ended: Ended,
) -> Option<(Actor, Action, Actor, String)> {
    if ended.own == 0 {
        return None;
    }
    let from_list = |owner: &Session, what: &str| {
        let who = owner.actor();
        Some((
            who.clone(),
            Action::SessionEnded,
            who,
            format!(
                "{}: {what} ended from the sessions page ({})",
                reason.as_str(),
                ended.own
            ),
        ))
    };
    match which {
        Which::This(session) => Some(match session.impersonator() {
            Some(admin) => (
                Actor::Admin(admin),
                Action::ImpersonationEnd,
                // The same subject as impersonation.start's.
                Actor::Impersonated(
                    ClientId(session.client_id.unwrap_or_default()),
                    UserId(session.subject_id),
                ),
                reason.as_str().to_owned(),
            ),
            None => (
                session.actor(),
                if reason == EndReason::Logout {
                    Action::Signout
                } else {
                    Action::SessionEnded
                },
                session.actor(),
                reason.as_str().to_owned(),
            ),
        }),
        Which::OneOf { owner, .. } => from_list(owner, "one other session"),
        Which::OthersOf(owner) => from_list(owner, "every other session"),
        Which::AllOf { .. } | Which::AdminAndImpersonations(_) | Which::Named { .. } => None,
    }
}
