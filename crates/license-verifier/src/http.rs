//! A minimal blocking HTTP/1.1 client: one request per connection, over TCP or TLS.
//!
//! Written here rather than taken from an HTTP crate so that the verifier stays small, needs no
//! async runtime, and can report each stage (DNS, connect, TLS, HTTP) separately: "cannot
//! connect" and "certificate not trusted" need different fixes from the person reading them.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{CertificateDer, ServerName};

use crate::config::Timeouts;
use crate::verdict::{Step, StepKind};

/// Answers larger than this are not licence answers; refusing them bounds memory.
const MAX_RESPONSE: usize = 1 << 20;

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub kind: StepKind,
    pub detail: String,
}

impl Failure {
    fn new(kind: StepKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// The parts of the server URL that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Without a trailing slash; the API paths are appended to it.
    pub base_path: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("the licence server URL {url:?} is not valid: {why}");
        let lower = url.trim().to_ascii_lowercase();
        let (https, skip) = if lower.starts_with("https://") {
            (true, "https://".len())
        } else if lower.starts_with("http://") {
            (false, "http://".len())
        } else {
            return Err(bad("it must start with https://"));
        };
        let rest = &url.trim()[skip..];
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') || path.contains('?') || path.contains('#') {
            return Err(bad("no user name, query or fragment may be given"));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
                None if after.is_empty() => default_port,
                None => return Err(bad("unexpected text after the host")),
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (
                    host.to_owned(),
                    port.parse().map_err(|_| bad("the port is not a number"))?,
                ),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Self {
            https,
            host,
            port,
            base_path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.https { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A response: its status, body and `Retry-After` header (said when a rate limit answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
}

/// Sends one request and returns the response, recording a step per stage.
pub(crate) fn request(
    target: &Target,
    method: &str,
    path: &str,
    json_body: Option<&[u8]>,
    timeouts: Timeouts,
    extra_roots: &[Vec<u8>],
    steps: &mut Vec<Step>,
) -> Result<Reply, Failure> {
    let addrs = resolve(target, steps)?;
    let tcp = connect(target, &addrs, timeouts, steps)?;
    let full_path = format!("{}{path}", target.base_path);
    let head = head(target, method, &full_path, json_body);
    let result = if target.https {
        let mut tls = handshake(target, tcp, extra_roots, steps)?;
        exchange(&mut tls, &head, json_body, timeouts)
    } else {
        let mut tcp = tcp;
        exchange(&mut tcp, &head, json_body, timeouts)
    };
    match result {
        Ok((status, body, retry_after)) => {
            let detail = format!("{status} ({} bytes)", body.len());
            steps.push(if status == 200 {
                Step::ok("HTTP", detail)
            } else {
                Step::failed("HTTP", detail)
            });
            Ok(Reply {
                status,
                body,
                retry_after,
            })
        }
        Err(detail) => {
            let detail = format!("{method} {full_path}: {detail}");
            steps.push(Step::failed("HTTP", detail.clone()));
            Err(Failure::new(StepKind::Http(0), detail))
        }
    }
}

fn resolve(target: &Target, steps: &mut Vec<Step>) -> Result<Vec<SocketAddr>, Failure> {
    match (target.host.as_str(), target.port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                let detail = format!("Cannot resolve {}: the name has no address", target.host);
                steps.push(Step::failed("DNS", detail.clone()));
                return Err(Failure::new(StepKind::Dns, detail));
            }
            let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            steps.push(Step::ok(
                "DNS",
                format!("{} -> {}", target.host, list.join(", ")),
            ));
            Ok(addrs)
        }
        Err(e) => {
            let detail = format!("Cannot resolve {}: {e}", target.host);
            steps.push(Step::failed("DNS", detail.clone()));
            Err(Failure::new(StepKind::Dns, detail))
        }
    }
}

fn connect(
    target: &Target,
    addrs: &[SocketAddr],
    timeouts: Timeouts,
    steps: &mut Vec<Step>,
) -> Result<TcpStream, Failure> {
    let mut errors = Vec::new();
    for addr in addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, timeouts.connect) {
            Ok(stream) => {
                steps.push(Step::ok(
                    "connect",
                    format!("{addr}: ok in {} ms", started.elapsed().as_millis()),
                ));
                // Without these a server that accepts and then stalls would hang the check.
                let set = stream
                    .set_read_timeout(Some(timeouts.read))
                    .and_then(|()| stream.set_write_timeout(Some(timeouts.read)));
                if let Err(e) = set {
                    let detail = format!("Cannot set timeouts on the connection to {addr}: {e}");
                    steps.push(Step::failed("connect", detail.clone()));
                    return Err(Failure::new(StepKind::Connect, detail));
                }
                return Ok(stream);
            }
            Err(e) => {
                let why = if e.kind() == io::ErrorKind::TimedOut {
                    format!("no answer within {} s", timeouts.connect.as_secs())
                } else {
                    e.to_string()
                };
                steps.push(Step::failed("connect", format!("{addr}: {why}")));
                errors.push(format!("{addr}: {why}"));
            }
        }
    }
    Err(Failure::new(
        StepKind::Connect,
        format!(
            "Cannot connect to {} on port {} ({})",
            target.host,
            target.port,
            errors.join("; ")
        ),
    ))
}

fn client_config(extra_roots: &[Vec<u8>]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for (i, der) in extra_roots.iter().enumerate() {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("extra root certificate {} is not usable: {e}", i + 1))?;
    }
    // An explicit provider, so the embedding application need not install a process-wide one.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(config)
}

fn handshake(
    target: &Target,
    mut tcp: TcpStream,
    extra_roots: &[Vec<u8>],
    steps: &mut Vec<Step>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, Failure> {
    let fail = |steps: &mut Vec<Step>, detail: String| {
        steps.push(Step::failed("TLS", detail.clone()));
        Failure::new(StepKind::Tls, detail)
    };
    let config = client_config(extra_roots).map_err(|e| fail(steps, e))?;
    let name = ServerName::try_from(target.host.clone()).map_err(|e| {
        fail(
            steps,
            format!("{:?} is not a valid TLS name: {e}", target.host),
        )
    })?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| fail(steps, e.to_string()))?;
    // Completing the handshake before sending anything keeps TLS failures apart from HTTP ones.
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            return Err(fail(
                steps,
                format!("TLS handshake with {} failed: {e}", target.host),
            ));
        }
    }
    let version = conn
        .protocol_version()
        .map_or_else(String::new, |v| format!("{v:?}"));
    let suite = conn
        .negotiated_cipher_suite()
        .map_or_else(String::new, |s| format!("{:?}", s.suite()));
    steps.push(Step::ok(
        "TLS",
        format!(
            "ok ({version}, {suite}, certificate valid for {})",
            target.host
        ),
    ));
    Ok(rustls::StreamOwned::new(conn, tcp))
}

fn head(target: &Target, method: &str, path: &str, body: Option<&[u8]>) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: portcullis-license-verifier/{}\r\n\
         Accept: application/json\r\nConnection: close\r\n",
        target.host_header(),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some(body) = body {
        let _ = write!(
            head,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head.push_str("\r\n");
    head
}

fn exchange<S: Read + Write>(
    stream: &mut S,
    head: &str,
    body: Option<&[u8]>,
    timeouts: Timeouts,
) -> Result<(u16, Vec<u8>, Option<String>), String> {
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(body.unwrap_or_default());
    stream
        .write_all(&request)
        .and_then(|()| stream.flush())
        .map_err(|e| format!("sending the request failed: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let eof = match stream.read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                false
            }
            // Servers often close TLS without close_notify after `Connection: close`; what
            // arrived is judged on its own framing below.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => true,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "no complete response within {} s ({} bytes received)",
                    timeouts.read.as_secs(),
                    buf.len()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => return Err(format!("reading the response failed: {e}")),
        };
        if buf.len() > MAX_RESPONSE {
            return Err(format!("the response exceeds {MAX_RESPONSE} bytes"));
        }
        if let Some((status, body)) = parse_response(&buf, eof)? {
            return Ok((status, body, header(&buf, "retry-after")));
        }
        if eof {
            return Err("the connection closed before a complete response".to_owned());
        }
    }
}

/// The status and body once `buf` holds a complete response; `None` while more is needed.
pub(crate) fn parse_response(mut buf: &[u8], eof: bool) -> Result<Option<(u16, Vec<u8>)>, String> {
    // Interim responses (100 Continue) are skipped in a loop, not by recursion: a server sending
    // a megabyte of them overflowed the stack (found while writing the fuzz target).
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response
            .parse(buf)
            .map_err(|e| format!("not an HTTP response ({e})"))?
        {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(n) => n,
        };
        let code = response.code.unwrap_or(0);
        if (100..200).contains(&code) {
            // An interim response (100 Continue): the real one follows.
            buf = &buf[head_len..];
            continue;
        }
        let mut chunked = false;
        let mut length = None;
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = String::from_utf8_lossy(h.value)
                    .to_ascii_lowercase()
                    .contains("chunked");
            } else if h.name.eq_ignore_ascii_case("content-length") {
                let value = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or("the Content-Length header is not a number")?;
                length = Some(value);
            }
        }
        let body = &buf[head_len..];
        if chunked {
            return Ok(dechunk(body)?.map(|b| (code, b)));
        }
        return match length {
            Some(len) if body.len() >= len => Ok(Some((code, body[..len].to_vec()))),
            // No framing: the body runs to the end of the connection.
            None if eof => Ok(Some((code, body.to_vec()))),
            Some(_) | None => Ok(None),
        };
    }
}

/// The value of one header of the (final) response in `buf`, if it has it.
fn header(buf: &[u8], name: &str) -> Option<String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(buf).ok()? else {
        return None;
    };
    if (100..200).contains(&response.code.unwrap_or(0)) {
        return header(&buf[head_len..], name);
    }
    response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
}

/// The body of a chunked response once the last chunk arrived (trailers are ignored).
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        match httparse::parse_chunk_size(data).map_err(|_| "invalid chunk size in the response")? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete((used, size)) => {
                data = &data[used..];
                if size == 0 {
                    return Ok(Some(out));
                }
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| *s <= MAX_RESPONSE)
                    .ok_or("a chunk of the response is too large")?;
                if data.len() < size + 2 {
                    return Ok(None);
                }
                out.extend_from_slice(&data[..size]);
                if &data[size..size + 2] != b"\r\n" {
                    return Err("a chunk of the response is not followed by CRLF".to_owned());
                }
                data = &data[size + 2..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split() {
        let t = Target::parse("https://licence.example.com/").unwrap();
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.base_path.as_str()),
            (true, "licence.example.com", 443, "")
        );
        let t = Target::parse("http://[::1]:8080/base/").unwrap();
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.base_path.as_str()),
            (false, "::1", 8080, "/base")
        );
        assert_eq!(t.host_header(), "[::1]:8080");
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("https://user@x/").is_err());
        assert!(Target::parse("https://x:port/").is_err());
    }

    #[test]
    fn responses_are_framed_by_length_chunks_or_close() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(
            parse_response(full, false),
            Ok(Some((200, b"hello".to_vec())))
        );
        assert_eq!(parse_response(&full[..full.len() - 1], false), Ok(None));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked, false),
            Ok(Some((200, b"hello".to_vec())))
        );
        let close = b"HTTP/1.1 500 Oops\r\n\r\nbroken";
        assert_eq!(parse_response(close, false), Ok(None));
        assert_eq!(
            parse_response(close, true),
            Ok(Some((500, b"broken".to_vec())))
        );
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
    }
}
