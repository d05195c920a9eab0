//! `portcullis serve`: start the web server and its workers, and print the one-time setup link
//! while no admin exists. Binding and the workers are `bootstrap.rs`; this only words it.

use crate::app::Application;
use crate::cli::Outcome;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::setup::Setup;
use std::sync::Arc;

/// Serves until a shutdown signal; `no_migrate` skips the migrations at start-up.
pub async fn run(mut config: Config, no_migrate: bool) -> Outcome {
    if no_migrate {
        config.migrate_on_start = false;
    }
    let system_url = config.system_url.clone();
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    tracing::info!(address = %app.address, system_url = %system_url, "Portcullis is listening");
    println!(
        "Portcullis is listening on http://{} (System URL {system_url})",
        app.address
    );
    if let Some(message) = Setup::from(&app.state).announce().await?.message() {
        println!("{message}");
    }
    app.start_workers();
    app.run_until(crate::bootstrap::shutdown_signal()).await
}
