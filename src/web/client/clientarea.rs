//! `GET /clientarea`: the signed-in client home, with a banner while the email is unverified.

use crate::web::extract::{CsrfToken, CurrentClient};
use crate::web::page::{self, ClientAreaPage};
use axum::extract::Query;
use axum::response::Response;

/// `?resent=1` after a verification link was sent again.
#[derive(serde::Deserialize)]
pub struct AreaQuery {
    resent: Option<String>,
}

/// The client's home page.
pub async fn get_clientarea(
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<AreaQuery>,
) -> Response {
    // The extractor already loaded the user row, verification included: no second query.
    let verified = current.user.email_verified_at.is_some();
    page::render(&ClientAreaPage {
        title: "Client area",
        nav: Some(current.nav(csrf.clone())),
        first_name: current.user.first_name,
        email: current.user.email,
        account: current.account.as_ref().map(|a| a.label.clone()),
        verified,
        resent: query.resent.is_some(),
        csrf,
        impersonated: current.impersonator.is_some(),
    })
}
