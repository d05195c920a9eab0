//! `proxy.cloudflare` (F01) and `proxy.sanity`: is the client address right?

use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;
use crate::diagnostics::{Counter, Diagnostics};
use std::net::IpAddr;

/// Fails when requests came through Cloudflare while its ranges were not trusted.
pub async fn cloudflare(state: &AppState) -> CheckResult {
    const ID: &str = super::id::PROXY_CLOUDFLARE;
    let settings = crate::settings::Settings::from(state).current().await;
    let since = state.clock.unix() - WINDOW;
    let rows = match Diagnostics::from(state)
        .totals_since(Counter::CloudflareUntrusted, since)
        .await
    {
        Ok(r) => r,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let list = format!(
        "Cloudflare list of {} ({})",
        settings.cloudflare_taken, settings.cloudflare_source
    );
    let Some(seen) = rows.first() else {
        return CheckResult::ok(
            ID,
            format!("No request in the last 24 hours came through Cloudflare. {list}."),
        );
    };
    if settings.cloudflare_trusted {
        return CheckResult::ok(
            ID,
            format!(
                "Cloudflare's ranges are trusted and the client address is read from {}. {list}.",
                settings.values.proxy_header.name()
            ),
        );
    }
    let mut result = CheckResult::problem(
        ID,
        Severity::Error,
        format!(
            "Running behind Cloudflare, but its ranges are not trusted: {} request(s) in the last 24 hours came through Cloudflare (sample peer {}, first {}, last {}). This may cause sign-in sessions to end early.",
            seen.count,
            seen.sample,
            state.show_time(seen.first_seen),
            state.show_time(seen.last_seen)
        ),
        "Every visitor appears to come from a Cloudflare edge address: bans hit everyone behind one edge node, IP-bound sessions end when the edge changes, and logs show Cloudflare instead of customers.",
        "Apply the fix: the button on System Health or `portcullis doctor --fix proxy.cloudflare` trusts Cloudflare's current ranges and reads the client address from CF-Connecting-IP.",
    );
    result.fixable = true;
    result
}

fn looks_like_a_proxy(ip: IpAddr, settings: &crate::settings::Effective) -> bool {
    let private = crate::net::range::RangeSet::from_entries(&["loopback", "private"], &[])
        .unwrap_or_default();
    private.contains(ip) || settings.trusted.contains(ip) || settings.cloudflare.contains(ip)
}

/// Warns when most sign-ins of the last 7 days come from one private or proxy address, and when
/// forwarding headers are malformed.
pub async fn sanity(state: &AppState) -> CheckResult {
    const ID: &str = super::id::PROXY_SANITY;
    let settings = crate::settings::Settings::from(state).current().await;
    let now = state.clock.unix();
    let diagnostics = Diagnostics::from(state);
    let (by_ip, malformed) = match tokio::try_join!(
        crate::db::ban::sign_ins_by_ip_since(&state.db, now - 7 * 86_400),
        diagnostics.totals_since(Counter::MalformedForwarding, now - WINDOW)
    ) {
        Ok(r) => r,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let total: i64 = by_ip.iter().map(|(_, n)| n).sum();
    if let Some((top, n)) = by_ip.first() {
        let is_proxy = top
            .parse::<IpAddr>()
            .is_ok_and(|ip| looks_like_a_proxy(ip, &settings));
        if total >= 10 && n * 2 > total && is_proxy {
            return CheckResult::problem(
                ID,
                Severity::Warning,
                format!("{n} of {total} sign-ins in the last 7 days came from {top}, a private or proxy address."),
                format!(
                    "The client address is probably the proxy's: the proxy is not in proxy.trusted, or it does not send {}.",
                    settings.values.proxy_header.name()
                ),
                format!(
                    "Add the proxy's address to proxy.trusted (Settings) and make it send {}; the admin page 'Why this address' shows what Portcullis sees.",
                    settings.values.proxy_header.name()
                ),
            )
            .with_details(by_ip.iter().map(|(ip, n)| format!("{ip}: {n}")).collect());
        }
    }
    if let Some(m) = malformed.first() {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!(
                "{} forwarding header(s) with unreadable entries in the last 24 hours (last from peer {}).",
                m.count, m.sample
            ),
            format!(
                "The {} header carried entries that are not addresses; they were skipped.",
                m.label
            ),
            "Check that proxy.header names the header your proxy really sets, and that nothing in front of it writes garbage into it.",
        );
    }
    CheckResult::ok(
        ID,
        format!("{total} sign-in(s) in the last 7 days; no single proxy address dominates."),
    )
}
