//! Whether the portal's session reaches the protected hosts (F18): the cause a loop page names,
//! and what the doctor's `forward_auth.setup` check asks of the rules in force. One rule decides
//! both, so the page a person sees and the operator's diagnosis never disagree.

use super::ForwardAuth;
use super::rules::{HostPattern, Rules};

impl ForwardAuth {
    /// The access rules in force (the configuration file's, or the settings page's).
    pub async fn rules(&self) -> Rules {
        self.settings.current().await.values.forward_rules.clone()
    }

    /// Why the browser never sends the session cookie to the hosts of `pattern`, or `None`
    /// when it does: a host-only cookie reaches the portal's host alone, a parent-domain cookie
    /// its domain and the hosts below it.
    pub fn cookie_misses(&self, pattern: &HostPattern) -> Option<String> {
        let portal = self.config.system_url.host();
        let shown = pattern.text();
        let below =
            |domain: &str, host: &str| host == domain || host.ends_with(&format!(".{domain}"));
        match (&self.config.forward_auth.cookie_domain, pattern) {
            (None, HostPattern::Exact(host)) if host == portal => None,
            (None, _) => Some(format!(
                "The session cookie belongs to {portal} alone (host-only, the default), so the browser never sends it to {shown}. Set forward_auth.cookie_domain to the parent domain both share, or protect {shown} with OpenID Connect instead."
            )),
            (Some(domain), HostPattern::Exact(host) | HostPattern::Below(host))
                if below(domain, host) =>
            {
                None
            }
            (Some(domain), _) => Some(format!(
                "The session cookie is scoped to {domain}, and {shown} is outside it, so the browser never sends it there. Serve the application below {domain}, or protect it with OpenID Connect instead."
            )),
        }
    }

    /// Why a browser signed in at the portal keeps being sent back for `host`: the session
    /// cookie does not reach it. Names the cause from the configuration.
    pub fn loop_cause(&self, host: &str, https: bool) -> String {
        if let Some(cause) = self.cookie_misses(&HostPattern::Exact(host.to_owned())) {
            return cause;
        }
        if self.config.system_url.is_https() && !https {
            return format!(
                "The session cookie is Secure (the portal is https) and {host} was opened over plain http, so the browser does not send it. Serve {host} over https."
            );
        }
        format!(
            "The browser has the session cookie for {host}, but the proxy's check did not show it to Portcullis: the proxy drops the Cookie header, or asks from an address Portcullis does not trust. Run portcullis doctor (forward_auth.setup) to see what the proxy sent."
        )
    }

    /// The rules that ask for a sign-in on hosts the session cookie never reaches, with their
    /// 1-based numbers and the cause: everyone signing in there is sent round in a loop.
    pub async fn unreachable_rules(&self) -> Vec<(usize, String, String)> {
        self.rules()
            .await
            .0
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.who.realm().is_some())
            .filter_map(|(i, rule)| {
                self.cookie_misses(&rule.host)
                    .map(|cause| (i + 1, rule.text(), cause))
            })
            .collect()
    }
}
