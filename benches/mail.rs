//! How many messages per second the sender sustains: to a real local SMTP server (aiosmtpd, as
//! in the tests) and to the file transport, in the same run. Run with `cargo bench --bench mail`
//! (needs Debian's python3-aiosmtpd). Absolute rates depend on the machine; the ratio between
//! the two transports says how much of the cost is SMTP.

use std::io::BufRead as _;
use std::time::Instant;

fn messages() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        2000
    } else {
        20
    }
}

async fn app(dir: &std::path::Path, smtp_port: Option<u16>) -> portcullis::app::AppState {
    let mut raw = portcullis::config::RawConfig {
        data_dir: dir.display().to_string(),
        ..Default::default()
    };
    if let Some(port) = smtp_port {
        raw.mail.transport = "smtp".into();
        raw.mail.smtp_host = "127.0.0.1".into();
        raw.mail.smtp_port = port;
        raw.mail.smtp_tls = "none".into();
    }
    let config = raw.validate().unwrap();
    portcullis::app::AppState::open(
        config,
        std::sync::Arc::new(portcullis::clock::SystemClock),
        true,
    )
    .await
    .unwrap()
}

async fn rate(state: &portcullis::app::AppState, n: usize) -> f64 {
    for i in 0..n {
        portcullis::mail::queue::send_generic(
            state,
            &format!("user{i}@example.com"),
            "Your order",
            "Thank you for your order.",
        )
        .await
        .unwrap();
    }
    let start = Instant::now();
    let summary = portcullis::mail::sender::run_once(state).await.unwrap();
    assert_eq!(summary.sent, n, "{summary:?}");
    #[expect(clippy::cast_precision_loss, reason = "message counts are small")]
    let rate = n as f64 / start.elapsed().as_secs_f64();
    rate
}

fn main() {
    let outbox = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new("/usr/bin/python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py"))
        .arg(outbox.path())
        .arg("accept")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3-aiosmtpd is installed");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().trim_start_matches("READY ").parse().unwrap();
    let n = messages();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (smtp, file) = runtime.block_on(async {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let smtp = rate(&app(a.path(), Some(port)).await, n).await;
        let file = rate(&app(b.path(), None).await, n).await;
        (smtp, file)
    });
    let _ = server.kill();
    let _ = server.wait();
    println!("Mail sender, {n} queued messages each (rates depend on the machine):");
    println!("  to a local SMTP server (aiosmtpd)   {smtp:>8.0} messages/s");
    println!("  to the file transport               {file:>8.0} messages/s");
    println!("  SMTP / file                         {:>8.2}", smtp / file);
}
