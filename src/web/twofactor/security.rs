//! `{security}`: people see and change their own second factors. Every change needs a recent
//! step-up (the password, or a code from a current factor, within the last ten minutes), so a
//! session left open on someone's desk cannot be used to swap in the attacker's phone. The
//! [`TwoFactor`] service holds those rules and the one that keeps the last factor under a
//! "required" policy; this file words its refusals.

use super::pages::{BackupCodesPage, ConsentView, KeyView, SecurityPage, TotpSetupPage};
use super::{Side, Signed};
use crate::app::AppState;
use crate::config::Policy;
use crate::settings::Settings;
use crate::twofactor::{self, ChangeError, STEP_UP_SECONDS, StepUpError, TwoFactor};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, Peer};
use crate::web::page::{self, Nav};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

fn nav<S: Side>(signed: &Signed<S>, csrf: &str) -> Nav {
    Nav {
        admin: S::REALM == crate::session::Realm::Admin,
        name: signed.subject.display_name.clone(),
        csrf: csrf.to_owned(),
        links: signed.nav_links.clone(),
        impersonation: None,
    }
}

/// What the security page needs: the service, and the zone its times are shown in.
#[derive(Clone)]
pub struct Ctx {
    tf: TwoFactor,
    settings: Settings,
    grants: crate::oidc::grant::Grants,
}

impl FromRef<AppState> for Ctx {
    fn from_ref(state: &AppState) -> Self {
        Self {
            tf: TwoFactor::from(state),
            settings: Settings::from(state),
            grants: crate::oidc::grant::Grants::from(state),
        }
    }
}

/// Renders the security page.
pub(super) async fn render<S: Side>(
    ctx: &Ctx,
    signed: &Signed<S>,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    let enrolled = tf.enrolled(S::REALM, signed.subject.id).await?;
    let duo_available = tf.duo_configured().await?;
    let duo = tf.duo_enrolled(S::REALM, signed.subject.id).await?;
    let applications = ctx
        .grants
        .consents(S::REALM, signed.session.subject_id)
        .await?
        .into_iter()
        .map(|c| ConsentView {
            id: c.application_id,
            name: c.application_name,
            scopes: c.scopes,
            granted: ctx.settings.show_time(c.granted_at),
            last_used: ctx.settings.show_time(c.last_used_at),
        })
        .collect();
    let body = SecurityPage {
        title: "Two-step verification",
        nav: Some(nav(signed, &csrf)),
        base: S::SECURITY.to_owned(),
        policy: match tf.policy(S::REALM) {
            Policy::Off => "Two-step verification is turned off for this portal.",
            Policy::Optional => "Two-step verification is optional here, and strongly recommended.",
            Policy::Required => {
                "This portal requires two-step verification: you must keep at least one factor."
            }
        },
        stepped_up: tf.stepped_up(&signed.session.id_hash).await?,
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
                added: ctx.settings.show_time(k.created_at),
                last_used: k
                    .last_used_at
                    .map_or_else(|| "never".into(), |at| ctx.settings.show_time(at)),
            })
            .collect(),
        duo_available,
        duo,
        applications,
        csrf,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, page::render(&body)).into_response())
}

/// The page again with the refusal's message (and status), or the error page.
async fn refused<S: Side>(
    ctx: &Ctx,
    signed: &Signed<S>,
    csrf: String,
    why: ChangeError,
) -> AppResult<Response> {
    let message = match why {
        ChangeError::StepUpNeeded => {
            let mut response = render(
                ctx,
                signed,
                csrf,
                Some("Confirm it's you first: enter your password or a current code.".into()),
                None,
            )
            .await?;
            *response.status_mut() = StatusCode::FORBIDDEN;
            return Ok(response);
        }
        ChangeError::LastFactor => {
            "This is your last second factor, and this portal requires one. Add another factor first, then remove this one."
        }
        ChangeError::AlreadySetUp => {
            "An authenticator app is already set up. Remove it first to set up another."
        }
        ChangeError::NoSuchKey => "That security key is not registered to your account.",
        ChangeError::NoSetup => {
            "This authenticator app setup is no longer valid: it expired after 15 minutes, or it was started or replaced in another browser session. Set up the app again and scan the new QR code."
        }
        ChangeError::DuoNotConfigured => "Duo is not configured for this portal.",
        // Only the confirmation of a new app has a wrong code, and its page is the setup page.
        ChangeError::WrongCode => "That code is not right.",
        ChangeError::Unexpected(e) => return Err(AppError::Unexpected(e)),
        ChangeError::Storage(e) => return Err(e.into()),
    };
    render(ctx, signed, csrf, Some(message.into()), None).await
}

/// Shows the factors.
pub async fn get_security<S: Side>(
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&ctx, &signed, csrf, None, None).await
}

/// The withdrawal form of an allowed application.
#[derive(serde::Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    application_id: String,
}

/// Withdraws the person's consent to an application, which ends its tokens (no step-up: it
/// only takes access away).
pub async fn post_withdraw<S: Side>(
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<WithdrawForm>,
) -> AppResult<Response> {
    let Ok(id) = form.application_id.parse::<i64>() else {
        return Err(AppError::BadRequest(
            "The form named no application. Reload the page and try again.".into(),
        ));
    };
    let withdrawn = ctx
        .grants
        .withdraw(
            &signed.session.actor(),
            S::REALM,
            signed.session.subject_id,
            id,
        )
        .await?;
    let notice = if withdrawn {
        "Withdrawn: the application can no longer sign you in without asking, and its access ended."
    } else {
        "That application was not on your list (already withdrawn?)."
    };
    render(&ctx, &signed, csrf, None, Some(notice.into())).await
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
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    let stepped = tf
        .step_up(
            &signed.subject,
            &signed.session.id_hash,
            form.password,
            &form.code,
            addr.ip,
        )
        .await;
    match stepped {
        Ok(()) => {
            let notice = format!(
                "Confirmed. You can change your two-step verification for the next {} minutes.",
                STEP_UP_SECONDS / 60
            );
            render(&ctx, &signed, csrf, None, Some(notice)).await
        }
        Err(StepUpError::Wrong) => {
            let error = "That password or code is not right.";
            render(&ctx, &signed, csrf, Some(error.into()), None).await
        }
        Err(StepUpError::Busy) => Err(AppError::Busy),
        Err(StepUpError::Unexpected(e)) => Err(AppError::Unexpected(e)),
        Err(StepUpError::Storage(e)) => Err(e.into()),
    }
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
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    match tf
        .start_totp(&signed.subject, &signed.session.id_hash)
        .await
    {
        Ok(seed) => Ok(page::render(&totp_setup(&signed, &seed, csrf, None))),
        Err(why) => refused(&ctx, &signed, csrf, why).await,
    }
}

/// The confirmation code of a new authenticator app.
#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Confirms a new authenticator app; the first factor also brings a set of backup codes.
pub async fn post_totp<S: Side>(
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    let done = tf
        .finish_totp(&signed.subject, &signed.session.id_hash, &form.code)
        .await;
    let codes = match done {
        Ok(Some(codes)) => codes,
        Ok(None) => {
            let notice = "Your authenticator app is set up.";
            return render(&ctx, &signed, csrf, None, Some(notice.into())).await;
        }
        Err(ChangeError::WrongCode) => {
            let seed = tf
                .totp_setup_seed(S::REALM, signed.subject.id, &signed.session.id_hash)
                .await?;
            let Some(seed) = seed else {
                return Ok(Redirect::to(S::SECURITY).into_response());
            };
            let body = totp_setup(&signed, &seed, csrf, Some("That code is not right. Check that the app shows the account you just added, and that your device's clock is correct.".into()));
            return Ok((StatusCode::BAD_REQUEST, page::render(&body)).into_response());
        }
        Err(why) => return refused(&ctx, &signed, csrf, why).await,
    };
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
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    match tf
        .remove_totp(&signed.subject, &signed.session.id_hash)
        .await
    {
        Ok(()) => {
            let notice = "The authenticator app was removed.";
            render(&ctx, &signed, csrf, None, Some(notice.into())).await
        }
        Err(why) => refused(&ctx, &signed, csrf, why).await,
    }
}

/// Replaces the backup codes with a new set, shown once.
pub async fn post_backup_codes<S: Side>(
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    let codes = match tf
        .regenerate_backup_codes(&signed.subject, &signed.session.id_hash)
        .await
    {
        Ok(codes) => codes,
        Err(why) => return refused(&ctx, &signed, csrf, why).await,
    };
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
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<KeyForm>,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    match tf
        .remove_key(&signed.subject, &signed.session.id_hash, form.id)
        .await
    {
        Ok(()) => {
            let notice = "The security key was removed.";
            render(&ctx, &signed, csrf, None, Some(notice.into())).await
        }
        Err(why) => refused(&ctx, &signed, csrf, why).await,
    }
}

/// Turning Duo on or off.
#[derive(serde::Deserialize)]
pub struct DuoForm {
    #[serde(default)]
    enable: String,
}

/// Turns Duo on or off for the person (Duo itself enrols their device in its prompt).
pub async fn post_duo<S: Side>(
    State(ctx): State<Ctx>,
    signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<DuoForm>,
) -> AppResult<Response> {
    let tf = &ctx.tf;
    let on = form.enable == "1";
    match tf
        .set_duo(&signed.subject, &signed.session.id_hash, on)
        .await
    {
        Ok(()) => {
            let notice = if on {
                "Duo is on: your next sign-in continues at Duo."
            } else {
                "Duo is off."
            };
            render(&ctx, &signed, csrf, None, Some(notice.into())).await
        }
        Err(why) => refused(&ctx, &signed, csrf, why).await,
    }
}
