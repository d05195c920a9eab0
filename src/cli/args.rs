//! The command line's shape: every command, flag and help text, as clap types. This is the
//! documented interface (`portcullis --help`), so it changes only with the docs.
//!
//! Owns parsing only; what a command does is in `commands/`, and `mod.rs` dispatches to it.
//! Exit codes are a contract: 0 success; 1 doctor warnings (or a licence that may not be used);
//! 2 doctor failures, configuration errors and any command that could not do its job.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Portcullis: the authentication core of a hosting billing and client portal.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (defaults apply to every key it does not set)
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (migrates the database first unless told not to)
    Serve {
        /// Do not apply database migrations at start-up
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Manage admins
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage client-area users
    #[command(subcommand)]
    User(UserCommand),
    /// List or lift failed-login bans (break-glass for a locked-out admin)
    #[command(subcommand)]
    Ban(BanCommand),
    /// Proxy set-up: refresh Cloudflare's ranges
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// Forward authentication: explain how a URL is decided ("why was this request denied")
    #[command(subcommand, name = "forward-auth")]
    ForwardAuth(ForwardAuthCommand),
    /// Mail: send a test message through the configured transport
    #[command(subcommand)]
    Mail(MailCommand),
    /// Software licences: check one against a licensing server
    #[command(subcommand)]
    License(LicenseCommand),
    /// OpenID provider: list and rotate the signing keys
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Admin API: make API credentials
    #[command(subcommand)]
    Api(ApiCommand),
    /// Run every scheduled task that is due, once, and exit (for a system cron every 5 minutes);
    /// exit 0 when every task that ran succeeded, 2 otherwise
    Cron,
    /// Run every diagnostic check; exit 0 all ok, 1 warnings, 2 failures
    Doctor {
        /// Print one JSON object instead of text
        #[arg(long)]
        json: bool,
        /// Apply the one-step fix of the check with this id
        #[arg(long, value_name = "ID")]
        fix: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin; the password is read from standard input
    Create(AdminCreate),
    /// Break-glass: remove every second factor of an admin (audit-logged; the admin is emailed)
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        /// The admin's username
        #[arg(long)]
        username: String,
    },
    /// End every session of an admin on every node, with the client sessions they opened with
    /// "login as client" (audit-logged)
    SignOut {
        /// The admin's username
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Args)]
pub struct AdminCreate {
    /// Username: starts with a letter, letters and digits only
    #[arg(long)]
    pub username: String,
    /// Email address
    #[arg(long)]
    pub email: String,
    /// Role name
    #[arg(long, default_value = "Full Administrator")]
    pub role: String,
    /// Read the password from standard input (required: passwords never go on the command line)
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and a client account they own; the password is read from standard input
    Create(UserCreate),
    /// End every session of a user on every node (audit-logged)
    SignOut {
        /// The user's email address
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Args)]
pub struct UserCreate {
    /// Email address (the user signs in with it)
    #[arg(long)]
    pub email: String,
    /// First name
    #[arg(long)]
    pub first_name: String,
    /// Last name
    #[arg(long)]
    pub last_name: String,
    /// Read the password from standard input (required: passwords never go on the command line)
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum BanCommand {
    /// List the bans in force
    List,
    /// Lift the ban on an address
    Lift {
        /// The banned address, e.g. 203.0.113.7
        address: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Download Cloudflare's current ranges from proxy.cloudflare_url and store them
    RefreshCloudflare,
}

#[derive(Debug, Subcommand)]
pub enum ForwardAuthCommand {
    /// Which access rule a URL meets, what it asks, and whether a given person passes
    Explain {
        /// The full URL the browser opened, e.g. https://status.example.com/board
        url: String,
        /// Judge it for this admin (by username)
        #[arg(long, conflicts_with = "user")]
        admin: Option<String>,
        /// Judge it for this client-area user (by email)
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Check a licence now and print every step (DNS, connect, TLS, HTTP, signature) and the
    /// verdict; exit 0 when the licence may be used, 1 when not
    Check(LicenseCheck),
}

#[derive(Debug, Args)]
pub struct LicenseCheck {
    /// The licensing server, e.g. https://portal.example.com
    #[arg(long)]
    pub server: String,
    /// The licence key
    #[arg(long)]
    pub key: String,
    /// This installation's domain
    #[arg(long, default_value = "")]
    pub domain: String,
    /// This installation's IP address
    #[arg(long, default_value = "")]
    pub ip: String,
    /// This installation's directory
    #[arg(long, default_value = "")]
    pub directory: String,
    /// A pinned public key, KEY_ID=BASE64URL (repeatable); without one, the server's published
    /// keys are fetched and trusted for this check only
    #[arg(long = "public-key", value_name = "KEY_ID=KEY")]
    pub public_keys: Vec<String>,
    /// Extra trusted CA certificates (PEM), for a server with a private CA
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Make an API credential for an admin who holds api_access, and print its identifier and
    /// its secret (shown this once; audit-logged)
    CreateCredential {
        /// The admin the credential acts as
        #[arg(long)]
        username: String,
        /// What it is for, e.g. "billing"
        #[arg(long)]
        label: String,
        /// An API role it may use (repeat for several), e.g. users.read
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// An address or range calls must come from (repeat for several; none: any)
        #[arg(long = "allow")]
        allowed: Vec<String>,
        /// Days until it stops working (none: until revoked)
        #[arg(long)]
        expires_days: Option<i64>,
    },
    /// List API credentials (every admin's, or one admin's): identifier, admin, label, roles,
    /// limits, last use and whether revoked; never the secrets
    ListCredentials {
        /// Only this admin's
        #[arg(long)]
        username: Option<String>,
    },
    /// Revoke an API credential at once (audit-logged)
    RevokeCredential {
        /// Its identifier (`pc_...`)
        #[arg(long)]
        identifier: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// List the signing keys: algorithm, key id, state (published, signing, retired) and
    /// whether the JWKS still lists it
    Keys,
    /// Publish a new signing key; it signs a day later, so relying parties have it first, and
    /// the key it replaces stays published for a week
    RotateKey {
        /// The algorithm: RS256, ES256 or EdDSA
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// Sign with the new key at once (a leaked key): relying parties that cached the key
        /// set refuse new tokens until they fetch it again
        #[arg(long)]
        now: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send one message now (not through the queue) and print the server's answer
    Test {
        /// Recipient address
        #[arg(long)]
        to: String,
    },
}
