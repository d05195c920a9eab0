//! The "sign-in from a new place" notice (ASVS 2.2.3): after a full sign-in from a network
//! (a /24 for IPv4, a /64 for IPv6) none of the person's successful sign-ins of the last 90
//! days came from, a mail tells them when, from where and with what browser, with a link to
//! their sessions page. Their very first sign-in is not news and sends nothing.
//!
//! The earlier places are the `signin.success` audit entries (`crate::db::signin_place`).

use crate::app::AppState;
use crate::clock::Clock;
use crate::db;
use crate::domain::Actor;
use crate::session::Realm;
use crate::settings::Settings;
use std::net::IpAddr;
use std::sync::Arc;

/// How far back an earlier sign-in makes a network known.
const KNOWN_FOR_SECONDS: i64 = 90 * 24 * 3600;

/// Earlier entries looked at: enough for anyone's 90 days of ordinary use.
const LOOKED_AT: i64 = 1000;

/// Longest user agent quoted in the mail.
const DEVICE_CHARS: usize = 200;

/// The notice's service.
#[derive(Clone)]
pub struct NewPlaces {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    settings: Settings,
    config: Arc<crate::config::Config>,
}

impl From<&AppState> for NewPlaces {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            settings: Settings::from(state),
            config: state.config.clone(),
        }
    }
}

/// The network an address belongs to, for comparing places: the /24 of an IPv4 address, the
/// /64 of an IPv6 one (an IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn network(ip: IpAddr) -> (u8, u128) {
    match ip {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4) & 0xffff_ff00)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network(IpAddr::V4(v4)),
            None => (6, u128::from(v6) & !((1u128 << 64) - 1)),
        },
    }
}

impl NewPlaces {
    /// Called before a full sign-in's `signin.success` is recorded: queues the notice when
    /// the person signed in before but not, in the last 90 days, from `ip`'s network. A
    /// failure is logged, never turned into a failed sign-in.
    pub async fn after_sign_in(&self, realm: Realm, subject_id: i64, ip: IpAddr, user_agent: &str) {
        if let Err(e) = self.check(realm, subject_id, ip, user_agent).await {
            tracing::warn!(error = %e, "could not check or send the new sign-in place notice");
        }
    }

    async fn check(
        &self,
        realm: Realm,
        subject_id: i64,
        ip: IpAddr,
        user_agent: &str,
    ) -> anyhow::Result<()> {
        let now = self.clock.unix();
        let actor = Actor::of(realm, subject_id).to_string();
        let (ips, signed_in_before) =
            db::signin_place::earlier(&self.db, &actor, now - KNOWN_FOR_SECONDS, LOOKED_AT).await?;
        if !signed_in_before {
            return Ok(());
        }
        let here = network(ip);
        let known = ips
            .iter()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .any(|earlier| network(earlier) == here);
        if known {
            return Ok(());
        }
        self.send(realm, subject_id, ip, user_agent, now).await
    }

    /// Queues the notice to the account's address (nothing when it has none or is gone).
    async fn send(
        &self,
        realm: Realm,
        subject_id: i64,
        ip: IpAddr,
        user_agent: &str,
        at: i64,
    ) -> anyhow::Result<()> {
        let Some((email, name)) = db::account::recipient(&self.db, realm, subject_id).await? else {
            return Ok(());
        };
        let url = &self.config.system_url;
        let device: String = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(DEVICE_CHARS)
            .collect();
        let rendered = crate::mail::template::NewPlaceSignIn {
            portal: crate::mail::template::portal_name(url),
            name,
            when: self.settings.show_time(at),
            ip: ip.to_string(),
            device: if device.is_empty() {
                "unknown".to_owned()
            } else {
                device
            },
            sessions_link: url.join(realm.sessions_path()),
            password_link: url.join(realm.password_path()),
        }
        .render()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        crate::mail::queue::enqueue(&self.db, &email, &rendered, at).await?;
        tracing::info!(realm = realm.as_str(), subject_id, %ip, "new sign-in place notice queued");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_a_slash_24_and_a_slash_64() {
        let n = |s: &str| network(s.parse().unwrap());
        assert_eq!(n("203.0.113.7"), n("203.0.113.200"));
        assert_ne!(n("203.0.113.7"), n("198.51.100.9"));
        assert_eq!(n("2001:db8:1:2::1"), n("2001:db8:1:2:ffff::9"));
        assert_ne!(n("2001:db8:1:2::1"), n("2001:db8:1:3::1"));
        assert_eq!(n("::ffff:203.0.113.7"), n("203.0.113.9"));
    }
}
