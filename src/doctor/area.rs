//! Areas: which part of the installation a check is about. Each check's area is a column of the
//! table of checks (`table.rs`); this file names the areas, their order and headings, and groups
//! results by them, so System Health, `portcullis doctor --json` and docs/checks.md all group
//! the same way.

use super::{CheckResult, Severity};
use serde::Serialize;

/// The area a check belongs to. Declared in the order System Health shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    Configuration,
    Proxy,
    Storage,
    Sessions,
    Mail,
    Accounts,
    TwoFactor,
    Time,
    Licensing,
    OpenIdConnect,
    /// An id whose prefix no area claims yet; shown last rather than dropped.
    Other,
}

impl Area {
    /// The area of the check with this id, from the table of checks. An id the table does not
    /// list (a result made elsewhere) takes the area of a listed check with the same prefix,
    /// the part before the first dot (every prefix belongs to one area, a test holds that), and
    /// [`Area::Other`] when none has it.
    pub fn of(id: &str) -> Self {
        if let Some(check) = super::table::find(id) {
            return check.area;
        }
        super::CHECKS
            .iter()
            .find(|c| prefix(c.id) == prefix(id))
            .map_or(Self::Other, |c| c.area)
    }

    /// The heading, also the `area` value in the JSON report (so it is a stable contract).
    pub fn title(self) -> &'static str {
        match self {
            Self::Configuration => "Configuration",
            Self::Proxy => "Proxy and addresses",
            Self::Storage => "Storage",
            Self::Sessions => "Sessions and CSRF",
            Self::Mail => "Mail",
            Self::Accounts => "Accounts and roles",
            Self::TwoFactor => "Two-step verification",
            Self::Time => "Time and scheduled tasks",
            Self::Licensing => "Licensing",
            Self::OpenIdConnect => "OpenID Connect",
            Self::Other => "Other checks",
        }
    }

    /// A fragment id for links to the area's heading.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Configuration => "configuration",
            Self::Proxy => "proxy",
            Self::Storage => "storage",
            Self::Sessions => "sessions",
            Self::Mail => "mail",
            Self::Accounts => "accounts",
            Self::TwoFactor => "two-factor",
            Self::Time => "time",
            Self::Licensing => "licensing",
            Self::OpenIdConnect => "oidc",
            Self::Other => "other",
        }
    }
}

/// An id's prefix: the part before the first dot, or the whole id.
fn prefix(id: &str) -> &str {
    id.split_once('.').map_or(id, |(p, _)| p)
}

impl Serialize for Area {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.title())
    }
}

impl CheckResult {
    /// The area this check belongs to.
    pub fn area(&self) -> Area {
        Area::of(self.id)
    }
}

/// The checks of one area, in the order they ran, with the worst of their severities.
#[derive(Debug, Clone)]
pub struct AreaGroup {
    pub area: Area,
    pub worst: Severity,
    pub checks: Vec<CheckResult>,
}

/// Groups results by area: areas in their declared order, checks in their original order.
pub fn group(results: Vec<CheckResult>) -> Vec<AreaGroup> {
    let mut groups: Vec<AreaGroup> = Vec::new();
    for check in results {
        let area = check.area();
        match groups.iter_mut().find(|g| g.area == area) {
            Some(g) => {
                g.worst = g.worst.max(check.severity);
                g.checks.push(check);
            }
            None => groups.push(AreaGroup {
                area,
                worst: check.severity,
                checks: vec![check],
            }),
        }
    }
    // A stable sort keeps each area's checks in run order; only the areas move.
    groups.sort_by_key(|g| g.area);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_to_their_area_by_prefix() {
        for (id, area) in [
            ("config", Area::Configuration),
            ("system_url", Area::Configuration),
            ("proxy.cloudflare", Area::Proxy),
            ("storage.disk", Area::Storage),
            ("database.migrations", Area::Storage),
            ("session.gc", Area::Sessions),
            ("csrf.failures", Area::Sessions),
            ("mail.queue", Area::Mail),
            ("admin.roles", Area::Accounts),
            ("client.owners", Area::Accounts),
            ("two_factor.duo", Area::TwoFactor),
            ("time.zone", Area::Time),
            ("cron.heartbeat", Area::Time),
            ("license.connection", Area::Licensing),
            ("future.check", Area::Other),
        ] {
            assert_eq!(Area::of(id), area, "{id}");
        }
    }

    #[test]
    fn groups_follow_the_area_order_and_keep_the_run_order_inside_an_area() {
        let results = vec![
            CheckResult::ok("mail.transport", "fine"),
            CheckResult::ok("config", "fine"),
            CheckResult::problem("mail.queue", Severity::Warning, "slow", "", ""),
            CheckResult::ok("mail.zzz", "fine"),
        ];
        let groups = group(results);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].area, Area::Configuration);
        assert_eq!(groups[1].area, Area::Mail);
        assert_eq!(groups[1].worst, Severity::Warning);
        let ids: Vec<_> = groups[1].checks.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["mail.transport", "mail.queue", "mail.zzz"]);
    }
}
