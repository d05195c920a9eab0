//! The scheduler's tables: task leases and results, runs with the process's view of time, the
//! tasks of each run, and each process's latest view of time.

use super::Db;
use sqlx::{Executor, Row as _};

/// What a claim came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the lease now.
    Taken,
    /// Due, but another process holds the lease.
    HeldElsewhere,
    /// Not due: the period is done, or a failed run is waiting before its retry.
    NotDue,
}

/// Takes the lease on `task` for `holder` until `lease_until`, when nobody holds it and the
/// period `period` has not been completed.
///
/// The check and the take are one `UPDATE`, so two processes racing for the same task cannot
/// both win, on SQLite (one writer at a time) or PostgreSQL (row lock).
pub async fn claim(
    pool: &super::Pool,
    task: &str,
    holder: &str,
    now: i64,
    lease_until: i64,
    period: &str,
) -> Result<Claim, sqlx::Error> {
    sqlx::query("INSERT INTO scheduler_tasks (task) VALUES ($1) ON CONFLICT (task) DO NOTHING")
        .bind(task)
        .execute(pool)
        .await?;
    let taken = sqlx::query(
        "UPDATE scheduler_tasks SET lease_holder = $2, lease_until = $3, last_started_at = $4 \
         WHERE task = $1 AND lease_until <= $4 AND done_period <> $5",
    )
    .bind(task)
    .bind(holder)
    .bind(lease_until)
    .bind(now)
    .bind(period)
    .execute(pool)
    .await?;
    if taken.rows_affected() == 1 {
        return Ok(Claim::Taken);
    }
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM scheduler_tasks WHERE task = $1 AND lease_holder <> '' \
         AND lease_until > $2 AND done_period <> $3",
    )
    .bind(task)
    .bind(now)
    .bind(period)
    .fetch_one(pool)
    .await?;
    Ok(if held > 0 {
        Claim::HeldElsewhere
    } else {
        Claim::NotDue
    })
}

/// Who holds a task's lease, when [`take_lease`] could not take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: String,
    pub until: i64,
}

/// Takes (or, for its own holder, extends) the lease on `task` until `lease_until`, whatever
/// the period: for running a task's work outside its schedule (the doctor's fix), so it never
/// runs alongside the scheduler's run of the same task. A failed task's retry wait does not
/// stop it. `Err(Held)` names the process holding it.
pub async fn take_lease(
    pool: &super::Pool,
    task: &str,
    holder: &str,
    now: i64,
    lease_until: i64,
) -> Result<Result<(), Held>, sqlx::Error> {
    sqlx::query("INSERT INTO scheduler_tasks (task) VALUES ($1) ON CONFLICT (task) DO NOTHING")
        .bind(task)
        .execute(pool)
        .await?;
    let taken = sqlx::query(
        "UPDATE scheduler_tasks SET lease_holder = $2, lease_until = $3 WHERE task = $1 \
         AND (lease_holder = '' OR lease_holder = $2 OR lease_until <= $4)",
    )
    .bind(task)
    .bind(holder)
    .bind(lease_until)
    .bind(now)
    .execute(pool)
    .await?;
    if taken.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let (holder, until): (String, i64) =
        sqlx::query_as("SELECT lease_holder, lease_until FROM scheduler_tasks WHERE task = $1")
            .bind(task)
            .fetch_one(pool)
            .await?;
    Ok(Err(Held { holder, until }))
}

/// Gives up a lease taken with [`take_lease`]; the task is then free for the scheduler.
pub async fn release_lease(
    pool: &super::Pool,
    task: &str,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE scheduler_tasks SET lease_holder = '', lease_until = 0 \
         WHERE task = $1 AND lease_holder = $2",
    )
    .bind(task)
    .bind(holder)
    .execute(pool)
    .await
    .map(|_| ())
}

/// What one task's run came to.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub ok: bool,
    pub detail: &'a str,
    pub duration_ms: i64,
}

/// Releases the lease and records the result; a success also marks `period` done. After a
/// failure nobody may claim the task before `retry_at`, so a task whose peer is down (say,
/// Cloudflare's list URL) is not retried on every tick.
pub async fn finish(
    pool: &super::Pool,
    task: &str,
    holder: &str,
    now: i64,
    period: &str,
    outcome: &Outcome<'_>,
    retry_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE scheduler_tasks SET lease_holder = '', \
         lease_until = CASE WHEN $4 = 1 THEN 0 ELSE $8 END, last_finished_at = $3, \
         last_ok = $4, last_detail = $5, last_duration_ms = $6, \
         last_ok_at = CASE WHEN $4 = 1 THEN $3 ELSE last_ok_at END, \
         done_period = CASE WHEN $4 = 1 THEN $7 ELSE done_period END \
         WHERE task = $1 AND lease_holder = $2",
    )
    .bind(task)
    .bind(holder)
    .bind(now)
    .bind(i64::from(outcome.ok))
    .bind(outcome.detail)
    .bind(outcome.duration_ms)
    .bind(period)
    .bind(retry_at)
    .execute(pool)
    .await
    .map(|_| ())
}

/// A task's stored state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskRow {
    pub task: String,
    pub lease_holder: String,
    pub lease_until: i64,
    pub done_period: String,
    pub last_started_at: i64,
    pub last_finished_at: i64,
    pub last_ok_at: i64,
    pub last_ok: bool,
    pub last_detail: String,
    pub last_duration_ms: i64,
}

/// Every task that has ever been claimed.
pub async fn tasks<'e>(ex: impl Executor<'e, Database = Db>) -> Result<Vec<TaskRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT task, lease_holder, lease_until, done_period, last_started_at, last_finished_at, \
         last_ok_at, last_ok, last_detail, last_duration_ms FROM scheduler_tasks ORDER BY task",
    )
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TaskRow {
                task: r.try_get("task")?,
                lease_holder: r.try_get("lease_holder")?,
                lease_until: r.try_get("lease_until")?,
                done_period: r.try_get("done_period")?,
                last_started_at: r.try_get("last_started_at")?,
                last_finished_at: r.try_get("last_finished_at")?,
                last_ok_at: r.try_get("last_ok_at")?,
                last_ok: r.try_get::<i64, _>("last_ok")? == 1,
                last_detail: r.try_get("last_detail")?,
                last_duration_ms: r.try_get("last_duration_ms")?,
            })
        })
        .collect()
}

/// A process's view of time, as recorded with a run or by a web server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct View {
    pub process: String,
    pub node: String,
    pub tz_env: String,
    pub local_zone: String,
    pub local_offset_seconds: i64,
    pub zone: String,
    pub zone_offset_seconds: i64,
    /// When it was recorded (a run's start).
    pub at: i64,
}

/// Starts a run record; returns its id.
pub async fn start_run(pool: &super::Pool, view: &View) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO scheduler_runs (started_at, process, node, tz_env, local_zone, \
         local_offset_seconds, zone, zone_offset_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(view.at)
    .bind(&view.process)
    .bind(&view.node)
    .bind(&view.tz_env)
    .bind(&view.local_zone)
    .bind(view.local_offset_seconds)
    .bind(&view.zone)
    .bind(view.zone_offset_seconds)
    .fetch_one(pool)
    .await
}

/// Records one task of a run.
pub async fn add_task_run(
    pool: &super::Pool,
    run_id: i64,
    task: &str,
    started_at: i64,
    outcome: &Outcome<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO scheduler_task_runs (run_id, task, started_at, duration_ms, ok, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(run_id)
    .bind(task)
    .bind(started_at)
    .bind(outcome.duration_ms)
    .bind(i64::from(outcome.ok))
    .bind(outcome.detail)
    .execute(pool)
    .await
    .map(|_| ())
}

/// How a run ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd {
    pub finished_at: i64,
    pub tasks_run: i64,
    pub failures: i64,
    /// Measured on the process's monotonic clock, so it is right even when the wall clock jumps.
    pub duration_ms: i64,
}

/// Closes a run record.
pub async fn finish_run(pool: &super::Pool, run_id: i64, end: RunEnd) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE scheduler_runs SET finished_at = $2, tasks_run = $3, failures = $4, \
         duration_ms = $5 WHERE id = $1",
    )
    .bind(run_id)
    .bind(end.finished_at)
    .bind(end.tasks_run)
    .bind(end.failures)
    .bind(end.duration_ms)
    .execute(pool)
    .await
    .map(|_| ())
}

/// A recorded run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub view: View,
    pub finished_at: i64,
    pub tasks_run: i64,
    pub failures: i64,
    pub duration_ms: i64,
}

fn run_row(r: &sqlx::any::AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: r.try_get("id")?,
        view: View {
            process: r.try_get("process")?,
            node: r.try_get("node")?,
            tz_env: r.try_get("tz_env")?,
            local_zone: r.try_get("local_zone")?,
            local_offset_seconds: r.try_get("local_offset_seconds")?,
            zone: r.try_get("zone")?,
            zone_offset_seconds: r.try_get("zone_offset_seconds")?,
            at: r.try_get("started_at")?,
        },
        finished_at: r.try_get("finished_at")?,
        tasks_run: r.try_get("tasks_run")?,
        failures: r.try_get("failures")?,
        duration_ms: r.try_get("duration_ms")?,
    })
}

/// The newest runs, newest first; `process` empty means any.
pub async fn recent_runs<'e>(
    ex: impl Executor<'e, Database = Db>,
    process: &str,
    limit: i64,
) -> Result<Vec<RunRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, started_at, finished_at, process, node, tz_env, local_zone, \
         local_offset_seconds, zone, zone_offset_seconds, tasks_run, failures, duration_ms \
         FROM scheduler_runs WHERE ($1 = '' OR process = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(process)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(run_row).collect()
}

/// One task of a recorded run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskRunRow {
    pub run_id: i64,
    pub task: String,
    pub duration_ms: i64,
    pub ok: bool,
    pub detail: String,
}

/// The tasks of the runs with ids from `min_id` up.
pub async fn task_runs_since<'e>(
    ex: impl Executor<'e, Database = Db>,
    min_id: i64,
) -> Result<Vec<TaskRunRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT run_id, task, duration_ms, ok, detail FROM scheduler_task_runs \
         WHERE run_id >= $1 ORDER BY run_id, started_at, task",
    )
    .bind(min_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TaskRunRow {
                run_id: r.try_get("run_id")?,
                task: r.try_get("task")?,
                duration_ms: r.try_get("duration_ms")?,
                ok: r.try_get::<i64, _>("ok")? == 1,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// Removes up to `batch` runs started before `before` (their tasks go with them).
pub async fn purge_runs_before<'e>(
    ex: impl Executor<'e, Database = Db>,
    before: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM scheduler_runs WHERE id IN \
         (SELECT id FROM scheduler_runs WHERE started_at < $1 ORDER BY id LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Removes the views of time of processes that have not recorded one since `before`: each
/// restart of a web server is a new node name (host and process id), so without this the table
/// grows by a row per restart. It stays small (a row per process started in the kept time), so
/// one statement does.
pub async fn purge_views_before<'e>(
    ex: impl Executor<'e, Database = Db>,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM process_views WHERE recorded_at < $1")
        .bind(before)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// Stores a process's latest view of time (one row per kind of process and node).
pub async fn record_view<'e>(
    ex: impl Executor<'e, Database = Db>,
    view: &View,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO process_views (process, node, tz_env, local_zone, local_offset_seconds, zone, \
         zone_offset_seconds, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (process, node) DO UPDATE SET tz_env = excluded.tz_env, \
         local_zone = excluded.local_zone, local_offset_seconds = excluded.local_offset_seconds, \
         zone = excluded.zone, zone_offset_seconds = excluded.zone_offset_seconds, \
         recorded_at = excluded.recorded_at",
    )
    .bind(&view.process)
    .bind(&view.node)
    .bind(&view.tz_env)
    .bind(&view.local_zone)
    .bind(view.local_offset_seconds)
    .bind(&view.zone)
    .bind(view.zone_offset_seconds)
    .bind(view.at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The newest recorded view of a kind of process, on any node.
pub async fn latest_view<'e>(
    ex: impl Executor<'e, Database = Db>,
    process: &str,
) -> Result<Option<View>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT process, node, tz_env, local_zone, local_offset_seconds, zone, \
         zone_offset_seconds, recorded_at FROM process_views WHERE process = $1 \
         ORDER BY recorded_at DESC LIMIT 1",
    )
    .bind(process)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(View {
            process: r.try_get("process")?,
            node: r.try_get("node")?,
            tz_env: r.try_get("tz_env")?,
            local_zone: r.try_get("local_zone")?,
            local_offset_seconds: r.try_get("local_offset_seconds")?,
            zone: r.try_get("zone")?,
            zone_offset_seconds: r.try_get("zone_offset_seconds")?,
            at: r.try_get("recorded_at")?,
        })
    })
    .transpose()
}

/// The database server's clock, in unix seconds (for the skew check).
pub async fn database_now(pool: &super::Pool) -> Result<i64, sqlx::Error> {
    let sql = if super::is_postgres(pool) {
        "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)"
    } else {
        "SELECT CAST(strftime('%s', 'now') AS BIGINT)"
    };
    sqlx::query_scalar(sql).fetch_one(pool).await
}
