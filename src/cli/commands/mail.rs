//! `portcullis mail test --to ADDRESS`: one message sent now through the configured transport
//! (not through the queue), and the server's answer printed. Sending is the `Mail` service's.

use crate::cli::{MailCommand, Outcome, open_migrated};
use crate::config::Config;
use crate::mail::Mail;

/// Runs one `mail` subcommand.
pub async fn run(config: Config, command: MailCommand) -> Outcome {
    match command {
        MailCommand::Test { to } => {
            let state = open_migrated(config).await?;
            let mail = Mail::from(&state);
            println!("Sending through {} ...", mail.describe());
            let reply = mail.send_test(&to).await?;
            println!(
                "Accepted: {}{}",
                reply.code.map(|c| format!("{c} ")).unwrap_or_default(),
                reply.text
            );
            Ok(())
        }
    }
}
