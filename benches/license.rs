//! Licence verifications per second the server sustains over HTTP, against the rate of
//! `GET /healthz` (no database, no signing) from the same clients in the same run. Run with
//! `cargo bench --bench license`; absolute rates depend on the machine, the ratio says what a
//! check costs (a licence lookup, two rate-limit counters, the access log row, an Ed25519
//! signature) next to a bare request.
//!
//! The load looks like production: many installations, each checking now and then, under the
//! default rate limits (10 a minute per key, 60 per address). Each check presents the next of
//! `LICENCES` keys from the next of as many addresses (`X-Forwarded-For` through the default
//! trusted loopback proxy), so no key or address comes near its limit and every answer must be
//! a 200.

mod common;

use common::{drive, full};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
        let product = portcullis::license::Licenses::from(&state)
            .create_product(
                portcullis::domain::AdminId(1),
                &portcullis::license::ProductDraft {
                    name: "Bench",
                    key_prefix: "BENCH",
                    check_interval_days: "7",
                    grace_days: "3",
                    max_reissues: "3",
                },
            )
            .await
            .unwrap();
        let (clients, duration, licences) = if full() {
            (16, Duration::from_secs(5), 2_000)
        } else {
            (2, Duration::from_millis(300), 100)
        };
        let mut keys = Vec::with_capacity(licences);
        for _ in 0..licences {
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
            keys.push(key);
        }
        let keys = Arc::new(keys);
        let next = Arc::new(AtomicU64::new(0));
        let base = format!("http://127.0.0.1:{port}");
        let health = base.clone();
        let ceiling = drive(clients, duration, move |c| {
            let url = format!("{health}/healthz");
            Some(tokio::spawn(async move { c.get(url).send().await.map_or(0, |r| r.status().as_u16()) }))
        })
        .await;
        let verify = format!("{base}/api/license/v1/verify");
        let checks = drive(clients, duration, move |c| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            #[expect(clippy::cast_possible_truncation, reason = "an index below `licences`")]
            let i = (n % keys.len() as u64) as usize;
            let [_, _, a, b] = u32::try_from(i).unwrap().to_be_bytes();
            let (url, body) = (
                verify.clone(),
                serde_json::json!({
                    "key": keys[i], "domain": format!("shop{i}.example.com"), "ip": format!("10.9.{a}.{b}"),
                    "directory": "/srv/shop", "nonce": "bench", "verifier_version": "bench"
                }),
            );
            Some(tokio::spawn(async move {
                c.post(url)
                    .header("x-forwarded-for", format!("10.9.{a}.{b}"))
                    .json(&body)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;
        println!("licence verification, {licences} licences checked in turn from as many addresses under the default rate limits, {clients} concurrent clients, {duration:?} each (absolute rates are machine-dependent):");
        println!("  GET /healthz                 {ceiling:>9.0} req/s  (baseline)");
        println!(
            "  POST /api/license/v1/verify  {checks:>9.0} req/s  ratio {:.3}",
            checks / ceiling
        );
    });
}
