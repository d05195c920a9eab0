//! Changes to a person's second factors, each written to the audit log; and the reset an admin
//! (or the break-glass CLI) performs, which also tells the owner by email.

use crate::app::AppState;
use crate::db;
use crate::session::Realm;

/// Who a realm's subject is, for labels, notices and Duo.
#[derive(Debug, Clone)]
pub struct Subject {
    pub realm: Realm,
    pub id: i64,
    /// The admin's username or the user's email: what they sign in with.
    pub login: String,
    pub email: String,
    pub display_name: String,
}

/// Looks a subject up.
///
/// # Errors
/// Storage errors.
pub async fn subject(
    state: &AppState,
    realm: Realm,
    id: i64,
) -> Result<Option<Subject>, sqlx::Error> {
    Ok(match realm {
        Realm::Client => db::account::find_user_by_id(&state.db, id)
            .await?
            .map(|u| Subject {
                realm,
                id,
                login: u.email.clone(),
                display_name: format!("{} {}", u.first_name, u.last_name)
                    .trim()
                    .to_owned(),
                email: u.email,
            }),
        Realm::Admin => db::account::find_admin_by_id(&state.db, id)
            .await?
            .map(|a| Subject {
                realm,
                id,
                login: a.username.clone(),
                display_name: a.username,
                email: a.email,
            }),
    })
}

/// The audit log's name for a subject.
pub fn actor(realm: Realm, id: i64) -> String {
    format!("{}:{id}", realm.as_str())
}

/// Writes one audit entry about a factor change.
///
/// # Errors
/// Storage errors.
pub async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    detail: &str,
    ip: &str,
) -> Result<(), sqlx::Error> {
    // Every caller changes its own factors (or, for Duo's settings, the installation's).
    db::setting::audit_about(
        &state.db,
        state.clock.unix(),
        actor,
        action,
        actor,
        detail,
        ip,
    )
    .await
}

/// Removes every factor of `target` (TOTP, backup codes, keys, Duo), records who did it, and
/// emails the owner so a reset they did not ask for does not go unnoticed.
///
/// # Errors
/// Storage errors.
pub async fn reset(
    state: &AppState,
    target: &Subject,
    actor_id: &str,
    by: &str,
    ip: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin().await?;
    db::two_factor::remove_all(&mut tx, target.realm.as_str(), target.id).await?;
    db::setting::audit_about(
        &mut *tx,
        state.clock.unix(),
        actor_id,
        "two_factor.reset",
        &actor(target.realm, target.id),
        &format!(
            "removed every second factor of {} ({})",
            actor(target.realm, target.id),
            target.login
        ),
        ip,
    )
    .await?;
    tx.commit().await?;
    let body = format!(
        "Hello {},\n\nThe two-factor authentication of your account {} was turned off by {by}. You can now sign in with your password alone{}.\n\nIf you did not ask for this, contact your administrator at once and change your password.",
        target.display_name,
        target.login,
        match crate::twofactor::policy(state, target.realm) {
            crate::config::Policy::Required =>
                "; you will be asked to set up a new second factor when you next sign in",
            _ => "; set up a new second factor on your security page",
        }
    );
    crate::mail::queue::send_generic(
        state,
        &target.email,
        "Two-factor authentication was turned off for your account",
        &body,
    )
    .await?;
    Ok(())
}
