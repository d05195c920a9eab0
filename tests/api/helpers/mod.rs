//! `spawn_app` and helpers named after what a person does.

pub mod fake_duo;
pub mod nodes;
pub mod otp;
pub mod passkey;
pub mod receiver;
pub mod rp;
pub mod smtp;
pub mod tcp_cut;

use portcullis::app::{AppState, Application};
use portcullis::clock::MockClock;
use portcullis::config::RawConfig;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use std::sync::Arc;

/// A strong password that passes the default policy for both realms.
pub const PASSWORD: &str = "violet-harbour-crane-1987";

/// The built-in role "Full Administrator", which holds every permission (the migrations ship
/// it and the two below with every database).
pub const FULL_ADMINISTRATOR: i64 = 1;
/// The built-in role "Sales Operator".
pub const SALES_OPERATOR: i64 = 2;
/// The built-in role "Support Operator".
pub const SUPPORT_OPERATOR: i64 = 3;

/// A running Portcullis for one test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, which is also the System URL.
    pub address: String,
    pub port: u16,
    pub state: AppState,
    pub clock: Arc<MockClock>,
    /// Cookie jar on, redirects off: tests assert every redirect.
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// Starts the real application with default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// With `PORTCULLIS_TEST_POSTGRES` set to a PostgreSQL server URL (any database on it, by a
/// role that may create databases), a fresh database on that server for this test; otherwise
/// `None` and the test uses SQLite in its temporary folder.
pub async fn test_database_url() -> Option<String> {
    let admin = std::env::var("PORTCULLIS_TEST_POSTGRES").ok()?;
    let name = format!(
        "portcullis_test_{}",
        portcullis::token::hex(&portcullis::token::random_bytes::<8>().unwrap())
    );
    let pool = portcullis::bootstrap::connect(&admin, 1)
        .await
        .expect("PORTCULLIS_TEST_POSTGRES must reach a PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("the test role may create databases");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// Starts the real application after `configure` adjusts the configuration.
pub async fn spawn_with(configure: impl FnOnce(&mut RawConfig)) -> TestApp {
    spawn_until(configure, std::future::pending()).await
}

/// Like [`spawn_app`], but the server stops (and its port closes) when the returned sender is
/// used or dropped: for clients that must meet a server that went away.
pub async fn spawn_stoppable() -> (TestApp, tokio::sync::oneshot::Sender<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = spawn_until(|_| {}, async move {
        let _ = stopped.await;
    })
    .await;
    (app, stop)
}

async fn spawn_until(
    configure: impl FnOnce(&mut RawConfig),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().unwrap().port();
    let mut raw = RawConfig {
        data_dir: dir.path().display().to_string(),
        ..RawConfig::default()
    };
    raw.server.listen = format!("127.0.0.1:{port}");
    raw.server.system_url = format!("http://127.0.0.1:{port}/");
    // New installations require admin two-step verification; tests that are not about it
    // sign admins in with a password alone, as before (tests/api/review_impersonation_sessions.rs
    // covers the default).
    raw.two_factor.admin_policy = "optional".into();
    // Never Cloudflare's real host: a port nobody listens on, unless a test sets a stand-in.
    raw.proxy.cloudflare_url = NO_CLOUDFLARE.into();
    if let Some(url) = test_database_url().await {
        raw.database.url = url;
    }
    configure(&mut raw);
    let config = raw.validate().expect("valid test configuration");
    let clock = Arc::new(MockClock::new("2026-11-28T12:00:00Z".parse().unwrap()));
    let app = Application::with_listener(config, clock.clone(), listener)
        .await
        .expect("application builds");
    let state = app.state.clone();
    tokio::spawn(app.run_until(shutdown));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        state,
        clock,
        client: new_client(),
        dir,
    }
}

/// A browser-like client: keeps cookies, does not follow redirects, names itself.
pub fn new_client() -> reqwest::Client {
    portcullis::net::http::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) portcullis-tests")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client that never stores cookies (a browser that drops them).
pub fn cookieless_client() -> reqwest::Client {
    portcullis::net::http::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="csrf_token"` in a page.
pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("page has a csrf_token field: {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The links of a page's signed-in bar (`<nav aria-label="Account">`), in order.
pub fn bar_links(html: &str) -> Vec<String> {
    let start = html
        .find("<nav aria-label=\"Account\">")
        .unwrap_or_else(|| panic!("the page has the signed-in bar: {html}"));
    let bar = &html[start..start + html[start..].find("</nav>").unwrap()];
    bar.split("<a href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

/// The `Location` header.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The value a `Set-Cookie` header gives to cookie `name`, if any.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (n, value) = pair.split_once('=')?;
        (n == name).then(|| value.to_owned())
    })
}

/// The whole `Set-Cookie` header line for cookie `name`.
pub fn set_cookie_line(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A test user's credentials.
pub struct TestUser {
    pub email: String,
    pub password: String,
}

/// A test admin's credentials.
pub struct TestAdmin {
    pub username: String,
    pub password: String,
}

impl TestApp {
    /// An absolute URL on the System URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET with the app's own client.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// The status of `GET path` with `client`.
    pub async fn status_with(&self, client: &reqwest::Client, path: &str) -> reqwest::StatusCode {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .status()
    }

    /// The body of `path` fetched with `client`.
    pub async fn text_with(&self, client: &reqwest::Client, path: &str) -> String {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    }

    /// Fetches a page and returns its body and CSRF token.
    pub async fn form_page(&self, client: &reqwest::Client, path: &str) -> (String, String) {
        let body = client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&body);
        (body, csrf)
    }

    /// POSTs a form (adds nothing: callers include `csrf_token` when they want one).
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("request")
    }

    /// Creates a user (and client account) directly through the domain layer.
    pub async fn create_user(&self, email: &str) -> TestUser {
        self.create_user_verified(email, true).await
    }

    /// Creates a user (and client account) who never confirmed their address: their
    /// verification email is queued, as after registering.
    pub async fn create_unconfirmed_user(&self, email: &str) -> TestUser {
        self.create_user_verified(email, false).await
    }

    async fn create_user_verified(&self, email: &str, verified: bool) -> TestUser {
        let password = secrecy::SecretString::from(PASSWORD.to_owned());
        portcullis::account::create_user(
            &self.state,
            &portcullis::account::NewUser {
                email,
                first_name: "Ada",
                last_name: "Lovelace",
                password: &password,
                verified,
                owns_account: true,
            },
        )
        .await
        .expect("user created");
        TestUser {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
        }
    }

    /// Creates a Full Administrator.
    pub async fn create_admin(&self, username: &str) -> TestAdmin {
        self.create_admin_in_role(username, FULL_ADMINISTRATOR)
            .await
    }

    /// Creates an admin whose role is `role_id` (one of the built-in roles below, or a role made
    /// with [`TestApp::admin_with_role`]'s roles page).
    pub async fn create_admin_in_role(&self, username: &str, role_id: i64) -> TestAdmin {
        let password = secrecy::SecretString::from(PASSWORD.to_owned());
        portcullis::account::create_admin(
            &self.state,
            &portcullis::account::NewAdmin {
                username,
                email: &format!("{username}@example.com"),
                password: &password,
            },
            role_id,
        )
        .await
        .expect("admin created");
        TestAdmin {
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
        }
    }

    /// Creates role `name` granting exactly `permissions` (stored names) on the roles page, as
    /// the Full Administrator `root` (whom the test created first) does, and returns its id.
    pub async fn create_role(&self, name: &str, permissions: &[&str]) -> i64 {
        let root = self.signed_in_admin("root").await;
        let (_, csrf) = self.form_page(&root, "/admin/roles").await;
        let r = self
            .post_form(
                &root,
                "/admin/roles",
                &[("name", name), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303, "role {name} created");
        let id = location(&r)
            .rsplit('/')
            .next()
            .and_then(|id| id.parse().ok())
            .expect("the new role's page");
        self.edit_role(&root, id, name, permissions).await;
        id
    }

    /// Saves role `role_id` as `name` granting exactly `permissions` (stored names) on its page,
    /// with `editor`, a signed-in admin who may (one holding them all, and `manage_roles`).
    pub async fn edit_role(
        &self,
        editor: &reqwest::Client,
        role_id: i64,
        name: &str,
        permissions: &[&str],
    ) {
        let path = format!("/admin/roles/{role_id}");
        let (_, csrf) = self.form_page(editor, &path).await;
        let mut fields = vec![("name", name), ("csrf_token", csrf.as_str())];
        fields.extend(permissions.iter().map(|p| (*p, "on")));
        let r = self.post_form(editor, &path, &fields).await;
        assert_eq!(r.status(), 303, "role {name} saved");
    }

    /// A signed-in admin `username` whose new role `role` grants exactly `permissions` (stored
    /// names); the role is made as [`TestApp::create_role`] makes it.
    pub async fn admin_with_role(
        &self,
        username: &str,
        role: &str,
        permissions: &[&str],
    ) -> reqwest::Client {
        let role_id = self.create_role(role, permissions).await;
        self.create_admin_in_role(username, role_id).await;
        self.signed_in_admin(username).await
    }

    /// Makes user `member` a user of the account `owner` works in (their own, unless they
    /// switched) with exactly `permissions` (stored names), as people do: the owner invites
    /// them on the users page, they open the mailed link signed in and join, and the owner sets
    /// their permissions. Both sign out again, so the setup leaves no session behind.
    /// The client account `owner_email` owns.
    pub async fn account_owned_by(&self, owner_email: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT c.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = $1",
        )
        .bind(owner_email.to_owned())
        .fetch_one(&self.state.db)
        .await
        .expect("the owner has an account")
    }

    /// `browser` switches to account `to`, which its user belongs to, and is sent to the client
    /// area; returns the session's CSRF token.
    pub async fn switch_account(&self, browser: &reqwest::Client, to: i64) -> String {
        let (_, csrf) = self.form_page(browser, "/account/switch").await;
        let r = self
            .post_form(
                browser,
                "/account/switch",
                &[
                    ("client_id", to.to_string().as_str()),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(location(&r), "/clientarea", "switched to account {to}");
        csrf
    }

    pub async fn add_to_account(&self, owner: &str, member: &str, permissions: &[&str]) {
        let owner_browser = self.signed_in_client(owner).await;
        let (_, csrf) = self.form_page(&owner_browser, "/account/users").await;
        let r = self
            .post_form(
                &owner_browser,
                "/account/users/invite",
                &[("email", member), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303, "{owner} invites {member}");
        let mail: String = sqlx::query_scalar(
            "SELECT text_body FROM mail_messages WHERE template = 'invite_user' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(&self.state.db)
        .await
        .expect("the invitation is mailed");
        let link = &mail[mail.find(&self.url("/invite/")).expect("a link") + self.address.len()..];
        let link: String = link.chars().take_while(|c| !c.is_whitespace()).collect();
        let member_browser = self.signed_in_client(member).await;
        let (_, member_csrf) = self.form_page(&member_browser, &link).await;
        let r = self
            .post_form(&member_browser, &link, &[("csrf_token", &member_csrf)])
            .await;
        assert_eq!(r.status(), 303, "{member} joins");
        let member_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(member.to_owned())
            .fetch_one(&self.state.db)
            .await
            .expect("the member exists");
        let mut fields = vec![("csrf_token", csrf.as_str())];
        fields.extend(permissions.iter().map(|p| (*p, "on")));
        let path = format!("/account/users/{member_id}/permissions");
        let r = self.post_form(&owner_browser, &path, &fields).await;
        assert_eq!(r.status(), 303, "{owner} sets {member}'s permissions");
        self.sign_out(&owner_browser, "/logout", &csrf).await;
        // The invitation is a pre-sign-in form: its token is not the session's.
        let (_, member_csrf) = self.form_page(&member_browser, "/clientarea").await;
        self.sign_out(&member_browser, "/logout", &member_csrf)
            .await;
    }

    /// Signs `browser` out with the session's CSRF token (`/logout` or `/admin/logout`).
    pub async fn sign_out(&self, browser: &reqwest::Client, path: &str, csrf: &str) {
        let r = self.post_form(browser, path, &[("csrf_token", csrf)]).await;
        let status = r.status();
        assert_eq!(status, 303, "signed out: {}", r.text().await.unwrap());
    }

    /// Issues a licence of a new product "Acme Panel" (created as admin 1) to client account
    /// `account`, through the licensing service; returns the licence's id and key.
    pub async fn issue_acme_licence(&self, account: i64) -> (i64, String) {
        let licenses = portcullis::license::Licenses::from(&self.state);
        let product = licenses
            .create_product(
                portcullis::domain::AdminId(1),
                &portcullis::license::ProductDraft {
                    name: "Acme Panel",
                    key_prefix: "acme",
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        licenses
            .issue(&portcullis::license::IssueRequest {
                product_id: product,
                client_id: account,
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// The audit log's name of an admin (`admin:ID`).
    pub async fn admin_actor(&self, username: &str) -> String {
        let id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = $1")
            .bind(username)
            .fetch_one(&self.state.db)
            .await
            .expect("the admin exists");
        format!("admin:{id}")
    }

    /// Signs a user in with `client` the way a browser does: load the form, post it.
    pub async fn client_login_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let (_, csrf) = self.form_page(client, "/login").await;
        self.post_form(
            client,
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// Signs a user in with the app's client and follows the redirect to the client area.
    pub async fn client_login(&self, user: &TestUser) -> reqwest::Response {
        let response = self
            .client_login_with(&self.client, &user.email, &user.password)
            .await;
        assert_eq!(response.status(), 303, "sign-in should redirect");
        self.follow_sign_in(&self.client, &response).await
    }

    /// Follows a completed sign-in's redirect (`...?signed_in=MARKER`, after the password, a
    /// second factor or "login as client"): the GET that consumes the one-time marker, after
    /// which `browser`'s session is established. Returns the landing page.
    pub async fn follow_sign_in(
        &self,
        browser: &reqwest::Client,
        signed_in: &reqwest::Response,
    ) -> reqwest::Response {
        let to = location(signed_in);
        assert!(
            to.contains("signed_in="),
            "a completed sign-in redirects with its marker: {} {to}",
            signed_in.status()
        );
        browser.get(self.url(&to)).send().await.expect("request")
    }

    /// Signs user `email` (password [`PASSWORD`]) in with `browser` and follows the marker, as
    /// a person does who signs in without a second factor. Returns the landing page.
    pub async fn sign_in_client(
        &self,
        browser: &reqwest::Client,
        email: &str,
    ) -> reqwest::Response {
        let r = self.client_login_with(browser, email, PASSWORD).await;
        assert_eq!(r.status(), 303, "{email} signs in");
        self.follow_sign_in(browser, &r).await
    }

    /// A fresh browser in which user `email` (password [`PASSWORD`]) is signed in.
    pub async fn signed_in_client(&self, email: &str) -> reqwest::Client {
        let browser = new_client();
        self.sign_in_client(&browser, email).await;
        browser
    }

    /// Signs admin `username` (password [`PASSWORD`]) in with `browser` and follows the marker.
    /// Returns the landing page.
    pub async fn sign_in_admin(
        &self,
        browser: &reqwest::Client,
        username: &str,
    ) -> reqwest::Response {
        let r = self.admin_login_with(browser, username, PASSWORD).await;
        assert_eq!(r.status(), 303, "{username} signs in");
        self.follow_sign_in(browser, &r).await
    }

    /// A fresh browser in which admin `username` (password [`PASSWORD`]) is signed in.
    pub async fn signed_in_admin(&self, username: &str) -> reqwest::Client {
        let browser = new_client();
        self.sign_in_admin(&browser, username).await;
        browser
    }

    /// Signs an admin in with `client`.
    pub async fn admin_login_with(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let (_, csrf) = self.form_page(client, "/admin/login").await;
        self.post_form(
            client,
            "/admin/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// Signs an admin in with the app's client and follows the redirect.
    pub async fn admin_login(&self, admin: &TestAdmin) -> reqwest::Response {
        let response = self
            .admin_login_with(&self.client, &admin.username, &admin.password)
            .await;
        assert_eq!(response.status(), 303, "admin sign-in should redirect");
        self.follow_sign_in(&self.client, &response).await
    }

    /// A GET that sends exactly this cookie header and nothing else.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        cookieless_client()
            .get(self.url(path))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    /// Runs every doctor check in-process and returns the one with `id`.
    pub async fn doctor_check(&self, id: &str) -> portcullis::doctor::CheckResult {
        portcullis::doctor::run_all(&self.state)
            .await
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no doctor check {id}"))
    }
}

/// A tiny HTTP server standing in for Cloudflare's list endpoints (`/ips-v4`, `/ips-v6`).
/// Tests never reach the real hosts.
pub async fn fake_cloudflare(v4: &'static str, v6: &'static str) -> String {
    use axum::routing::get;
    let router = axum::Router::new()
        .route("/ips-v4", get(move || async move { v4 }))
        .route("/ips-v6", get(move || async move { v6 }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

impl TestApp {
    /// Moves the mock clock to the real time, for tests where a `portcullis` process (which
    /// reads the real clock) judges what this server recorded.
    pub fn use_real_time(&self) {
        self.clock.set(jiff::Timestamp::now());
    }

    /// The address recorded for the newest client-area session.
    ///
    /// Sessions carry no sequence number, so the clock moves on a second afterwards: the next
    /// session is then strictly newer, on SQLite and PostgreSQL alike.
    pub async fn last_session_ip(&self) -> String {
        let ip = sqlx::query_scalar(
            "SELECT ip FROM sessions WHERE realm = 'client' ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_one(&self.state.db)
        .await
        .unwrap();
        self.clock.advance(1);
        ip
    }

    /// Signs a user in from a fresh client that sends `headers` with every request.
    pub async fn client_login_via(
        &self,
        user: &TestUser,
        password: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let client = new_client();
        let with =
            |rb: reqwest::RequestBuilder| headers.iter().fold(rb, |rb, (k, v)| rb.header(*k, *v));
        let page = with(client.get(self.url("/login")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page);
        with(client.post(self.url("/login")))
            .form(&[
                ("email", user.email.as_str()),
                ("password", password),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// Where test servers and test processes look for Cloudflare's lists unless a test starts a
/// stand-in (`fake_cloudflare`): the discard port on loopback, where nothing listens, so no test
/// can reach the real host.
pub const NO_CLOUDFLARE: &str = "http://127.0.0.1:9";
