//! `portcullis ban list` and `portcullis ban lift ADDRESS`: the break-glass for an admin locked
//! out by failed sign-ins. Lifting clears every scope of the address (an IPv6 address: its
//! /64). Listing and lifting (audited, the node caches cleared) are the
//! `Bans` service's; this words the answers.

use crate::ban::{Bans, LiftError};
use crate::cli::{BanCommand, FROM, Outcome, actor, open_migrated};
use crate::config::Config;

/// Runs one `ban` subcommand. Lifting an address that was not banned is not an error.
pub async fn run(config: Config, command: BanCommand) -> Outcome {
    let state = open_migrated(config).await?;
    let bans = Bans::from(&state);
    match command {
        BanCommand::List => {
            let listed = bans.list().await?;
            if listed.is_empty() {
                println!("No bans in force.");
            }
            for b in listed {
                println!(
                    "{}\t{}\t{}\tby {}\t{}",
                    b.ip,
                    b.scope.describe(),
                    b.until_phrase(),
                    b.by,
                    b.reason
                );
            }
        }
        BanCommand::Lift { address } => match bans.lift(&address, &actor(), Some(FROM)).await {
            Ok(ip) => println!("Lifted the ban on {ip}."),
            Err(LiftError::NotBanned(ip)) => println!("{ip} was not banned."),
            Err(LiftError::NotAnAddress(_)) => anyhow::bail!(
                "ADDRESS: {address:?} is not an IP address, e.g. 203.0.113.7 or 2001:db8::1"
            ),
            Err(LiftError::Storage(e)) => return Err(e.into()),
        },
    }
    Ok(())
}
