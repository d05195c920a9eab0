//! SMTP delivery through lettre: implicit TLS, STARTTLS or plain, optional AUTH, timeouts.

use super::{BoxFuture, Mailer, Outgoing, Reply, SendFailure};
use crate::config::{MailConfig, SmtpTls};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret as _;
use std::future::Future;
use std::time::Duration;

/// Delivers to one SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
    description: String,
    /// Bound on a whole operation (connect, TLS, AUTH, the exchange): lettre's own timeout
    /// covers single reads, but a server that stalls after a failed AUTH would otherwise hold
    /// the sender (or the doctor) until the server's own session timeout, minutes later.
    deadline: Duration,
}

impl SmtpMailer {
    async fn within<T>(
        &self,
        what: &str,
        operation: impl Future<Output = Result<T, SendFailure>>,
    ) -> Result<T, SendFailure> {
        tokio::time::timeout(self.deadline, operation)
            .await
            .unwrap_or_else(|_| {
                Err(SendFailure {
                    code: None,
                    text: format!(
                        "{}: no answer to {what} within {} seconds",
                        self.description,
                        self.deadline.as_secs()
                    ),
                })
            })
    }
}

fn failure(e: &lettre::transport::smtp::Error) -> SendFailure {
    SendFailure {
        code: e.status().map(u16::from),
        text: e.to_string(),
    }
}

impl SmtpMailer {
    /// Sets up the transport (connections are opened when sending).
    ///
    /// # Errors
    /// When the host name is not usable for TLS.
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        crate::net::http::install_crypto_provider();
        let host = config.smtp_host.as_str();
        let builder = match config.smtp_tls {
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder
            .port(config.smtp_port)
            .timeout(Some(Duration::from_secs(config.smtp_timeout_seconds)));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.smtp_username.clone(),
                config.smtp_password.expose_secret().to_owned(),
            ));
        }
        let tls = match config.smtp_tls {
            SmtpTls::Implicit => "implicit TLS",
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::None => "no TLS",
        };
        let auth = if config.smtp_username.is_empty() {
            "no authentication".to_owned()
        } else {
            format!("as {}", config.smtp_username)
        };
        Ok(Self {
            transport: builder.build(),
            from: config.from.clone(),
            description: format!("SMTP {host}:{} with {tls}, {auth}", config.smtp_port),
            deadline: Duration::from_secs(config.smtp_timeout_seconds.saturating_mul(2)),
        })
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Reply, SendFailure>> {
        Box::pin(async move {
            let built = super::build_message(&self.from, message)?;
            let response = self
                .within("the message", async {
                    self.transport.send(built).await.map_err(|e| failure(&e))
                })
                .await?;
            Ok(Reply {
                code: Some(u16::from(response.code())),
                text: response.message().collect::<Vec<_>>().join(" "),
            })
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<String, SendFailure>> {
        Box::pin(self.within("the connection test", async {
            match self.transport.test_connection().await {
                Ok(true) => Ok(format!("{}: connected and ready.", self.description)),
                Ok(false) => Err(SendFailure {
                    code: None,
                    text: format!(
                        "{}: the server did not accept the connection.",
                        self.description
                    ),
                }),
                Err(e) => Err(SendFailure {
                    text: format!("{}: {e}", self.description),
                    ..failure(&e)
                }),
            }
        }))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
