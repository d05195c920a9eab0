//! `portcullis user create`: a client-area user and the client account they own, the password
//! from standard input, the address taken as verified (the operator vouches for it). The rules
//! are `Accounts::create_user`'s. `portcullis user sign-out` (and `admin sign-out`, which shares
//! its wording here) ends every session of the person (`session::everywhere`).

use crate::account::{Accounts, NewUser};
use crate::cli::{Outcome, UserCommand, UserCreate, actor, explain, open_migrated, read_password};
use crate::config::Config;
use crate::domain::ClientId;
use crate::session::Sessions;
use crate::session::everywhere::{Person, SignOutError};

/// Runs one `user` subcommand.
pub async fn run(config: Config, command: UserCommand) -> Outcome {
    match command {
        UserCommand::Create(args) => create(config, &args).await,
        UserCommand::SignOut { email } => sign_out(config, Person::Client(&email), &email).await,
    }
}

/// `user sign-out` and `admin sign-out`: the `Sessions` service ends the sessions.
pub(crate) async fn sign_out(config: Config, person: Person<'_>, name: &str) -> Outcome {
    let state = open_migrated(config).await?;
    match Sessions::from(&state)
        .sign_out_everywhere(person, &actor())
        .await
    {
        Ok(0) => println!("{name} had no live session."),
        Ok(1) => println!("Signed {name} out: 1 session ended on every node."),
        Ok(n) => println!("Signed {name} out: {n} sessions ended on every node."),
        Err(SignOutError::Unknown) => {
            let what = match person {
                Person::Client(_) => "no user has the email address",
                Person::Admin(_) => "no admin has the username",
                Person::User(_) => "no user has the id",
            };
            anyhow::bail!("{what} {name:?}");
        }
        Err(SignOutError::Storage(e)) => return Err(e.into()),
    }
    Ok(())
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
