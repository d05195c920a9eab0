//! The check: offline first (identity, key, local answer, clock), then the server if needed.
//!
//! Order matters: configuration mistakes are reported before any network use, a clock moved
//! backwards is refused before a saved answer could be trusted with it, and the server is asked
//! only when the saved answer is not current, so daily checks cost one request a week or so.

use crate::config::{Config, Timeouts};
use crate::http::{self, Failure, Target};
use crate::key;
use crate::protocol::{
    Answer, KEYS_PATH, KeyList, Mismatch, SignedAnswer, Status, VERIFY_PATH, VerifyRequest, Which,
};
use crate::store::{self, Loaded, Local};
use crate::verdict::{Step, StepKind, Verdict, iso_utc};

/// The identity from the configuration, trimmed.
struct Identity<'a> {
    domain: &'a str,
    ip: &'a str,
    directory: &'a str,
}

/// Checks one licence for one installation.
#[derive(Debug, Clone)]
pub struct Verifier {
    config: Config,
}

impl Verifier {
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Checks the licence at `now_unix` (seconds; pass the system clock, tests pass others).
    pub fn check(&self, now_unix: i64) -> Verdict {
        self.check_with_steps(now_unix).0
    }

    /// Checks the licence and returns what was done on the way, for diagnostics.
    pub fn check_with_steps(&self, now: i64) -> (Verdict, Vec<Step>) {
        let mut steps = Vec::new();
        let verdict = self.run(now, &mut steps);
        (verdict, steps)
    }

    fn run(&self, now: i64, steps: &mut Vec<Step>) -> Verdict {
        let c = &self.config;
        let domain = present(c.domain.as_deref());
        let ip = present(c.ip.as_deref());
        let directory = present(c.directory.as_deref());
        let (Some(domain), Some(ip), Some(directory)) = (domain, ip, directory) else {
            let mut missing = Vec::new();
            for (name, value) in [("domain", domain), ("ip", ip), ("directory", directory)] {
                if value.is_none() {
                    missing.push(name);
                }
            }
            steps.push(Step::failed(
                "identity",
                format!("not configured: {}", missing.join(", ")),
            ));
            return Verdict::IdentityIncomplete {
                missing,
                setting: c.identity_setting.clone(),
            };
        };
        let id = Identity {
            domain,
            ip,
            directory,
        };
        steps.push(Step::ok(
            "identity",
            format!("domain {domain}, IP {ip}, directory {directory} (from the configuration)"),
        ));

        let key = match key::validate(&c.license_key) {
            Ok(k) => {
                steps.push(Step::ok("key", format!("{k} is well-formed")));
                k
            }
            Err(e) => {
                steps.push(Step::failed("key", e.to_string()));
                return Verdict::MalformedKey {
                    reason: e.to_string(),
                };
            }
        };

        let local = match store::load(&c.key_file, &c.pinned_keys) {
            Loaded::Missing => {
                steps.push(Step::ok(
                    "local key",
                    format!("no saved answer at {} yet", c.key_file.display()),
                ));
                None
            }
            Loaded::Ignored(why) => {
                steps.push(Step::failed(
                    "local key",
                    format!("{} ignored, not trusted: {why}", c.key_file.display()),
                ));
                None
            }
            Loaded::Trusted(l) => {
                steps.push(Step::ok(
                    "local key",
                    format!(
                        "valid answer from {} ({}), next check due {}, offline grace until {}",
                        iso_utc(l.answer.issued_at),
                        status_word(l.answer.status),
                        iso_utc(l.answer.next_check_due),
                        iso_utc(l.answer.grace_until)
                    ),
                ));
                Some(*l)
            }
        };

        if let Some(l) = &local {
            let seen = l.seen();
            if seen - now > c.clock_tolerance_secs {
                steps.push(Step::failed(
                    "clock",
                    format!(
                        "now is {}, but {} was already seen",
                        iso_utc(now),
                        iso_utc(seen)
                    ),
                ));
                return Verdict::ClockMovedBack {
                    last_seen: seen,
                    now,
                };
            }
            steps.push(Step::ok(
                "clock",
                format!("{} (not moved back)", iso_utc(now)),
            ));
        }

        let previous_seen = local.as_ref().map(|l| l.last_seen);
        // Only an active answer for this key and this place may stand in for the server.
        let usable = local.filter(|l| {
            let why_not = unusable_reason(&l.answer, &key, &id, now);
            if let Some(why) = &why_not {
                steps.push(Step::ok("local key", format!("not usable offline: {why}")));
            }
            why_not.is_none()
        });
        if let Some(l) = &usable {
            if now < l.answer.next_check_due && !c.ask_every_time {
                steps.push(Step::ok(
                    "local key",
                    format!(
                        "current until {}: no request needed",
                        iso_utc(l.answer.next_check_due)
                    ),
                ));
                self.remember(l, now, steps);
                return Verdict::Valid;
            }
            steps.push(Step::ok(
                "local key",
                format!("check due since {}", iso_utc(l.answer.next_check_due)),
            ));
        }

        match self.ask_server(&key, &id, steps) {
            Ok((signed, answer)) => {
                // The server's signed time only tells how far this clock is off; a clock that
                // runs behind is not one moved back, so only the local reading is stored.
                let behind = answer.issued_at - now;
                if behind > c.clock_tolerance_secs {
                    steps.push(Step::ok(
                        "clock",
                        format!(
                            "{} behind the licence server's clock ({}); the licence still works, \
                             but enable NTP so offline grace ends when the server means it to",
                            duration_words(behind),
                            iso_utc(answer.issued_at)
                        ),
                    ));
                }
                let last_seen = previous_seen.map_or(now, |seen| seen.max(now));
                match store::save(&c.key_file, &signed, last_seen) {
                    Ok(()) => steps.push(Step::ok(
                        "store",
                        format!("answer saved to {}", c.key_file.display()),
                    )),
                    // Not fatal now; only the offline grace is lost until a save works.
                    Err(e) => steps.push(Step::failed(
                        "store",
                        format!(
                            "cannot save the answer to {}: {e} (offline grace will not be available)",
                            c.key_file.display()
                        ),
                    )),
                }
                map_answer(answer, &id)
            }
            Err(failure) => match usable {
                Some(l) if now < l.answer.grace_until => {
                    self.remember(&l, now, steps);
                    Verdict::ValidOffline {
                        grace_until: l.answer.grace_until,
                    }
                }
                other => Verdict::NoConnection {
                    step: failure.kind,
                    detail: failure.detail,
                    grace_until: other.map(|l| l.answer.grace_until),
                },
            },
        }
    }

    /// Moves the saved last-seen time forward, so a later clock rollback is noticed.
    fn remember(&self, local: &Local, now: i64, steps: &mut Vec<Step>) {
        if now <= local.last_seen {
            return;
        }
        if let Err(e) = store::save(&self.config.key_file, &local.signed, now) {
            steps.push(Step::failed(
                "store",
                format!(
                    "cannot update the last-seen time in {}: {e}",
                    self.config.key_file.display()
                ),
            ));
        }
    }

    fn ask_server(
        &self,
        key: &str,
        id: &Identity<'_>,
        steps: &mut Vec<Step>,
    ) -> Result<(SignedAnswer, Answer), Failure> {
        let c = &self.config;
        let target = Target::parse(&c.server_url).map_err(|e| {
            steps.push(Step::failed("URL", e.clone()));
            Failure {
                kind: StepKind::Url,
                detail: e,
            }
        })?;
        let nonce = nonce().map_err(|e| {
            let detail = format!("no random nonce could be made: {e}");
            steps.push(Step::failed("signature", detail.clone()));
            Failure {
                kind: StepKind::Signature,
                detail,
            }
        })?;
        let request = VerifyRequest {
            key: key.to_owned(),
            domain: id.domain.to_owned(),
            ip: id.ip.to_owned(),
            directory: id.directory.to_owned(),
            nonce: nonce.clone(),
            verifier_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let reply = http::request(
            &target,
            "POST",
            VERIFY_PATH,
            Some(&body),
            c.timeouts,
            &c.extra_roots,
            steps,
        )?;
        let (status, body) = (reply.status, reply.body);
        let checked = check_answer(&body, &c.pinned_keys, &nonce, key);
        match checked {
            Ok((signed, answer)) => {
                steps.push(Step::ok(
                    "signature",
                    format!("ok (key {}), nonce echoed", signed.key_id),
                ));
                Ok((signed, answer))
            }
            Err(_) if status != 200 => {
                let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
                Err(Failure {
                    kind: StepKind::Http(status),
                    detail: format!(
                        "The licence server {} answered HTTP {status}{}: {}",
                        target.host,
                        retry_words(reply.retry_after.as_deref()),
                        snippet.trim()
                    ),
                })
            }
            Err(why) => {
                let detail = format!("The answer from {} cannot be trusted: {why}", target.host);
                steps.push(Step::failed("signature", why));
                Err(Failure {
                    kind: StepKind::Signature,
                    detail,
                })
            }
        }
    }
}

/// " (Retry-After: 60 seconds)" when the server said how long to wait, else nothing.
fn retry_words(retry_after: Option<&str>) -> String {
    match retry_after.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().all(|c| c.is_ascii_digit()) => {
            format!(" (Retry-After: {v} seconds)")
        }
        Some(v) => format!(" (Retry-After: {})", v.chars().take(64).collect::<String>()),
        None => String::new(),
    }
}

/// "2 h 5 min" style, for clock offsets.
fn duration_words(secs: i64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// A setting that is present and not blank.
fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Parses and verifies a response body as the answer to this request.
fn check_answer(
    body: &[u8],
    pinned: &[crate::protocol::PublicKey],
    nonce: &str,
    key: &str,
) -> Result<(SignedAnswer, Answer), String> {
    let signed: SignedAnswer = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a signed answer ({e})"))?;
    let answer = signed.verify(pinned).map_err(|e| e.to_string())?;
    // A genuine answer to another request (replayed, or for another key) must not count.
    if answer.nonce != nonce {
        return Err("the answer does not echo this request's nonce (a replayed answer?)".into());
    }
    if answer.license_key != key {
        return Err(format!(
            "the answer is for the key {}, not this one",
            answer.license_key
        ));
    }
    Ok((signed, answer))
}

/// Why a saved answer may not stand in for the server, if it may not.
fn unusable_reason(answer: &Answer, key: &str, id: &Identity<'_>, now: i64) -> Option<String> {
    if answer.license_key != key {
        return Some(format!("it is for the key {}", answer.license_key));
    }
    if answer.status != Status::Active {
        return Some(format!("its status is {}", status_word(answer.status)));
    }
    if let Some(at) = answer.expires_at.filter(|at| now >= *at) {
        return Some(format!("the licence expired on {}", iso_utc(at)));
    }
    let b = &answer.bindings;
    for (which, bound, presented) in [
        (Which::Domain, &b.domains, id.domain),
        (Which::Ip, &b.ips, id.ip),
        (Which::Directory, &b.directories, id.directory),
    ] {
        if !bound.is_empty() && !bound.iter().any(|a| same(which, a, presented)) {
            return Some(format!(
                "it binds the {} {}, not {presented}",
                which.as_str(),
                bound.join(" or ")
            ));
        }
    }
    None
}

/// Compares identity values exactly as the server does ([`Which::normalise`]).
fn same(which: Which, a: &str, b: &str) -> bool {
    which.normalise(a) == which.normalise(b)
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Suspended => "suspended",
        Status::Expired => "expired",
        Status::Unknown => "unknown key",
        Status::Malformed => "malformed key",
        Status::BindingMismatch => "binding mismatch",
    }
}

fn map_answer(answer: Answer, id: &Identity<'_>) -> Verdict {
    match answer.status {
        Status::Active => Verdict::Valid,
        Status::Suspended => Verdict::Suspended,
        Status::Expired => Verdict::Expired {
            at: answer.expires_at,
        },
        Status::Unknown => Verdict::UnknownKey,
        Status::Malformed => Verdict::MalformedKey {
            reason: "the licence server says it is not a well-formed licence key".to_owned(),
        },
        Status::BindingMismatch => {
            // A server that omits the detail still gets a readable message, naming the domain.
            let (which, presented, allowed) = match answer.mismatch {
                Some(m) => (m.which, m.presented, m.allowed),
                None => (
                    Which::Domain,
                    id.domain.to_owned(),
                    answer.bindings.domains.clone(),
                ),
            };
            // The server names the first binding that failed; the bindings it sent show
            // whether others moved too, so one message names them all.
            let b = &answer.bindings;
            let also = [
                (Which::Domain, &b.domains, id.domain),
                (Which::Ip, &b.ips, id.ip),
                (Which::Directory, &b.directories, id.directory),
            ]
            .into_iter()
            .filter(|(w, bound, presented)| {
                *w != which && !bound.is_empty() && !bound.iter().any(|a| same(*w, a, presented))
            })
            .map(|(w, bound, presented)| Mismatch {
                which: w,
                presented: presented.to_owned(),
                allowed: bound.clone(),
            })
            .collect();
            Verdict::BindingMismatch {
                which,
                presented,
                allowed,
                reissue_url: answer.reissue_url,
                reissues_left: answer.reissues_left,
                also,
            }
        }
    }
}

/// 128 random bits, hex.
fn nonce() -> Result<String, getrandom::Error> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect())
}

/// Fetches the server's public keys (`GET /api/license/v1/keys`), for trust on first use.
///
/// The keys come over TLS only; pin them in the software rather than fetching them at every
/// start, or whoever answers in the server's place could supply their own.
///
/// # Errors
/// The stage that failed and why.
pub fn fetch_keys(
    server_url: &str,
    timeouts: Timeouts,
    extra_roots: &[Vec<u8>],
) -> Result<KeyList, (StepKind, String)> {
    fetch_keys_with_steps(server_url, timeouts, extra_roots).0
}

/// [`fetch_keys`], with the steps taken.
pub fn fetch_keys_with_steps(
    server_url: &str,
    timeouts: Timeouts,
    extra_roots: &[Vec<u8>],
) -> (Result<KeyList, (StepKind, String)>, Vec<Step>) {
    let mut steps = Vec::new();
    let result = (|| {
        let target = Target::parse(server_url).map_err(|e| (StepKind::Url, e))?;
        let reply = http::request(
            &target,
            "GET",
            KEYS_PATH,
            None,
            timeouts,
            extra_roots,
            &mut steps,
        )
        .map_err(|f| (f.kind, f.detail))?;
        let (status, body) = (reply.status, reply.body);
        if status != 200 {
            return Err((
                StepKind::Http(status),
                format!(
                    "{} answered HTTP {status} for {KEYS_PATH}{}",
                    target.host,
                    retry_words(reply.retry_after.as_deref())
                ),
            ));
        }
        let list: KeyList = serde_json::from_slice(&body).map_err(|e| {
            (
                StepKind::Http(status),
                format!("the key list is not valid JSON: {e}"),
            )
        })?;
        if list.keys.is_empty() {
            return Err((StepKind::Http(status), "the key list is empty".to_owned()));
        }
        Ok(list)
    })();
    (result, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_values_compare_as_the_server_would() {
        assert!(same(Which::Domain, "Shop.Example.com.", "shop.example.com"));
        assert!(same(Which::Ip, "2001:db8::1", "2001:DB8:0::1"));
        assert!(same(Which::Directory, "/var/www/shop/", "/var/www/shop"));
        assert!(!same(Which::Directory, "/var/www/shop", "/var/www/shop2"));
        assert!(same(Which::Directory, "/", "/"));
    }
}
