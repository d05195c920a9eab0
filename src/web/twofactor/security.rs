//! `{security}`: people see and change their own second factors. Every change needs a recent
//! step-up (the password, or a code from a current factor, within the last ten minutes), so a
//! session left open on someone's desk cannot be used to swap in the attacker's phone.

use super::pages::{BackupCodesPage, KeyView, SecurityPage, TotpSetupPage};
use super::{STEP_UP_SECONDS, Side, Signed, stepped_up};
use crate::app::AppState;
use crate::auth::password::Verification;
use crate::config::Policy;
use crate::twofactor::{self, manage};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, Peer};
use crate::web::page::{self, Nav};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;

fn nav<S: Side>(signed: &Signed<S>, csrf: &str) -> Nav {
    Nav {
        admin: S::REALM == crate::session::Realm::Admin,
        name: signed.subject.display_name.clone(),
        csrf: csrf.to_owned(),
        links: signed.nav_links.clone(),
        impersonation: None,
    }
}

/// Renders the security page.
pub(super) async fn render<S: Side>(
    state: &AppState,
    signed: &Signed<S>,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
) -> AppResult<Response> {
    let enrolled = twofactor::enrolled(state, S::REALM, signed.subject.id).await?;
    let duo_available = crate::db::two_factor::duo_settings(&state.db)
        .await?
        .is_some();
    let duo = crate::db::two_factor::duo_enrolled(&state.db, S::REALM.as_str(), signed.subject.id)
        .await?;
    let body = SecurityPage {
        title: "Two-step verification",
        nav: Some(nav(signed, &csrf)),
        base: S::SECURITY.to_owned(),
        policy: match twofactor::policy(state, S::REALM) {
            Policy::Off => "Two-step verification is turned off for this portal.",
            Policy::Optional => "Two-step verification is optional here, and strongly recommended.",
            Policy::Required => {
                "This portal requires two-step verification: you must keep at least one factor."
            }
        },
        stepped_up: stepped_up(state, &signed.session).await?,
        error: error.clone(),
        notice,
        totp: enrolled.totp,
        backup_remaining: enrolled.backup_remaining,
        keys: enrolled
            .keys
            .iter()
            .map(|k| KeyView {
                id: k.id,
                name: k.name.clone(),
                added: state.show_time(k.created_at),
                last_used: k
                    .last_used_at
                    .map_or_else(|| "never".into(), |at| state.show_time(at)),
            })
            .collect(),
        duo_available,
        duo,
        csrf,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, page::render(&body)).into_response())
}

/// Shows the factors.
pub async fn get_security<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&state, &signed, csrf, None, None).await
}

/// The step-up form: the password, or a code.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Checks the password or a current factor and records the step-up.
pub async fn post_confirm<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let id = signed.subject.id;
    let ok = if !form.password.is_empty() {
        let verified = state
            .hasher
            .verify(
                SecretString::from(form.password),
                signed.password_hash.clone(),
            )
            .await
            .map_err(|e| match e {
                crate::auth::hasher::HashError::Busy => AppError::Busy,
                other => AppError::Unexpected(anyhow::anyhow!(other.to_string())),
            })?;
        matches!(verified, Verification::Match { .. })
    } else if !form.code.trim().is_empty() {
        twofactor::check_totp(&state, S::REALM, id, &form.code).await?
            || twofactor::backup::redeem(&state, S::REALM, id, &form.code)
                .await?
                .is_some()
    } else {
        false
    };
    if !ok {
        // A stolen session must not become a free password oracle: count it like a sign-in.
        if let Err(e) =
            crate::ban::record_failure(&state, S::REALM, addr.ip, &signed.subject.login).await
        {
            tracing::warn!(error = %e, "could not record a failed step-up");
        }
        return render(
            &state,
            &signed,
            csrf,
            Some("That password or code is not right.".into()),
            None,
        )
        .await;
    }
    crate::db::session::step_up(&state.db, &signed.session.id_hash, state.clock.unix()).await?;
    render(
        &state,
        &signed,
        csrf,
        None,
        Some(format!(
            "Confirmed. You can change your two-step verification for the next {} minutes.",
            STEP_UP_SECONDS / 60
        )),
    )
    .await
}

/// Refuses a change without a recent step-up.
async fn require_step_up<S: Side>(
    state: &AppState,
    signed: &Signed<S>,
    csrf: &str,
) -> AppResult<Option<Response>> {
    if stepped_up(state, &signed.session).await? {
        return Ok(None);
    }
    let mut response = render(
        state,
        signed,
        csrf.to_owned(),
        Some("Confirm it's you first: enter your password or a current code.".into()),
        None,
    )
    .await?;
    *response.status_mut() = StatusCode::FORBIDDEN;
    Ok(Some(response))
}

/// Under a "required" policy, refuses to remove the last factor.
async fn keeps_a_factor<S: Side>(
    state: &AppState,
    signed: &Signed<S>,
    csrf: &str,
) -> AppResult<Option<Response>> {
    let enrolled = twofactor::enrolled(state, S::REALM, signed.subject.id).await?;
    if twofactor::policy(state, S::REALM) == Policy::Required && enrolled.count() <= 1 {
        return render(
            state,
            signed,
            csrf.to_owned(),
            Some("This is your last second factor, and this portal requires one. Add another factor first, then remove this one.".into()),
            None,
        )
        .await
        .map(Some);
    }
    Ok(None)
}

fn totp_setup<S: Side>(
    signed: &Signed<S>,
    seed: &[u8],
    csrf: String,
    error: Option<String>,
) -> TotpSetupPage {
    let uri = twofactor::totp::otpauth_uri(seed, &signed.subject.login);
    TotpSetupPage {
        title: "Set up an authenticator app",
        nav: Some(nav(signed, &csrf)),
        intro: "After this, signing in asks for a code from the app as well as your password."
            .into(),
        action: format!("{}/totp", S::SECURITY),
        csrf,
        error,
        qr_svg: twofactor::totp::qr_svg(&uri),
        secret: twofactor::totp::base32(seed),
        cancel: Some(S::SECURITY.to_owned()),
    }
}

/// Shows the QR code for a new authenticator app.
pub async fn get_totp<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    if let Some(refused) = require_step_up(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    let Some(seed) = twofactor::pending_totp_seed(&state, S::REALM, signed.subject.id).await?
    else {
        return render(
            &state,
            &signed,
            csrf,
            Some(
                "An authenticator app is already set up. Remove it first to set up another.".into(),
            ),
            None,
        )
        .await;
    };
    Ok(page::render(&totp_setup(&signed, &seed, csrf, None)))
}

/// The confirmation code of a new authenticator app.
#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Confirms a new authenticator app; the first factor also brings a set of backup codes.
pub async fn post_totp<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if let Some(refused) = require_step_up(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    let id = signed.subject.id;
    if !twofactor::confirm_totp(&state, S::REALM, id, &form.code).await? {
        let Some(seed) = twofactor::pending_totp_seed(&state, S::REALM, id).await? else {
            return Ok(Redirect::to(S::SECURITY).into_response());
        };
        let body = totp_setup(&signed, &seed, csrf, Some("That code is not right. Check that the app shows the account you just added, and that your device's clock is correct.".into()));
        return Ok((StatusCode::BAD_REQUEST, page::render(&body)).into_response());
    }
    manage::audit(
        &state,
        &manage::actor(S::REALM, id),
        "two_factor.totp_enabled",
        "authenticator app added",
        &addr.ip.to_string(),
    )
    .await?;
    let remaining =
        crate::db::two_factor::backup_remaining(&state.db, S::REALM.as_str(), id).await?;
    if remaining > 0 {
        return render(
            &state,
            &signed,
            csrf,
            None,
            Some("Your authenticator app is set up.".into()),
        )
        .await;
    }
    let codes = twofactor::backup::regenerate(&state, S::REALM, id)
        .await
        .map_err(AppError::Unexpected)?;
    Ok(page::render(&BackupCodesPage {
        title: "Save your backup codes",
        nav: Some(nav(&signed, &csrf)),
        intro: "Your authenticator app is set up. If you lose your phone, one of these codes gets you in instead.".into(),
        codes,
        continue_to: S::SECURITY.to_owned(),
        continue_label: "I have saved them",
    }))
}

/// Removes the authenticator app.
pub async fn post_totp_remove<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    if let Some(refused) = require_step_up(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    if let Some(refused) = keeps_a_factor(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    crate::db::two_factor::totp_delete(&state.db, S::REALM.as_str(), signed.subject.id).await?;
    manage::audit(
        &state,
        &manage::actor(S::REALM, signed.subject.id),
        "two_factor.totp_removed",
        "authenticator app removed",
        &addr.ip.to_string(),
    )
    .await?;
    render(
        &state,
        &signed,
        csrf,
        None,
        Some("The authenticator app was removed.".into()),
    )
    .await
}

/// Replaces the backup codes with a new set, shown once.
pub async fn post_backup_codes<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    if let Some(refused) = require_step_up(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    let codes = twofactor::backup::regenerate(&state, S::REALM, signed.subject.id)
        .await
        .map_err(AppError::Unexpected)?;
    manage::audit(
        &state,
        &manage::actor(S::REALM, signed.subject.id),
        "two_factor.backup_regenerated",
        "new backup codes; the previous set no longer works",
        &addr.ip.to_string(),
    )
    .await?;
    Ok(page::render(&BackupCodesPage {
        title: "Your new backup codes",
        nav: Some(nav(&signed, &csrf)),
        intro: "Your previous backup codes no longer work.".into(),
        codes,
        continue_to: S::SECURITY.to_owned(),
        continue_label: "I have saved them",
    }))
}

/// Which key to remove.
#[derive(serde::Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    id: i64,
}

/// Removes one of the person's security keys.
pub async fn post_key_remove<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<KeyForm>,
) -> AppResult<Response> {
    if let Some(refused) = require_step_up(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    if let Some(refused) = keeps_a_factor(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    let removed =
        crate::db::two_factor::key_delete(&state.db, S::REALM.as_str(), signed.subject.id, form.id)
            .await?;
    if !removed {
        return render(
            &state,
            &signed,
            csrf,
            Some("That security key is not registered to your account.".into()),
            None,
        )
        .await;
    }
    manage::audit(
        &state,
        &manage::actor(S::REALM, signed.subject.id),
        "two_factor.webauthn_removed",
        &format!("security key #{} removed", form.id),
        &addr.ip.to_string(),
    )
    .await?;
    render(
        &state,
        &signed,
        csrf,
        None,
        Some("The security key was removed.".into()),
    )
    .await
}

/// Turning Duo on or off.
#[derive(serde::Deserialize)]
pub struct DuoForm {
    #[serde(default)]
    enable: String,
}

/// Turns Duo on or off for the person (Duo itself enrols their device in its prompt).
pub async fn post_duo<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<DuoForm>,
) -> AppResult<Response> {
    if let Some(refused) = require_step_up(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    let on = form.enable == "1";
    if on
        && crate::db::two_factor::duo_settings(&state.db)
            .await?
            .is_none()
    {
        return render(
            &state,
            &signed,
            csrf,
            Some("Duo is not configured for this portal.".into()),
            None,
        )
        .await;
    }
    if !on && let Some(refused) = keeps_a_factor(&state, &signed, &csrf).await? {
        return Ok(refused);
    }
    crate::db::two_factor::duo_set(
        &state.db,
        S::REALM.as_str(),
        signed.subject.id,
        on,
        state.clock.unix(),
    )
    .await?;
    manage::audit(
        &state,
        &manage::actor(S::REALM, signed.subject.id),
        if on {
            "two_factor.duo_enabled"
        } else {
            "two_factor.duo_disabled"
        },
        "",
        &addr.ip.to_string(),
    )
    .await?;
    render(
        &state,
        &signed,
        csrf,
        None,
        Some(if on {
            "Duo is on: your next sign-in continues at Duo.".into()
        } else {
            "Duo is off.".into()
        }),
    )
    .await
}
