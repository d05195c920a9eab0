//! `portcullis admin create` (an admin with a role, the password from standard input) and
//! `portcullis admin reset-2fa` (break-glass: every second factor of an admin removed, audited,
//! the admin emailed). The rules are the `Accounts`, `Roles` and `TwoFactor` services'.

use crate::account::{Accounts, NewAdmin};
use crate::cli::{AdminCommand, AdminCreate, Outcome, explain, open_migrated, read_password};
use crate::config::{Config, Policy};
use crate::domain::Realm;
use crate::role::Roles;
use crate::twofactor::TwoFactor;
use crate::twofactor::reset::{ResetBy, ResetError};

/// Runs one `admin` subcommand.
pub async fn run(config: Config, command: AdminCommand) -> Outcome {
    match command {
        AdminCommand::Create(args) => create(config, &args).await,
        AdminCommand::ResetTwoFactor { username } => reset_two_factor(config, &username).await,
        AdminCommand::SignOut { username } => {
            super::user::sign_out(
                config,
                crate::session::everywhere::Person::Admin(&username),
                &username,
            )
            .await
        }
    }
}

async fn create(config: Config, args: &AdminCreate) -> Outcome {
    // Before opening the database: a missing password should not wait for a migration.
    let password = read_password()?;
    // A pasted hash would become the password text: refused, pointing at the import.
    crate::auth::hash_shape::refuse_pasted_hash(secrecy::ExposeSecret::expose_secret(&password))
        .map_err(|e| anyhow::anyhow!(e))?;
    let state = open_migrated(config).await?;
    let role = Roles::from(&state)
        .find_by_name(&args.role)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--role: there is no role called {:?}; the built-in role is \"Full Administrator\"",
                args.role
            )
        })?;
    let new = NewAdmin {
        username: &args.username,
        email: &args.email,
        password: &password,
    };
    let id = Accounts::from(&state)
        .create_admin(&new, role)
        .await
        .map_err(explain)?;
    println!(
        "Created admin {} (id {id}) with role {}.",
        args.username, args.role
    );
    Ok(())
}

async fn reset_two_factor(config: Config, username: &str) -> Outcome {
    let state = open_migrated(config).await?;
    let two_factor = TwoFactor::from(&state);
    // The audit entry names who ran it, as far as the machine knows.
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let by = ResetBy::CommandLine {
        operator: &operator,
    };
    let target = match two_factor.reset_for(Realm::Admin, username, &by).await {
        Ok(target) => target,
        Err(ResetError::NoSuchAccount { .. }) => {
            anyhow::bail!("--username: there is no admin called {username:?}")
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "Removed every second factor of admin {username}. They can sign in with their password{}; {} was told by email.",
        if two_factor.policy(Realm::Admin) == Policy::Required {
            " and must set up a new factor at once"
        } else {
            ""
        },
        target.email
    );
    Ok(())
}
