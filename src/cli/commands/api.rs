//! `portcullis api create-credential`, `list-credentials` and `revoke-credential`: API
//! credentials of admins, made, listed and revoked by the `ApiCredentials` service (which
//! checks the roles against the admin's permissions and audits the changes). A secret is
//! printed once, when it is made; only its hash is stored.

use crate::api_credential::{ApiCredentials, Draft};
use crate::cli::{ApiCommand, Outcome, actor, open_migrated};
use crate::config::Config;

/// Runs one `api` subcommand.
pub async fn run(config: Config, command: ApiCommand) -> Outcome {
    let state = open_migrated(config).await?;
    let credentials = ApiCredentials::from(&state);
    let admin_named = |username: String| {
        let credentials = credentials.clone();
        async move {
            credentials
                .admin_named(&username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no admin has the username {username:?}"))
        }
    };
    match command {
        ApiCommand::CreateCredential {
            username,
            label,
            roles,
            allowed,
            expires_days,
        } => {
            let admin = admin_named(username).await?;
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
        }
        ApiCommand::ListCredentials { username } => {
            let admin = match username {
                Some(name) => Some(admin_named(name).await?),
                None => None,
            };
            let listed = credentials.list(admin).await?;
            if listed.is_empty() {
                println!("No API credentials.");
            }
            for c in listed {
                let state_now = match c.revoked_at {
                    Some(at) => format!("revoked {}", state.show_time(at)),
                    None => "live".to_owned(),
                };
                let used = c.last_used_at.map_or_else(
                    || "never used".to_owned(),
                    |at| {
                        format!(
                            "last used {} from {}",
                            state.show_time(at),
                            c.last_used_ip.as_deref().unwrap_or("?")
                        )
                    },
                );
                let allowed = if c.allowed.is_empty() {
                    "any address"
                } else {
                    c.allowed.as_str()
                };
                let expires = c.expires_at.map_or_else(
                    || "no expiry".to_owned(),
                    |at| format!("expires {}", state.show_time(at)),
                );
                println!(
                    "{}\t{}\t{:?}\t{}\t{allowed}\t{expires}\t{used}\t{state_now}",
                    c.identifier, c.admin_username, c.label, c.roles
                );
            }
        }
        ApiCommand::RevokeCredential { identifier } => {
            if !credentials.revoke(&identifier, &actor()).await? {
                anyhow::bail!("no live API credential has the identifier {identifier:?}");
            }
            println!("Revoked {identifier}: calls with it are refused from now on.");
        }
    }
    Ok(())
}
