//! A real SMTP server process (aiosmtpd) for delivery tests; see `tests/smtp/server.py`.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};

/// A running SMTP server; killed when dropped.
pub struct SmtpPeer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpPeer {
    /// Starts a server that accepts, temp-fails (451) or perm-fails (550) every message,
    /// optionally requiring AUTH with `user:password`.
    pub fn start(mode: &str, auth: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py");
        // Debian's python3-aiosmtpd lives under the system interpreter, not a pyenv one.
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(dir.path()).arg(mode);
        if let Some(a) = auth {
            cmd.arg(a);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3-aiosmtpd is installed by scripts/test");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("SMTP server did not start: {line:?}"));
        Self { child, port, dir }
    }

    /// Every received message, in order of arrival, with quoted-printable soft breaks undone.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
        });
        files
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .unwrap()
                    .replace("=\r\n", "")
                    .replace("=3D", "=")
            })
            .collect()
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first link in `message` that starts with `prefix`, including its 43-character token.
pub fn link(message: &str, prefix: &str) -> String {
    let start = message
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {message}"));
    let token: String = message[start + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{prefix}{token}")
}

/// A port on loopback where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
