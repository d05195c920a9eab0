//! Client-area pages, one file per page.

pub mod account;
pub mod clientarea;
pub mod email;
pub mod licenses;
pub mod login;
pub mod password;
pub mod register;
pub mod sessions;
pub mod users;
pub mod verify;
