//! The access rules of forward authentication: which requests to which protected host pass,
//! and for whom. Pure: no I/O, no time.
//!
//! One rule per line, `HOST [PATH] WHO`:
//! - `HOST` is a host name (`status.example.com`) or `*.` and a domain (`*.example.com`: every
//!   host below it, never the domain itself), lowercase, without a port;
//! - `PATH` is a path prefix starting with `/` (default `/`), matched on whole segments:
//!   `/admin` covers `/admin` and `/admin/x`, not `/administrator`;
//! - `WHO` is `bypass` (anyone, no identity), `deny`, `client` or `admin` (anyone signed in to
//!   that realm), `admin:PERMISSION` (an admin whose role grants it) or `client:PERMISSION` (a
//!   client-area user who holds it in their active account).
//!
//! The first rule that matches decides; a request no rule matches is denied. Paths are matched
//! after the same normalisation an upstream applies (dot segments resolved, `%2e`, `%2f` and
//! `%5c` decoded first), so `/public/%2e%2e/admin` is judged as `/admin`.

use crate::auth::client_permission::ClientPermission;
use crate::auth::permission::Permission;
use crate::domain::Realm;

/// At most this many rules: every request is judged against them in order.
pub const MAX_RULES: usize = 500;

/// What the settings page and the configuration file say a rule line may be.
pub const RULE_HELP: &str = "one rule per line: HOST [PATH] WHO, where HOST is a host name or *.domain, PATH a prefix starting with / (default /), and WHO one of bypass, deny, client, admin, admin:PERMISSION, client:PERMISSION";

/// Who a rule lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone, signed in or not; the identity headers are all empty.
    Bypass,
    /// No one.
    Deny,
    /// Anyone with a live session of the realm.
    Realm(Realm),
    /// An admin whose role grants the permission.
    Admin(Permission),
    /// A client-area user holding the permission in their active account (owners hold all).
    Client(ClientPermission),
}

impl Who {
    /// The realm whose session the rule reads, if any.
    pub fn realm(self) -> Option<Realm> {
        match self {
            Who::Bypass | Who::Deny => None,
            Who::Realm(r) => Some(r),
            Who::Admin(_) => Some(Realm::Admin),
            Who::Client(_) => Some(Realm::Client),
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "bypass" => Who::Bypass,
            "deny" => Who::Deny,
            "client" => Who::Realm(Realm::Client),
            "admin" => Who::Realm(Realm::Admin),
            _ => match word.split_once(':')? {
                ("admin", p) => Who::Admin(Permission::parse(p)?),
                ("client", p) => Who::Client(ClientPermission::parse(p)?),
                _ => return None,
            },
        })
    }

    /// The text form, as written in a rule.
    pub fn text(self) -> String {
        match self {
            Who::Bypass => "bypass".into(),
            Who::Deny => "deny".into(),
            Who::Realm(r) => r.as_str().into(),
            Who::Admin(p) => format!("admin:{}", p.as_str()),
            Who::Client(p) => format!("client:{}", p.as_str()),
        }
    }
}

/// The hosts a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host alone.
    Exact(String),
    /// Every host below this domain (`*.example.com`), not the domain itself.
    Below(String),
}

impl HostPattern {
    fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        let (below, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, lower),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.len() > 253 || !name.split('.').all(label_ok) {
            return None;
        }
        Some(if below {
            HostPattern::Below(name)
        } else {
            HostPattern::Exact(name)
        })
    }

    /// Whether `host` (lowercase, no port) is covered.
    pub fn covers(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host == h,
            HostPattern::Below(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        }
    }

    /// The pattern as written in a rule.
    pub fn text(&self) -> String {
        match self {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Below(d) => format!("*.{d}"),
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub host: HostPattern,
    /// A prefix starting with `/`.
    pub path: String,
    pub who: Who,
}

impl Rule {
    /// Parses one line.
    ///
    /// # Errors
    /// [`RULE_HELP`]'s words, for the line as given.
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (host, path, who) = match words.as_slice() {
            [host, who] => (*host, "/", *who),
            [host, path, who] => (*host, *path, *who),
            _ => return Err(RULE_HELP.to_owned()),
        };
        let host = HostPattern::parse(host).ok_or_else(|| {
            format!("{host:?} is not a host name or *.domain (letters, digits, dots and hyphens, no port)")
        })?;
        if !path.starts_with('/') || path.contains(['?', '#', '%', '\\']) || path.len() > 1000 {
            return Err(format!(
                "{path:?} is not a path prefix: it must start with / and contain no ?, #, % or \\"
            ));
        }
        let who = Who::parse(who).ok_or_else(|| {
            format!("{who:?} is not one of bypass, deny, client, admin, admin:PERMISSION, client:PERMISSION (with a permission's stored name)")
        })?;
        Ok(Rule {
            host,
            path: path.to_owned(),
            who,
        })
    }

    /// Whether the rule covers `host` and the normalised `path`.
    pub fn covers(&self, host: &str, path: &str) -> bool {
        self.host.covers(host) && prefix_covers(&self.path, path)
    }

    /// The rule as a line.
    pub fn text(&self) -> String {
        format!("{} {} {}", self.host.text(), self.path, self.who.text())
    }
}

/// A prefix covers a path on whole segments.
fn prefix_covers(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix) || path == prefix.trim_end_matches('/');
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The rules in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(pub Vec<Rule>);

impl Rules {
    /// Parses the rules, one per line; blank lines are skipped.
    ///
    /// # Errors
    /// The first bad line (1-based) and what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            rules.push(Rule::parse(line).map_err(|e| (n + 1, e))?);
            if rules.len() > MAX_RULES {
                return Err((n + 1, format!("at most {MAX_RULES} rules")));
            }
        }
        Ok(Self(rules))
    }

    /// The first rule covering the request, with its 1-based number.
    pub fn first_match(&self, host: &str, path: &str) -> Option<(usize, &Rule)> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, r)| r.covers(host, path))
            .map(|(i, r)| (i + 1, r))
    }

    /// Whether some rule names `host`: the hosts a sign-in may return to.
    pub fn names_host(&self, host: &str) -> bool {
        self.0.iter().any(|r| r.host.covers(host))
    }

    /// The rules as text, one per line.
    pub fn text(&self) -> String {
        self.0.iter().map(Rule::text).collect::<Vec<_>>().join("\n")
    }
}

/// A URL as the rules judge it: lowercase host without port or trailing dot, and the path with
/// dot segments resolved after decoding `%2e`, `%2f` and `%5c` (what an upstream may decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub path: String,
    /// The URL as received, for the sign-in redirect's return address.
    pub url: url::Url,
}

impl Target {
    /// Parses an absolute http(s) URL.
    ///
    /// # Errors
    /// Why it cannot be judged: not absolute http(s), no host, credentials in it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let url = url::Url::parse(text).map_err(|_| "not an absolute URL")?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("not an http or https URL");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a URL with credentials in it");
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_owned(),
            Some(other) => other.to_string(),
            None => return Err("a URL without a host"),
        };
        Ok(Self {
            https: url.scheme() == "https",
            host,
            path: normalise_path(url.path()),
            url,
        })
    }
}

/// Decodes what could hide a dot segment or a separator, then resolves dot segments.
fn normalise_path(raw: &str) -> String {
    let mut decoded = raw.to_owned();
    for (from, to) in [("%2e", "."), ("%2f", "/"), ("%5c", "/")] {
        decoded = replace_ignoring_case(&decoded, from, to);
    }
    let decoded = decoded.replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {}
            ".." => {
                out.pop();
            }
            // Empty segments (`//`) collapse, as most upstreams treat them; a trailing slash stays.
            "" if i != last => {}
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn replace_ignoring_case(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(from) {
        out.push_str(&text[at..at + found]);
        out.push_str(to);
        at += found + from.len();
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Rules {
        Rules::parse(text).unwrap()
    }

    #[test]
    fn the_first_matching_rule_decides_and_no_rule_means_none() {
        let r = rules(
            "status.example.com /public bypass\nstatus.example.com admin:view_system_health\n*.example.com client",
        );
        assert_eq!(
            r.first_match("status.example.com", "/public/x").unwrap().0,
            1
        );
        assert_eq!(
            r.first_match("status.example.com", "/publicity").unwrap().0,
            2
        );
        assert_eq!(r.first_match("billing.example.com", "/").unwrap().0, 3);
        assert!(
            r.first_match("example.com", "/").is_none(),
            "*.domain is not the domain"
        );
        assert!(r.first_match("evil-example.com", "/").is_none());
        assert!(r.first_match("other.org", "/").is_none());
    }

    #[test]
    fn paths_are_judged_as_an_upstream_would_resolve_them() {
        let r = rules("a.example.com /public bypass\na.example.com admin");
        for sneaky in [
            "https://a.example.com/public/../admin",
            "https://a.example.com/public/%2e%2e/admin",
            "https://a.example.com/public/%2E%2E%2Fadmin",
            "https://a.example.com/public%2f..%2fadmin",
            "https://a.example.com/public/..%5cadmin",
        ] {
            let t = Target::parse(sneaky).unwrap();
            assert_eq!(
                r.first_match(&t.host, &t.path).unwrap().0,
                2,
                "{sneaky} -> {}",
                t.path
            );
        }
        let t = Target::parse("https://A.Example.COM.:8443/public//x?q=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("a.example.com", "/public/x")
        );
        assert_eq!(r.first_match(&t.host, &t.path).unwrap().0, 1);
    }

    #[test]
    fn bad_lines_name_the_line_and_what_is_wrong() {
        let (line, why) = Rules::parse("a.example.com admin\n\nb.example.com / root").unwrap_err();
        assert_eq!(line, 3);
        assert!(why.contains("\"root\""), "{why}");
        let (_, why) = Rules::parse("a.example.com:8080 admin").unwrap_err();
        assert!(why.contains("no port"), "{why}");
        let (_, why) = Rules::parse("a.example.com admin:fly").unwrap_err();
        assert!(why.contains("\"admin:fly\""), "{why}");
        let (_, why) = Rules::parse("a.example.com public admin").unwrap_err();
        assert!(why.contains("start with /"), "{why}");
        assert!(Rules::parse("a.example.com").is_err());
        assert!(Rules::parse("*.*.example.com admin").is_err());
    }

    #[test]
    fn rules_round_trip_through_their_text() {
        let text = "*.example.com / client:invoices\nops.example.com /grafana/ admin:view_system_health\nx.example.com / deny";
        let r = rules(text);
        assert_eq!(r.text(), text);
        assert_eq!(rules(&r.text()), r);
        assert_eq!(r.0[1].who.realm(), Some(Realm::Admin));
        assert!(r.names_host("a.example.com") && !r.names_host("example.org"));
    }

    #[test]
    fn targets_refuse_what_cannot_be_judged() {
        assert!(Target::parse("/relative").is_err());
        assert!(Target::parse("ftp://a.example.com/").is_err());
        assert!(Target::parse("https://user:pw@a.example.com/").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,120}") {
            let _ = Rules::parse(&s);
            let _ = Target::parse(&s);
            let _ = normalise_path(&s);
        }
    }
}
