//! Fake licensing servers on 127.0.0.1 for the verifier's tests: real HTTP/1.1 over TCP or TLS,
//! answers signed with the real `SignedAnswer::sign`, each server in its own std thread.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use license_verifier::protocol::{
    Answer, Bindings, PublicKey, SignedAnswer, Status, VerifyRequest, public_key_of,
};
use license_verifier::{Config, Timeouts, key};

/// 2026-11-28T12:00:00Z.
pub const NOW: i64 = 1_795_867_200;
pub const DAY: i64 = 86_400;
pub const SECRET: [u8; 32] = [7; 32];
pub const DOMAIN: &str = "shop.example.com";
pub const IP: &str = "203.0.113.5";
pub const DIRECTORY: &str = "/var/www/shop";

pub fn pinned() -> Vec<PublicKey> {
    vec![PublicKey {
        key_id: "k1".into(),
        public_key: public_key_of(&SECRET),
    }]
}

pub fn license_key() -> String {
    let random = core::array::from_fn(|i| u8::try_from(i * 5 % 32).unwrap());
    key::compose("ACME", &random).unwrap()
}

/// A fresh directory for one test's key file.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "license-verifier-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A complete configuration for `url`, with short timeouts so failures are quick.
pub fn config(url: &str, name: &str) -> Config {
    Config::new(
        url,
        pinned(),
        license_key(),
        temp_dir(name).join("license.json"),
    )
    .with_identity(DOMAIN, IP, DIRECTORY)
    .with_timeouts(Timeouts {
        connect: Duration::from_secs(3),
        read: Duration::from_secs(3),
    })
}

/// What the server judges, for a request: an answer echoing nonce and key, bound to the place.
pub fn answer(req: &VerifyRequest, status: Status, now: i64) -> Answer {
    Answer {
        v: 1,
        key_id: "k1".into(),
        issued_at: now,
        nonce: req.nonce.clone(),
        license_key: req.key.clone(),
        status,
        product: "Acme Shop".into(),
        bindings: Bindings {
            domains: vec![req.domain.clone()],
            ips: vec![req.ip.clone()],
            directories: vec![req.directory.clone()],
        },
        mismatch: None,
        expires_at: None,
        next_check_due: now + 7 * DAY,
        grace_until: now + 14 * DAY,
        reissue_url: "https://licence.example.com/reissue".into(),
        reissues_left: Some(2),
    }
}

pub fn http_response(status: u16, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

pub fn signed_json(answer: &Answer, key_id: &str, secret: &[u8; 32]) -> Vec<u8> {
    serde_json::to_vec(&SignedAnswer::sign(answer, key_id, secret)).unwrap()
}

/// Takes the request path and body, returns the whole raw response.
pub type Handler = Arc<dyn Fn(&str, &[u8]) -> Vec<u8> + Send + Sync>;

/// A handler answering every verify request with `status`, after `tweak`.
pub fn answering(
    status: Status,
    now: i64,
    tweak: impl Fn(&mut Answer) + Send + Sync + 'static,
) -> Handler {
    Arc::new(move |_path, body| {
        let req: VerifyRequest = serde_json::from_slice(body).unwrap();
        let mut a = answer(&req, status, now);
        tweak(&mut a);
        http_response(200, &signed_json(&a, "k1", &SECRET))
    })
}

pub struct FakeServer {
    pub port: u16,
    /// The verify requests received, parsed.
    pub requests: Arc<Mutex<Vec<VerifyRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: Handler) -> Self {
        Self::start_inner(handler, None)
    }

    pub fn start_tls(handler: Handler, tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start_inner(handler, Some(tls))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start_inner(handler: Handler, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                // A failed exchange (the client refused the certificate) only ends that connection.
                if let Some(cfg) = &tls {
                    let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
                    let mut s = rustls::StreamOwned::new(conn, tcp);
                    if serve(&mut s, &handler, &requests2).is_ok() {
                        s.conn.send_close_notify();
                        let _ = s.flush();
                    }
                } else {
                    let mut tcp = tcp;
                    let _ = serve(&mut tcp, &handler, &requests2);
                }
            }
        });
        Self {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening: later connections are refused.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve<S: Read + Write>(
    s: &mut S,
    handler: &Handler,
    requests: &Mutex<Vec<VerifyRequest>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(head) = req.parse(&buf).unwrap() else {
            continue;
        };
        let length = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |h| {
                std::str::from_utf8(h.value).unwrap().parse().unwrap()
            });
        if buf.len() < head + length {
            continue;
        }
        let path = req.path.unwrap_or("").to_owned();
        let body = buf[head..head + length].to_vec();
        if let Ok(r) = serde_json::from_slice::<VerifyRequest>(&body) {
            requests.lock().unwrap().push(r);
        }
        let response = handler(&path, &body);
        s.write_all(&response)?;
        return s.flush();
    }
}

/// A TLS server configuration with a fresh self-signed certificate for `localhost`, and that
/// certificate (DER) for the client to trust or not.
pub fn tls_config() -> (Arc<rustls::ServerConfig>, Vec<u8>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = ck.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![CertificateDer::from(der.clone())], key)
    .unwrap();
    (Arc::new(cfg), der)
}

/// A port on 127.0.0.1 that nobody listens on.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
