//! The `[session]` section: each realm's idle and absolute lifetimes, "remember me" (clients
//! only), how strictly a session is bound to its address, and how often activity is written.
//!
//! Sessions themselves are `crate::session`'s, which reads [`RealmSessionPolicy`] and
//! [`IpBinding`]. [`RawSession::validate`] is called by [`super::RawConfig::validate`].

use super::{ConfigError, RawSession};

/// How strictly a session is bound to the address it started from (F02).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpBinding {
    /// Never end a session because the address changed.
    Off,
    /// End it when the address leaves its /24 (IPv4) or /64 (IPv6).
    Subnet,
    /// End it on any change of address.
    Exact,
}

impl IpBinding {
    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "off" => Ok(Self::Off),
            "subnet" => Ok(Self::Subnet),
            "exact" => Ok(Self::Exact),
            _ => Err(ConfigError::new(key, &value, "one of off, subnet, exact")),
        }
    }
}

/// The longest "remember me" lifetime allowed, in days (ASVS 3.3.2).
pub const REMEMBER_DAYS_MAX: i64 = 30;

/// Timeouts and binding for one realm's sessions, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct RealmSessionPolicy {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
    /// "Remember me" lifetime, counted from sign-in and never extended by use (its idle limit
    /// too); `None` where the realm does not offer it.
    pub remember_seconds: Option<i64>,
    pub ip_binding: IpBinding,
}

/// The validated `[session]` section.
pub(super) struct Sessions {
    pub client: RealmSessionPolicy,
    pub admin: RealmSessionPolicy,
    pub activity_update_seconds: i64,
    pub cache_entries: u64,
}

/// The most sessions a node may keep in memory.
pub const CACHE_ENTRIES_MAX: u64 = 10_000_000;

impl RawSession {
    /// Checks the client keys, then the admin keys, then the activity interval.
    pub(super) fn validate(&self) -> Result<Sessions, ConfigError> {
        let client_session = RealmSessionPolicy {
            idle_seconds: positive(
                "session.client_idle_minutes",
                self.client_idle_minutes,
                "minutes",
                43_200,
            )? * 60,
            absolute_seconds: positive(
                "session.client_absolute_hours",
                self.client_absolute_hours,
                "hours",
                8_760,
            )? * 3600,
            // An absolute lifetime (ASVS 3.3.2): a remembered session ends this many days after
            // sign-in however often it is used, and at most 30 days, so a stolen long-lived
            // cookie stops working and the person proves who they are at least monthly. That is
            // L1's bound; `client_remember = false` removes the option for L2's 12 hours (the
            // days are still checked, so turning it back on never meets a bad value).
            remember_seconds: {
                let days = positive(
                    "session.client_remember_days",
                    self.client_remember_days,
                    "days",
                    REMEMBER_DAYS_MAX,
                )?;
                self.client_remember.then_some(days * 86_400)
            },
            ip_binding: IpBinding::parse("session.client_ip_binding", &self.client_ip_binding)?,
        };
        let admin_session = RealmSessionPolicy {
            idle_seconds: positive(
                "session.admin_idle_minutes",
                self.admin_idle_minutes,
                "minutes",
                43_200,
            )? * 60,
            absolute_seconds: positive(
                "session.admin_absolute_hours",
                self.admin_absolute_hours,
                "hours",
                8_760,
            )? * 3600,
            remember_seconds: None,
            ip_binding: IpBinding::parse("session.admin_ip_binding", &self.admin_ip_binding)?,
        };
        let activity_update_seconds = positive(
            "session.activity_update_seconds",
            self.activity_update_seconds,
            "seconds",
            3600,
        )?;
        if self.cache_entries > CACHE_ENTRIES_MAX {
            return Err(ConfigError::new(
                "session.cache_entries",
                &self.cache_entries,
                format!("a whole number from 0 (keep none in memory) to {CACHE_ENTRIES_MAX}"),
            ));
        }
        Ok(Sessions {
            client: client_session,
            admin: admin_session,
            activity_update_seconds,
            cache_entries: self.cache_entries,
        })
    }
}

/// `value` if it is from 1 to `max`; otherwise an error naming the unit.
fn positive(key: &str, value: i64, unit: &str, max: i64) -> Result<i64, ConfigError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            key,
            &value,
            format!("a whole number of {unit} from 1 to {max}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load_with;

    #[test]
    fn sessions_idle_30_minutes_by_default_and_remember_me_can_be_turned_off() {
        let c = load_with(None, &[]).unwrap();
        assert_eq!(c.client_session.idle_seconds, 30 * 60);
        assert_eq!(c.admin_session.idle_seconds, 30 * 60);
        assert_eq!(c.client_session.absolute_seconds, 12 * 3600);
        assert_eq!(c.client_session.remember_seconds, Some(30 * 86_400));
        let off = load_with(Some("[session]\nclient_remember = false\n"), &[]).unwrap();
        assert_eq!(off.client_session.remember_seconds, None);
        let e = load_with(Some("[session]\nclient_remember = \"no\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "session.client_remember");
    }
}
