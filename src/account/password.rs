//! Changing a signed-in person's password, for both realms: the current password is checked,
//! the realm's policy applied, and every other session of theirs ends in the same transaction
//! as the change and its audit entry (through `session::ending`, the one place sessions end).

use super::{Accounts, CreateError, FieldError, check_password, hash_error, policy};
use crate::db;
use crate::domain::{Action, Actor, Realm};
use crate::session::EndReason;
use crate::session::ending::{Which, end_in};
use crate::throttle::Key;
use secrecy::SecretString;

/// Stores `hash` as the password of `id` of `realm` and ends every session of theirs but
/// `keep` (reason `password_changed`), in the caller's transaction: how a password is replaced,
/// whether changed (keeping the session that changed it) or reset (keeping none). Every
/// outstanding reset link of the account is revoked with it ([`crate::reset::revoke_links`]):
/// a link mailed before the change must not undo it. Returns how many sessions ended; the
/// caller's own entry records it.
///
/// # Errors
/// Storage errors.
pub(crate) async fn replace_password(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    realm: Realm,
    id: i64,
    hash: &str,
    keep: Option<&str>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    match realm {
        Realm::Client => db::account::update_user_password(&mut **tx, id, hash, now).await?,
        Realm::Admin => db::account::update_admin_password(&mut **tx, id, hash, now).await?,
    }
    crate::reset::revoke_links(tx, realm, id, now).await?;
    let others = Which::AllOf {
        realm,
        subject_id: id,
        except: keep,
    };
    Ok(end_in(tx, others, EndReason::PasswordChanged, now)
        .await?
        .own)
}

impl Accounts {
    /// The notice a password change sends: when, that other sessions ended, and what to do
    /// if it was not them (reset, which needs only the mailbox).
    fn password_changed_notice(
        &self,
        realm: Realm,
        name: &str,
        now: i64,
    ) -> Result<crate::mail::template::Rendered, CreateError> {
        crate::mail::template::Generic {
            subject: format!("Your {} password was changed", self.portal_name()),
            body: format!(
                "Hello {name},\n\nThe password of your {} account was changed at {}. Every other session was signed out, and any password reset link sent before stopped working.\n\nIf this was not you, reset your password now at {} and contact support.",
                self.portal_name(),
                self.show_time(now),
                self.config.system_url.join(crate::reset::base_path(realm)),
            ),
        }
        .render()
        .map_err(|e| CreateError::Unexpected(anyhow::anyhow!(e.to_string())))
    }

    /// Changes a signed-in person's password after checking the current one, and ends every
    /// other session of theirs (reason `password_changed`): whoever knew the old password is
    /// signed out. Returns how many sessions ended.
    ///
    /// # Errors
    /// Field errors (`current_password`, `password`), `Busy`, or storage errors.
    pub async fn change_password(
        &self,
        session: &crate::session::Session,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<u64, CreateError> {
        use crate::auth::password::Verification;
        let holder = self
            .holder(session.realm, session.subject_id)
            .await?
            .ok_or_else(|| match session.realm {
                Realm::Client => anyhow::anyhow!("the signed-in user no longer exists"),
                Realm::Admin => anyhow::anyhow!("the signed-in admin no longer exists"),
            })?;
        let inputs: Vec<&str> = holder.inputs.iter().map(String::as_str).collect();
        let mut errors = Vec::new();
        check_password(
            &policy(&self.config, session.realm),
            new,
            &inputs,
            &mut errors,
        );
        // Counted like a sign-in, and not checked while the account's delay runs (throttle).
        let (realm, id) = (session.realm, session.subject_id);
        self.throttle.admit(&Key::Account(realm, id)).await?;
        let verified = self
            .hasher
            .verify(current.clone(), holder.password_hash)
            .await
            .map_err(hash_error)?;
        self.throttle.current_password(realm, id, &verified).await?;
        if !matches!(verified, Verification::Match { .. }) {
            errors.insert(
                0,
                FieldError::new("current_password", "This is not your current password."),
            );
        }
        if !errors.is_empty() {
            return Err(CreateError::Invalid(errors));
        }
        let hash = self.hash(new).await?;
        let now = self.clock.unix();
        let notice = self.password_changed_notice(session.realm, &holder.name, now)?;
        let mut tx = self.db.begin().await?;
        // Every other session of theirs ends; this one made the change and stays.
        let ended =
            replace_password(&mut tx, realm, id, &hash, Some(&session.id_hash), now).await?;
        // As after a reset: a seed planted by whoever knew the old password goes with it.
        crate::twofactor::forget_unconfirmed_totp(&mut tx, realm, id).await?;
        let actor = Actor::of(session.realm, session.subject_id);
        // The request's address and user agent (request_origin::with_origin), not those the session
        // signed in with.
        crate::audit::record(
            &mut *tx,
            now,
            &actor,
            Action::PasswordChanged,
            &actor,
            &format!("{ended} other session(s) ended"),
        )
        .await?;
        // The person hears of it at their address (ASVS 2.2.3), in the same transaction: a
        // change made from a stolen session is not silent.
        crate::mail::queue::enqueue(&mut *tx, &holder.email, &notice, now).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
