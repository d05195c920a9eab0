//! A lost database as the front ends see it: which storage errors mean "unreachable" (a 503
//! "try again" page rather than a 500), reported once per outage.
//!
//! The recognition and the once-per-outage log live with the pool (`db::outage`, which also
//! tells the pool to check connections while an outage is seen); this is the service-level face
//! of it, so the error page names no storage module.

/// Whether `error` means the database could not be reached; when it does, the outage is
/// reported (logged at error level by the first request that meets it).
pub fn report_if_lost(error: &sqlx::Error) -> bool {
    let lost = crate::db::outage::is_connection_error(error);
    if lost {
        crate::db::outage::report_lost(error);
    }
    lost
}

/// Whether a lost connection is somewhere in `error`'s cause chain; when it is, the outage is
/// reported as by [`report_if_lost`].
pub fn report_if_lost_in(error: &anyhow::Error) -> bool {
    match crate::db::outage::find_connection_error(error) {
        Some(lost) => {
            crate::db::outage::report_lost(lost);
            true
        }
        None => false,
    }
}

/// Whether a lost connection is somewhere in `error`'s cause chain, without reporting it.
pub fn is_lost_in(error: &anyhow::Error) -> bool {
    crate::db::outage::find_connection_error(error).is_some()
}
