//! Portcullis: the authentication core of a hosting billing and client portal.
//!
//! One binary serves the client area (`/`) and the admin area (`/admin`) with server-side
//! sessions, CSRF protection, a canonical System URL and a `doctor` that diagnoses the classic
//! sign-in faults. See ARCHITECTURE.md for the module map and the request pipeline.
//!
//! - [`domain`]: pure shared types (ids, realm, audit actors and actions).
//! - [`config`]: boot configuration (defaults, file, environment), validated into types.
//! - [`app`]: shared state; [`bootstrap`]: start-up (state, router, workers).
//! - [`clock`]: the only source of the current time.
//! - `db` (visible inside the crate only): the pool, migrations and every SQL query;
//!   [`bootstrap`] opens a pool for tools and tests outside it.
//! - [`auth`]: passwords, the password policy and the sign-in decision.
//! - [`account`]: creating admins and users.
//! - [`audit`]: the audit log: the one writer of entries for services, search and export.
//! - [`session`]: server-side sessions and why they end.
//! - [`settings`]: runtime settings stored in the database.
//! - [`net`]: address ranges, client address behind proxies, Cloudflare ranges.
//! - [`csrf`]: stateless CSRF tokens.
//! - [`mail`]: the outgoing mail queue, its sender, transports and templates.
//! - [`twofactor`]: TOTP, backup codes, WebAuthn, Duo, pending sign-ins; [`sealing`]: secrets at rest.
//! - [`scheduler`]: scheduled tasks (housekeeping, daily tasks), leases and run records.
//! - [`forward_auth`]: forward authentication for reverse proxies (access rules, the decision).
//! - [`license`]: the licensing server (products, licences, verify decisions, signing keys).
//! - [`doctor`]: diagnostic checks; [`diagnostics`]: the counters the request pipeline keeps for it.
//! - [`web`]: HTTP only.
//! - [`cli`]: the command line (its commands in `cli/commands/`).

pub mod access;
pub mod account;
pub mod admin;
pub mod api_credential;
pub mod app;
pub mod audit;
pub mod auth;
pub mod ban;
pub mod bootstrap;
pub mod cli;
pub mod client_account;
pub mod clock;
pub mod config;
pub mod csrf;
pub(crate) mod db;
pub mod diagnostics;
pub mod doctor;
pub mod domain;
pub mod forward_auth;
#[doc(hidden)]
pub mod fuzzing;
pub mod impersonation;
pub mod invite;
pub mod jose;
pub mod license;
pub mod mail;
pub mod membership;
pub mod net;
pub mod oidc;
pub mod proxy;
pub mod request_origin;
pub mod reset;
pub mod role;
pub mod scheduler;
pub mod sealing;
pub mod session;
pub mod settings;
pub mod setup;
pub mod signin;
pub mod sso;
pub mod throttle;
pub mod token;
pub mod twofactor;
pub mod web;
