//! Several `portcullis serve` processes on one database behind one System URL, as behind a load
//! balancer: each node is a child process of the test, addressed through the shared host.

use super::{TestApp, TestUser, csrf_from, location};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `portcullis serve` child process, killed when dropped.
pub struct Node {
    pub child: Child,
    pub port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a node on `port` with the shared System URL and database.
pub fn node(dir: &std::path::Path, database_url: &str, port: u16, system_url: &str) -> Node {
    node_with(dir, database_url, port, system_url, &[])
}

/// Starts a node with extra `PORTCULLIS__*` settings (later ones win over the defaults here).
pub fn node_with(
    dir: &std::path::Path,
    database_url: &str,
    port: u16,
    system_url: &str,
    extra: &[(&str, String)],
) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir)
        .env("PORTCULLIS__DATABASE__URL", database_url)
        .env("PORTCULLIS__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS__SERVER__SYSTEM_URL", system_url)
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        // Admins here sign in with a password alone, as the in-process tests' set-up does.
        .env("PORTCULLIS__TWO_FACTOR__ADMIN_POLICY", "optional")
        .env("RUST_LOG", "warn")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Node { child, port }
}

/// A browser that reaches `node` while addressing the shared System URL's host, as a load
/// balancer would pass it on.
pub async fn get(
    browser: &reqwest::Client,
    node: &Node,
    path: &str,
    host: &str,
) -> reqwest::Response {
    browser
        .get(format!("http://127.0.0.1:{}{path}", node.port))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

pub async fn wait_ready(node: &Node) {
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{}/healthz", node.port))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("node on port {} did not start", node.port);
}

/// Two nodes on the test app's database, behind one System URL (node A's address); returns them
/// and the host both are addressed by.
pub async fn two_nodes(app: &TestApp) -> (Node, Node, String) {
    let database_url = app.state.config.database_url.clone();
    let (port_a, port_b) = (free_port(), free_port());
    let host = format!("127.0.0.1:{port_a}");
    let system_url = format!("http://{host}/");
    let a = node(app.dir.path(), &database_url, port_a, &system_url);
    let b = node(app.dir.path(), &database_url, port_b, &system_url);
    wait_ready(&a).await;
    wait_ready(&b).await;
    (a, b, host)
}

/// A form POST to `node`, addressed to the shared host.
pub async fn post<T: serde::Serialize + ?Sized>(
    browser: &reqwest::Client,
    node: &Node,
    path: &str,
    host: &str,
    form: &T,
) -> reqwest::Response {
    browser
        .post(format!("http://127.0.0.1:{}{path}", node.port))
        .header("host", host)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The CSRF token of the page at `path` on `node`.
pub async fn csrf_on(browser: &reqwest::Client, node: &Node, path: &str, host: &str) -> String {
    let page = get(browser, node, path, host).await.text().await.unwrap();
    csrf_from(&page)
}

/// Signs `user` in through `node` and follows the redirect to the client area.
pub async fn sign_in(browser: &reqwest::Client, node: &Node, host: &str, user: &TestUser) {
    let csrf = csrf_on(browser, node, "/login", host).await;
    let r = post(
        browser,
        node,
        "/login",
        host,
        &[
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let next = location(&r);
    assert_eq!(get(browser, node, &next, host).await.status(), 200);
}

/// Signs the client-area person of `browser` out through `node` (the sign-out form).
pub async fn sign_out(browser: &reqwest::Client, node: &Node, host: &str) {
    let csrf = csrf_on(browser, node, "/clientarea", host).await;
    let r = post(
        browser,
        node,
        "/logout",
        host,
        &[("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
}

/// Requests the client area of the node listening on `port` until it refuses the session (a
/// redirect to the sign-in page), and returns how long that took. Panics after ten seconds: a
/// node whose memory was never told would keep the session forever.
pub async fn refused_within(browser: &reqwest::Client, port: u16, host: &str) -> Duration {
    first_status_within(browser, port, "/clientarea", host, 303).await
}

/// Requests `path` of the node on `port` until it answers `status` (the page answers 200 until
/// then), and returns how long that took; panics after ten seconds.
pub async fn first_status_within(
    browser: &reqwest::Client,
    port: u16,
    path: &str,
    host: &str,
    status: u16,
) -> Duration {
    let started = Instant::now();
    loop {
        let r = browser
            .get(format!("http://127.0.0.1:{port}{path}"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        if r.status() == status {
            if status == 303 {
                let to = location(&r);
                assert!(
                    to.starts_with("/login") || to.starts_with("/admin/login"),
                    "a refused session goes to a sign-in page: {to}"
                );
            }
            return started.elapsed();
        }
        assert_eq!(r.status(), 200, "{path} either serves or answers {status}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the node on port {port} still serves {path} after ten seconds"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
