//! A lost database connection: recognising it, and reporting it once per outage.
//!
//! sqlx's pool keeps trying to open connections until its acquire timeout. What is left to us is
//! to tell a lost connection apart from every other database error (it becomes a 503 "try again"
//! page rather than a 500), to say so in the log once when the outage starts and once when it
//! ends instead of once per request, and to tell the pool while an outage is seen, so it checks
//! connections before and after use and drops the dead ones (`db::connect`).

use crate::clock::{Clock as _, SystemClock};
use std::sync::atomic::{AtomicI64, Ordering};

/// When the current outage was first seen (unix seconds), or 0 while connected. One per process:
/// a server has one pool. It decides which log lines are written and whether the pool pings
/// connections around each use.
static DOWN_SINCE: AtomicI64 = AtomicI64::new(0);

/// SQLSTATE classes that mean "the connection, not the statement, failed" (PostgreSQL): class 08
/// (connection exception) and the shutdown codes of class 57 (the server is stopping or starting).
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether `error` means the database could not be reached, as opposed to a query it refused.
pub fn is_connection_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|c| is_connection_state(&c)),
        // A peer that closes the socket while a new connection negotiates TLS (sslmode=prefer
        // asks first) is reported as a protocol error about the SSLRequest answer.
        sqlx::Error::Protocol(message) => message.contains("SSLRequest"),
        _ => false,
    }
}

/// The lost-connection error somewhere in `error`'s cause chain, if there is one.
pub fn find_connection_error(error: &anyhow::Error) -> Option<&sqlx::Error> {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .find(|e| is_connection_error(e))
}

/// Whether a lost connection has been met and no new connection made since.
pub fn is_down() -> bool {
    DOWN_SINCE.load(Ordering::Acquire) != 0
}

/// Records that a request met a lost connection; logs at error level only for the first one of
/// an outage.
pub fn report_lost(error: &sqlx::Error) {
    let now = SystemClock.unix();
    if DOWN_SINCE
        .compare_exchange(0, now.max(1), Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        tracing::error!(
            error = %error,
            "database connection lost; requests are answered 503 until it returns, and the pool keeps reconnecting"
        );
    } else {
        tracing::debug!(error = %error, "database still unreachable");
    }
}

/// Called for every new connection: ends an outage in the log, with how long it lasted.
pub fn report_connected() {
    let since = DOWN_SINCE.swap(0, Ordering::AcqRel);
    if since != 0 {
        tracing::warn!(
            down_seconds = SystemClock.unix() - since,
            "database connection restored"
        );
    }
}

/// Why a connection to the database could not be made, and what to do, for the doctor.
pub fn explain(error: &anyhow::Error) -> (String, &'static str) {
    let detail = format!("{error:#}");
    let sqlx_error = error.chain().find_map(|c| c.downcast_ref::<sqlx::Error>());
    let tls = (
        "The TLS handshake with the database failed: its certificate is not signed by a trusted CA, or does not name the host in database.url.",
        "Check sslmode and sslrootcert (the CA file) in database.url, and that the host is the one in the server's certificate.",
    );
    let client_certificate = (
        "The database refused the client certificate in database.url (sslcert and sslkey): none was sent, it is not signed by a CA the server trusts (its ssl_ca_file), or its name (CN) is not the user in database.url.",
        "Give sslcert and sslkey in database.url: the role's certificate, issued by the CA in the server's ssl_ca_file with CN equal to the user, and its key (docs/deployment.md, certificate authentication).",
    );
    let (why, next) = match sqlx_error {
        // The server's refusal of our certificate: an alert it sent during the handshake (its CA
        // does not know ours), or a start-up refusal under a `cert` line of pg_hba.conf.
        Some(sqlx::Error::Tls(_) | sqlx::Error::Io(_))
            if detail.contains("received fatal alert") =>
        {
            client_certificate
        }
        Some(sqlx::Error::Database(e))
            if e.code().is_some_and(|c| c == "28000") && e.message().contains("certificate") =>
        {
            client_certificate
        }
        // sqlx reports a failed handshake as an I/O error, so the words decide.
        Some(sqlx::Error::Tls(_)) => tls,
        Some(sqlx::Error::Io(_))
            if detail.contains("certificate") || detail.to_lowercase().contains("tls") =>
        {
            tls
        }
        Some(sqlx::Error::Io(io)) if io.kind() == std::io::ErrorKind::ConnectionRefused => (
            "Nothing accepts connections at the database's host and port: the database server is stopped, or database.url names the wrong host or port.",
            "Start the database server (for example `systemctl start postgresql`) or correct database.url.",
        ),
        Some(sqlx::Error::Io(_)) if detail.contains("lookup") || detail.contains("resolve") => (
            "The database host name cannot be resolved.",
            "Correct the host in database.url, or fix this machine's DNS.",
        ),
        Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => (
            "The connection to the database failed or timed out: a firewall, a network fault, or a server too busy to answer.",
            "Check that this machine can reach the database's port (e.g. `pg_isready -h HOST -p PORT`) and the server's log.",
        ),
        Some(sqlx::Error::Database(e))
            if e.code().is_some_and(|c| c == "28P01" || c == "28000") =>
        {
            (
                "The database refused the user name or password in database.url.",
                "Correct the credentials (prefer PORTCULLIS__DATABASE__URL so the password stays out of files) or the server's pg_hba.conf.",
            )
        }
        Some(sqlx::Error::Database(e)) if e.code().is_some_and(|c| c == "3D000") => (
            "The database named in database.url does not exist on the server.",
            "Create it (`createdb -O USER NAME`); Portcullis creates the tables itself.",
        ),
        _ => (
            "The database could not be opened.",
            "Check database.url and data_dir, then run `portcullis migrate`.",
        ),
    };
    (format!("{why} ({detail})"), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_and_pool_errors_are_connection_errors_but_not_found_is_not() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_connection_error(&refused));
        assert!(is_connection_error(&sqlx::Error::PoolTimedOut));
        assert!(!is_connection_error(&sqlx::Error::RowNotFound));
        assert!(!is_connection_error(&sqlx::Error::Protocol("bad".into())));
        assert!(is_connection_error(&sqlx::Error::Protocol(
            "unexpected response from SSLRequest: 0x00".into()
        )));
    }

    #[test]
    fn sqlstate_classes() {
        assert!(is_connection_state("08006"));
        assert!(is_connection_state("57P01"));
        assert!(!is_connection_state("23505"));
        assert!(!is_connection_state("57014"));
    }

    #[test]
    fn found_through_context() {
        let e = anyhow::Error::from(sqlx::Error::PoolTimedOut).context("cannot load the account");
        assert!(find_connection_error(&e).is_some());
        let other = anyhow::anyhow!("no");
        assert!(find_connection_error(&other).is_none());
    }
}
