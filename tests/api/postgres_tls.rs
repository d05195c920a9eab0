//! TLS to PostgreSQL (PostgreSQL pass only): with `sslmode=verify-full` and the server's CA in
//! `sslrootcert`, Portcullis connects over TLS and works; with a CA that did not sign the
//! server's certificate it refuses to connect, and the doctor says the TLS handshake failed.
//! `scripts/test` gives its throwaway cluster a self-signed certificate for this.

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
