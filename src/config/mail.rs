//! The `[mail]` section: how outgoing mail leaves (SMTP or `.eml` files), who it is from, and the
//! sender's retry and polling bounds.
//!
//! Impossible combinations (STARTTLS on port 465, implicit TLS on 587, a password sent in clear
//! to a remote host) are refused here with the fix, before `serve` starts. The queue, sender and
//! transports that use [`MailConfig`] live in `crate::mail`. [`RawMail::validate`] is called by
//! [`super::RawConfig::validate`].

use super::{ConfigError, RawMail};
use secrecy::SecretString;
use std::path::{Path, PathBuf};

/// How outgoing mail leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    Smtp,
    File,
}

/// TLS on the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// TLS from the first byte (usually port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS (usually port 587).
    Starttls,
    /// No TLS: only for a relay on this host or a private network.
    None,
}

/// The validated `[mail]` section.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub enabled: bool,
    pub transport: MailTransport,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: SecretString,
    pub smtp_timeout_seconds: u64,
    pub file_dir: PathBuf,
    pub max_attempts: u32,
    pub retry_base_seconds: i64,
    pub poll_seconds: u64,
}

impl RawMail {
    /// Checks every key; the SMTP rules apply only when `mail.transport = "smtp"`.
    pub(super) fn validate(&self, data_dir: &Path) -> Result<MailConfig, ConfigError> {
        let transport = match self.transport.as_str() {
            "smtp" => MailTransport::Smtp,
            "file" => MailTransport::File,
            other => return Err(ConfigError::new("mail.transport", &other, "smtp or file")),
        };
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "mail.from",
                &self.from,
                "a mailbox such as \"Example Hosting <billing@example.com>\"",
            ));
        }
        let tls = match self.smtp_tls.as_str() {
            "implicit" => SmtpTls::Implicit,
            "starttls" => SmtpTls::Starttls,
            "none" => SmtpTls::None,
            other => {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &other,
                    "implicit (port 465), starttls (port 587) or none",
                ));
            }
        };
        if transport == MailTransport::Smtp {
            if self.smtp_host.trim().is_empty() || self.smtp_host.contains(char::is_whitespace) {
                return Err(ConfigError::new(
                    "mail.smtp_host",
                    &self.smtp_host,
                    "the SMTP server's host name, required when mail.transport = \"smtp\"",
                ));
            }
            if self.smtp_port == 465 && tls == SmtpTls::Starttls {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &"starttls",
                    "implicit when mail.smtp_port = 465: port 465 speaks TLS from the first byte; use smtp_tls = \"implicit\", or port 587 with starttls",
                ));
            }
            if self.smtp_port == 587 && tls == SmtpTls::Implicit {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &"implicit",
                    "starttls when mail.smtp_port = 587: port 587 starts in plain text and upgrades; use smtp_tls = \"starttls\", or port 465 with implicit",
                ));
            }
            let local = self.smtp_host == "localhost"
                || self
                    .smtp_host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if tls == SmtpTls::None && !self.smtp_password.is_empty() && !local {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &"none",
                    "starttls or implicit when a password is set for a remote host: the password would cross the network unencrypted",
                ));
            }
        }
        let bounded = |key: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError::new(
                    key,
                    &v,
                    format!("a number from {lo} to {hi}"),
                ))
            }
        };
        Ok(MailConfig {
            enabled: self.enabled,
            transport,
            from: self.from.clone(),
            smtp_host: self.smtp_host.trim().to_owned(),
            smtp_port: self.smtp_port,
            smtp_tls: tls,
            smtp_username: self.smtp_username.clone(),
            smtp_password: SecretString::from(self.smtp_password.clone()),
            smtp_timeout_seconds: u64::from(bounded(
                "mail.smtp_timeout_seconds",
                self.smtp_timeout_seconds,
                1,
                600,
            )?),
            file_dir: if self.file_dir.is_empty() {
                data_dir.join("mail")
            } else {
                PathBuf::from(&self.file_dir)
            },
            max_attempts: bounded("mail.max_attempts", self.max_attempts, 1, 50)?,
            retry_base_seconds: i64::from(bounded(
                "mail.retry_base_seconds",
                self.retry_base_seconds,
                1,
                86_400,
            )?),
            poll_seconds: u64::from(bounded("mail.poll_seconds", self.poll_seconds, 1, 3600)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_with;

    #[test]
    fn impossible_mail_settings_are_refused_with_the_fix() {
        let smtp = "[mail]\ntransport = \"smtp\"\nsmtp_host = \"smtp.example.com\"\n";
        let e = load_with(Some(&format!("{smtp}smtp_port = 465\n")), &[]).unwrap_err();
        assert_eq!(e.key, "mail.smtp_tls");
        assert!(e.allowed.contains("implicit"), "{e}");
        let e = load_with(Some(&format!("{smtp}smtp_tls = \"implicit\"\n")), &[]).unwrap_err();
        assert!(e.allowed.contains("587"), "{e}");
        let e = load_with(
            Some(&format!(
                "{smtp}smtp_tls = \"none\"\nsmtp_password = \"x\"\n"
            )),
            &[],
        )
        .unwrap_err();
        assert!(e.allowed.contains("unencrypted"), "{e}");
        assert!(load_with(Some("[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_tls = \"none\"\nsmtp_password = \"x\"\n"), &[]).is_ok());
        let e = load_with(Some("[mail]\ntransport = \"smtp\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "mail.smtp_host");
        let e = load_with(Some("[mail]\nfrom = \"not an address\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "mail.from");
    }
}
