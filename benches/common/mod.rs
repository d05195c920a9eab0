//! What the benchmarks share: the real application on a loopback port with a client signed in
//! over HTTP, as a browser would be, and the loop that drives concurrent clients.

// Each benchmark binary uses a part of this module.
#![allow(dead_code)]

use portcullis::app::{AppState, Application};
use portcullis::clock::MockClock;
use portcullis::config::RawConfig;
use reqwest::header::LOCATION;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `cargo bench` passes `--bench`; under `cargo test` only a quick smoke pass runs, so CI proves
/// the benchmark still works without minutes of debug-build work.
pub fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Marks the start of a phase on stderr with the seconds since the first mark, so a profiler
/// attached from outside (`perf record -p`) can be aimed at one phase.
pub fn phase(name: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(Instant::now);
    eprintln!("[{:6.1} s] {name}", start.elapsed().as_secs_f64());
}

/// Requests per second completed by `clients` concurrent keep-alive clients within `duration`,
/// or until `send` has no more work (it returns `None`); every answer must be a 200.
pub async fn drive(
    clients: usize,
    duration: Duration,
    send: impl Fn(reqwest::Client) -> Option<tokio::task::JoinHandle<u16>> + Send + Sync + 'static,
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
                let Some(request) = send(client.clone()) else {
                    break;
                };
                match request.await {
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

/// The running application and a signed-in client's cookies.
pub struct Bench {
    pub address: String,
    pub state: AppState,
    /// Holds the live session cookie; shared by every load client.
    pub jar: Arc<reqwest::cookie::Jar>,
    _dir: tempfile::TempDir,
}

/// A browser-like client: the shared cookie jar, no redirects followed.
pub fn client(jar: &Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    portcullis::net::http::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// Builds the app the way the API tests do (on SQLite in the temp folder, or on `database_url`) (temp data dir, mock clock, port bound first so the
/// System URL can name it) and signs a client in over HTTP.
pub async fn start(database_url: Option<String>) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut raw = RawConfig {
        data_dir: dir.path().display().to_string(),
        ..RawConfig::default()
    };
    raw.server.listen = format!("127.0.0.1:{port}");
    raw.server.system_url = format!("http://127.0.0.1:{port}/");
    if let Some(url) = database_url {
        raw.database.url = url;
    }
    let config = raw.validate().unwrap();
    // A clock that never moves: the live session never idles out and is never touched, so the
    // load is the same read-only request from start to end.
    let clock = Arc::new(MockClock::new("2026-11-28T12:00:00Z".parse().unwrap()));
    let app = Application::with_listener(config, clock, listener)
        .await
        .unwrap();
    let state = app.state.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let address = format!("http://127.0.0.1:{port}");

    let password = secrecy::SecretString::from("violet-harbour-crane-1987".to_owned());
    portcullis::account::create_user(
        &state,
        &portcullis::account::NewUser {
            email: "ada@example.com",
            first_name: "Ada",
            last_name: "Lovelace",
            password: &password,
            verified: true,
            owns_account: true,
        },
    )
    .await
    .unwrap();
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = client(&jar);
    let page = browser
        .get(format!("{address}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&page);
    let signed_in = browser
        .post(format!("{address}/login"))
        .form(&[
            ("email", "ada@example.com"),
            ("password", "violet-harbour-crane-1987"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "sign-in redirects");
    let next = signed_in.headers()[LOCATION].to_str().unwrap().to_owned();
    let landed = browser
        .get(format!("{address}{next}"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200, "the redirect target answers");
    Bench {
        address,
        state,
        jar,
        _dir: dir,
    }
}
