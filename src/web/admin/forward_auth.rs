//! `GET /admin/forward-auth`: "why was this request denied?" The access rules in force and, for
//! a URL (and a person, if named), the rule it meets and the verdict: `ForwardAuth::explain`,
//! the same words `portcullis forward-auth explain` prints. A page that only reads, so a GET
//! form: the question can be bookmarked or sent to a colleague.

use crate::forward_auth::explain::Person;
use crate::forward_auth::{ForwardAuth, Rule};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, RequirePermission, ViewSystemHealth};
use crate::web::page::{self, ExplainedUrl, ForwardAuthPage};
use axum::extract::{Query, State};
use axum::response::Response;

/// Longest URL and name read from the form; longer ones are cut, never an error.
const MAX_URL: usize = 2000;
const MAX_NAME: usize = 200;

/// The form: the URL, and whom to judge it for (`who`: `anyone`, `admin` or `user`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Ask {
    #[serde(default)]
    url: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    name: String,
}

/// Shows the rules, and the explanation of the URL asked about.
///
/// # Errors
/// Storage errors.
pub async fn get_forward_auth(
    State(service): State<ForwardAuth>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
    Query(ask): Query<Ask>,
) -> AppResult<Response> {
    let url: String = ask.url.trim().chars().take(MAX_URL).collect();
    let name: String = ask.name.trim().chars().take(MAX_NAME).collect();
    let who = match ask.who.as_str() {
        "admin" | "user" => ask.who.clone(),
        _ => "anyone".to_owned(),
    };
    let mut problem = None;
    let person = match (who.as_str(), name.is_empty()) {
        ("admin", false) => Some(Person::Admin(name.clone())),
        ("user", false) => Some(Person::User(name.clone())),
        ("anyone", _) => None,
        _ => {
            problem = Some(
                "Give the admin's username or the client-area user's email to judge the URL for them.",
            );
            None
        }
    };
    let explained = if url.is_empty() {
        None
    } else {
        let e = service
            .explain(&url, person.as_ref())
            .await
            .map_err(AppError::storage)?;
        Some(ExplainedUrl {
            judged: e.judged,
            rule: e.rule.map(|(n, text)| format!("Rule {n}: {text}")),
            outcome: e.outcome,
            details: e.details,
        })
    };
    let rules = service.rules().await.0.iter().map(Rule::text).collect();
    Ok(page::render(&ForwardAuthPage {
        title: "Why was this request denied?",
        nav: Some(super::nav(&gate.current, csrf)),
        url,
        who,
        name,
        problem,
        explained,
        rules,
    }))
}
