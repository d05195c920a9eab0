//! The scheduler: runs each housekeeping task once per period, on one process at a time, and
//! records every run with the process's view of time (F09, F13).
//!
//! `portcullis cron` calls [`run_due`] once; `serve` calls it every [`TICK`] unless
//! `scheduler.enabled = false`. Before a task runs, its row in `scheduler_tasks` is claimed
//! with one conditional `UPDATE` (free lease, period not yet done), so any number of servers
//! and system crons can run together and each task still runs once per period. A crashed
//! holder's lease runs out after [`LEASE_SECONDS`].
//!
//! Periods: an interval task's period is the interval bucket of the current instant; a daily
//! task's is the date, in the configured zone, of the latest `automation.daily_hour` that has
//! passed. The zone comes from the `timezone` setting, never from the process's `TZ`.

pub mod housekeeping;
mod status;

pub use status::{Overview, RunRecord, RunRow, Scheduler, TaskRow, TaskRunRow, TaskStatus};

use crate::app::AppState;
use crate::clock::Zone;
/// A process's view of time at one instant, as [`view`] takes it and the doctor compares them.
pub use crate::db::scheduler::View;
use crate::db::scheduler::{self as store, Outcome};
use jiff::Timestamp;
use std::time::{Duration, Instant};

/// How often `serve` looks for due tasks.
pub const TICK: Duration = Duration::from_secs(60);
/// When this process's [`run_forever`] began: `serve` refreshes Cloudflare's ranges no sooner
/// than a [`TICK`] after it (`crate::proxy` says why).
static SERVING_SINCE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
/// How long a claimed task is held before another process may take it over.
pub const LEASE_SECONDS: i64 = 600;
/// How long run records are kept.
pub const HISTORY_DAYS: i64 = 30;

/// When a task is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Once per this many seconds.
    Every(i64),
    /// Once a day, from `automation.daily_hour` in the configured zone.
    Daily,
}

/// What kind of process runs the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// A `portcullis cron` invocation.
    Cron,
    /// The scheduler inside `serve`.
    Serve,
}

impl Process {
    /// The name stored with runs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cron => "cron",
            Self::Serve => "serve",
        }
    }
}

/// The tasks, in the order a run takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    SessionsCleanup,
    LinksCleanup,
    BansCleanup,
    MailSend,
    OidcLogoutSend,
    CloudflareRefresh,
    AuditRetention,
    RunHistory,
    LicenseRecheck,
}

impl Task {
    /// Every task.
    pub const ALL: [Self; 9] = [
        Self::SessionsCleanup,
        Self::LinksCleanup,
        Self::BansCleanup,
        Self::MailSend,
        Self::OidcLogoutSend,
        Self::CloudflareRefresh,
        Self::AuditRetention,
        Self::RunHistory,
        Self::LicenseRecheck,
    ];

    /// The stable name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Self::SessionsCleanup => "sessions.cleanup",
            Self::LinksCleanup => "links.cleanup",
            Self::BansCleanup => "bans.cleanup",
            Self::MailSend => "mail.send",
            Self::OidcLogoutSend => "oidc.logout.send",
            Self::CloudflareRefresh => "cloudflare.refresh",
            Self::AuditRetention => "audit.retention",
            Self::RunHistory => "scheduler.history",
            Self::LicenseRecheck => "license.recheck",
        }
    }

    /// What it does, for the admin page.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SessionsCleanup => "removes sessions that ended or expired",
            Self::LinksCleanup => {
                "removes expired links, pending sign-ins, WebAuthn ceremonies, rate-limit entries and read session changes"
            }
            Self::BansCleanup => "removes bans that ran out and old failed sign-ins",
            Self::MailSend => "sends queued email that is due",
            Self::OidcLogoutSend => {
                "sends the back-channel logout tokens that are due, and ends unseen timed-out sessions that gave tokens to applications"
            }
            Self::CloudflareRefresh => {
                "downloads Cloudflare's current address ranges (only while Cloudflare is configured)"
            }
            Self::AuditRetention => "removes audit events older than audit.retention_days",
            Self::RunHistory => {
                "removes scheduler run records and views of time of processes gone quiet (older than 30 days) and licence checks older than 90 days"
            }
            Self::LicenseRecheck => {
                "checks this installation's own licence ([license]) with its server"
            }
        }
    }

    /// Its schedule under this configuration, or `None` when it does not apply (mail sending
    /// disabled, Cloudflare refresh turned off, or mail and logout tokens inside `serve`, which
    /// has a continuous sender for each).
    pub fn schedule(self, config: &crate::config::Config, process: Process) -> Option<Schedule> {
        let cleanup = config.cleanup_interval_seconds;
        match self {
            Self::SessionsCleanup | Self::LinksCleanup | Self::BansCleanup => {
                Some(Schedule::Every(cleanup))
            }
            Self::MailSend => {
                (config.mail.enabled && process == Process::Cron).then_some(Schedule::Every(60))
            }
            // An installation run by a system cron (no `serve` sender between web requests)
            // still tells its applications within the cron's interval.
            Self::OidcLogoutSend => (process == Process::Cron).then_some(Schedule::Every(60)),
            Self::CloudflareRefresh => config
                .cloudflare_refresh_hours
                .map(|h| Schedule::Every(i64::from(h) * 3600)),
            Self::AuditRetention | Self::RunHistory => Some(Schedule::Daily),
            Self::LicenseRecheck => config.license.is_some().then_some(Schedule::Daily),
        }
    }

    /// Runs it; `Ok` carries a line for the run log.
    async fn run(self, state: &AppState) -> Result<String, String> {
        let text = |e: sqlx::Error| e.to_string();
        match self {
            Self::SessionsCleanup => housekeeping::sessions(state)
                .await
                .map(|r| r.describe("session(s)"))
                .map_err(text),
            Self::LinksCleanup => {
                let links = housekeeping::links(state).await.map_err(text)?;
                let mut line = links
                    .describe("link(s), pending sign-in(s), ceremonies and rate-limit entries");
                // Named only when there were some, so a run with none reads as before.
                let seeds = housekeeping::expired_totp_setups(state)
                    .await
                    .map_err(text)?;
                if seeds.rows > 0 || seeds.unfinished {
                    line.push_str("; ");
                    line.push_str(&seeds.describe("expired authenticator setup(s)"));
                }
                // OpenID signing keys retired for longer than they stay published.
                let keys = crate::oidc::keys::Keys::from(state)
                    .remove_expired()
                    .await
                    .map_err(|e| e.to_string())?;
                if keys > 0 {
                    line.push_str("; ");
                    line.push_str(&keys.to_string());
                    line.push_str(" retired signing key(s)");
                }
                Ok(line)
            }
            Self::BansCleanup => housekeeping::bans(state)
                .await
                .map(|r| r.describe("expired ban(s) and old failed sign-in(s)"))
                .map_err(text),
            Self::MailSend => crate::mail::sender::run_once(state)
                .await
                .map(|s| s.to_string())
                .map_err(|e| e.to_string()),
            Self::OidcLogoutSend => crate::oidc::backchannel::run_once(state)
                .await
                .map(|s| s.to_string())
                .map_err(text),
            Self::CloudflareRefresh => crate::proxy::refresh_cloudflare(state)
                .await
                .map(|r| format!("{} IPv4 and {} IPv6 ranges from {}", r.v4, r.v6, r.source))
                .map_err(|e| e.to_string()),
            Self::AuditRetention => housekeeping::audit(state)
                .await
                .map(|r| r.describe("audit event(s)"))
                .map_err(text),
            Self::LicenseRecheck => {
                let check = crate::doctor::license_connection(state).await;
                match check.severity {
                    crate::doctor::Severity::Ok | crate::doctor::Severity::Info => {
                        Ok(check.summary)
                    }
                    // Within the offline grace (F07) the licence is still valid: the run did its
                    // job and says what to watch, instead of failing every cron run.
                    crate::doctor::Severity::Warning => {
                        Ok(format!("{} {}", check.summary, check.next_step))
                    }
                    crate::doctor::Severity::Error => {
                        Err(format!("{} {}", check.summary, check.next_step))
                    }
                }
            }
            Self::RunHistory => housekeeping::run_history(state)
                .await
                .map(|r| r.describe("run record(s), old process view(s) and licence check(s)"))
                .map_err(text),
        }
    }
}

/// The period a task is in at `now`; the task is due while this differs from the last period
/// it completed.
pub fn period(schedule: Schedule, now: Timestamp, zone: &Zone, daily_hour: i8) -> String {
    match schedule {
        Schedule::Every(seconds) => {
            format!(
                "every-{seconds}:{}",
                now.as_second().div_euclid(seconds.max(1))
            )
        }
        Schedule::Daily => {
            let local = now.to_zoned(zone.tz().clone());
            let date = if local.hour() >= daily_hour {
                local.date()
            } else {
                local.date().yesterday().unwrap_or(local.date())
            };
            format!("daily-{daily_hour:02}:{date}")
        }
    }
}

/// How long a failed task waits before any process retries it: a quarter of its interval,
/// between one and fifteen minutes.
pub fn retry_delay(schedule: Schedule) -> i64 {
    match schedule {
        Schedule::Every(seconds) => (seconds / 4).clamp(60, 900),
        Schedule::Daily => 900,
    }
}

/// This process's name among nodes: host and process id.
pub fn node_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}:{}", std::process::id())
}

/// This process's view of time now: its own local zone (diagnosis only) and the configured one.
pub fn view(state: &AppState, process: &str) -> View {
    let now = state.clock.now();
    let local = crate::clock::local_view(now);
    let zone = state.settings.snapshot().values.timezone.clone();
    View {
        process: process.to_owned(),
        node: node_id(),
        tz_env: local.tz_env,
        local_zone: local.zone,
        local_offset_seconds: local.offset_seconds,
        zone: zone.name().to_owned(),
        zone_offset_seconds: zone.offset_seconds(now),
        at: now.as_second(),
    }
}

/// Records `view` as its process's latest view of time (one row per process and node), where
/// the doctor's `time.zone` check compares it with the others. `serve` records its own hourly
/// and whenever the zone changes ([`run_forever`]).
///
/// # Errors
/// Storage errors.
pub async fn record_view(state: &AppState, view: &View) -> Result<(), sqlx::Error> {
    store::record_view(&state.db, view).await
}

/// One task's result in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    pub task: &'static str,
    pub ok: bool,
    pub detail: String,
    pub duration_ms: i64,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// The run's record, when one was written.
    pub run_id: Option<i64>,
    pub tasks: Vec<TaskReport>,
    /// Tasks that were due but held by another process.
    pub held_elsewhere: Vec<&'static str>,
}

impl RunReport {
    /// Whether every task that ran succeeded.
    pub fn ok(&self) -> bool {
        self.tasks.iter().all(|t| t.ok)
    }
}

/// Runs every due task once. A `cron` run is always recorded (it proves the system cron
/// works); a `serve` tick only when it ran something, so idle ticks do not fill the table.
///
/// # Errors
/// Storage errors while claiming or recording (a failing task is a result, not an error).
pub async fn run_due(state: &AppState, process: Process) -> Result<RunReport, sqlx::Error> {
    // The zone and other settings as stored now, not as cached up to five seconds ago.
    if let Err(e) = crate::settings::Settings::from(state).reload().await {
        tracing::warn!(error = %e, "could not re-read settings before the scheduled tasks");
    }
    let zone = state.settings.snapshot().values.timezone.clone();
    let holder = node_id();
    let run_started = Instant::now();
    let mut report = RunReport::default();
    let record = |report: &mut RunReport| {
        let view = view(state, process.as_str());
        let existing = report.run_id;
        async move {
            match existing {
                Some(id) => Ok(id),
                None => store::start_run(&state.db, &view).await,
            }
        }
    };
    if process == Process::Cron {
        report.run_id = Some(record(&mut report).await?);
    }
    for task in Task::ALL {
        let Some(schedule) = task.schedule(&state.config, process) else {
            continue;
        };
        if task == Task::CloudflareRefresh
            && (!crate::proxy::cloudflare_in_use(&state.settings.snapshot())
                || (process == Process::Serve
                    && SERVING_SINCE.get().is_some_and(|at| at.elapsed() < TICK)))
        {
            continue;
        }
        let now = state.clock.now();
        let period = period(schedule, now, &zone, state.config.daily_hour);
        let claimed = store::claim(
            &state.db,
            task.name(),
            &holder,
            now.as_second(),
            now.as_second() + LEASE_SECONDS,
            &period,
        )
        .await?;
        match claimed {
            store::Claim::Taken => {}
            store::Claim::HeldElsewhere => {
                report.held_elsewhere.push(task.name());
                continue;
            }
            store::Claim::NotDue => continue,
        }
        let run_id = record(&mut report).await?;
        report.run_id = Some(run_id);
        let started = Instant::now();
        let result = task.run(state).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(e) => {
                tracing::warn!(task = task.name(), error = %e, "scheduled task failed");
                (false, e)
            }
        };
        let outcome = Outcome {
            ok,
            detail: &detail,
            duration_ms,
        };
        store::finish(
            &state.db,
            task.name(),
            &holder,
            state.clock.unix(),
            &period,
            &outcome,
            state.clock.unix() + retry_delay(schedule),
        )
        .await?;
        store::add_task_run(&state.db, run_id, task.name(), now.as_second(), &outcome).await?;
        report.tasks.push(TaskReport {
            task: task.name(),
            ok,
            detail,
            duration_ms,
        });
    }
    if let Some(id) = report.run_id {
        let failures = report.tasks.iter().filter(|t| !t.ok).count();
        let end = store::RunEnd {
            finished_at: state.clock.unix(),
            tasks_run: i64::try_from(report.tasks.len()).unwrap_or(i64::MAX),
            failures: i64::try_from(failures).unwrap_or(i64::MAX),
            duration_ms: i64::try_from(run_started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        store::finish_run(&state.db, id, end).await?;
    }
    Ok(report)
}

/// Records this web server's view of time now and then, and runs the scheduler every [`TICK`]
/// when enabled, until the process ends.
pub async fn run_forever(state: AppState) {
    SERVING_SINCE.get_or_init(Instant::now);
    // When this server last recorded its view of time, and under which zone.
    let mut last_view: Option<(i64, String)> = None;
    loop {
        let now = state.clock.unix();
        let current = crate::settings::Settings::from(&state).current().await;
        let zone = current.values.timezone.name();
        // Hourly, and at once when an admin changes the zone, so the doctor compares fresh views.
        let due = last_view
            .as_ref()
            .is_none_or(|(at, recorded)| now - *at >= 3600 || recorded != zone);
        if due {
            match record_view(&state, &view(&state, "web")).await {
                Ok(()) => last_view = Some((now, zone.to_owned())),
                Err(e) => tracing::warn!(error = %e, "could not record the web server's time view"),
            }
        }
        if state.config.scheduler_enabled
            && let Err(e) = run_due(&state, Process::Serve).await
        {
            tracing::warn!(error = %e, "the scheduler could not reach the database");
        }
        tokio::time::sleep(TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn interval_periods_are_buckets_of_the_interval() {
        let zone = Zone::utc();
        let a = period(Schedule::Every(300), at("2026-11-28T12:00:00Z"), &zone, 3);
        let b = period(Schedule::Every(300), at("2026-11-28T12:04:59Z"), &zone, 3);
        let c = period(Schedule::Every(300), at("2026-11-28T12:05:00Z"), &zone, 3);
        assert_eq!(a, b);
        assert_ne!(b, c);
    }

    #[test]
    fn daily_periods_turn_at_the_configured_hour_of_the_configured_zone() {
        let london = Zone::parse("Europe/London").expect("zone");
        let tokyo = Zone::parse("Asia/Tokyo").expect("zone");
        // 02:59 in London (GMT) is still yesterday's period; 03:00 starts today's.
        assert_eq!(
            period(Schedule::Daily, at("2026-11-28T02:59:00Z"), &london, 3),
            "daily-03:2026-11-27"
        );
        assert_eq!(
            period(Schedule::Daily, at("2026-11-28T03:00:00Z"), &london, 3),
            "daily-03:2026-11-28"
        );
        // 03:00 in Tokyo is 18:00 UTC the day before.
        assert_eq!(
            period(Schedule::Daily, at("2026-11-27T18:00:00Z"), &tokyo, 3),
            "daily-03:2026-11-28"
        );
        // In British Summer Time 03:00 local is 02:00 UTC.
        assert_eq!(
            period(Schedule::Daily, at("2027-03-28T02:00:00Z"), &london, 3),
            "daily-03:2027-03-28"
        );
        assert_eq!(
            period(Schedule::Daily, at("2027-03-28T01:59:00Z"), &london, 3),
            "daily-03:2027-03-27"
        );
    }
}
