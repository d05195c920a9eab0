//! `portcullis user create`: a client-area user and the client account they own, the password
//! from standard input, the address taken as verified (the operator vouches for it). The rules
//! are `Accounts::create_user`'s.

use crate::account::{Accounts, NewUser};
use crate::cli::{Outcome, UserCommand, UserCreate, explain, open_migrated, read_password};
use crate::config::Config;
use crate::domain::ClientId;

/// Runs one `user` subcommand.
pub async fn run(config: Config, command: UserCommand) -> Outcome {
    match command {
        UserCommand::Create(args) => create(config, &args).await,
    }
}

async fn create(config: Config, args: &UserCreate) -> Outcome {
    let password = read_password()?;
    // A pasted hash would become the password text: refused, pointing at the import.
    crate::auth::hash_shape::refuse_pasted_hash(secrecy::ExposeSecret::expose_secret(&password))
        .map_err(|e| anyhow::anyhow!(e))?;
    let state = open_migrated(config).await?;
    let new = NewUser {
        email: &args.email,
        first_name: &args.first_name,
        last_name: &args.last_name,
        password: &password,
        verified: true,
        owns_account: true,
    };
    let (user, account) = Accounts::from(&state)
        .create_user(&new)
        .await
        .map_err(explain)?;
    // `owns_account` asks for the account, so there always is one; 0 as the old output had.
    let account = account.map_or(0, ClientId::get);
    println!(
        "Created user {} (id {user}) owning client account {account}.",
        args.email
    );
    Ok(())
}
