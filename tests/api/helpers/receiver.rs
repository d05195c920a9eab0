//! A back-channel logout receiver for the provider tests: a small HTTP server that keeps what
//! Portcullis posts to it and answers with a status the test chooses.

use std::sync::{Arc, Mutex};

/// A back-channel logout receiver: answers `status` and keeps each posted body.
pub struct Receiver {
    pub uri: String,
    pub bodies: Arc<Mutex<Vec<String>>>,
    pub status: Arc<Mutex<u16>>,
}

pub async fn receiver(status: u16) -> Receiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(Mutex::new(status));
    let (b, s) = (bodies.clone(), status.clone());
    let router = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let (b, s) = (b.clone(), s.clone());
            async move {
                b.lock().unwrap().push(body);
                let code = *s.lock().unwrap();
                axum::http::StatusCode::from_u16(code).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Receiver {
        uri: format!("http://127.0.0.1:{port}/backchannel"),
        bodies,
        status,
    }
}

impl Receiver {
    /// The `logout_token` of each body received, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                url::form_urlencoded::parse(b.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .expect("a logout_token field")
            })
            .collect()
    }
}
