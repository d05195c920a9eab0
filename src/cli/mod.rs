//! The command line as a front end: `main` parses [`Cli`] and calls [`execute`], which loads
//! the configuration, sets up logging and runs one command from `commands/` (a file each).
//!
//! Like `web/`, this layer holds no rule: each command calls services (`Accounts`, `Bans`,
//! `TwoFactor`, `Doctor`, ...) and words their answers. It names no storage module and opens no
//! transaction (`tests/api/layering.rs` holds it to that). What is shared lives here: opening
//! the migrated state, reading a password from standard input, the actor and address audit
//! entries name for the command line, and turning an outcome into a message and an exit code.
//!
//! Exit codes and every printed line are a contract (`tests/api/cli.rs`, scripts): 0 success;
//! 1 doctor warnings or an unusable licence; 2 anything that could not do its job.

mod args;
mod commands;

pub use args::{
    AdminCommand, AdminCreate, ApiCommand, BanCommand, Cli, Command, ForwardAuthCommand,
    LicenseCheck, LicenseCommand, MailCommand, OidcCommand, ProxyCommand, UserCommand, UserCreate,
};

use crate::account::CreateError;
use crate::app::AppState;
use crate::clock::SystemClock;
use crate::config::{self, Config, LogFormat};
use crate::domain::Actor;
use secrecy::SecretString;
use std::fmt::Display;
use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

/// What a command that has no exit code of its own ends with: done (0), or why it could not
/// do its job (printed as `error: ...`, exit 2).
type Outcome = anyhow::Result<()>;

/// Runs a parsed command line and returns the process exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    let config = match config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            // The configuration error names the key, the value and what is allowed; no prefix.
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let outcome = match cli.command {
        Command::Serve { no_migrate } => commands::serve::run(config, no_migrate).await,
        Command::Migrate => commands::migrate::run(config).await,
        Command::Admin(command) => commands::admin::run(config, command).await,
        Command::User(command) => commands::user::run(config, command).await,
        Command::Ban(command) => commands::ban::run(config, command).await,
        Command::Proxy(command) => commands::proxy::run(config, command).await,
        Command::ForwardAuth(command) => commands::forward_auth::run(config, command).await,
        Command::Mail(command) => commands::mail::run(config, command).await,
        Command::Oidc(command) => commands::oidc::run(config, command).await,
        Command::Api(command) => commands::api::run(config, command).await,
        Command::Cron => commands::cron::run(config).await,
        // These two have exit codes of their own (a verdict, the doctor's worst severity).
        Command::License(command) => {
            return commands::license::run(command, &config.data_dir).await;
        }
        Command::Doctor { json, fix } => {
            return commands::doctor::run(config, json, fix.as_deref()).await;
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // `:#` adds the causes, e.g. the database error behind a failed migration.
        Err(e) => failed(format_args!("{e:#}")),
    }
}

/// Prints `error: <message>` to standard error and returns exit code 2: the one form every
/// command uses for "could not do its job".
fn failed(message: impl Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Opens the application state for a command, migrating first unless
/// `database.migrate_on_start` is off (then the schema must already be current).
async fn open_migrated(config: Config) -> anyhow::Result<AppState> {
    let migrate = config.migrate_on_start;
    AppState::open(config, Arc::new(SystemClock), migrate).await
}

/// The actor audit entries name for a change made from the command line.
fn actor() -> Actor {
    Actor::Named("cli".into())
}

/// The address audit entries record for a change made from the command line (there is no
/// request to take one from).
const FROM: &str = "local";

/// Reads one line from standard input as a password: passwords never go on the command line,
/// where other users of the machine can read them.
fn read_password() -> anyhow::Result<SecretString> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "no password on standard input (pipe it in, e.g. `printf '%s' \"$PASSWORD\" | portcullis ...`)"
    );
    Ok(SecretString::from(password))
}

/// Words a refused account creation for the command line: each field error on its own line,
/// named by its flag (`first_name` is `--first-name`); anything else as the service says it.
fn explain(e: CreateError) -> anyhow::Error {
    match e {
        CreateError::Invalid(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => other.into(),
    }
}
