//! The development transport: each message becomes one `.eml` file in `mail.file_dir`.

use super::{BoxFuture, Mailer, Outgoing, Reply, SendFailure};
use crate::config::MailConfig;
use std::path::PathBuf;

/// Writes messages to a folder.
pub struct FileMailer {
    dir: PathBuf,
    from: String,
}

impl FileMailer {
    /// A transport writing into `mail.file_dir`.
    pub fn new(config: &MailConfig) -> Self {
        Self {
            dir: config.file_dir.clone(),
            from: config.from.clone(),
        }
    }
}

impl Mailer for FileMailer {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Reply, SendFailure>> {
        Box::pin(async move {
            let built = super::build_message(&self.from, message)?;
            let fail = |e: std::io::Error| SendFailure {
                code: None,
                text: format!("cannot write to {}: {e}", self.dir.display()),
            };
            tokio::fs::create_dir_all(&self.dir).await.map_err(fail)?;
            let name = format!(
                "{}.eml",
                crate::token::generate()
                    .map_or_else(|_| "message".into(), |t| t.hash[..16].to_owned())
            );
            let path = self.dir.join(name);
            tokio::fs::write(&path, built.formatted())
                .await
                .map_err(fail)?;
            Ok(Reply {
                code: None,
                text: format!("written to {}", path.display()),
            })
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<String, SendFailure>> {
        Box::pin(async move {
            let probe = self.dir.join(".portcullis-probe");
            let result = async {
                tokio::fs::create_dir_all(&self.dir).await?;
                tokio::fs::write(&probe, b"probe").await?;
                tokio::fs::remove_file(&probe).await
            }
            .await;
            result
                .map(|()| format!("{}: writable.", self.describe()))
                .map_err(|e| SendFailure {
                    code: None,
                    text: format!("{}: {e}", self.describe()),
                })
        })
    }

    fn describe(&self) -> String {
        format!("files in {}", self.dir.display())
    }
}
