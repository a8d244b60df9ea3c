//! `stepwise-agent`: the daemon. `stepwise-agent --config FILE` runs it;
//! `stepwise-agent check --config FILE` validates a file and lists every problem.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use stepwise_agent::Agent;
use stepwise_agent::config::AgentConfig;

#[derive(Debug, Parser)]
#[command(
    name = "stepwise-agent",
    version,
    about = "Runs activity handlers for AWS Step Functions / Stepwise"
)]
struct Cli {
    /// The TOML configuration.
    #[arg(long, global = true, default_value = "/etc/stepwise/agent.toml")]
    config: PathBuf,
    /// `text` or `json` logs (overrides the file).
    #[arg(long, global = true)]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Validate the configuration and list every problem with its key.
    Check,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let loaded = AgentConfig::load(&cli.config, true);
    if let Some(Cmd::Check) = cli.command {
        return match loaded {
            Ok(c) => {
                println!(
                    "{}: ok ({} activities)",
                    cli.config.display(),
                    c.activities.len()
                );
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", cli.config.display());
                std::process::ExitCode::from(1)
            }
        };
    }
    let mut cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", cli.config.display());
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(
        cli.log_format
            .as_deref()
            .or(cfg.log_format.as_deref())
            .unwrap_or("text"),
    );

    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut draining = Vec::new();
    let (mut stop_tx, mut run) = start(cfg.clone());
    loop {
        let reload = async {
            #[cfg(unix)]
            if let Some(h) = hup.as_mut() {
                h.recv().await;
                return;
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            r = &mut run => {
                return match r {
                    Ok(Ok(())) => std::process::ExitCode::SUCCESS,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "agent failed");
                        eprintln!("stepwise-agent: {e}");
                        std::process::ExitCode::FAILURE
                    }
                    Err(e) => {
                        eprintln!("stepwise-agent: {e}");
                        std::process::ExitCode::FAILURE
                    }
                };
            }
            _ = stepwise_sdk::worker::shutdown_signal() => {
                let _ = stop_tx.send(());
                let _ = run.await;
                for d in draining {
                    let _ = d.await;
                }
                return std::process::ExitCode::SUCCESS;
            }
            _ = reload => {
                match AgentConfig::load(&cli.config, true) {
                    Ok(new) => {
                        tracing::info!("configuration reloaded; running tasks finish on the old handlers");
                        // The old worker stops polling; its running tasks finish in the background.
                        let _ = stop_tx.send(());
                        draining.push(run);
                        cfg = new;
                        (stop_tx, run) = start(cfg.clone());
                    }
                    Err(e) => tracing::error!(error = %e, "reload refused; the current configuration stays"),
                }
            }
        }
    }
}

type Running = tokio::task::JoinHandle<Result<(), stepwise_agent::AgentError>>;

fn start(cfg: AgentConfig) -> (tokio::sync::oneshot::Sender<()>, Running) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(Agent::new(cfg).run(async move {
        let _ = stop_rx.await;
    }));
    (stop_tx, run)
}
