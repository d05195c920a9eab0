//! Micro-benchmarks of the per-request pieces: client address resolution, session id hashing,
//! the CSRF check and TOTP verification (in memory), then the ban check and the session lookup
//! (on SQLite, through the `Bans` and `Sessions` services the pipeline calls).
//!
//! Prints nanoseconds per operation (machine-dependent) and, more usefully, ratios to a baseline
//! measured in the same run: parsing one IP address for the in-memory pieces, and `SELECT 1` on
//! the same SQLite pool for the queries. Run with `cargo bench --bench pipeline`.

use portcullis::app::AppState;
use portcullis::ban::{Bans, NewBan};
use portcullis::clock::MockClock;
use portcullis::domain::Actor;
use portcullis::net::client_ip::{ForwardHeader, resolve};
use portcullis::net::range::RangeSet;
use portcullis::session::{Lookup, Realm, Sessions, SignIn};
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// `cargo bench` passes `--bench`; under `cargo test` the benchmark only runs a quick smoke pass
/// (so CI proves it still works without spending minutes in a debug build).
fn scaled(iterations: u32) -> u32 {
    if std::env::args().any(|a| a == "--bench") {
        iterations
    } else {
        (iterations / 1000).max(10)
    }
}

fn per_op(iterations: u32, mut f: impl FnMut()) -> f64 {
    let iterations = scaled(iterations);
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(iterations)
}

async fn per_op_async<F: Future<Output = ()>>(iterations: u32, mut f: impl FnMut() -> F) -> f64 {
    let iterations = scaled(iterations);
    for _ in 0..iterations / 10 {
        f().await;
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f().await;
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(iterations)
}

fn row(name: &str, ns: f64, baseline: f64) {
    println!(
        "{name:<52} {ns:>10.0} ns   {:>6.1}x baseline",
        ns / baseline
    );
}

fn main() {
    let trusted = RangeSet::from_entries(
        &["loopback", "private", "cloudflare"],
        &portcullis::net::cloudflare::built_in(),
    )
    .unwrap();
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    let typical = b"203.0.113.9, 198.51.100.7, 10.0.0.2".as_slice();
    let hostile = "garbage, ".repeat(8000).into_bytes();

    println!(
        "Pipeline step 1: client address ({} trusted ranges)",
        trusted.0.len()
    );
    let baseline = per_op(2_000_000, || {
        black_box(black_box("198.51.100.7").parse::<IpAddr>().ok());
    });
    row("baseline: parse one IP address", baseline, baseline);
    let direct = per_op(1_000_000, || {
        black_box(resolve(
            black_box("203.0.113.9".parse().unwrap()),
            ForwardHeader::XForwardedFor,
            [typical],
            &trusted,
        ));
    });
    row("untrusted peer (header ignored)", direct, baseline);
    let chain = per_op(500_000, || {
        black_box(resolve(
            black_box(peer),
            ForwardHeader::XForwardedFor,
            [typical],
            &trusted,
        ));
    });
    row("trusted proxy, 3-entry X-Forwarded-For", chain, baseline);
    let worst = per_op(20_000, || {
        black_box(resolve(
            black_box(peer),
            ForwardHeader::XForwardedFor,
            [hostile.as_slice()],
            &trusted,
        ));
    });
    row("hostile 72 KiB X-Forwarded-For (bounded)", worst, baseline);

    println!("\nPer-request pieces (same baseline)");
    let cookie = "tt5WGzEL559g2aKQbS9vTfzkYG8dj5iWbjWnXZC6Ovk";
    let hashing = per_op(1_000_000, || {
        black_box(portcullis::token::hash(black_box(cookie)));
    });
    row(
        "session id hashing (SHA-256 of the cookie)",
        hashing,
        baseline,
    );
    let key = [7_u8; 32];
    let session_hash = portcullis::token::hash(cookie);
    let token = portcullis::csrf::session_token(&key, &session_hash);
    let csrf = per_op(1_000_000, || {
        black_box(portcullis::csrf::verify(
            &key,
            Some(black_box(token.as_str())),
            Some(&session_hash),
            false,
            1_800_000_000,
        ))
        .unwrap();
    });
    row("CSRF check (HMAC, constant-time compare)", csrf, baseline);
    let seed = [42_u8; 20];
    let now = 1_800_000_000;
    let code = portcullis::twofactor::totp::code_at(&seed, now);
    let totp = per_op(200_000, || {
        black_box(portcullis::twofactor::totp::matching_step(
            &seed,
            black_box(&code),
            now,
        ))
        .unwrap();
    });
    row("TOTP verification (window of 3 steps)", totp, baseline);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = portcullis::config::RawConfig {
            data_dir: dir.path().display().to_string(),
            ..Default::default()
        };
        raw.server.listen = "127.0.0.1:0".into();
        raw.server.system_url = "http://127.0.0.1/".into();
        raw.database.url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        // The default database.max_connections: with a single connection every query would wait
        // for the previous one to return to the pool, which the server never does. A clock that
        // never moves: no session idles out or is touched, so each lookup is the same read.
        let clock = Arc::new(MockClock::new("2026-11-28T12:00:00Z".parse().unwrap()));
        let state = AppState::open(raw.validate().unwrap(), clock, true)
            .await
            .unwrap();
        let bans = Bans::from(&state);
        for i in 0..10_000u32 {
            let ip = IpAddr::from(i.to_be_bytes()).to_string();
            let ban = NewBan {
                ip: &ip,
                reason: "bench",
                minutes: "",
                scope: "",
            };
            bans.add(&ban, &Actor::Named("bench".into())).await.unwrap();
        }
        // The node's cache answers an address it asked about in the last second; each check
        // below gets an empty one, so it is the primary-key lookup a first request makes
        // (emptying the cache and building the service cost a few atomics next to it).
        let cold = || {
            state.bans.clear();
            Bans::from(&state)
        };
        println!("\nPipeline step 2: ban check (SQLite, 10,000 bans stored)");
        let select_one = per_op_async(50_000, || async {
            let _: i64 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&state.db)
                .await
                .unwrap();
        })
        .await;
        row(
            "baseline: SELECT 1 on the same pool",
            select_one,
            select_one,
        );
        let outside: IpAddr = "198.51.100.7".parse().unwrap();
        let miss = per_op_async(50_000, || async {
            black_box(cold().active(outside, Realm::Client).await.unwrap());
        })
        .await;
        row("ban check, address not banned", miss, select_one);
        let banned: IpAddr = "0.0.39.15".parse().unwrap();
        let hit = per_op_async(50_000, || async {
            black_box(cold().active(banned, Realm::Client).await.unwrap().unwrap());
        })
        .await;
        row("ban check, address banned", hit, select_one);

        // 10,000 client sessions, then the lookup a client-area request makes for its cookie.
        let sessions = Sessions::from(&state);
        let from: IpAddr = "203.0.113.7".parse().unwrap();
        let mut wanted = String::new();
        for i in 0..10_000_u32 {
            let started = sessions
                .start(SignIn {
                    realm: Realm::Client,
                    subject_id: 1,
                    client_id: None,
                    impersonator: None,
                    ip: from,
                    user_agent: "bench",
                    remember: false,
                    replacing: None,
                    second_factor: None,
                })
                .await
                .unwrap();
            if i == 5000 {
                wanted = started.cookie_value;
            }
        }
        println!("\nSession lookup (SQLite, 10,000 sessions stored)");
        let lookup = per_op_async(50_000, || async {
            let found = sessions.load(Realm::Client, &wanted, from).await.unwrap();
            assert!(matches!(black_box(found), Lookup::Live(_)));
        })
        .await;
        row(
            "session with its user and account (one query)",
            lookup,
            select_one,
        );
    });
    println!("\nAbsolute times depend on the machine; the ratios are the result.");
}
