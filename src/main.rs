//! The `portcullis` binary: parse the command line, run the command, exit with its code.

use clap::Parser as _;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = portcullis::cli::Cli::parse();
    portcullis::cli::execute(cli).await
}
