//! `time.zone` (F13): one timezone everywhere. The configured zone is valid; the web server and
//! the last `portcullis cron` run used the same zone with the same offset; a host whose own
//! local zone differs is noted (Portcullis ignores it); the database's clock agrees with ours.

use super::{CheckResult, Severity};
use crate::app::AppState;
use crate::clock::{Zone, offset_text};
use crate::db::scheduler::View;

/// Clock skew against the database above this is reported.
pub const MAX_SKEW_SECONDS: i64 = 5;

fn describe(view: &View) -> String {
    let label = match view.process.as_str() {
        "web" => "web server",
        "cron" => "last `portcullis cron` run",
        _ => "this doctor run",
    };
    format!("{label} on {}", view.node)
}

/// Whether a process's own local zone is, in effect, the configured one.
fn local_matches(view: &View, zone: &Zone) -> bool {
    view.local_zone == zone.name()
        || (zone.name() == "UTC"
            && view.local_offset_seconds == 0
            && matches!(
                view.local_zone.as_str(),
                "UTC"
                    | "Etc/UTC"
                    | "Etc/Universal"
                    | "Universal"
                    | "Zulu"
                    | "Etc/Zulu"
                    | "GMT"
                    | "Etc/GMT"
                    | "unknown"
            ))
}

/// The check.
pub async fn zone(state: &AppState) -> CheckResult {
    const ID: &str = super::id::TIME_ZONE;
    let settings = match crate::settings::Settings::from(state).reload().await {
        Ok(s) => s,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let zone = settings.values.timezone.clone();
    let source = settings
        .sources
        .iter()
        .find(|(k, _)| k == "timezone")
        .map_or_else(|| "default".to_owned(), |(_, s)| s.clone());
    if source.contains("invalid") {
        return CheckResult::problem(
            ID,
            Severity::Error,
            format!(
                "The stored timezone is not a valid zone; {} is used instead.",
                zone.name()
            ),
            format!("timezone: {source}."),
            format!(
                "Set the timezone on /admin/settings: {}.",
                crate::clock::ZONE_HELP
            ),
        );
    }
    // When the setting was last changed in the database; views recorded before that are stale.
    let changed_at = match crate::db::setting::all(&state.db).await {
        Ok(all) => all
            .into_iter()
            .find(|(k, ..)| k == "timezone")
            .map_or(0, |(_, _, at, _)| at),
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let here = crate::scheduler::view(state, "doctor");
    let web = match crate::db::scheduler::latest_view(&state.db, "web").await {
        Ok(v) => v,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let cron = match crate::db::scheduler::recent_runs(&state.db, "cron", 1).await {
        Ok(runs) => runs.into_iter().next().map(|r| r.view),
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let now = state.clock.now();
    let mut details = vec![format!(
        "configured: {} ({} now), from {source}",
        zone.name(),
        offset_text(zone.offset_seconds(now))
    )];
    let mut disagree = Vec::new();
    let mut tzdata = Vec::new();
    let mut local_differs = Vec::new();
    for view in [Some(&here), web.as_ref(), cron.as_ref()]
        .into_iter()
        .flatten()
    {
        details.push(format!(
            "{} at {}: uses {} ({}); its own local zone {} ({}), TZ={}",
            describe(view),
            state.show_time(view.at),
            view.zone,
            offset_text(view.zone_offset_seconds),
            view.local_zone,
            offset_text(view.local_offset_seconds),
            if view.tz_env.is_empty() {
                "(unset)"
            } else {
                &view.tz_env
            }
        ));
        let outdated = view.at < changed_at;
        if view.zone != zone.name() && !outdated {
            disagree.push(format!("the {} used {}", describe(view), view.zone));
        } else if view.zone == zone.name() {
            let expected = jiff::Timestamp::from_second(view.at)
                .map_or(view.zone_offset_seconds, |t| zone.offset_seconds(t));
            if expected != view.zone_offset_seconds {
                tzdata.push(format!(
                    "the {} computed {} for {} at {}, this host computes {}",
                    describe(view),
                    offset_text(view.zone_offset_seconds),
                    view.zone,
                    state.show_time(view.at),
                    offset_text(expected)
                ));
            }
        }
        if !local_matches(view, &zone) {
            local_differs.push(format!(
                "{} runs with local zone {}",
                describe(view),
                view.local_zone
            ));
        }
    }
    if !disagree.is_empty() {
        return CheckResult::problem(
            ID,
            Severity::Error,
            format!(
                "Processes disagree on the timezone: this installation uses {}, but {}.",
                zone.name(),
                disagree.join(" and ")
            ),
            "Each process takes `timezone` from its own configuration file or PORTCULLIS__TIMEZONE until it is set on the settings page; the web server and the cron job were started with different ones, so \"today\" and the hour of daily tasks differ between them.",
            "Set the timezone on /admin/settings (stored in the database, so every process uses it), or give `portcullis cron` the same --config file and environment as `serve`.",
        )
        .with_details(details);
    }
    if !tzdata.is_empty() {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!("Hosts compute different offsets for {}: {}.", zone.name(), tzdata.join("; ")),
            "The hosts have different versions of the time zone database (package tzdata), so one of them has outdated daylight-saving rules.",
            "Update the tzdata package on every host (`apt-get install --only-upgrade tzdata`) and restart Portcullis there.",
        )
        .with_details(details);
    }
    match crate::db::scheduler::database_now(&state.db).await {
        Ok(db_now) => {
            // Against the clock every instant Portcullis stores comes from.
            let skew = db_now - state.clock.unix();
            details.push(format!(
                "database clock minus this process's clock: {skew} s"
            ));
            if skew.abs() > MAX_SKEW_SECONDS {
                return CheckResult::problem(
                    ID,
                    Severity::Warning,
                    format!("The database server's clock is {skew} seconds off this process's."),
                    "One of the machines does not synchronise its clock. Portcullis takes every instant from the application host, so sessions are unaffected, but nodes whose clocks differ disagree on expiries.",
                    "Run NTP (chrony or systemd-timesyncd) on every host, then check again.",
                )
                .with_details(details);
            }
        }
        Err(e) => return CheckResult::storage_failed(ID, &e),
    }
    if !local_differs.is_empty() {
        return CheckResult::problem(
            ID,
            Severity::Info,
            format!(
                "All processes use {}; {} (Portcullis ignores the local zone).",
                zone.name(),
                local_differs.join(", ")
            ),
            "The host or the process environment (TZ) sets another local zone. Portcullis never uses it, but other software on the host (a PHP portal, cron's own schedule) does.",
            "Nothing to do for Portcullis. Remember that the system crontab's hours are in the host's zone.",
        )
        .with_details(details);
    }
    CheckResult::ok(
        ID,
        format!(
            "All processes use {} ({} now), and the database's clock agrees.",
            zone.name(),
            offset_text(zone.offset_seconds(now))
        ),
    )
    .with_details(details)
}
