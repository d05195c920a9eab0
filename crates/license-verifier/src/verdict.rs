//! What a check concludes ([`Verdict`]) and what it did on the way ([`Step`]).
//!
//! Every verdict's `Display` is written for the person running the software: what is wrong and
//! the next thing to do, with times as UTC dates, so a vendor can show it as it is.

use std::fmt;

use crate::protocol::{Mismatch, Which};

/// Where a check that needed the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The configured server URL is not a usable `http(s)://host[:port]` URL: a configuration
    /// mistake, found before any network use (so it is never reported as a DNS failure).
    Url,
    /// The server's name did not resolve.
    Dns,
    /// No TCP connection to any of its addresses.
    Connect,
    /// The TLS handshake failed (certificate not trusted, wrong name, interception).
    Tls,
    /// The server answered with this HTTP status, or (0) not with a complete HTTP response.
    Http(u16),
    /// The answer was not signed by a pinned key, or did not answer this request.
    Signature,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url => f.write_str("URL"),
            Self::Dns => f.write_str("DNS"),
            Self::Connect => f.write_str("connect"),
            Self::Tls => f.write_str("TLS"),
            Self::Http(0) => f.write_str("HTTP"),
            Self::Http(code) => write!(f, "HTTP {code}"),
            Self::Signature => f.write_str("signature"),
        }
    }
}

/// One thing a check did, and how it went; `portcullis license check` prints these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Short name of the stage: "identity", "key", "local key", "clock", "DNS", "connect",
    /// "TLS", "HTTP", "signature", "store".
    pub stage: &'static str,
    /// False when the step went wrong: the check stopped there, or went on without it (an
    /// ignored local key file, an answer that could not be saved).
    pub ok: bool,
    pub detail: String,
}

impl Step {
    pub(crate) fn ok(stage: &'static str, detail: impl Into<String>) -> Self {
        Self {
            stage,
            ok: true,
            detail: detail.into(),
        }
    }

    pub(crate) fn failed(stage: &'static str, detail: impl Into<String>) -> Self {
        Self {
            stage,
            ok: false,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ok {
            write!(f, "{}: {}", self.stage, self.detail)
        } else {
            write!(f, "{}: FAILED: {}", self.stage, self.detail)
        }
    }
}

/// The outcome of a licence check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server (or a recent enough answer from it) says the licence is active here.
    Valid,
    /// The server cannot be reached, but its last answer allows running until `grace_until`.
    ValidOffline {
        grace_until: i64,
    },
    /// The key is not a well-formed licence key (typo), found offline or by the server.
    MalformedKey {
        reason: String,
    },
    /// The server knows no licence with this key.
    UnknownKey,
    Suspended,
    /// The licence expired (at this time, when the server said).
    Expired {
        at: Option<i64>,
    },
    /// The licence is bound to other places than this installation.
    BindingMismatch {
        which: Which,
        presented: String,
        allowed: Vec<String>,
        reissue_url: String,
        reissues_left: Option<u32>,
        /// Other bindings that do not match either (an installation moved to a new domain AND
        /// a new address), so the message names every one that moved.
        also: Vec<Mismatch>,
    },
    /// The server could not be asked, and no answer in grace is at hand.
    NoConnection {
        step: StepKind,
        detail: String,
        /// The grace of the last trusted answer, when there was one (already over).
        grace_until: Option<i64>,
    },
    /// The installation's identity is not configured.
    IdentityIncomplete {
        missing: Vec<&'static str>,
        setting: String,
    },
    /// The clock is earlier than a time this installation has already seen.
    ClockMovedBack {
        last_seen: i64,
        now: i64,
    },
}

impl Verdict {
    /// True when the software may run.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Valid | Self::ValidOffline { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Valid => f.write_str("The licence is valid."),
            Self::ValidOffline { grace_until } => write!(
                f,
                "The licence server cannot be reached right now; the licence stays valid offline \
                 until {}. Make sure this server can reach the licence server before then.",
                iso_utc(*grace_until)
            ),
            Self::MalformedKey { reason } => write!(
                f,
                "The licence key is not valid: {reason}. Compare the key in the configuration \
                 with the one in your account."
            ),
            Self::UnknownKey => f.write_str(
                "The licence server knows no licence with this key. Check that the configured key \
                 is the one in your account (not a key for another product), or contact the vendor.",
            ),
            Self::Suspended => f.write_str(
                "This licence is suspended. Check your account with the vendor (an unpaid invoice \
                 is the usual cause) or contact their support.",
            ),
            Self::Expired { at: Some(at) } => write!(
                f,
                "This licence expired on {}. Renew it in your account with the vendor; the next \
                 check then finds it active.",
                iso_utc(*at)
            ),
            Self::Expired { at: None } => f.write_str(
                "This licence has expired. Renew it in your account with the vendor; the next \
                 check then finds it active.",
            ),
            Self::BindingMismatch {
                which,
                presented,
                allowed,
                reissue_url,
                reissues_left,
                also,
            } => {
                let bound = |allowed: &[String]| {
                    if allowed.is_empty() {
                        "another place".to_owned()
                    } else {
                        allowed.join(" or ")
                    }
                };
                write!(
                    f,
                    "This licence is bound to the {} {}, but this installation is {presented}",
                    which.as_str(),
                    bound(allowed)
                )?;
                for m in also {
                    write!(
                        f,
                        "; and to the {} {}, but this installation is {}",
                        m.which.as_str(),
                        bound(&m.allowed),
                        m.presented
                    )?;
                }
                f.write_str(". ")?;
                let place = if reissue_url.is_empty() {
                    "in your account with the vendor".to_owned()
                } else {
                    format!("at {reissue_url}")
                };
                match reissues_left {
                    Some(0) => write!(
                        f,
                        "If you moved it, no reissues are left: contact the vendor to move the \
                         licence ({place})."
                    ),
                    Some(1) => write!(
                        f,
                        "If you moved it, reissue the licence {place} (1 reissue left); the next \
                         check then binds it here."
                    ),
                    Some(n) => write!(
                        f,
                        "If you moved it, reissue the licence {place} ({n} reissues left); the \
                         next check then binds it here."
                    ),
                    None => write!(
                        f,
                        "If you moved it, reissue the licence {place}; the next check then binds \
                         it here."
                    ),
                }
            }
            Self::NoConnection {
                step,
                detail,
                grace_until,
            } => {
                match step {
                    StepKind::Url => write!(
                        f,
                        "{detail}. The licence server URL in the configuration is not usable: it \
                         must look like https://licence.example.com (no network was used)."
                    ),
                    StepKind::Dns => write!(
                        f,
                        "{detail}. Check this server's DNS resolver (/etc/resolv.conf) and the \
                         licence server URL in the configuration."
                    ),
                    StepKind::Connect => write!(
                        f,
                        "{detail}. Check that the firewall (and any outbound filter of your \
                         hosting provider) allows outbound connections from this server to that \
                         host and port (443 for https://), and that the licence server URL is \
                         right."
                    ),
                    StepKind::Tls => write!(
                        f,
                        "{detail}. The licence server's certificate was not accepted: check this \
                         server's clock, and whether a proxy or security product intercepts TLS \
                         connections (it must let this host through unaltered)."
                    ),
                    StepKind::Http(0) => write!(
                        f,
                        "{detail}. Something answered, but not with a valid HTTP response: check \
                         for a proxy in between, or try again later."
                    ),
                    StepKind::Http(429) => write!(
                        f,
                        "{detail}. This is the licence server's rate limit, not maintenance or an \
                         outage: it had too many checks a minute for this licence key or from this \
                         address. Wait as long as it asks (a minute if it does not say), then \
                         check again; if this keeps happening, something runs the check in a loop."
                    ),
                    StepKind::Http(code) => write!(
                        f,
                        "{detail}. The licence server answered HTTP {code}: it may be down for \
                         maintenance, or a proxy answered in its place; try again later, and check \
                         the licence server URL in the configuration."
                    ),
                    StepKind::Signature => write!(
                        f,
                        "{detail}. The answer was not signed by the licence server's pinned keys: \
                         either the pinned public keys are outdated (fetch them again from the \
                         vendor) or something in between answered in the server's place."
                    ),
                }?;
                match grace_until {
                    Some(g) => write!(
                        f,
                        " The last answer allowed running offline until {}, which is over.",
                        iso_utc(*g)
                    ),
                    None => Ok(()),
                }
            }
            Self::IdentityIncomplete { missing, setting } => write!(
                f,
                "This installation's identity is not configured: {} missing. {setting}",
                missing.join(", ")
            ),
            Self::ClockMovedBack { last_seen, now } => write!(
                f,
                "This server's clock says {}, but it already saw {}: the clock was moved \
                 backwards. Correct the clock (enable NTP); the licence is not checked with a \
                 clock that goes back.",
                iso_utc(*now),
                iso_utc(*last_seen)
            ),
        }
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (400-year eras of 146 097 days,
/// with the year starting in March so the leap day comes last).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_iso() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_795_867_200), "2026-11-28T12:00:00Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn binding_mismatch_reads_as_documented() {
        let v = Verdict::BindingMismatch {
            which: Which::Domain,
            presented: "www.example.org".into(),
            allowed: vec!["shop.example.com".into()],
            reissue_url: "https://licence.example.com/reissue".into(),
            reissues_left: Some(2),
            also: Vec::new(),
        };
        assert_eq!(
            v.to_string(),
            "This licence is bound to the domain shop.example.com, but this installation is \
             www.example.org. If you moved it, reissue the licence at \
             https://licence.example.com/reissue (2 reissues left); the next check then binds it \
             here."
        );
        assert!(!v.is_usable());
        assert!(Verdict::ValidOffline { grace_until: 0 }.is_usable());
    }

    #[test]
    fn a_move_of_two_bindings_names_both() {
        let v = Verdict::BindingMismatch {
            which: Which::Domain,
            presented: "new.example.org".into(),
            allowed: vec!["shop.example.com".into()],
            reissue_url: String::new(),
            reissues_left: None,
            also: vec![Mismatch {
                which: Which::Ip,
                presented: "198.51.100.9".into(),
                allowed: vec!["203.0.113.5".into()],
            }],
        };
        assert_eq!(
            v.to_string(),
            "This licence is bound to the domain shop.example.com, but this installation is \
             new.example.org; and to the IP address 203.0.113.5, but this installation is \
             198.51.100.9. If you moved it, reissue the licence in your account with the vendor; \
             the next check then binds it here."
        );
    }
}
