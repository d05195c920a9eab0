//! The integration suite: one binary, the real application on a real port with a fresh SQLite
//! database per test, driven over HTTP. Files are named after features; fault reproductions are
//! named after their row in faults.md (`f02_...`).

mod helpers;

mod accounts;
mod admin_rules;
mod app_paths;
mod audit_events;
mod audit_log;
mod bad_input;
mod bans;
mod cli;
mod client_accounts;
mod crash_safety;
mod database_outage;
mod deployment_docs;
mod doctor;
mod doctor_accounts;
mod doctor_states;
mod duo_protocol;
mod f01_proxy;
mod f02_logouts;
mod f05_system_url;
mod f06_cookies_csrf_storage;
mod f08_access;
mod f08_login_as;
mod f09_session_gc;
mod f12_duo;
mod f13_timezone;
mod grants;
mod hashing;
mod housekeeping;
mod layering;
mod license_client;
mod license_status;
mod licensing;
mod login;
mod mail;
mod nodes;
mod password;
mod postgres_tls;
mod register;
mod review_licensing;
mod review_password_storage;
mod scheduler;
mod schema;
mod sessions;
mod setup;
mod storage;
mod two_factor_admin;
mod two_factor_totp;
mod two_factor_webauthn;
mod webauthn_soft;
