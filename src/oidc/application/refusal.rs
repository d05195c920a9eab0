//! The record of refused requests: written by the protocol endpoints, read by the
//! application's admin page (with the closest registered redirect URI) and the doctor's
//! `oidc.clients` check (counts per application and reason).

use super::{Application, Applications, DETAIL_MAX, SENT_MAX};
use crate::db;
use crate::db::oidc_application::RefusalRow;
use crate::oidc::draft::UriKind;
use crate::oidc::redirect::Closest;

/// Stable reason of a redirect-URI refusal; its detail is the URI sent.
pub const REDIRECT_URI_MISMATCH: &str = "redirect_uri_mismatch";
/// Stable reason of a post-logout redirect-URI refusal; its detail is the URI sent.
pub const POST_LOGOUT_URI_MISMATCH: &str = "post_logout_redirect_uri_mismatch";

/// A recorded refusal, with, for a redirect URI, the closest registered one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: i64,
    pub client_id: String,
    pub endpoint: String,
    pub reason: String,
    pub detail: String,
    /// For a redirect-URI refusal: the URI sent (the detail) and the closest registered one.
    pub redirect: Option<(String, Option<Closest>)>,
}

/// Refusals of one application (or of unknown client ids) for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    /// `None`: client ids no application has.
    pub application: Option<(i64, String)>,
    pub reason: String,
    pub count: i64,
}

fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl Applications {
    /// Records a refused request: `application` when the client id matched one, the client id
    /// as sent, the endpoint, a stable reason code and a detail (never a secret). For a
    /// redirect-URI refusal use [`REDIRECT_URI_MISMATCH`] or [`POST_LOGOUT_URI_MISMATCH`] with
    /// the URI sent as the detail, so the page can show the closest registered one.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_refusal(
        &self,
        application: Option<i64>,
        client_id_sent: &str,
        endpoint: &str,
        reason: &str,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        let refusal = (application, client_id_sent, endpoint, reason, detail);
        self.record_refusal_on(&self.db, refusal).await
    }

    /// [`Self::record_refusal`] on the caller's connection (a protocol request that holds one):
    /// `(application, client id sent, endpoint, reason, detail)`.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_refusal_on<'e>(
        &self,
        ex: impl sqlx::Executor<'e, Database = db::Db>,
        (application, client_id_sent, endpoint, reason, detail): (
            Option<i64>,
            &str,
            &str,
            &str,
            &str,
        ),
    ) -> Result<(), sqlx::Error> {
        db::oidc_application::insert_refusal(
            ex,
            &RefusalRow {
                id: 0,
                application_id: application,
                client_id: bounded(client_id_sent, SENT_MAX),
                at: self.clock.unix(),
                endpoint: bounded(endpoint, 40),
                reason: bounded(reason, 60),
                detail: bounded(detail, DETAIL_MAX),
            },
        )
        .await
    }

    /// The newest `limit` refusals of an application, newest first, each redirect-URI refusal
    /// with the registered URI closest to the one sent.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn recent_refusals(
        &self,
        application: &Application,
        limit: i64,
    ) -> Result<Vec<Refusal>, sqlx::Error> {
        let rows = db::oidc_application::recent_refusals(&self.db, application.id, limit).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let kind = match r.reason.as_str() {
                    REDIRECT_URI_MISMATCH => Some(UriKind::Login),
                    POST_LOGOUT_URI_MISMATCH => Some(UriKind::PostLogout),
                    _ => None,
                };
                let redirect = kind.map(|k| {
                    (
                        r.detail.clone(),
                        Self::closest_redirect_uri(application, &r.detail, k),
                    )
                });
                Refusal {
                    at: r.at,
                    client_id: r.client_id,
                    endpoint: r.endpoint,
                    reason: r.reason,
                    detail: r.detail,
                    redirect,
                }
            })
            .collect())
    }

    /// Refusals since `since` (unix seconds), per application and reason, with each
    /// application's name.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn refusal_counts_since(&self, since: i64) -> Result<Vec<RefusalCount>, sqlx::Error> {
        let counts = db::oidc_application::refusal_counts_since(&self.db, since).await?;
        let apps = db::oidc_application::list(&self.db).await?;
        Ok(counts
            .into_iter()
            .map(|(id, reason, count)| RefusalCount {
                application: id.map(|id| {
                    let name = apps
                        .iter()
                        .find(|a| a.id == id)
                        .map_or_else(|| format!("application {id}"), |a| a.name.clone());
                    (id, name)
                }),
                reason,
                count,
            })
            .collect())
    }

    /// The newest back-channel logout deliveries to an application, newest first (F17: each
    /// delivery and its answer).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn logout_deliveries(
        &self,
        application: &Application,
        limit: i64,
    ) -> Result<Vec<db::oidc_logout::DeliveryRow>, sqlx::Error> {
        db::oidc_logout::of_application(&self.db, application.id, limit).await
    }
}
