//! Proxy set-up tasks: refreshing Cloudflare's ranges and the one-step Cloudflare fix (F01).
//!
//! **When the ranges are refreshed** (issue 18 item 18): only while Cloudflare is in use
//! ([`cloudflare_in_use`]: `cloudflare` in `proxy.trusted` or `CF-Connecting-IP` as the header),
//! every `proxy.cloudflare_refresh_hours`, and in `serve` never before its scheduler's second
//! tick, a minute after start (`scheduler::run_due`). An installation that does not use
//! Cloudflare never calls it: the list compiled into the binary (or the last stored one) is
//! enough for the doctor to recognise Cloudflare traffic, and a start-up should not depend on,
//! or announce itself to, a third party. `portcullis proxy refresh-cloudflare` refreshes at
//! once, whatever the configuration. `proxy.cloudflare_url` points it elsewhere (the tests point
//! it at a local stand-in).
//!
//! **The fix is safe behind nginx**: it trusts Cloudflare's ranges and reads `CF-Connecting-IP`,
//! and `net::client_ip` believes that header only when a trusted Cloudflare address handed the
//! request on, so a visitor reaching the origin or nginx directly cannot choose their address
//! with it.

use crate::app::AppState;
use crate::domain::{Action, Actor};
use crate::net::cloudflare::{ListError, parse_list};
use std::time::Duration;

/// Why a refresh did not replace the stored list (the old one stays in force).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("could not download {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("refused the list from {url}: {error}; the previous list stays in force")]
    Refused { url: String, error: ListError },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What a successful refresh stored.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub v4: usize,
    pub v6: usize,
    pub source: String,
}

async fn fetch(client: &reqwest::Client, url: String) -> Result<String, RefreshError> {
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| RefreshError::Download {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    if !response.status().is_success() {
        return Err(RefreshError::Status {
            url,
            status: response.status().as_u16(),
        });
    }
    // Real lists are well under 1 KiB; refuse to read an unbounded body.
    if response.content_length().is_some_and(|n| n > 64 * 1024) {
        return Err(RefreshError::Download {
            url,
            reason: "the response is larger than 64 KiB".into(),
        });
    }
    response.text().await.map_err(|e| RefreshError::Download {
        url,
        reason: e.to_string(),
    })
}

/// Downloads `/ips-v4` and `/ips-v6` from `proxy.cloudflare_url`, checks both, and stores them
/// with today's date. Either list failing leaves the stored one untouched.
///
/// # Errors
/// Download, HTTP and list errors name the URL and the reason.
pub async fn refresh_cloudflare(state: &AppState) -> Result<Refreshed, RefreshError> {
    let base = &state.config.cloudflare_url;
    let client =
        crate::net::http::client(Duration::from_secs(20)).map_err(|e| RefreshError::Download {
            url: base.clone(),
            reason: e.to_string(),
        })?;
    let (v4_url, v6_url) = (format!("{base}/ips-v4"), format!("{base}/ips-v6"));
    let v4_text = fetch(&client, v4_url.clone()).await?;
    let v6_text = fetch(&client, v6_url.clone()).await?;
    let v4 = parse_list(&v4_text, false)
        .map_err(|error| RefreshError::Refused { url: v4_url, error })?;
    let v6 =
        parse_list(&v6_text, true).map_err(|error| RefreshError::Refused { url: v6_url, error })?;
    let join = |nets: &[crate::net::range::Net]| {
        nets.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let now = state.clock.unix();
    crate::db::setting::store_network_list(
        &state.db,
        "cloudflare",
        &join(&v4),
        &join(&v6),
        now,
        base,
    )
    .await?;
    crate::settings::Settings::from(state).reload().await?;
    tracing::info!(v4 = v4.len(), v6 = v6.len(), source = %base, "Cloudflare ranges refreshed");
    Ok(Refreshed {
        v4: v4.len(),
        v6: v6.len(),
        source: base.clone(),
    })
}

/// Whether the settings in force use Cloudflare: its ranges are trusted (`cloudflare` in
/// `proxy.trusted`) or the client address is read from `CF-Connecting-IP`. The scheduled
/// refresh runs only then.
pub fn cloudflare_in_use(settings: &crate::settings::Effective) -> bool {
    settings.values.proxy_header == crate::net::client_ip::ForwardHeader::CfConnectingIp
        || settings
            .values
            .proxy_trusted
            .iter()
            .any(|e| e.trim().eq_ignore_ascii_case("cloudflare"))
}

/// The `proxy.cloudflare` fix: trust Cloudflare's current ranges and read the client address
/// from `CF-Connecting-IP`. Audited as a settings change by `actor`, and as the fix; `from` is
/// the address to record (empty: the request's).
///
/// # Errors
/// Storage errors.
pub async fn trust_cloudflare(
    state: &AppState,
    actor: &Actor,
    from: &str,
) -> Result<String, crate::settings::ChangeError> {
    let current = crate::settings::Settings::from(state).current().await;
    let mut trusted = current.values.proxy_trusted.clone();
    if !trusted.iter().any(|e| e.eq_ignore_ascii_case("cloudflare")) {
        trusted.push("cloudflare".into());
    }
    crate::settings::Settings::from(state)
        .change(
            &[
                ("proxy.trusted", trusted.join("\n")),
                ("proxy.header", "CF-Connecting-IP".into()),
            ],
            actor,
            from,
        )
        .await?;
    crate::audit::record_from(
        &state.db,
        state.clock.unix(),
        actor,
        Action::DoctorFix,
        crate::doctor::id::PROXY_CLOUDFLARE,
        crate::doctor::id::PROXY_CLOUDFLARE,
        crate::audit::Origin {
            ip: from,
            user_agent: "",
        },
    )
    .await?;
    Ok(format!(
        "Cloudflare's ranges (list of {}) are now trusted and the client address is read from CF-Connecting-IP, believed only when a Cloudflare address handed the request on (through nginx: the last hop nginx appends to X-Forwarded-For); proxy.trusted = {}.",
        current.cloudflare_taken,
        trusted.join(", ")
    ))
}
