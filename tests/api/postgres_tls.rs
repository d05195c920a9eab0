//! TLS to PostgreSQL (PostgreSQL pass only): with `sslmode=verify-full` and the server's CA in
//! `sslrootcert`, Portcullis connects over TLS and works; with a CA that did not sign the
//! server's certificate it refuses to connect, and the doctor says the TLS handshake failed.
//! `scripts/test` gives its throwaway cluster a self-signed certificate for this.
//!
//! Certificate authentication (ASVS 2.10.1: no unchanging password between services):
//! `scripts/test` also issues a client certificate for the role `portcullis_cert`, which
//! pg_hba.conf lets in only with a certificate (`hostssl ... cert`), and passes its files in
//! `PORTCULLIS_TEST_POSTGRES_CLIENT_CERT` and `PORTCULLIS_TEST_POSTGRES_CLIENT_KEY`. With them
//! and no password Portcullis migrates and serves; with no certificate or a stranger's the
//! server refuses and the doctor names `database.url`'s sslcert and sslkey, never a key's text;
//! a key file that cannot be read is refused at start-up under `database.url` (both passes).

use crate::helpers::*;

/// A fresh database's URL on `localhost` (the name in the certificate) with `sslmode` and the
/// CA file, or `None` outside the PostgreSQL pass.
async fn tls_url(ca: &str) -> Option<String> {
    let Some(direct) = test_database_url().await else {
        eprintln!("SQLite pass: TLS to PostgreSQL is tested in the PostgreSQL pass");
        return None;
    };
    let mut url = url::Url::parse(&direct).unwrap();
    url.set_host(Some("localhost")).unwrap();
    url.set_query(None);
    url.query_pairs_mut()
        .append_pair("sslmode", "verify-full")
        .append_pair("sslrootcert", ca);
    Some(url.to_string())
}

#[tokio::test]
async fn verify_full_with_the_servers_ca_connects_over_tls() {
    let Ok(ca) = std::env::var("PORTCULLIS_TEST_POSTGRES_CA") else {
        eprintln!("PORTCULLIS_TEST_POSTGRES_CA not set: the cluster has no certificate");
        return;
    };
    let Some(url) = tls_url(&ca).await else {
        return;
    };
    let app = spawn_with(|c| c.database.url = url).await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    assert_eq!(app.get("/clientarea").await.status(), 200);
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(ssl, "the connection is encrypted");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_and_the_doctor_says_tls() {
    let Ok(_) = std::env::var("PORTCULLIS_TEST_POSTGRES_CA") else {
        eprintln!("PORTCULLIS_TEST_POSTGRES_CA not set: the cluster has no certificate");
        return;
    };
    // A CA of our own, which did not sign the server's certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, other.cert.pem()).unwrap();
    let Some(url) = tls_url(wrong_ca.to_str().unwrap()).await else {
        return;
    };
    let error = portcullis::bootstrap::connect(&url, 1)
        .await
        .expect_err("an unknown CA must not be trusted");
    let said = portcullis::doctor::cannot_open_database(&error);
    let (cause, next) = (said.cause, said.next_step);
    assert!(cause.contains("TLS"), "{cause}");
    assert!(next.contains("sslrootcert"), "{next}");
}

/// The CA and the client certificate and key `scripts/test` issued for `portcullis_cert`.
fn client_identity() -> Option<(String, String, String)> {
    let var = |name| std::env::var(name).ok();
    let found = (|| {
        Some((
            var("PORTCULLIS_TEST_POSTGRES_CA")?,
            var("PORTCULLIS_TEST_POSTGRES_CLIENT_CERT")?,
            var("PORTCULLIS_TEST_POSTGRES_CLIENT_KEY")?,
        ))
    })();
    if found.is_none() {
        eprintln!("no client certificate from scripts/test: certificate authentication not tested");
    }
    found
}

/// A fresh database owned by `portcullis_cert`, and its URL for that role with no password,
/// over verify-full TLS, with `client` as `(sslcert, sslkey)` if given; `None` outside the
/// PostgreSQL pass.
async fn cert_url(ca: &str, client: Option<(&str, &str)>) -> Option<String> {
    let direct = test_database_url().await?;
    let mut url = url::Url::parse(&direct).unwrap();
    let name = url.path().trim_start_matches('/').to_owned();
    // The test's superuser hands the database to the certificate's role, which then creates
    // the tables itself (PostgreSQL 15: the public schema belongs to the database's owner).
    let admin = std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap();
    let pool = portcullis::bootstrap::connect(&admin, 1).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} OWNER TO portcullis_cert"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    url.set_host(Some("localhost")).unwrap();
    url.set_username("portcullis_cert").unwrap();
    url.set_password(None).unwrap();
    url.set_query(None);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("sslmode", "verify-full")
            .append_pair("sslrootcert", ca);
        if let Some((cert, key)) = client {
            q.append_pair("sslcert", cert).append_pair("sslkey", key);
        }
    }
    Some(url.to_string())
}

#[tokio::test]
async fn a_client_certificate_and_no_password_migrate_and_serve() {
    let Some((ca, cert, key)) = client_identity() else {
        return;
    };
    let Some(url) = cert_url(&ca, Some((&cert, &key))).await else {
        return;
    };
    assert!(
        url::Url::parse(&url).unwrap().password().is_none(),
        "no password: {url}"
    );
    // Start-up runs the migrations as the certificate's role.
    let app = spawn_with(|c| c.database.url = url).await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    assert_eq!(app.get("/clientarea").await.status(), 200);
    let (who, ssl, dn): (String, bool, Option<String>) = sqlx::query_as(
        "SELECT current_user::text, ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(who, "portcullis_cert");
    assert!(ssl, "the connection is encrypted");
    assert_eq!(
        dn.as_deref(),
        Some("/CN=portcullis_cert"),
        "signed in by certificate"
    );
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE tableowner = 'portcullis_cert'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(
        tables > 10,
        "the migrations ran as the certificate's role: {tables}"
    );
}

#[tokio::test]
async fn no_client_certificate_or_a_strangers_is_refused_and_the_doctor_names_sslcert() {
    let Some((ca, _, key)) = client_identity() else {
        return;
    };
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_body = key_text.lines().nth(1).unwrap().to_owned();
    // A certificate with the right name from a CA of our own, which the server does not trust.
    let stranger = rcgen::generate_simple_self_signed(vec!["portcullis_cert".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (s_cert, s_key) = (
        dir.path().join("stranger.crt"),
        dir.path().join("stranger.key"),
    );
    std::fs::write(&s_cert, stranger.cert.pem()).unwrap();
    std::fs::write(&s_key, stranger.signing_key.serialize_pem()).unwrap();
    let stranger = (s_cert.to_str().unwrap(), s_key.to_str().unwrap());
    for (what, client) in [("no certificate", None), ("a stranger's", Some(stranger))] {
        let Some(url) = cert_url(&ca, client).await else {
            return;
        };
        let error = portcullis::bootstrap::connect(&url, 1)
            .await
            .expect_err(what);
        let said = portcullis::doctor::cannot_open_database(&error);
        let (cause, next) = (said.cause, said.next_step);
        assert!(
            cause.contains("client certificate in database.url"),
            "{what}: {cause}"
        );
        assert!(
            next.contains("sslcert") && next.contains("sslkey"),
            "{what}: {next}"
        );
        assert!(
            !cause.contains(&key_body) && !cause.contains("PRIVATE KEY"),
            "{cause}"
        );
    }
}

#[test]
fn an_unreadable_client_certificate_is_refused_under_database_url_without_showing_secrets() {
    // Both passes: the URL is checked before anything connects.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("db.key");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nKEYBODYSECRET\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let missing = dir.path().join("gone.crt");
    let inline: String =
        url::form_urlencoded::byte_serialize(std::fs::read(&key).unwrap().as_slice()).collect();
    for (url, named) in [
        // A key file that exists and a certificate file that does not.
        (
            format!(
                "postgres://portcullis@localhost/portcullis?sslmode=verify-full&sslcert={}&sslkey={}",
                missing.display(),
                key.display()
            ),
            "sslcert names a file",
        ),
        // A key inline in the URL, with a password: neither may be shown.
        (
            format!(
                "postgres://portcullis:PASSWORDSECRET@localhost/portcullis?sslmode=verify-full&sslcert={}&sslkey={inline}",
                missing.display()
            ),
            "sslcert names a file",
        ),
        (
            format!(
                "postgres://portcullis@localhost/portcullis?sslmode=verify-full&sslkey={}",
                key.display()
            ),
            "needs sslcert",
        ),
    ] {
        for command in ["doctor", "serve"] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
                .env_remove("PORTCULLIS_CONFIG")
                .env("PORTCULLIS__DATA_DIR", dir.path())
                .env("PORTCULLIS__DATABASE__URL", &url)
                .env("RUST_LOG", "warn")
                .current_dir(dir.path())
                .arg(command)
                .output()
                .unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{command}: {said}");
            assert!(said.contains("database.url"), "{command}: {said}");
            assert!(said.contains(named), "{command}: {said}");
            assert!(
                !said.contains("KEYBODYSECRET"),
                "{command} shows the key: {said}"
            );
            assert!(
                !said.contains("PASSWORDSECRET"),
                "{command} shows the password: {said}"
            );
        }
    }
}
