//! `mail.transport` and `mail.queue` (F11): can mail leave, and is it leaving?

use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;

/// Connects to the transport (TLS and authentication included) without sending.
pub async fn transport(state: &AppState) -> CheckResult {
    const ID: &str = super::id::MAIL_TRANSPORT;
    if !state.config.mail.enabled {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            "Sending is switched off (mail.enabled = false): messages are queued but not sent.",
            "Password reset links, verification links and notices wait in the queue.",
            "Set mail.enabled = true once the transport is configured.",
        );
    }
    match state.mailer.check().await {
        Ok(summary) => CheckResult::ok(ID, summary),
        Err(failure) => CheckResult::problem(
            ID,
            Severity::Error,
            format!("Mail cannot be delivered: {}", failure.text),
            "The SMTP host, port, TLS mode or credentials are wrong, or the server is unreachable from here.",
            "Check mail.smtp_host, mail.smtp_port and mail.smtp_tls (465 = implicit, 587 = starttls) and the credentials; `portcullis mail test --to you@example.com` shows the server's answer.",
        ),
    }
}

/// Reports the oldest waiting message and recent failures.
pub async fn queue(state: &AppState) -> CheckResult {
    const ID: &str = super::id::MAIL_QUEUE;
    let now = state.clock.unix();
    let (oldest, queued, failed) = match crate::db::mail::health(&state.db, now - WINDOW).await {
        Ok(h) => h,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let age_minutes = oldest.map_or(0, |t| (now - t) / 60);
    if failed > 0 {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!("{failed} message(s) failed for good in the last 24 hours; {queued} waiting."),
            "Every retry was refused or could not connect; the mail log shows each message's last reply.",
            "Read the replies in the admin mail log (/admin/mail) and fix the transport; see mail.transport.",
        );
    }
    if age_minutes >= 15 {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!("{queued} message(s) waiting; the oldest for {age_minutes} minutes."),
            if state.config.mail.enabled {
                "Deliveries are failing and being retried, or no sender is running (`portcullis serve` runs it)."
            } else {
                "Sending is switched off (mail.enabled = false)."
            },
            "Check mail.transport and that a `portcullis serve` process is running.",
        );
    }
    CheckResult::ok(
        ID,
        format!("{queued} message(s) waiting, none for long; no failures in the last 24 hours."),
    )
}
