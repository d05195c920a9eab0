//! Sub-states: a handler takes the service it calls (`State<Settings>`), not the whole
//! [`AppState`]. Each service is built from the application state by its own `From<&AppState>`
//! (in the service's module, which knows nothing of axum); this file only tells axum so.
//!
//! To let handlers take a new service, add its type to the list below.

use crate::app::AppState;
use axum::extract::FromRef;

/// Implements axum's `FromRef<AppState>` for services that implement `From<&AppState>`.
macro_rules! sub_states {
    ($($service:ty),* $(,)?) => {
        $(
            impl FromRef<AppState> for $service {
                fn from_ref(state: &AppState) -> Self {
                    <$service>::from(state)
                }
            }
        )*
    };
}

sub_states!(
    crate::settings::Settings,
    crate::doctor::Doctor,
    crate::scheduler::Scheduler,
    crate::admin::Admins,
    crate::role::Roles,
    crate::invite::Invitations,
    crate::membership::Members,
    crate::setup::Setup,
    crate::ban::Bans,
    crate::twofactor::TwoFactor,
    crate::reset::Resets,
    crate::license::Licenses,
    crate::mail::Mail,
    crate::sso::Sso,
    crate::audit::Audit,
    crate::account::Accounts,
    crate::session::Sessions,
    crate::signin::SignIns,
    crate::access::Access,
    crate::impersonation::Impersonation,
    crate::client_account::ClientAccounts,
    crate::diagnostics::Diagnostics,
    crate::web::cookie::Cookies,
    crate::oidc::keys::Keys,
    crate::oidc::application::Applications,
    crate::oidc::grant::Grants,
    crate::oidc::token::Tokens,
    crate::forward_auth::ForwardAuth,
);
