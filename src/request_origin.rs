//! Where the request being served came from: its resolved client address and `User-Agent`, held
//! for the duration of the request so audit entries written deep below a handler (bans, settings,
//! second factors) record them without taking them as parameters.
//!
//! The pipeline's first step (`web::middleware::client_addr`) runs the rest of the request inside
//! [`with_origin`]; `db::audit::insert` fills an entry's empty address and user agent from
//! [`current`]. This module knows no HTTP type, so both the web layer above and storage below can
//! name it; like the clock, it is ambient context rather than a service.

use std::net::IpAddr;

/// The origin of one request, as the pipeline resolved it.
#[derive(Debug, Clone)]
pub struct RequestOrigin {
    /// The client address (after trusted proxies), the one sessions and bans use.
    pub ip: IpAddr,
    /// The raw `User-Agent` header bytes, copied once per request; decoded only when an audit
    /// entry is written, so a request that writes none pays no decoding.
    pub user_agent: Option<Box<[u8]>>,
}

impl RequestOrigin {
    /// The origin of a request from `ip` whose `User-Agent` header is `user_agent`.
    pub fn new(ip: IpAddr, user_agent: Option<&[u8]>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(Box::from),
        }
    }

    /// The user agent as text, or empty when absent or not visible ASCII: the rule HTTP header
    /// values are read by (`HeaderValue::to_str`), so an agent sending other bytes is stored as
    /// no agent, as it always was.
    pub fn user_agent_text(&self) -> &str {
        let Some(bytes) = self.user_agent.as_deref() else {
            return "";
        };
        if !bytes.iter().all(|b| *b == b'\t' || (32..127).contains(b)) {
            return "";
        }
        std::str::from_utf8(bytes).unwrap_or("")
    }
}

tokio::task_local! {
    static ORIGIN: RequestOrigin;
}

/// Runs `work` (a request's handling) with `origin` as the default of its audit entries.
pub async fn with_origin<F: std::future::Future>(origin: RequestOrigin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The current request's address and user agent as text, when called while serving one.
pub fn current() -> Option<(String, String)> {
    ORIGIN
        .try_with(|o| (o.ip.to_string(), o.user_agent_text().to_owned()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_text_only_when_it_is_visible_ascii() {
        let ip = IpAddr::from([203, 0, 113, 7]);
        assert_eq!(
            RequestOrigin::new(ip, Some(b"curl/8.0\tx")).user_agent_text(),
            "curl/8.0\tx"
        );
        assert_eq!(RequestOrigin::new(ip, None).user_agent_text(), "");
        assert_eq!(
            RequestOrigin::new(ip, Some("Mozilla é".as_bytes())).user_agent_text(),
            ""
        );
    }

    #[tokio::test]
    async fn entries_see_the_origin_only_inside_the_request() {
        assert_eq!(current(), None);
        let origin = RequestOrigin::new(IpAddr::from([198, 51, 100, 2]), Some(b"tests"));
        let seen = with_origin(origin, async { current() }).await;
        assert_eq!(seen, Some(("198.51.100.2".into(), "tests".into())));
    }
}
