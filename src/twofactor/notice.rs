//! What the second-factor service tells: a mail to the person on every change to their second
//! factors (ASVS 2.5.5: added or removed authenticator app, security key or Duo,
//! new backup codes, a backup code used, an administrator's reset), and an audit entry for each
//! single wrong code, not only for the cancellation after too many.
//!
//! Each notice says what changed, when (in the configured timezone), from which address (or who,
//! for a reset) and what to do if it was not them. Notices of the person's own changes are
//! queued by the service's one audit helper through [`TwoFactor::notify_change`], so a change
//! that is audited cannot forget its notice; the reset queues its own inside its transaction
//! ([`TwoFactor::change_notice`]).

use super::pending::Method;
use super::{PendingRow, Subject, TwoFactor};
use crate::domain::{Action, Actor};
use crate::mail::template::{Rendered, TwoFactorChanged};
use crate::session::Realm;

/// The subject line and the sentence of the notice about `action`, when it is a change to the
/// person's own factors (`detail` is the audit entry's, e.g. the key's name).
fn describe(action: Action, detail: &str) -> Option<(&'static str, String)> {
    Some(match action {
        Action::TwoFactorTotpEnabled => (
            "An authenticator app was added to your account",
            "An authenticator app was added to your two-step verification: its codes now complete your sign-ins.".to_owned(),
        ),
        Action::TwoFactorTotpRemoved => (
            "An authenticator app was removed from your account",
            "The authenticator app was removed from your two-step verification: its codes no longer sign you in.".to_owned(),
        ),
        Action::TwoFactorBackupRegenerated => (
            "New backup codes were made for your account",
            "A new set of backup codes was made for your account; the previous codes no longer work.".to_owned(),
        ),
        Action::TwoFactorBackupCodeUsed => (
            "A backup code was used to sign in to your account",
            format!("A backup code was used instead of your usual second factor to sign in ({detail})."),
        ),
        Action::TwoFactorWebauthnAdded => (
            "A security key was added to your account",
            format!("A security key was added to your two-step verification ({detail})."),
        ),
        Action::TwoFactorWebauthnRemoved => (
            "A security key was removed from your account",
            format!("A security key was removed from your two-step verification ({detail})."),
        ),
        Action::TwoFactorDuoEnabled => (
            "Duo was turned on for your account",
            "Duo was turned on for your two-step verification: your sign-ins now continue at Duo.".to_owned(),
        ),
        Action::TwoFactorDuoDisabled => (
            "Duo was turned off for your account",
            "Duo was turned off for your two-step verification.".to_owned(),
        ),
        _ => return None,
    })
}

/// The realm and id of a person named as an audit actor.
fn person(actor: &Actor) -> Option<(Realm, i64)> {
    match actor {
        Actor::Admin(id) => Some((Realm::Admin, id.get())),
        Actor::User(id) => Some((Realm::Client, id.get())),
        _ => None,
    }
}

impl TwoFactor {
    /// The notice to `subject` that `what` happened now, `from` an address or a person.
    ///
    /// # Errors
    /// Only on a template bug.
    pub(super) fn change_notice(
        &self,
        subject: &Subject,
        headline: &str,
        what: &str,
        from: &str,
    ) -> Result<Rendered, askama::Error> {
        let system_url = &self.config.system_url;
        TwoFactorChanged {
            portal: crate::mail::template::portal_name(system_url),
            name: subject.display_name.clone(),
            subject: headline.to_owned(),
            what: what.to_owned(),
            when: self.settings.show_time(self.clock.unix()),
            from: from.to_owned(),
            reset_link: system_url.join(subject.realm.reset_path()),
            security_link: system_url.join(subject.realm.security_path()),
            contact: match subject.realm {
                Realm::Client => "contact support".to_owned(),
                Realm::Admin => "tell another administrator at once".to_owned(),
            },
        }
        .render()
    }

    /// Queues the notice about an audited change `actor` made to their own factors (nothing for
    /// other actions). The address is the request's.
    ///
    /// # Errors
    /// Storage errors; a template bug is logged, not raised, since the change is already made.
    pub(super) async fn notify_change(
        &self,
        actor: &Actor,
        action: Action,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        let (Some((headline, what)), Some((realm, id))) = (describe(action, detail), person(actor))
        else {
            return Ok(());
        };
        let Some(subject) = self.subject(realm, id).await? else {
            return Ok(());
        };
        let from = crate::request_origin::current()
            .map(|(ip, _)| ip)
            .filter(|ip| !ip.is_empty())
            .map_or_else(|| "this server".to_owned(), |ip| format!("address {ip}"));
        match self.change_notice(&subject, headline, &what, &from) {
            Ok(notice) => {
                crate::mail::queue::enqueue(&self.db, &subject.email, &notice, self.clock.unix())
                    .await
                    .map(|_| ())
            }
            Err(e) => {
                tracing::error!(error = %e, "the second-factor notice could not be rendered");
                Ok(())
            }
        }
    }

    /// Records one wrong code at the challenge of a pending sign-in, with its address, so the
    /// log shows each guess and not only the cancellation after too many.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn audit_wrong_code(
        &self,
        pending: &PendingRow,
        method: Method,
    ) -> Result<(), sqlx::Error> {
        let who = Actor::of(super::pending::realm_of(pending), pending.subject_id);
        let what = match method {
            Method::Totp => "a wrong authenticator code",
            Method::Backup => "a wrong or used backup code",
        };
        crate::audit::record_from(
            &self.db,
            self.clock.unix(),
            &who,
            Action::TwoFactorWrongCode,
            &who,
            &format!("{what} at sign-in, after the right password"),
            crate::audit::Origin {
                ip: &pending.ip,
                user_agent: "",
            },
        )
        .await
    }
}
