//! `oidc.keys` (F16, "the application rejects Portcullis's ID token"): whether this node can
//! open every key that signs, whether the issuer (the System URL) changed while applications
//! hold tokens, whether a key began signing before relying parties had a day to fetch it, and
//! how old the signing keys are.

use super::table::id;
use super::{CheckResult, Severity};
use crate::app::AppState;
use crate::oidc::keys::{KeyError, KeyState, Keys, PUBLISH_LEAD};

/// A signing key older than this should be replaced (a routine rotation, not an alarm).
const ROTATE_AFTER: i64 = 365 * 24 * 3600;

/// The check.
pub async fn check(state: &AppState) -> CheckResult {
    let keys = Keys::from(state);
    let listed = match keys.list().await {
        Ok(listed) => listed,
        Err(KeyError::Storage(e)) => return CheckResult::storage_failed(id::OIDC_KEYS, &e),
        Err(e) => {
            return CheckResult::problem(
                id::OIDC_KEYS,
                Severity::Error,
                "The OpenID signing keys cannot be read.",
                e.to_string(),
                "See the log for the cause.",
            );
        }
    };
    if listed.is_empty() {
        return CheckResult::ok(
            id::OIDC_KEYS,
            "No OpenID signing key yet: the first RS256 key is made when the key set is first asked for.",
        );
    }
    let now = state.clock.unix();
    let details: Vec<String> = listed
        .iter()
        .map(|k| {
            let state = match k.state {
                KeyState::Published { signs_from } => {
                    format!("published, signs from {}", state.show_time(signs_from))
                }
                KeyState::Signing => "signing".to_owned(),
                KeyState::Retired { at } => format!("retired {}", state.show_time(at)),
            };
            format!(
                "{} {}: {state}, made {}",
                k.alg,
                k.kid,
                age(k.created_at, now)
            )
        })
        .collect();
    for k in listed.iter().filter(|k| k.state == KeyState::Signing) {
        if let Err(e) = keys.signing(k.alg).await {
            return CheckResult::problem(
                id::OIDC_KEYS,
                Severity::Error,
                format!("This node cannot sign with the {} key {}.", k.alg, k.kid),
                e.to_string(),
                "Give every node the same sealing key (two_factor.key), then run the doctor again.",
            )
            .with_details(details);
        }
    }
    // The System URL is the issuer: applications configured with the old one refuse every new
    // ID token (`iss` mismatch), and the tokens they hold name the old one.
    let issuer = state.config.system_url.origin();
    match crate::db::oidc_token::live_under_other_issuers(&state.db, &issuer, now).await {
        Err(e) => return CheckResult::storage_failed(id::OIDC_KEYS, &e),
        Ok(old) if !old.is_empty() => {
            let (tokens, applications) = old
                .iter()
                .fold((0, 0), |(t, a), (_, tk, ap)| (t + tk, a + ap));
            let names: Vec<&str> = old.iter().map(|(i, _, _)| i.as_str()).collect();
            return CheckResult::problem(
                id::OIDC_KEYS,
                Severity::Warning,
                format!(
                    "The issuer changed: {} live token(s) of {applications} application(s) were issued as {}, and new ID tokens say {issuer}.",
                    tokens,
                    names.join(", ")
                ),
                "The issuer is the System URL (server.system_url). An application set up with the old one rejects every new ID token (F16: iss mismatch), and cannot find the discovery document where it was.",
                format!(
                    "If the change was intended, give each application the new discovery URL, {issuer}/.well-known/openid-configuration; otherwise set server.system_url back. This warning ends when the old tokens expire."
                ),
            )
            .with_details(details);
        }
        Ok(_) => {}
    }
    // A key rotated with --now: relying parties that cached the key set refuse its tokens
    // until they fetch it again, for up to their cache time.
    let first_of_alg = |kid: &str, alg| {
        listed
            .iter()
            .filter(|o| o.alg == alg)
            .min_by_key(|o| o.signs_from)
            .is_some_and(|o| o.kid == kid)
    };
    if let Some(k) = listed.iter().find(|k| {
        k.state == KeyState::Signing
            && !first_of_alg(&k.kid, k.alg)
            && k.signs_from - k.created_at < PUBLISH_LEAD
            && now - k.signs_from < PUBLISH_LEAD
    }) {
        return CheckResult::problem(
            id::OIDC_KEYS,
            Severity::Warning,
            format!(
                "The {} key {} began signing before it had been published for a day.",
                k.alg, k.kid
            ),
            "It was rotated in at once (`oidc rotate-key --now`); relying parties that cached the key set refuse its ID tokens until they fetch the set again (F16).",
            "If an application reports an unknown key id, have it fetch the JWKS again (restart it or clear its cache); this warning ends a day after the rotation.",
        )
        .with_details(details);
    }
    if let Some(k) = listed
        .iter()
        .find(|k| k.state == KeyState::Signing && now - k.created_at > ROTATE_AFTER)
    {
        return CheckResult::problem(
            id::OIDC_KEYS,
            Severity::Warning,
            format!("The {} signing key {} is more than a year old.", k.alg, k.kid),
            "Keys are rotated so that a key copied long ago stops being useful.",
            format!(
                "Run `portcullis oidc rotate-key --alg {}`: the new key is published at once and signs a day later.",
                k.alg
            ),
        )
        .with_details(details);
    }
    CheckResult::ok(
        id::OIDC_KEYS,
        format!(
            "{} OpenID signing key(s); this node opens every key that signs.",
            listed.len()
        ),
    )
    .with_details(details)
}

/// How long ago `at` was, in days.
fn age(at: i64, now: i64) -> String {
    let days = (now - at).max(0) / 86_400;
    match days {
        0 => "today".to_owned(),
        1 => "1 day ago".to_owned(),
        n => format!("{n} days ago"),
    }
}
