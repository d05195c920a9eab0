//! `portcullis forward-auth explain URL [--admin NAME | --user EMAIL]`: which access rule a URL
//! meets and whether a person passes it (`forward_auth::explain`, the same words the doctor uses).

use crate::cli::{ForwardAuthCommand, Outcome, open_migrated};
use crate::config::Config;
use crate::forward_auth::ForwardAuth;
use crate::forward_auth::explain::Person;

/// Runs one `forward-auth` subcommand.
pub async fn run(config: Config, command: ForwardAuthCommand) -> Outcome {
    match command {
        ForwardAuthCommand::Explain { url, admin, user } => {
            let state = open_migrated(config).await?;
            let person = match (admin, user) {
                (Some(name), _) => Some(Person::Admin(name)),
                (None, Some(email)) => Some(Person::User(email)),
                (None, None) => None,
            };
            let e = ForwardAuth::from(&state)
                .explain(&url, person.as_ref())
                .await?;
            println!("URL as judged: {}", e.judged);
            match &e.rule {
                Some((n, text)) => println!("Rule {n}: {text}"),
                None => println!("Rule: none matches"),
            }
            println!("{}", e.outcome);
            for line in &e.details {
                println!("- {line}");
            }
            Ok(())
        }
    }
}
