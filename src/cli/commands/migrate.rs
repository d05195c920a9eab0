//! `portcullis migrate`: apply the database migrations and say how many ran, and whether the
//! database has newer ones (another node already upgraded). The work is `bootstrap::migrate`.

use crate::cli::Outcome;
use crate::config::Config;

/// Migrates and reports.
pub async fn run(config: Config) -> Outcome {
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
