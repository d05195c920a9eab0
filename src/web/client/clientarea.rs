//! `GET /clientarea`: the signed-in client home.

use crate::app::AppState;
use crate::web::extract::{CsrfToken, CurrentClient};
use crate::web::page::{self, ClientAreaPage, Nav};
use axum::extract::State;
use axum::response::Response;

/// The client's home page.
pub async fn get_clientarea(
    State(_state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    page::render(&ClientAreaPage {
        title: "Client area",
        nav: Some(Nav {
            admin: false,
            name: current.user.first_name.clone(),
            csrf,
        }),
        first_name: current.user.first_name,
        email: current.user.email,
        client_id: current.session.client_id,
    })
}
