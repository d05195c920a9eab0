//! `portcullis api create-credential`: an API credential for an admin, made by the
//! `ApiCredentials` service (which checks the roles against the admin's permissions and audits
//! it). The secret is printed once; only its hash is stored.

use crate::api_credential::{ApiCredentials, Draft};
use crate::cli::{ApiCommand, Outcome, actor, open_migrated};
use crate::config::Config;

/// Runs one `api` subcommand.
pub async fn run(config: Config, command: ApiCommand) -> Outcome {
    let ApiCommand::CreateCredential {
        username,
        label,
        roles,
        allowed,
        expires_days,
    } = command;
    let state = open_migrated(config).await?;
    let credentials = ApiCredentials::from(&state);
    let admin = credentials
        .admin_named(&username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no admin has the username {username:?}"))?;
    let draft = Draft {
        label,
        roles,
        allowed,
        expires_in_days: expires_days,
    };
    let created = credentials
        .create(admin, &draft, &actor())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("identifier: {}", created.identifier);
    println!("secret:     {}", created.secret);
    println!("The secret is shown this once. Call with HTTP Basic (identifier, secret) or");
    println!("`Authorization: Bearer {}.<secret>`.", created.identifier);
    Ok(())
}
