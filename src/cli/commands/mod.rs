//! One file per command, each with a `run` that `cli::execute` calls with the loaded
//! configuration and the command's parsed arguments. A command calls services and prints
//! their answers; the helpers they share (state, password, actor, wording) are in `cli/mod.rs`.

pub mod admin;
pub mod api;
pub mod ban;
pub mod cron;
pub mod doctor;
pub mod forward_auth;
pub mod license;
pub mod mail;
pub mod migrate;
pub mod oidc;
pub mod proxy;
pub mod serve;
pub mod user;
