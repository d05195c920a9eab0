//! Real nginx, Caddy and Traefik in front of forward authentication (issue 20 item 6), each run
//! with the configuration `docs/forward-auth.md` gives for it: the test reads the page's fenced
//! block, changes only the machine's ports, listening address and certificate, and starts the
//! proxy in front of an upstream that echoes what reaches it. Each proxy is then driven like a
//! browser would: no session, forged forwarding and identity headers, a signed-in owner and a
//! member without the permission, a bypass path, an API client, and sign-out.

use crate::helpers::{nodes::free_port, *};
use reqwest::header::{ACCEPT, COOKIE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const HOST: &str = "status.example.com";
const RULES: [&str; 3] = [
    "status.example.com /public bypass",
    "status.example.com /billing client:invoices",
    "status.example.com / client",
];
/// Every identity header the documented configurations copy.
const IDENTITY: [&str; 8] = [
    "remote-user",
    "remote-email",
    "remote-name",
    "remote-subject",
    "remote-groups",
    "remote-account",
    "remote-account-name",
    "remote-permissions",
];

/// The page's fenced block tagged `lang`; exactly one each.
fn documented(lang: &str) -> String {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/forward-auth.md"))
            .unwrap();
    let opening = format!("```{lang}\n");
    let mut blocks = page.split(&opening).skip(1);
    let block = blocks.next().unwrap_or_else(|| panic!("a {lang} block"));
    assert!(blocks.next().is_none(), "one {lang} block only");
    block.split("\n```").next().unwrap().to_owned() + "\n"
}

/// Replaces `from`, which the documented block must contain: a block that stops naming a value
/// the test changes fails here instead of testing something else.
fn change(block: &str, from: &str, to: &str) -> String {
    assert!(block.contains(from), "the documented block has {from:?}");
    block.replace(from, to)
}

/// A proxy child process and its files, removed when dropped.
struct Proxy {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where Portcullis and the protected tool really listen.
struct Ports {
    portal: u16,
    upstream: u16,
}

fn ports_changed(block: &str, ports: &Ports) -> String {
    let block = change(
        block,
        "127.0.0.1:8080",
        &format!("127.0.0.1:{}", ports.portal),
    );
    change(
        &block,
        "127.0.0.1:3000",
        &format!("127.0.0.1:{}", ports.upstream),
    )
}

/// A throwaway certificate for the protected host, in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let issued = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
    let (crt, key) = (dir.join("status.pem"), dir.join("status.key"));
    std::fs::write(&crt, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    (crt, key)
}

/// Starts a proxy with its output in `dir/output.log` (a pipe nobody reads could fill and
/// stall it), which `serving` shows if it exits.
fn spawn(command: &mut Command, dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("output.log")).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{command:?}: {e} (scripts/test installs the three proxies and names Traefik in PORTCULLIS_TEST_TRAEFIK)")
        })
}

fn nginx(ports: &Ports) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (crt, key) = certificate(d);
    let port = free_port();
    let site = ports_changed(&documented("nginx"), ports);
    let site = change(
        &site,
        "listen 443 ssl;",
        &format!("listen 127.0.0.1:{port} ssl;"),
    );
    let site = change(
        &site,
        "/etc/ssl/certs/status.example.com.pem",
        crt.to_str().unwrap(),
    );
    let site = change(
        &site,
        "/etc/ssl/private/status.example.com.key",
        key.to_str().unwrap(),
    );
    std::fs::write(d.join("site.conf"), site).unwrap();
    // What Debian's /etc/nginx/nginx.conf provides around a site, pointed at the temp folder.
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n",
        d = d.display()
    );
    std::fs::write(d.join("nginx.conf"), main).unwrap();
    let child = spawn(
        Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            // One process: killing it on drop leaves no worker behind holding the port.
            .args(["-g", "daemon off; master_process off;"]),
        d,
    );
    Proxy { child, port, dir }
}

fn caddy(ports: &Ports) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (crt, key) = certificate(d);
    let port = free_port();
    let site = ports_changed(&documented("caddy"), ports);
    let site = change(
        &site,
        "status.example.com {",
        &format!(
            "https://status.example.com:{port} {{\n    bind 127.0.0.1\n    tls {} {}",
            crt.display(),
            key.display()
        ),
    );
    // No admin endpoint and no HTTP listener for redirects: only the site's own port.
    let file = format!("{{\n    admin off\n    auto_https disable_redirects\n}}\n{site}");
    std::fs::write(d.join("Caddyfile"), file).unwrap();
    let child = spawn(
        Command::new("/usr/bin/caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(d.join("Caddyfile"))
            .env("HOME", d)
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_CONFIG_HOME", d.join("config")),
        d,
    );
    Proxy { child, port, dir }
}

fn traefik(ports: &Ports) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::write(
        d.join("dynamic.yml"),
        ports_changed(&documented("yaml"), ports),
    )
    .unwrap();
    // scripts/test fetches the release binary and names it; a machine with Traefik installed
    // can use its own.
    let binary = std::env::var("PORTCULLIS_TEST_TRAEFIK").unwrap_or_else(|_| "traefik".into());
    let child = spawn(
        Command::new(binary)
            .arg(format!("--entryPoints.websecure.address=127.0.0.1:{port}"))
            .arg(format!(
                "--providers.file.filename={}",
                d.join("dynamic.yml").display()
            ))
            .args([
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                "--log.level=ERROR",
            ])
            .current_dir(d),
        d,
    );
    Proxy { child, port, dir }
}

/// The protected tool: answers every request with its path and the headers that reached it.
async fn echo_upstream() -> u16 {
    async fn echo(request: axum::extract::Request) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_owned(), Value::String(value))
            })
            .collect();
        axum::Json(serde_json::json!({ "path": request.uri().to_string(), "headers": headers }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(echo);
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A browser that reaches the protected host at the proxy, and keeps no cookies (each request
/// names the session it carries).
fn through(proxy: &Proxy) -> reqwest::Client {
    portcullis::net::http::install_crypto_provider();
    reqwest::Client::builder()
        .resolve(HOST, ([127, 0, 0, 1], proxy.port).into())
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn url(proxy: &Proxy, path: &str) -> String {
    format!("https://{HOST}:{}{path}", proxy.port)
}

/// Waits until the proxy serves the bypass path (Traefik answers 404 until it has read the
/// dynamic file); a proxy that exits says why.
async fn serving(proxy: &mut Proxy) {
    let browser = through(proxy);
    for _ in 0..200 {
        if let Ok(r) = browser.get(url(proxy, "/public/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        if let Some(status) = proxy.child.try_wait().unwrap() {
            let said = ["output.log", "error.log"]
                .map(|f| std::fs::read_to_string(proxy.dir.path().join(f)).unwrap_or_default());
            panic!("the proxy exited ({status}): {}", said.concat());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy did not serve within 10 s");
}

/// What the upstream received, from a 200 through the proxy.
async fn echoed(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 200, "reached the upstream");
    r.json().await.unwrap()
}

/// A header as the upstream received it. nginx drops a header whose value is empty, while Caddy
/// and Traefik pass it on empty, so the checks read "absent" as `unwrap_or("")`.
fn seen<'a>(echo: &'a Value, header: &str) -> Option<&'a str> {
    echo["headers"][header].as_str()
}

/// The `rd` a sign-in redirect carries, decoded.
fn return_target(location: &str, app: &TestApp) -> String {
    let to = url::Url::parse(location).unwrap();
    assert_eq!(
        to.as_str().split('?').next().unwrap(),
        format!("{}/forward-auth/signin", app.address),
        "{location}"
    );
    to.query_pairs()
        .find(|(k, _)| k == "rd")
        .map_or_else(|| panic!("an rd in {location}"), |(_, v)| v.into_owned())
}

/// Which proxy is under test, for the one place their answers differ.
#[derive(PartialEq)]
enum Kind {
    Nginx,
    Caddy,
    Traefik,
}

async fn drive(kind: Kind) {
    let app = spawn_with(|c| c.forward_auth.rules = RULES.map(str::to_owned).to_vec()).await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    app.add_to_account("ada@example.com", "bob@example.com", &[])
        .await;
    let ports = Ports {
        portal: app.port,
        upstream: echo_upstream().await,
    };
    let mut proxy = match kind {
        Kind::Nginx => nginx(&ports),
        Kind::Caddy => caddy(&ports),
        Kind::Traefik => traefik(&ports),
    };
    serving(&mut proxy).await;
    let browser = through(&proxy);

    // No session: a 302 to the sign-in page that names where the browser was going.
    let board = url(&proxy, "/board?tab=1");
    let r = browser.get(&board).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let sign_in = location(&r);
    assert_eq!(return_target(&sign_in, &app), board);

    // Forged forwarding headers do not make /board look like the bypass path.
    let r = browser
        .get(&board)
        .header("x-forwarded-uri", "/public/x")
        .header("x-forwarded-host", HOST)
        .header("x-original-url", format!("https://{HOST}/public/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "a forged original URL was believed");

    // The bypass path lets anyone through, and a forged identity is removed on the way.
    let r = browser
        .get(url(&proxy, "/public/logo.png"))
        .header("remote-user", "root")
        .header("remote-groups", "admins")
        .send()
        .await
        .unwrap();
    let echo = echoed(r).await;
    assert_eq!(echo["path"], "/public/logo.png");
    for name in IDENTITY {
        assert_eq!(
            seen(&echo, name).unwrap_or(""),
            "",
            "{name} reached the upstream"
        );
    }

    // Signed in as the owner: the identity Portcullis sends, and only that.
    let ada = new_client();
    let r = app
        .client_login_with(&ada, "ada@example.com", PASSWORD)
        .await;
    let cookie = format!(
        "portcullis_client={}",
        set_cookie(&r, "portcullis_client").expect("a session cookie")
    );
    let r = browser
        .get(&board)
        .header(COOKIE, &cookie)
        .header("remote-user", "root")
        .header("remote-groups", "admins")
        .header("remote-account-name", "Someone Else Ltd")
        .send()
        .await
        .unwrap();
    let echo = echoed(r).await;
    assert_eq!(echo["path"], "/board?tab=1");
    assert_eq!(seen(&echo, "remote-user"), Some("ada@example.com"));
    assert_eq!(seen(&echo, "remote-email"), Some("ada@example.com"));
    assert_eq!(
        seen(&echo, "remote-groups").unwrap_or(""),
        "",
        "no admin realm here"
    );
    let subject = seen(&echo, "remote-subject").unwrap();
    assert!(subject.starts_with("client:"), "{subject}");
    assert!(seen(&echo, "remote-account").is_some_and(|a| !a.is_empty()));
    let account_name = seen(&echo, "remote-account-name").unwrap();
    assert_ne!(account_name, "Someone Else Ltd");
    assert!(!account_name.is_empty());
    let permissions = seen(&echo, "remote-permissions").unwrap();
    assert!(permissions.contains("invoices"), "{permissions}");
    let r = browser
        .get(url(&proxy, "/billing/2026"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(echoed(r).await["path"], "/billing/2026");

    // The sign-in URL the proxy produced returns a signed-in browser to exactly that page.
    let r = ada.get(&sign_in).send().await.unwrap();
    assert_eq!(r.status(), 303, "the round trip ends at the page");
    assert_eq!(location(&r), board);

    // A member working in ada's account without the invoices permission is refused there,
    // and let in elsewhere.
    let bob = new_client();
    let r = app
        .client_login_with(&bob, "bob@example.com", PASSWORD)
        .await;
    let bob_cookie = format!(
        "portcullis_client={}",
        set_cookie(&r, "portcullis_client").expect("a session cookie")
    );
    app.follow_sign_in(&bob, &r).await;
    // Bob works in Ada's account.
    let shared = app.account_owned_by("ada@example.com").await;
    app.switch_account(&bob, shared).await;
    let r = browser
        .get(url(&proxy, "/billing/2026"))
        .header(COOKIE, &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser
        .get(&board)
        .header(COOKIE, &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        seen(&echoed(r).await, "remote-user"),
        Some("bob@example.com")
    );

    // An API client gets 401 where the proxy can tell Portcullis it asked for JSON; nginx's
    // auth_request turns every 401 into the documented 302.
    let r = browser
        .get(&board)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let expected = if kind == Kind::Nginx { 302 } else { 401 };
    assert_eq!(r.status(), expected);

    // Signing out at the portal ends access through the proxy at once.
    let (_, csrf) = app.form_page(&ada, "/clientarea").await;
    app.sign_out(&ada, "/logout", &csrf).await;
    let r = browser
        .get(&board)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "signed out");
}

#[tokio::test]
async fn nginx_with_the_documented_configuration() {
    drive(Kind::Nginx).await;
}

#[tokio::test]
async fn caddy_with_the_documented_configuration() {
    drive(Kind::Caddy).await;
}

#[tokio::test]
async fn traefik_with_the_documented_configuration() {
    drive(Kind::Traefik).await;
}
