//! Redirect URIs of OpenID Connect applications: what may be registered, the exact match the
//! protocol applies, and, for a refused one, the registered URI closest to what was sent with
//! the difference in words (F14), so an admin sees "trailing slash" rather than guessing.
//!
//! Matching is exact, character for character (OAuth 2.0 Security BCP): no normalisation, no
//! prefix, no wildcard. The closest-match is advice for people only; it never lets a request in.

/// Hosts on which plain `http` is allowed (a native or development application listening on
/// the machine itself, RFC 8252 §7.3).
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Longest URI accepted at registration (a generous bound; browsers handle about 2000).
pub const MAX_URI_LEN: usize = 2000;

/// Checks one URI for registration (a redirect, post-logout or back-channel logout URI) and
/// returns it trimmed, or the reason it cannot be registered (without the field's name).
///
/// # Errors
/// What is wrong with `value` and what is allowed instead.
pub fn check_uri(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.len() > MAX_URI_LEN {
        return Err(format!(
            "a URI of {} characters is too long (at most {MAX_URI_LEN})",
            value.len()
        ));
    }
    if value.contains('*') {
        return Err(format!(
            "{value:?} contains a wildcard (*); register each URI in full, exactly as the application sends it"
        ));
    }
    if value.contains('#') {
        return Err(format!(
            "{value:?} has a fragment (#...); a redirect URI cannot have one, remove it"
        ));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(format!("{value:?} contains a space; remove it"));
    }
    let Ok(url) = url::Url::parse(value) else {
        return Err(format!(
            "{value:?} is not an absolute URI; write it in full, as https://app.example.com/callback"
        ));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{value:?} contains a user name or password (user@host); remove it"
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(format!(
            "{value:?} has no host; write it in full, as https://app.example.com/callback"
        ));
    };
    match url.scheme() {
        "https" => Ok(value.to_owned()),
        "http" if LOOPBACK.contains(&host) => Ok(value.to_owned()),
        "http" => Err(format!(
            "{value:?} uses http on {host}; use https (http is allowed only on 127.0.0.1, [::1] or localhost)"
        )),
        other => Err(format!(
            "{value:?} uses the scheme {other}; use https (or http on 127.0.0.1, [::1] or localhost)"
        )),
    }
}

/// The registered URI closest to one that was refused, and how they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closest {
    /// The registered URI.
    pub registered: String,
    /// The difference in words: "trailing slash", "port 8443 instead of 443", ...
    pub difference: String,
}

/// The registered URI in `registered` closest to `sent`, with the difference described, or
/// `None` when nothing is registered. Closeness: the fewest differing parts (a different host
/// counts most, since it is most likely another application), then the fewest edited
/// characters.
pub fn closest<'a>(registered: impl IntoIterator<Item = &'a str>, sent: &str) -> Option<Closest> {
    let sent_url = url::Url::parse(sent).ok();
    registered
        .into_iter()
        .map(|candidate| {
            let parts = match (&sent_url, url::Url::parse(candidate).ok()) {
                (Some(s), Some(c)) => differences(s, &c, sent, candidate),
                _ => Vec::new(),
            };
            let weight: usize = parts.iter().map(|d| d.weight).sum();
            let distance = edit_distance(sent, candidate);
            (weight, distance, candidate, parts)
        })
        .min_by_key(|(weight, distance, _, _)| (*weight, *distance))
        .map(|(_, _, candidate, parts)| Closest {
            registered: candidate.to_owned(),
            difference: describe(sent_url.is_some(), sent, candidate, &parts),
        })
}

struct Difference {
    weight: usize,
    words: String,
}

fn difference(weight: usize, words: String) -> Difference {
    Difference { weight, words }
}

fn differences(s: &url::Url, c: &url::Url, sent: &str, candidate: &str) -> Vec<Difference> {
    let mut out = Vec::new();
    if s.scheme() != c.scheme() {
        out.push(difference(
            1,
            format!("scheme {} instead of {}", s.scheme(), c.scheme()),
        ));
    }
    if s.host_str() != c.host_str() {
        out.push(difference(
            3,
            format!(
                "host {} instead of {}",
                s.host_str().unwrap_or("(none)"),
                c.host_str().unwrap_or("(none)")
            ),
        ));
    }
    let (sp, cp) = (s.port_or_known_default(), c.port_or_known_default());
    if sp != cp {
        let show = |p: Option<u16>| p.map_or_else(|| "(none)".to_owned(), |p| p.to_string());
        out.push(difference(
            1,
            format!("port {} instead of {}", show(sp), show(cp)),
        ));
    }
    let (spath, cpath) = (s.path(), c.path());
    if spath != cpath {
        let words = if spath.strip_suffix('/') == Some(cpath) {
            "trailing slash (the URI sent ends with / and the registered one does not)".to_owned()
        } else if cpath.strip_suffix('/') == Some(spath) {
            "missing trailing slash (the registered URI ends with /)".to_owned()
        } else if spath.eq_ignore_ascii_case(cpath) {
            format!("path {spath} instead of {cpath} (letter case differs)")
        } else {
            format!("path {spath} instead of {cpath}")
        };
        out.push(difference(1, words));
    }
    if s.query() != c.query() {
        let show = |q: Option<&str>| q.map_or_else(|| "none".to_owned(), |q| format!("?{q}"));
        out.push(difference(
            1,
            format!("query {} instead of {}", show(s.query()), show(c.query())),
        ));
    }
    if out.is_empty() && sent != candidate {
        // The parsed parts agree, so the spelling differs: letter case of the scheme or host,
        // percent-encoding, a default port... The match is exact, so that is enough to refuse.
        out.push(difference(
            1,
            "written differently (letter case or encoding); the match is exact, character for character".to_owned(),
        ));
    }
    out
}

fn describe(sent_parses: bool, sent: &str, candidate: &str, parts: &[Difference]) -> String {
    if sent == candidate {
        return "none: this URI is registered".to_owned();
    }
    if !sent_parses {
        return "the URI sent is not an absolute URI".to_owned();
    }
    if parts.is_empty() {
        return "the registered URI is not an absolute URI".to_owned();
    }
    parts
        .iter()
        .map(|d| d.words.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Levenshtein distance over characters (short strings: URIs bounded at registration).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(registered: &[&str], sent: &str) -> (String, String) {
        let c = closest(registered.iter().copied(), sent).expect("something registered");
        (c.registered, c.difference)
    }

    #[test]
    fn https_and_loopback_http_are_registrable_and_the_rest_is_refused_with_the_reason() {
        assert!(check_uri(" https://app.example.com/cb ").is_ok());
        assert_eq!(
            check_uri("https://app.example.com/cb ").unwrap(),
            "https://app.example.com/cb"
        );
        for ok in [
            "http://127.0.0.1:8400/cb",
            "http://localhost/cb",
            "http://[::1]:9000/",
        ] {
            assert!(check_uri(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://app.example.com/cb", "uses http on app.example.com"),
            ("https://*.example.com/cb", "wildcard"),
            ("https://app.example.com/cb#x", "fragment"),
            ("/cb", "not an absolute URI"),
            ("https://bob:pw@app.example.com/cb", "user name or password"),
            ("ftp://app.example.com/cb", "scheme ftp"),
            ("com.example.app:/cb", "has no host"),
        ] {
            let e = check_uri(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_closest_registered_uri_is_found_and_the_difference_named() {
        let reg = [
            "https://app.example.com/callback",
            "https://other.example.net/callback",
        ];
        assert_eq!(
            diff(&reg, "https://app.example.com/callback/"),
            (
                reg[0].to_owned(),
                "trailing slash (the URI sent ends with / and the registered one does not)"
                    .to_owned()
            )
        );
        assert_eq!(
            diff(&reg, "http://app.example.com/callback").1,
            "scheme http instead of https, port 80 instead of 443"
        );
        assert_eq!(
            diff(&reg, "https://app.example.com:8443/callback").1,
            "port 8443 instead of 443"
        );
        assert_eq!(
            diff(&reg, "https://app.example.com/cb").1,
            "path /cb instead of /callback"
        );
        assert_eq!(
            diff(&reg, "https://app.example.com/Callback").1,
            "path /Callback instead of /callback (letter case differs)"
        );
        assert_eq!(
            diff(&reg, "https://app.example.org/callback"),
            (
                reg[0].to_owned(),
                "host app.example.org instead of app.example.com".to_owned()
            )
        );
        assert_eq!(
            diff(&reg, "https://app.example.com/callback?x=1").1,
            "query ?x=1 instead of none"
        );
        assert!(
            diff(&reg, "HTTPS://app.example.com/callback")
                .1
                .starts_with("written differently")
        );
        // The parser drops a default port, so only the spelling differs.
        assert!(
            diff(&reg, "https://app.example.com:443/callback")
                .1
                .starts_with("written differently")
        );
        assert_eq!(
            diff(&reg, "not a uri").1,
            "the URI sent is not an absolute URI"
        );
        assert_eq!(diff(&reg, reg[1]).1, "none: this URI is registered");
        assert_eq!(closest([], "https://a.example/"), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
