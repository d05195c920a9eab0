//! Templates of the second-factor pages.

use crate::web::page::Nav;
use askama::Template;

/// The challenge after a correct password.
// Each flag is one independent section of the page.
#[allow(clippy::struct_excessive_bools)]
#[derive(Template)]
#[template(path = "two_factor_challenge.html")]
pub struct ChallengePage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub base: String,
    pub csrf: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub totp: bool,
    pub webauthn: bool,
    pub duo: bool,
    pub backup: bool,
    /// Duo is down and the policy is fail-closed: only a backup code gets through.
    pub backup_only: bool,
}

/// A TOTP enrolment: QR code, the seed as text, and the confirmation form.
#[derive(Template)]
#[template(path = "two_factor_totp.html")]
pub struct TotpSetupPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub intro: String,
    pub action: String,
    pub csrf: String,
    pub error: Option<String>,
    /// Rendered by us from the otpauth URI; contains no input from the request.
    pub qr_svg: String,
    pub secret: String,
    pub cancel: Option<String>,
}

/// Backup codes, shown once.
#[derive(Template)]
#[template(path = "two_factor_backup_codes.html")]
pub struct BackupCodesPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub intro: String,
    pub codes: Vec<String>,
    pub continue_to: String,
    pub continue_label: &'static str,
}

/// A registered security key, as listed.
pub struct KeyView {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
}

/// The security page.
// Each flag is one independent section of the page.
#[allow(clippy::struct_excessive_bools)]
#[derive(Template)]
#[template(path = "two_factor_security.html")]
pub struct SecurityPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub base: String,
    pub csrf: String,
    pub policy: &'static str,
    pub stepped_up: bool,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub totp: bool,
    pub backup_remaining: i64,
    pub keys: Vec<KeyView>,
    pub duo_available: bool,
    pub duo: bool,
    /// The OpenID applications the person allowed to sign them in.
    pub applications: Vec<ConsentView>,
}

/// An application the person allowed, as the security page lists it.
pub struct ConsentView {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub granted: String,
    pub last_used: String,
}

/// The admin page for Duo and for resetting someone's second factors.
#[derive(Template)]
#[template(path = "admin_two_factor.html")]
pub struct AdminTwoFactorPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub client_policy: &'static str,
    pub admin_policy: &'static str,
    pub outage: &'static str,
    pub duo_client_id: String,
    pub duo_api_hostname: String,
    pub duo_configured: bool,
    pub duo_status: Option<String>,
    pub redirect_uris: Vec<String>,
}
