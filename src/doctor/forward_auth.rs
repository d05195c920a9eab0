//! `forward_auth.setup` (F18): what the proxies sent in the last 24 hours that Portcullis could
//! not use (a check from an untrusted address, one without the original URL, a host no rule
//! covers, a signed-in browser sent round in a loop), and the rules asking for a sign-in on
//! hosts the session cookie never reaches. The causes come from the forward-authentication
//! service, the same words its pages show.

use super::table::id;
use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;
use crate::db::counter::CounterSum;
use crate::diagnostics::{Counter, Diagnostics};
use crate::forward_auth::ForwardAuth;

/// The check.
pub async fn check(state: &AppState) -> CheckResult {
    let since = state.clock.unix() - WINDOW;
    let diagnostics = Diagnostics::from(state);
    let mut sums = Vec::new();
    for counter in [
        Counter::ForwardAuthUntrusted,
        Counter::ForwardAuthNoUrl,
        Counter::ForwardAuthLoop,
        Counter::ForwardAuthUnknownHost,
    ] {
        match diagnostics.totals_since(counter, since).await {
            Ok(rows) => sums.push(rows),
            Err(e) => return CheckResult::storage_failed(id::FORWARD_AUTH_SETUP, &e),
        }
    }
    let [untrusted, no_url, loops, unknown] = <[Vec<CounterSum>; 4]>::try_from(sums)
        .unwrap_or_else(|_| unreachable!("four counters were read"));
    let service = ForwardAuth::from(state);
    let rules = service.rules().await;
    let findings: Vec<CheckResult> = [
        untrusted_peers(state, &untrusted),
        missing_url(state, &no_url),
        bounced(state, &service, &loops),
        cookie_gaps(&service).await,
        unknown_hosts(state, &unknown),
    ]
    .into_iter()
    .flatten()
    .collect();
    match headline(findings) {
        Some(worst) => worst,
        None if rules.0.is_empty() => CheckResult::ok(
            id::FORWARD_AUTH_SETUP,
            "Forward authentication is not in use: no rules, and no proxy asked in the last 24 hours.",
        ),
        None => CheckResult::ok(
            id::FORWARD_AUTH_SETUP,
            format!(
                "{} forward-authentication rule(s); the session cookie reaches every host they protect, and everything the proxies sent in the last 24 hours could be judged.",
                rules.0.len()
            ),
        ),
    }
}

/// The worst finding (the first of the worst, in the order written), with the others' summaries
/// added to its details, so one result carries them all.
fn headline(findings: Vec<CheckResult>) -> Option<CheckResult> {
    let worst = findings.iter().map(|f| f.severity).max()?;
    let at = findings.iter().position(|f| f.severity == worst)?;
    let mut rest = findings;
    let mut head = rest.remove(at);
    head.details.extend(
        rest.iter()
            .map(|f| format!("Also ({}): {}", f.severity.as_str(), f.summary)),
    );
    Some(head)
}

/// One detail line per label: how often, when last, an example.
fn lines(state: &AppState, rows: &[CounterSum]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{}: {} time(s), last {} ({})",
                r.label,
                r.count,
                state.show_time(r.last_seen),
                r.sample
            )
        })
        .collect()
}

fn total(rows: &[CounterSum]) -> i64 {
    rows.iter().map(|r| r.count).sum()
}

/// A finding from one counter's rows, none when nothing was counted. `words` gets the most
/// frequent label's row, the total and the time of its last event, and gives the summary, the
/// cause and the next step; the detail lines list every label.
fn counted(
    state: &AppState,
    rows: &[CounterSum],
    severity: Severity,
    words: impl FnOnce(&CounterSum, i64, String) -> (String, String, String),
) -> Option<CheckResult> {
    let top = rows.first()?;
    let (summary, cause, next) = words(top, total(rows), state.show_time(top.last_seen));
    Some(
        CheckResult::problem(id::FORWARD_AUTH_SETUP, severity, summary, cause, next)
            .with_details(lines(state, rows)),
    )
}

fn untrusted_peers(state: &AppState, rows: &[CounterSum]) -> Option<CheckResult> {
    counted(state, rows, Severity::Error, |top, total, last| {
        (
            format!(
                "{total} forward-authentication check(s) in the last 24 hours came from an address that is not a trusted proxy, most often {} ({} times, last at {last}).",
                top.label, top.count
            ),
            "Portcullis believes which page a browser opened only from a trusted proxy, so it answered these checks with the setup page and let nobody through.".to_owned(),
            format!(
                "If {} is your proxy, add it to proxy.trusted; if it is not, find what calls the forward-authentication endpoints directly.",
                top.label
            ),
        )
    })
}

fn missing_url(state: &AppState, rows: &[CounterSum]) -> Option<CheckResult> {
    counted(state, rows, Severity::Error, |top, total, last| {
        (
            format!(
                "{total} check(s) to {} in the last 24 hours did not say which URL the browser opened (last at {last}).",
                top.label
            ),
            "The proxy's check request lacks X-Original-URL (nginx) or X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri (Traefik, Caddy), so Portcullis cannot judge it and lets nobody through.".to_owned(),
            "Set those headers in the proxy's check request as docs/forward-auth.md shows; for nginx: proxy_set_header X-Original-URL $scheme://$http_host$request_uri;".to_owned(),
        )
    })
}

fn bounced(state: &AppState, service: &ForwardAuth, rows: &[CounterSum]) -> Option<CheckResult> {
    counted(state, rows, Severity::Error, |top, total, last| {
        (
            format!(
                "{total} time(s) in the last 24 hours a signed-in browser was sent round in a loop, most often for {} (last at {last}).",
                top.label
            ),
            service.loop_cause(&top.label, top.sample.starts_with("https://")),
            format!(
                "Change what the cause names, then open {} signed in: it should open without passing the portal.",
                top.sample
            ),
        )
    })
}

async fn cookie_gaps(service: &ForwardAuth) -> Option<CheckResult> {
    let gaps = service.unreachable_rules().await;
    let (number, text, cause) = gaps.first()?;
    Some(
        CheckResult::problem(
            id::FORWARD_AUTH_SETUP,
            Severity::Error,
            format!(
                "{} rule(s) ask for a sign-in on a host the session cookie never reaches, first rule {number} ({text}): everyone signing in there is sent round in a loop.",
                gaps.len()
            ),
            cause.clone(),
            "Set forward_auth.cookie_domain to a parent domain the portal and these hosts share, or protect them with OpenID Connect instead.",
        )
        .with_details(
            gaps.iter()
                .map(|(n, text, cause)| format!("rule {n} ({text}): {cause}"))
                .collect(),
        ),
    )
}

fn unknown_hosts(state: &AppState, rows: &[CounterSum]) -> Option<CheckResult> {
    counted(state, rows, Severity::Warning, |top, total, last| {
        (
            format!(
                "{total} check(s) in the last 24 hours asked about a host no rule covers, most often {} ({} times, last at {last}).",
                top.label, top.count
            ),
            "A request no rule covers is denied to everyone: the proxy sends these hosts to Portcullis, but the forward-authentication rules do not name them.".to_owned(),
            format!(
                "Add a rule for {} (the settings page, or forward_auth.rules), or stop sending it through Portcullis.",
                top.label
            ),
        )
    })
}
