//! Pure types every layer shares: ids, the realm, audit actors and actions.
//!
//! Nothing here does I/O, reads the time or knows HTTP or SQL: services, storage and front ends
//! all speak these types, so an id of one kind cannot be passed where another is expected and a
//! realm or an audit action is never a string typed twice.

pub mod audit;
pub mod id;
pub mod realm;

pub use audit::{Action, Actor};
pub use id::{AdminId, ClientId, RoleId, UserId};
pub use realm::Realm;
