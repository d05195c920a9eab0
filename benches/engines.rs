//! The session-checked request rate on PostgreSQL as a ratio to SQLite's, in the same run.
//!
//! Starts the real application twice, once on SQLite (a file in a temporary folder) and once on
//! a fresh database of the PostgreSQL server named by `PORTCULLIS_BENCH_POSTGRES` (a URL whose
//! role may create databases, such as the throwaway cluster `scripts/test` starts),
//! signs a client in on each, and drives `GET /clientarea` with the session cookie from
//! `CLIENTS` concurrent clients. The engines take turns, twice each, so a noisy neighbour
//! affects both. Target (issue 20): PostgreSQL at least 0.8 of SQLite.
//!
//! `cargo bench --bench engines`; under `cargo test --bench engines` a short smoke pass.

mod common;

use common::{Bench, client, start};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const TARGET_RATIO: f64 = 0.8;

/// Successful requests per second over `window`, after `warm_up`.
async fn rate(bench: &Bench, warm_up: Duration, window: Duration) -> f64 {
    let url = format!("{}/clientarea", bench.address);
    let run = |span: Duration| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let http = client(&bench.jar);
                let url = url.clone();
                tokio::spawn(async move {
                    let (mut ok, mut failed) = (0_u64, 0_u64);
                    let end = Instant::now() + span;
                    while Instant::now() < end {
                        let answered = match http.get(&url).send().await {
                            // The body is part of the answer: read it before counting.
                            Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if answered {
                            ok += 1;
                        } else {
                            failed += 1;
                        }
                    }
                    (ok, failed)
                })
            })
            .collect::<Vec<_>>();
        async move {
            let mut total = (0, 0);
            for w in workers {
                let (ok, failed) = w.await.unwrap();
                total = (total.0 + ok, total.1 + failed);
            }
            total
        }
    };
    run(warm_up).await;
    let started = Instant::now();
    let (ok, failed) = run(window).await;
    assert_eq!(failed, 0, "every session-checked request answers 200");
    #[allow(clippy::cast_precision_loss)]
    let per_second = ok as f64 / started.elapsed().as_secs_f64();
    per_second
}

/// A fresh database on the server `admin_url` names.
async fn fresh_postgres(admin_url: &str) -> String {
    let pool = portcullis::bootstrap::connect(admin_url, 1)
        .await
        .expect("PORTCULLIS_BENCH_POSTGRES reaches a PostgreSQL server");
    let name = format!(
        "portcullis_bench_{}",
        portcullis::token::hex(&portcullis::token::random_bytes::<6>().unwrap())
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("the role may create databases");
    pool.close().await;
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&name);
    url.to_string()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (warm_up, window) = if full {
        (Duration::from_secs(1), Duration::from_secs(5))
    } else {
        (Duration::from_millis(50), Duration::from_millis(200))
    };
    let Ok(admin_url) = std::env::var("PORTCULLIS_BENCH_POSTGRES") else {
        println!(
            "PORTCULLIS_BENCH_POSTGRES is not set: nothing to compare (give it a PostgreSQL URL whose role may create databases)"
        );
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (sqlite, postgres) = runtime.block_on(async {
        let sqlite = start(None).await;
        let postgres = start(Some(fresh_postgres(&admin_url).await)).await;
        (sqlite, postgres)
    });
    assert!(!portcullis::bootstrap::is_postgres(&sqlite.state.db));
    assert!(portcullis::bootstrap::is_postgres(&postgres.state.db));
    let (mut on_sqlite, mut on_postgres) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        on_sqlite.push(runtime.block_on(rate(&sqlite, warm_up, window)));
        on_postgres.push(runtime.block_on(rate(&postgres, warm_up, window)));
    }
    #[allow(clippy::cast_precision_loss)]
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (s, p) = (mean(&on_sqlite), mean(&on_postgres));
    let ratio = p / s;
    println!(
        "GET /clientarea with a session, {CLIENTS} clients, {} s windows, engines alternating",
        window.as_secs_f64()
    );
    println!(
        "{:<12} {:>12}   (machine-dependent)",
        "engine", "requests/s"
    );
    println!("{:<12} {s:>12.0}", "SQLite");
    println!("{:<12} {p:>12.0}", "PostgreSQL");
    println!(
        "ratio PostgreSQL / SQLite: {ratio:.2} (target at least {TARGET_RATIO}): {}",
        if ratio >= TARGET_RATIO {
            "met"
        } else {
            "missed"
        }
    );
}
