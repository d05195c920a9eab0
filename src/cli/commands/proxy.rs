//! `portcullis proxy refresh-cloudflare`: download Cloudflare's current ranges and store them
//! (the same work as the scheduled `cloudflare.refresh`, which is `proxy::refresh_cloudflare`).

use crate::cli::{Outcome, ProxyCommand, open_migrated};
use crate::config::Config;

/// Runs one `proxy` subcommand.
pub async fn run(config: Config, command: ProxyCommand) -> Outcome {
    match command {
        ProxyCommand::RefreshCloudflare => {
            let state = open_migrated(config).await?;
            let done = crate::proxy::refresh_cloudflare(&state).await?;
            println!(
                "Stored Cloudflare's ranges from {}: {} IPv4 and {} IPv6.",
                done.source, done.v4, done.v6
            );
            Ok(())
        }
    }
}
