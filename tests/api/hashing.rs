//! Bounded password hashing: excess sign-ins get 503 instead of queueing without bound.

use crate::helpers::*;

#[tokio::test]
async fn sign_ins_beyond_the_hashing_queue_get_503_with_retry_after() {
    let app = spawn_with(|c| {
        c.auth.hash_concurrency = 1;
        c.auth.hash_queue = 0;
    })
    .await;
    let user = app.create_user("ada@example.com").await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    let attempts = (0..12).map(|_| {
        let client = cookieless_client();
        let url = app.url("/login");
        let form = [
            ("email", user.email.clone()),
            ("password", "wrong-password-42".to_owned()),
            ("csrf_token", csrf.clone()),
        ];
        async move { client.post(url).form(&form).send().await.unwrap() }
    });
    let responses = futures_join_all(attempts).await;
    let busy: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
    let answered = responses.iter().filter(|r| r.status() == 401).count();
    assert!(
        !busy.is_empty(),
        "some sign-ins must be refused while the hasher is saturated"
    );
    assert!(answered >= 1, "at least one sign-in is verified");
    assert!(
        busy.iter()
            .all(|r| r.headers().get("retry-after").is_some())
    );
    // Once the burst is over (and the account's delay after its wrong passwords, which is at
    // most 15 minutes: crate::throttle), sign-in works again.
    app.clock.advance(900);
    assert_eq!(app.client_login(&user).await.status(), 200);
}

async fn futures_join_all<F: std::future::Future<Output = reqwest::Response> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<reqwest::Response> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
