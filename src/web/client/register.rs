//! `GET/POST /register`: self-registration (when `client.registration` is on). Creating the
//! user, their account and the verification link, or telling the owner of a taken address, is
//! [`Accounts::register`]'s. The answer is one "check your inbox" page for both, and nobody is
//! signed in here: a session for a new address only would tell a taken one apart (item 11).

use crate::account::{Accounts, CreateError, FieldError, NewUser};
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form};
use crate::web::page::{self, ErrorPage, FieldErrors, RegisterPage};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

/// The registration form's fields.
#[derive(serde::Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn page(
    accounts: &Accounts,
    csrf: String,
    form: &RegisterForm,
    errors: Vec<FieldError>,
) -> RegisterPage {
    let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    RegisterPage {
        title: "Create your account",
        nav: None,
        csrf,
        first_name: clip(&form.first_name, 100),
        last_name: clip(&form.last_name, 100),
        email: clip(&form.email, 254),
        min_length: accounts.min_password_length(Realm::Client),
        errors: FieldErrors(errors),
    }
}

fn closed(accounts: &Accounts) -> Result<(), AppError> {
    if accounts.registration_open() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Shows the form.
pub async fn get_register(
    State(accounts): State<Accounts>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    closed(&accounts)?;
    Ok(page::render(&page(
        &accounts,
        csrf,
        &RegisterForm::default(),
        Vec::new(),
    )))
}

/// Registers (or tells the owner of a taken address), then shows the one "check your inbox"
/// page.
pub async fn post_register(
    State(accounts): State<Accounts>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    closed(&accounts)?;
    let password = SecretString::from(form.password.clone());
    let result = if let Some(problem) = crate::account::mismatch(&password, &form.password_confirm)
    {
        Err(CreateError::Invalid(vec![problem]))
    } else {
        accounts
            .register(&NewUser {
                email: &form.email,
                first_name: &form.first_name,
                last_name: &form.last_name,
                password: &password,
                verified: false,
                owns_account: true,
            })
            .await
    };
    match result {
        Ok(user) => {
            if let Some(user) = user {
                tracing::info!(user_id = user.get(), "user registered");
            }
            // The same words, status and page whether the address was new or taken; the
            // address shown is the one typed, which the visitor knows already.
            let message = format!(
                "We sent a message to {}. Follow the link in it to confirm the address (it works for {} minutes), then sign in at /login with the password you chose. If nothing arrives within a few minutes, check your spam folder.",
                form.email.trim().chars().take(254).collect::<String>(),
                crate::account::VERIFY_LIFETIME / 60,
            );
            Ok(page::render(&ErrorPage {
                title: "Check your inbox",
                message: &message,
                details: &[],
                nav: None,
            }))
        }
        Err(CreateError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page::render(&page(&accounts, csrf, &form, errors)),
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
