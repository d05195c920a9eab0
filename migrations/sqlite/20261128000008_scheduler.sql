-- The scheduler: one row per task (its lease and last result), one row per scheduler run with
-- the process's view of time, the tasks each run did, and each process's latest view of time.

CREATE TABLE scheduler_tasks (
    task TEXT PRIMARY KEY,
    -- Who runs it now, and until when the lease holds (a crashed holder loses it then).
    lease_holder TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    -- The last period completed: an interval bucket or a local date for daily tasks.
    done_period TEXT NOT NULL DEFAULT '',
    last_started_at BIGINT NOT NULL DEFAULT 0,
    last_finished_at BIGINT NOT NULL DEFAULT 0,
    last_ok_at BIGINT NOT NULL DEFAULT 0,
    last_ok INTEGER NOT NULL DEFAULT 0,
    last_detail TEXT NOT NULL DEFAULT '',
    last_duration_ms BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE scheduler_runs (
    id INTEGER PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL DEFAULT 0,
    -- cron (a `portcullis cron` process) or serve (the scheduler inside the web server).
    process TEXT NOT NULL,
    node TEXT NOT NULL,
    -- The process's own view of time, recorded for diagnosis only (F13).
    tz_env TEXT NOT NULL,
    local_zone TEXT NOT NULL,
    local_offset_seconds BIGINT NOT NULL,
    zone TEXT NOT NULL,
    zone_offset_seconds BIGINT NOT NULL,
    tasks_run BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX scheduler_runs_process ON scheduler_runs (process, started_at);
CREATE INDEX scheduler_runs_started ON scheduler_runs (started_at);

CREATE TABLE scheduler_task_runs (
    run_id BIGINT NOT NULL REFERENCES scheduler_runs (id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX scheduler_task_runs_run ON scheduler_task_runs (run_id);

-- The latest view of time of each kind of process on each node (web servers record theirs at
-- start and hourly), so the doctor can compare the web and cron processes.
CREATE TABLE process_views (
    process TEXT NOT NULL,
    node TEXT NOT NULL,
    tz_env TEXT NOT NULL,
    local_zone TEXT NOT NULL,
    local_offset_seconds BIGINT NOT NULL,
    zone TEXT NOT NULL,
    zone_offset_seconds BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (process, node)
);

-- Housekeeping finds sessions that ended by idling through this index.
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);
CREATE INDEX bans_expires ON bans (expires_at);
CREATE INDEX login_failures_at ON login_failures (at);
CREATE INDEX request_log_at ON request_log (at);
