//! Cloudflare's published edge ranges: the copy compiled into the binary, and the parser that
//! checks a downloaded list before it may replace the current one.

use super::range::Net;

/// The built-in IPv4 list (`assets/cloudflare/ips-v4.txt`).
const BUILT_IN_V4: &str = include_str!("../../assets/cloudflare/ips-v4.txt");
/// The built-in IPv6 list (`assets/cloudflare/ips-v6.txt`).
const BUILT_IN_V6: &str = include_str!("../../assets/cloudflare/ips-v6.txt");
/// When the built-in lists were taken (see `assets/cloudflare/README.md`).
pub const BUILT_IN_DATE: &str = "2025-01-01";

/// A list that must not replace the current one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the {family} list is empty")]
    Empty { family: &'static str },
    #[error("line {line} of the {family} list is not a CIDR range: {text:?}")]
    Malformed {
        family: &'static str,
        line: usize,
        text: String,
    },
    #[error("the {family} list contains a range of the wrong family: {range}")]
    WrongFamily { family: &'static str, range: String },
    #[error("the {family} list has {count} ranges, more than the {max} a real list has")]
    TooLong {
        family: &'static str,
        count: usize,
        max: usize,
    },
}

/// Parses one published list (one CIDR range per line), refusing anything that does not look
/// like Cloudflare's: empty, malformed lines (an HTML error page, say), the wrong family, or
/// implausibly long.
///
/// # Errors
/// The first problem found.
pub fn parse_list(text: &str, v6: bool) -> Result<Vec<Net>, ListError> {
    const MAX: usize = 500;
    let family = if v6 { "IPv6" } else { "IPv4" };
    let mut nets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let net = Net::parse(line)
            .filter(|_| line.contains('/'))
            .ok_or_else(|| ListError::Malformed {
                family,
                line: i + 1,
                text: line.chars().take(80).collect(),
            })?;
        if net.addr.is_ipv6() != v6 {
            return Err(ListError::WrongFamily {
                family,
                range: line.to_owned(),
            });
        }
        nets.push(net);
        if nets.len() > MAX {
            return Err(ListError::TooLong {
                family,
                count: nets.len(),
                max: MAX,
            });
        }
    }
    if nets.is_empty() {
        return Err(ListError::Empty { family });
    }
    Ok(nets)
}

/// The built-in ranges, both families.
pub fn built_in() -> Vec<Net> {
    let mut nets = parse_list(BUILT_IN_V4, false).unwrap_or_default();
    nets.extend(parse_list(BUILT_IN_V6, true).unwrap_or_default());
    nets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_has_15_ipv4_and_7_ipv6_ranges() {
        let nets = built_in();
        assert_eq!(nets.iter().filter(|n| n.addr.is_ipv4()).count(), 15);
        assert_eq!(nets.iter().filter(|n| n.addr.is_ipv6()).count(), 7);
        assert!(
            nets.iter()
                .any(|n| n.contains("104.16.0.1".parse().unwrap()))
        );
    }

    #[test]
    fn bad_lists_are_refused_with_the_reason() {
        assert_eq!(
            parse_list("\n\n", false),
            Err(ListError::Empty { family: "IPv4" })
        );
        assert!(matches!(
            parse_list("<html>error</html>", false),
            Err(ListError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse_list("2400:cb00::/32", false),
            Err(ListError::WrongFamily { .. })
        ));
        assert!(
            matches!(
                parse_list("104.16.0.1", false),
                Err(ListError::Malformed { .. })
            ),
            "a bare address is not a published range"
        );
        assert_eq!(parse_list("104.16.0.0/13\n", false).unwrap().len(), 1);
    }
}
