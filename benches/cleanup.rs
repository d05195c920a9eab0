//! What clearing a backlog of expired sessions costs, and what it does to request latency (F09).
//!
//! Starts the real application on a loopback port, signs a client in over HTTP, stores N expired
//! client sessions, then measures `GET /clientarea` from C concurrent clients: first with the
//! backlog stored (the baseline), then while `housekeeping::sessions` removes it. A second
//! backlog is then removed with no load, so the cleanup's own speed is known too.
//!
//! Run with `cargo bench --bench cleanup` (N = 1,000,000). Under `cargo test --bench cleanup` a
//! smoke pass with a small N proves the benchmark still works. Absolute times depend on the
//! machine; the ratios to the baseline measured in the same run are the result.

mod common;

use common::{Bench, client, full, start};
use portcullis::app::AppState;
use portcullis::scheduler::housekeeping;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Concurrent clients of the load.
const CLIENTS: usize = 8;
/// Rows per INSERT while storing the backlog: large enough that storing a million rows takes
/// seconds, small enough that one statement's transaction stays modest.
const INSERT_CHUNK: i64 = 50_000;
/// The p99 during cleanup may be at most this many times the baseline p99.
const TARGET_P99_RATIO: f64 = 2.0;

/// Stores `n` client sessions whose lifetime ran out more than a week ago, shaped as sign-ins
/// store them (random 64-hex id hashes, so the deletes touch the primary key the way real ones
/// do), with a different `last_seen_at` each. Returns how long it took.
async fn store_expired(state: &AppState, n: i64) -> Duration {
    let started = Instant::now();
    // Ten days back, then one second older per row: past the 2-day keep plus any idle limit.
    let newest = state.clock.unix() - 10 * 86_400;
    let mut done = 0;
    while done < n {
        let count = INSERT_CHUNK.min(n - done);
        sqlx::query(
            "INSERT INTO sessions (id_hash, realm, subject_id, ip, user_agent, remember, created_at, last_seen_at, expires_at) \
             WITH RECURSIVE k(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM k WHERE i < $2) \
             SELECT lower(hex(randomblob(32))), 'client', 2 + i % 50000, '203.0.113.7', 'Mozilla/5.0', 0, \
             $3 - i, $3 - i, $3 - i + 86400 FROM k",
        )
        .bind(done)
        .bind(done + count - 1)
        .bind(newest)
        .execute(&state.db)
        .await
        .unwrap();
        done += count;
    }
    // A backlog that built up over days has long been checkpointed; start each phase from that
    // state rather than from a WAL full of the inserts.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&state.db)
        .await
        .unwrap();
    started.elapsed()
}

/// Runs the session cleanup until nothing is left, as `doctor --fix session.gc` does.
async fn clean(state: AppState) -> u64 {
    let mut rows = 0;
    loop {
        let removed = housekeeping::sessions(&state).await.unwrap();
        rows += removed.rows;
        if !removed.unfinished {
            return rows;
        }
    }
}

/// One request of the load.
struct Sample {
    start: Instant,
    latency: Duration,
    ok: bool,
}

/// Requests `GET /clientarea` from `CLIENTS` clients, each one request at a time, until `stop`.
async fn load(
    address: String,
    jar: Arc<reqwest::cookie::Jar>,
    stop: Arc<AtomicBool>,
) -> Vec<Sample> {
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let http = client(&jar);
            let url = format!("{address}/clientarea");
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let ok = match http.get(&url).send().await {
                        // The body is part of the answer: read it before stopping the clock.
                        Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    samples.push(Sample {
                        start,
                        latency: start.elapsed(),
                        ok,
                    });
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

/// Latency and throughput of the requests inside one measured window.
struct Window {
    seconds: f64,
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Window {
    /// Every request that overlapped `[from, to]` counts for latency (one slowed by the window
    /// is its effect even if it began just before); throughput counts those finished inside.
    fn of(samples: &[Sample], from: Instant, to: Instant) -> Self {
        let mut latencies: Vec<Duration> = samples
            .iter()
            .filter(|s| s.start < to && s.start + s.latency > from)
            .map(|s| s.latency)
            .collect();
        latencies.sort_unstable();
        let finished = samples
            .iter()
            .filter(|s| s.start + s.latency >= from && s.start + s.latency <= to)
            .count();
        let seconds = (to - from).as_secs_f64();
        #[expect(
            clippy::cast_precision_loss,
            reason = "request counts are far below 2^52"
        )]
        let per_second = finished as f64 / seconds;
        Self {
            seconds,
            requests: latencies.len(),
            per_second,
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the load on `clients` while `during` runs on the server runtime, after a warm-up, and
/// returns what `during` returned, the window it took, and every sample.
fn under_load<T: Send + 'static>(
    clients: &tokio::runtime::Runtime,
    server: &tokio::runtime::Runtime,
    bench: &Bench,
    warm_up: Duration,
    during: impl Future<Output = T> + Send + 'static,
) -> (T, Instant, Instant, Vec<Sample>) {
    let stop = Arc::new(AtomicBool::new(false));
    let driver = clients.spawn(load(bench.address.clone(), bench.jar.clone(), stop.clone()));
    clients.block_on(async {
        tokio::time::sleep(warm_up).await;
        let from = Instant::now();
        let value = server.spawn(during).await.unwrap();
        let to = Instant::now();
        stop.store(true, Ordering::Relaxed);
        let samples = driver.await.unwrap();
        (value, from, to, samples)
    })
}

fn main() {
    let full = full();
    let n: i64 = if full { 1_000_000 } else { 20_000 };
    let window = if full {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };
    let warm_up = window / 5;
    // The server's runtime as `portcullis serve` builds it (the cleanup runs there too, as the
    // scheduler does); the clients get their own thread so they stand apart from the server.
    let server = tokio::runtime::Runtime::new().unwrap();
    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bench = server.block_on(start(None));

    let insert = server.block_on(store_expired(&bench.state, n));

    let ((), from, to, base_samples) = under_load(&clients, &server, &bench, warm_up, async move {
        tokio::time::sleep(window).await;
    });
    let baseline = Window::of(&base_samples, from, to);

    let (removed, from, to, gc_samples) = under_load(
        &clients,
        &server,
        &bench,
        warm_up,
        clean(bench.state.clone()),
    );
    let during = Window::of(&gc_samples, from, to);
    assert_eq!(
        removed,
        u64::try_from(n).unwrap(),
        "the cleanup removes every expired row"
    );

    let reinsert = server.block_on(store_expired(&bench.state, n));
    let (alone, removed_alone) = server.block_on(async {
        let started = Instant::now();
        let removed = clean(bench.state.clone()).await;
        (started.elapsed(), removed)
    });
    assert_eq!(removed_alone, u64::try_from(n).unwrap());
    let live: i64 = server.block_on(async {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&bench.state.db)
            .await
            .unwrap()
    });
    assert_eq!(live, 1, "only the live session is left");

    let failed = base_samples
        .iter()
        .chain(&gc_samples)
        .filter(|s| !s.ok)
        .count();
    #[expect(clippy::cast_precision_loss, reason = "row counts are far below 2^52")]
    let rows = n as f64;
    println!(
        "Session cleanup of {n} expired rows (batch {}, pause {:?}), {CLIENTS} clients on GET /clientarea",
        housekeeping::BATCH,
        housekeeping::PAUSE
    );
    println!("Absolute times depend on the machine; the ratios are the result.");
    println!(
        "  store the backlog                   {:>9.2} s   ({:.2} s the second time)",
        insert.as_secs_f64(),
        reinsert.as_secs_f64()
    );
    println!(
        "  cleanup without load                {:>9.2} s   {:>9.0} rows/s",
        alone.as_secs_f64(),
        rows / alone.as_secs_f64()
    );
    println!(
        "  cleanup under load                  {:>9.2} s   {:>9.0} rows/s   {:>5.2}x the time without load",
        during.seconds,
        rows / during.seconds,
        during.seconds / alone.as_secs_f64()
    );
    println!(
        "  baseline (backlog stored)     {:>7} req {:>7.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        baseline.requests,
        baseline.per_second,
        ms(baseline.p50),
        ms(baseline.p99)
    );
    println!(
        "  during cleanup                {:>7} req {:>7.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        during.requests,
        during.per_second,
        ms(during.p50),
        ms(during.p99)
    );
    let p99_ratio = during.p99.as_secs_f64() / baseline.p99.as_secs_f64();
    println!(
        "  during / baseline             throughput {:>5.2}x   p50 {:>5.2}x   p99 {:>5.2}x (target <= {TARGET_P99_RATIO})",
        during.per_second / baseline.per_second,
        during.p50.as_secs_f64() / baseline.p50.as_secs_f64(),
        p99_ratio
    );
    println!("  non-200 answers               {failed}");
    assert_eq!(failed, 0, "every request answers 200");
}
