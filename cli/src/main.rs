//! `stepwise`: see the crate's library for the subcommands.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    stepwise_cli::main(stepwise_cli::Cli::parse()).await
}
