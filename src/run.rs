//! What each command does. `main` parses the command line and calls [`execute`].

use crate::account::{self, CreateError, NewAdmin, NewUser};
use crate::app::{AppState, Application};
use crate::cli::{
    AdminCommand, BanCommand, Cli, Command, LicenseCommand, MailCommand, ProxyCommand, UserCommand,
};
use crate::clock::SystemClock;
use crate::config::{self, Config, LogFormat};
use crate::doctor::{self, CheckResult};
use secrecy::SecretString;
use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

/// Runs a parsed command line and returns the process exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    let config = match config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let result = match cli.command {
        Command::Serve { no_migrate } => serve(config, no_migrate).await,
        Command::Migrate => migrate(config).await,
        Command::Admin(AdminCommand::Create(args)) => admin_create(config, &args).await,
        Command::Admin(AdminCommand::ResetTwoFactor { username }) => {
            admin_reset_two_factor(config, &username).await
        }
        Command::User(UserCommand::Create(args)) => user_create(config, &args).await,
        Command::Ban(command) => ban(config, command).await,
        Command::Proxy(ProxyCommand::RefreshCloudflare) => refresh_cloudflare(config).await,
        Command::Mail(MailCommand::Test { to }) => mail_test(config, &to).await,
        Command::Cron => cron(config).await,
        Command::License(LicenseCommand::Check(args)) => return license_check(&args).await,
        Command::Doctor { json, fix } => return doctor_command(config, json, fix.as_deref()).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
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

async fn serve(mut config: Config, no_migrate: bool) -> anyhow::Result<()> {
    if no_migrate {
        config.migrate_on_start = false;
    }
    let system_url = config.system_url.clone();
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    tracing::info!(address = %app.address, system_url = %system_url, "Portcullis is listening");
    println!(
        "Portcullis is listening on http://{} (System URL {system_url})",
        app.address
    );
    if let Some(link) = account::setup_link_if_needed(&app.state).await? {
        println!(
            "No admin exists yet. Create the first one within the next hour at:\n\n    {link}\n\n(or run `portcullis admin create`). The link works once."
        );
    }
    app.start_workers();
    app.run_until(crate::bootstrap::shutdown_signal()).await
}

/// `portcullis license check`: every step and the verdict; 0 usable, 1 not, 2 bad arguments.
async fn license_check(args: &crate::cli::LicenseCheck) -> ExitCode {
    use crate::clock::Clock as _;
    let now = SystemClock.unix();
    let extra_roots = match &args.ca_file {
        None => Vec::new(),
        Some(path) => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| license_verifier::certificates_from_pem(&pem))
        {
            Ok(roots) => roots,
            Err(e) => {
                eprintln!("error: --ca-file {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let pins = if args.public_keys.is_empty() {
        let server = args.server.clone();
        let roots = extra_roots.clone();
        let fetched = tokio::task::spawn_blocking(move || {
            license_verifier::fetch_keys_with_steps(
                &server,
                license_verifier::Timeouts::default(),
                &roots,
            )
        })
        .await;
        let Ok((result, steps)) = fetched else {
            eprintln!("error: the key download could not run");
            return ExitCode::from(2);
        };
        for step in &steps {
            println!("keys     {step}");
        }
        match result {
            Ok(list) => {
                println!(
                    "keys     trusting the {} key(s) the server published, for this check only; software must pin them (--public-key)",
                    list.keys.len()
                );
                list.keys
            }
            Err((step, detail)) => {
                // The same human message as a failed check at this step, never debug text.
                let verdict = license_verifier::Verdict::NoConnection {
                    step,
                    detail,
                    grace_until: None,
                };
                println!("verdict: {verdict}");
                return ExitCode::from(1);
            }
        }
    } else {
        match crate::license::client::parse_pins(&args.public_keys) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: --public-key {e}");
                return ExitCode::from(2);
            }
        }
    };
    let target = crate::license::client::Target {
        server_url: args.server.clone(),
        key: args.key.clone(),
        domain: args.domain.clone(),
        ip: args.ip.clone(),
        directory: args.directory.clone(),
        pins,
        extra_roots,
        identity_setting: "Pass --domain, --ip and --directory (the installation's own values, as its configuration states them).".into(),
    };
    let (verdict, steps) = crate::license::client::check_online(target, now).await;
    for step in &steps {
        println!("check    {step}");
    }
    println!("verdict: {verdict}");
    if verdict.is_usable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `portcullis cron`: one scheduler run, reported task by task.
async fn cron(config: Config) -> anyhow::Result<()> {
    let state = open_migrated(config).await?;
    let report = crate::scheduler::run_due(&state, crate::scheduler::Process::Cron).await?;
    for t in &report.tasks {
        let mark = if t.ok { "ok    " } else { "FAILED" };
        println!(
            "{mark} {:<20} {:>6} ms  {}",
            t.task, t.duration_ms, t.detail
        );
    }
    for task in &report.held_elsewhere {
        println!("held   {task:<20}           running in another process");
    }
    if report.tasks.is_empty() && report.held_elsewhere.is_empty() {
        println!("Nothing was due.");
    }
    let failed: Vec<&str> = report
        .tasks
        .iter()
        .filter(|t| !t.ok)
        .map(|t| t.task)
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} task(s) failed: {}; the next run retries them",
        failed.len(),
        failed.join(", ")
    );
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let done = crate::bootstrap::migrate(&config).await?;
    println!(
        "Database is up to date ({} migration(s) applied now).",
        done.applied
    );
    if !done.newer.is_empty() {
        println!(
            "The database also has {} migration(s) from a newer Portcullis ({:?}); this binary works with that schema, but upgrade it to match the other nodes.",
            done.newer.len(),
            done.newer
        );
    }
    Ok(())
}

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

async fn admin_create(config: Config, args: &crate::cli::AdminCreate) -> anyhow::Result<()> {
    let password = read_password()?;
    let state = open_migrated(config).await?;
    let role = crate::role::Roles::from(&state)
        .find_by_name(&args.role)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--role: there is no role called {:?}; the built-in role is \"Full Administrator\"",
                args.role
            )
        })?;
    let id = account::create_admin(
        &state,
        &NewAdmin {
            username: &args.username,
            email: &args.email,
            password: &password,
        },
        role.get(),
    )
    .await
    .map_err(explain)?;
    println!(
        "Created admin {} (id {id}) with role {}.",
        args.username, args.role
    );
    Ok(())
}

async fn admin_reset_two_factor(config: Config, username: &str) -> anyhow::Result<()> {
    use crate::twofactor::reset::{ResetBy, ResetError};
    let state = open_migrated(config).await?;
    let two_factor = crate::twofactor::TwoFactor::from(&state);
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let by = ResetBy::CommandLine {
        operator: &operator,
    };
    let target = match two_factor
        .reset_for(crate::session::Realm::Admin, username, &by)
        .await
    {
        Ok(target) => target,
        Err(ResetError::NoSuchAccount { .. }) => {
            anyhow::bail!("--username: there is no admin called {username:?}")
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "Removed every second factor of admin {username}. They can sign in with their password{}; {} was told by email.",
        if two_factor.policy(crate::session::Realm::Admin) == crate::config::Policy::Required {
            " and must set up a new factor at once"
        } else {
            ""
        },
        target.email
    );
    Ok(())
}

async fn user_create(config: Config, args: &crate::cli::UserCreate) -> anyhow::Result<()> {
    let password = read_password()?;
    let state = open_migrated(config).await?;
    let (user_id, client_id) = account::create_user(
        &state,
        &NewUser {
            email: &args.email,
            first_name: &args.first_name,
            last_name: &args.last_name,
            password: &password,
            verified: true,
            owns_account: true,
        },
    )
    .await
    .map_err(explain)?;
    println!(
        "Created user {} (id {user_id}) owning client account {client_id}.",
        args.email
    );
    Ok(())
}

async fn open_migrated(config: Config) -> anyhow::Result<AppState> {
    let migrate = config.migrate_on_start;
    AppState::open(config, Arc::new(SystemClock), migrate).await
}

async fn ban(config: Config, command: BanCommand) -> anyhow::Result<()> {
    use crate::ban::{Bans, LiftError};
    let state = open_migrated(config).await?;
    let bans = Bans::from(&state);
    match command {
        BanCommand::List => {
            let listed = bans.list().await?;
            if listed.is_empty() {
                println!("No bans in force.");
            }
            for b in listed {
                println!("{}\t{}\tby {}\t{}", b.ip, b.until_phrase(), b.by, b.reason);
            }
        }
        BanCommand::Lift { address } => {
            let cli = crate::domain::Actor::Named("cli".into());
            match bans.lift(&address, &cli, Some("local")).await {
                Ok(ip) => println!("Lifted the ban on {ip}."),
                Err(LiftError::NotBanned(ip)) => println!("{ip} was not banned."),
                Err(LiftError::NotAnAddress(_)) => anyhow::bail!(
                    "ADDRESS: {address:?} is not an IP address, e.g. 203.0.113.7 or 2001:db8::1"
                ),
                Err(LiftError::Storage(e)) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn mail_test(config: Config, to: &str) -> anyhow::Result<()> {
    let state = open_migrated(config).await?;
    let mail = crate::mail::Mail::from(&state);
    println!("Sending through {} ...", mail.describe());
    let reply = mail.send_test(to).await?;
    println!(
        "Accepted: {}{}",
        reply.code.map(|c| format!("{c} ")).unwrap_or_default(),
        reply.text
    );
    Ok(())
}

async fn refresh_cloudflare(config: Config) -> anyhow::Result<()> {
    let state = open_migrated(config).await?;
    let done = crate::proxy::refresh_cloudflare(&state).await?;
    println!(
        "Stored Cloudflare's ranges from {}: {} IPv4 and {} IPv6.",
        done.source, done.v4, done.v6
    );
    Ok(())
}

async fn doctor_command(config: Config, json: bool, fix: Option<&str>) -> ExitCode {
    let state = match AppState::open(config, Arc::new(SystemClock), false).await {
        Ok(s) => s,
        Err(e) => {
            print_report(&[doctor::cannot_open_database(&e)], json);
            return ExitCode::from(2);
        }
    };
    if let Some(id) = fix {
        let actor = crate::domain::Actor::Named("cli".into());
        // No proxy times the CLI out: a bounded fix runs pass after pass until it is done.
        let scope = doctor::FixScope::UntilDone;
        return match doctor::fix(&state, id, &actor, "local", scope).await {
            Ok(fixed) => {
                println!("{}", fixed.message);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    let results = doctor::run_all(&state).await;
    print_report(&results, json);
    ExitCode::from(doctor::exit_code(&results))
}

fn print_report(results: &[CheckResult], json: bool) {
    if json {
        println!("{}", doctor::json_report(results));
        return;
    }
    for r in results {
        println!("[{:<7}] {}: {}", r.severity.as_str(), r.id, r.summary);
        if !r.cause.is_empty() {
            println!("          cause: {}", r.cause);
        }
        if !r.next_step.is_empty() {
            println!("          next step: {}", r.next_step);
        }
    }
}
