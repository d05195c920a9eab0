//! Licence verifications per second the server sustains over HTTP, against the rate of
//! `GET /healthz` (no database, no signing) from the same clients in the same run. Run with
//! `cargo bench --bench license`; absolute rates depend on the machine, the ratio says what a
//! check costs (a licence lookup, two rate-limit counters, the access log row, an Ed25519
//! signature) next to a bare request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Requests completed by `clients` concurrent keep-alive clients in `duration`; every answer must
/// be a 200.
async fn drive(
    clients: usize,
    duration: Duration,
    send: impl Fn(reqwest::Client) -> tokio::task::JoinHandle<u16> + Send + Sync + 'static,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let send = Arc::new(send);
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (done, failed, send) = (done.clone(), failed.clone(), send.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while start.elapsed() < duration {
                match send(client.clone()).await {
                    Ok(200) => done.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "every answer must be 200"
    );
    #[expect(clippy::cast_precision_loss, reason = "request counts are small")]
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    rate
}

fn main() {
    portcullis::net::http::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut raw = portcullis::config::RawConfig {
            data_dir: dir.path().display().to_string(),
            ..Default::default()
        };
        raw.server.listen = format!("127.0.0.1:{port}");
        raw.server.system_url = format!("http://127.0.0.1:{port}/");
        raw.license_server.per_key_per_minute = 1_000_000;
        raw.license_server.per_address_per_minute = 1_000_000;
        let app = portcullis::app::Application::with_listener(
            raw.validate().unwrap(),
            Arc::new(portcullis::clock::SystemClock),
            listener,
        )
        .await
        .unwrap();
        let state = app.state.clone();
        tokio::spawn(app.run_until(std::future::pending()));
        portcullis::account::create_user(
            &state,
            &portcullis::account::NewUser {
                email: "ada@example.com",
                first_name: "Ada",
                last_name: "Lovelace",
                password: &secrecy::SecretString::from("correct-horse-battery-staple-1".to_owned()),
                verified: true,
                owns_account: true,
            },
        )
        .await
        .unwrap();
        let product = portcullis::db::license::insert_product(
            &state.db,
            &portcullis::db::license::Product {
                id: 0,
                name: "Bench".into(),
                key_prefix: "BENCH".into(),
                check_interval_days: 7,
                grace_days: 3,
                max_reissues: 3,
            },
            0,
        )
        .await
        .unwrap();
        let (_, key) = portcullis::license::issue(
            &state,
            &portcullis::license::IssueRequest {
                product_id: product,
                client_id: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let (clients, duration) = if full() {
            (16, Duration::from_secs(5))
        } else {
            (2, Duration::from_millis(300))
        };
        let health = base.clone();
        let ceiling = drive(clients, duration, move |c| {
            let url = format!("{health}/healthz");
            tokio::spawn(async move { c.get(url).send().await.map_or(0, |r| r.status().as_u16()) })
        })
        .await;
        let verify = format!("{base}/api/license/v1/verify");
        let body = serde_json::json!({
            "key": key, "domain": "shop.example.com", "ip": "203.0.113.10",
            "directory": "/srv/shop", "nonce": "bench", "verifier_version": "bench"
        });
        let checks = drive(clients, duration, move |c| {
            let (url, body) = (verify.clone(), body.clone());
            tokio::spawn(async move {
                c.post(url).json(&body).send().await.map_or(0, |r| r.status().as_u16())
            })
        })
        .await;
        println!("licence verification, {clients} concurrent clients, {duration:?} each (absolute rates are machine-dependent):");
        println!("  GET /healthz                 {ceiling:>9.0} req/s  (baseline)");
        println!(
            "  POST /api/license/v1/verify  {checks:>9.0} req/s  ratio {:.3}",
            checks / ceiling
        );
    });
}
