//! Admin-area pages, one file per page.

pub mod admin_edit;
pub mod admins;
pub mod audit;
pub mod bans;
pub mod clients;
pub mod dashboard;
pub mod forward_auth;
pub mod health;
pub mod licenses;
pub mod login;
pub mod mail;
pub mod oidc_applications;
pub mod password;
pub mod proxy;
pub mod roles;
pub mod scheduler;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod two_factor;

use crate::web::extract::CurrentAdmin;
use crate::web::page::Nav;

/// The navigation bar for a signed-in admin.
pub fn nav(current: &CurrentAdmin, csrf: String) -> Nav {
    Nav::admin(current.admin.username.clone(), csrf, current.permissions)
}
