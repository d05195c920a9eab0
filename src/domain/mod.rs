//! Pure types every layer shares: ids, the realm, audit actors and actions, a licence's status
//! and the app's own URLs that several files name (`paths`).
//!
//! Nothing here does I/O, reads the time or knows HTTP or SQL: services, storage and front ends
//! all speak these types, so an id of one kind cannot be passed where another is expected and a
//! realm, an audit action, a licence status or one of the app's URLs is never a string typed
//! twice.

pub mod audit;
pub mod id;
pub mod license;
pub mod paths;
pub mod realm;

pub use audit::{Action, Actor};
pub use id::{AdminId, ClientId, RoleId, UserId};
pub use license::LicenseStatus;
pub use realm::Realm;
