//! The OpenID provider's rates (issue 19), each against a baseline measured in the same run:
//! - code-for-token exchanges per second (`POST /oidc/token`: client authentication, the code
//!   used once, two tokens stored, an RS256 ID token signed) against the RS256 signing ceiling,
//!   as many signatures per second as this machine's cores make with nothing else to do;
//! - userinfo (`GET /oidc/userinfo`, bearer) and introspection (`POST /oidc/introspect`, Basic)
//!   against the session-checked page (`GET /clientarea` with a session cookie);
//! - the back-channel logout queue draining 10,000 deliveries to a receiver on loopback (each
//!   a signed logout token, one POST, the answer recorded) against plain POSTs of one
//!   pre-signed token to the same receiver, 20 at a time as the sender sends them;
//! - and every HTTP rate against `GET /healthz`.
//!
//! Run with `cargo bench --bench oidc`; `cargo test --bench oidc` is a quick smoke pass.

mod common;

use common::{Bench, client, drive, full, phase, start};
use portcullis::domain::AdminId;
use portcullis::jose::SigningAlg;
use portcullis::oidc::application::Applications;
use portcullis::oidc::draft::ApplicationDraft;
use portcullis::oidc::keys::Keys;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// One PKCE pair for every request: the challenge is the verifier's SHA-256, base64url.
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92ZzP7U9uF3M8EoO4ohP3uQ7eC4M";
const CHALLENGE: &str = "3g7XZvtYgDqXVXGHeCfiB-Zd8zvFrLJfKqRbwmIoyAg";

struct Sizes {
    clients: usize,
    window: Duration,
    codes: usize,
    deliveries: usize,
}

/// A back-channel logout receiver on loopback that answers 200 and counts what it got.
async fn receiver() -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    let router = axum::Router::new().route(
        "/logout",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                assert!(body.starts_with("logout_token="), "{body}");
                seen.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://127.0.0.1:{port}/logout"), count)
}

/// RS256 signatures per second on every core at once: the ceiling of anything that signs one
/// ID token per request.
async fn signing_ceiling(bench: &Bench, window: Duration) -> f64 {
    let key = Keys::from(&bench.state)
        .signing(SigningAlg::Rs256)
        .await
        .unwrap();
    let claims = serde_json::json!({
        "iss": bench.address, "aud": "bench", "sub": "client:1", "iat": 1, "exp": 301,
        "auth_time": 1, "nonce": "n", "amr": ["pwd"], "sid": "s", "email": "ada@example.com",
    });
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let signed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (key, claims, signed) = (key.clone(), claims.clone(), signed.clone());
            std::thread::spawn(move || {
                while started.elapsed() < window {
                    portcullis::jose::sign(&claims, &key, None).unwrap();
                    signed.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    #[expect(clippy::cast_precision_loss, reason = "counts are small")]
    let rate = signed.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    rate
}

/// `n` fresh codes from the authorization endpoint for the signed-in browser (a first-party
/// application answers at once), fetched 8 at a time.
async fn codes(bench: &Bench, client_id: &str, n: usize) -> Vec<String> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid email")
        .append_pair("state", "bench")
        .append_pair("nonce", "bench")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let url = format!("{}/oidc/authorize?{query}", bench.address);
    let out = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (browser, url, out) = (client(&bench.jar), url.clone(), out.clone());
        tasks.spawn(async move {
            for _ in (worker..n).step_by(8) {
                let r = browser.get(&url).send().await.unwrap();
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                let code = url::Url::parse(&location)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map_or_else(|| panic!("a code: {location}"), |(_, v)| v.into_owned());
                out.lock().unwrap().push(code);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Arc::try_unwrap(out).unwrap().into_inner().unwrap()
}

/// Queues `n` back-channel deliveries for the application, as `n` ended sessions would have.
async fn queue_deliveries(bench: &Bench, application_id: i64, uri: &str, n: usize) {
    let mut tx = bench.state.db.begin().await.unwrap();
    for i in 0..n {
        sqlx::query(
            "INSERT INTO oidc_logout_deliveries (application_id, session_id_hash, realm, subject_id, uri, state, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, 'client', 1, $3, 'queued', 0, 0, 0)",
        )
        .bind(application_id)
        .bind(format!("{i:064x}"))
        .bind(uri)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// The token request that exchanges `code`, as the application sends it.
fn exchange(
    c: &reqwest::Client,
    base: &str,
    (id, secret): (&str, &str),
    code: &str,
) -> reqwest::RequestBuilder {
    c.post(format!("{base}/oidc/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
}

fn line(name: &str, rate: f64, baseline: f64, against: &str) {
    println!(
        "  {name:<44} {rate:>9.0} /s  ratio {:.3} of {against}",
        rate / baseline
    );
}

fn main() {
    portcullis::net::http::install_crypto_provider();
    let sizes = if full() {
        Sizes {
            clients: 16,
            window: Duration::from_secs(5),
            codes: 8_000,
            deliveries: 10_000,
        }
    } else {
        Sizes {
            clients: 2,
            window: Duration::from_millis(300),
            codes: 40,
            deliveries: 100,
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        phase("start");
        let bench = start(None).await;
        let (logout_uri, received) = receiver().await;
        let created = Applications::from(&bench.state)
            .create(
                AdminId(1),
                &ApplicationDraft {
                    name: "Bench".into(),
                    redirect_uris: REDIRECT.into(),
                    first_party: true,
                    backchannel_logout_uri: logout_uri.clone(),
                    ..ApplicationDraft::default()
                },
            )
            .await
            .unwrap();
        let client_id = created.application.client_id.clone();
        let secret = created.secret.unwrap();
        let base = bench.address.clone();

        phase("healthz");
        let health = format!("{base}/healthz");
        let healthz = drive(sizes.clients, sizes.window, move |c| {
            let url = health.clone();
            Some(tokio::spawn(async move {
                c.get(url).send().await.map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;
        phase("signing ceiling");
        let ceiling = signing_ceiling(&bench, sizes.window).await;

        // Code exchange: each request takes the next unused code until they run out.
        let pool = Arc::new(Mutex::new(codes(&bench, &client_id, sizes.codes).await));
        let (b, id, sec) = (base.clone(), client_id.clone(), secret.clone());
        phase("code exchange");
        let exchanges = drive(sizes.clients, sizes.window, move |c| {
            let code = pool.lock().unwrap().pop()?;
            let request = exchange(&c, &b, (&id, &sec), &code);
            Some(tokio::spawn(async move {
                request.send().await.map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;

        // One more exchange for an access token to use below.
        let code = codes(&bench, &client_id, 1).await.pop().unwrap();
        let tokens: serde_json::Value =
            exchange(&reqwest::Client::new(), &base, (&client_id, &secret), &code)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap().to_owned();

        let browser = client(&bench.jar);
        let page_url = format!("{base}/clientarea");
        phase("session-checked page");
        let page = drive(sizes.clients, sizes.window, move |_| {
            let (b, url) = (browser.clone(), page_url.clone());
            Some(tokio::spawn(async move {
                b.get(url).send().await.map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;
        let (userinfo_url, bearer) = (format!("{base}/oidc/userinfo"), access.clone());
        phase("userinfo");
        let userinfo = drive(sizes.clients, sizes.window, move |c| {
            let (url, bearer) = (userinfo_url.clone(), bearer.clone());
            Some(tokio::spawn(async move {
                c.get(url)
                    .bearer_auth(bearer)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;
        let introspect_url = format!("{base}/oidc/introspect");
        let (id, sec, token) = (client_id.clone(), secret.clone(), access.clone());
        phase("introspection");
        let introspection = drive(sizes.clients, sizes.window, move |c| {
            let (url, id, sec, token) = (
                introspect_url.clone(),
                id.clone(),
                sec.clone(),
                token.clone(),
            );
            Some(tokio::spawn(async move {
                c.post(url)
                    .basic_auth(id, Some(sec))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;

        // The raw transport: one pre-signed logout token posted 20 at a time (the sender's
        // batch), then the real sender draining the queue.
        let signed = {
            let key = Keys::from(&bench.state)
                .signing(SigningAlg::Rs256)
                .await
                .unwrap();
            let jwt = portcullis::jose::sign(&serde_json::json!({"sub": "x"}), &key, None).unwrap();
            format!("logout_token={jwt}")
        };
        let (raw_uri, body) = (logout_uri.clone(), signed.clone());
        phase("raw logout POSTs");
        let raw = drive(20, sizes.window, move |c| {
            let (url, body) = (raw_uri.clone(), body.clone());
            Some(tokio::spawn(async move {
                c.post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }))
        })
        .await;
        queue_deliveries(
            &bench,
            created.application.id,
            &logout_uri,
            sizes.deliveries,
        )
        .await;
        phase("back-channel queue");
        let before = received.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut sent = 0;
        while sent < sizes.deliveries {
            let pass = portcullis::oidc::backchannel::run_once(&bench.state)
                .await
                .unwrap();
            assert_eq!(pass.failed + pass.retried, 0, "every delivery answered 200");
            sent += pass.sent;
            if pass.sent == 0 {
                break;
            }
        }
        let drained = started.elapsed();
        assert_eq!(sent, sizes.deliveries, "the queue drained");
        assert_eq!(
            received.load(Ordering::Relaxed) - before,
            sizes.deliveries as u64,
            "each delivery reached the receiver once"
        );
        #[expect(clippy::cast_precision_loss, reason = "counts are small")]
        let drain = sizes.deliveries as f64 / drained.as_secs_f64();

        println!(
            "OpenID provider, {} concurrent clients, {:?} windows, SQLite (absolute rates are machine-dependent; ratios are the result):",
            sizes.clients, sizes.window
        );
        println!("  GET /healthz                                 {healthz:>9.0} /s  (baseline)");
        line("RS256 signatures, every core", ceiling, healthz, "healthz");
        line(
            "POST /oidc/token (code exchange)",
            exchanges,
            ceiling,
            "the signing ceiling (target >= 0.5)",
        );
        line("POST /oidc/token (code exchange)", exchanges, healthz, "healthz");
        line(
            "GET /clientarea (session-checked page)",
            page,
            healthz,
            "healthz",
        );
        line(
            "GET /oidc/userinfo",
            userinfo,
            page,
            "the page (target >= 0.5)",
        );
        line(
            "POST /oidc/introspect",
            introspection,
            page,
            "the page (target >= 0.5)",
        );
        line("logout POSTs, raw (20 at a time)", raw, healthz, "healthz");
        println!(
            "  back-channel queue: {} deliveries drained in {:.2} s",
            sizes.deliveries,
            drained.as_secs_f64()
        );
        line("  deliveries", drain, raw, "the raw POSTs");
    });
}
