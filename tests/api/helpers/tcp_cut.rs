//! A TCP relay between Portcullis and PostgreSQL that a test can cut and restore, to reproduce
//! a lost database connection (a database restart, a failover, a network fault) on a running
//! server without stopping the database the other tests share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay listening on a loopback port and forwarding to one upstream address.
pub struct TcpCut {
    pub port: u16,
    cut: Arc<AtomicBool>,
    // Every relayed connection watches this and closes when it changes to true.
    severed: watch::Sender<bool>,
}

impl TcpCut {
    /// Starts relaying to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let (severed, _) = watch::channel(false);
        let (flag, signal) = (cut.clone(), severed.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    // Accept and close at once: what a client sees when the server is gone.
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut closed = signal.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = closed.wait_for(|severed| *severed) => {}
                    }
                });
            }
        });
        Self { port, cut, severed }
    }

    /// Drops every relayed connection and refuses new ones until [`TcpCut::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.severed.send_replace(true);
    }

    /// Relays new connections again.
    pub fn restore(&self) {
        self.severed.send_replace(false);
        self.cut.store(false, Ordering::SeqCst);
    }
}
