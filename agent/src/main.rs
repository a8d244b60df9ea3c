//! `stepwise-agent`: the daemon. `stepwise-agent --config FILE` runs it;
//! `stepwise-agent check --config FILE` validates a file and lists every problem.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use stepwise_agent::config::AgentConfig;
use stepwise_agent::{Agent, HealthPort};

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
    // Colours only on a terminal: a file, a pipe or the journal gets plain text.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
    // The health/metrics port belongs to the daemon, not to one configuration:
    // a reload keeps it (and its socket) unless `[http] listen` changed.
    let mut port = match HealthPort::reconcile(None, cfg.http.as_ref().map(|h| h.listen)).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stepwise-agent: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    announce(port.as_ref());
    let mut draining = Vec::new();
    let (mut stop_tx, mut run) = start(cfg.clone(), port.clone());
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
                let new = match AgentConfig::load(&cli.config, true) {
                    Ok(new) => new,
                    Err(e) => {
                        tracing::error!(error = %e, "reload refused; the current configuration stays");
                        continue;
                    }
                };
                let wanted = new.http.as_ref().map(|h| h.listen);
                let moved = port.as_ref().map(HealthPort::configured_addr) != wanted;
                match HealthPort::reconcile(port.clone(), wanted).await {
                    Ok(p) => port = p,
                    Err(e) => {
                        tracing::error!(error = %e, "reload refused: the new [http] listen address cannot be opened; the current configuration stays");
                        continue;
                    }
                }
                if moved {
                    announce(port.as_ref());
                }
                tracing::info!("configuration reloaded; running tasks finish on the old handlers");
                // The old worker stops polling; its running tasks finish in the background.
                let _ = stop_tx.send(());
                draining.push(run);
                cfg = new;
                (stop_tx, run) = start(cfg.clone(), port.clone());
            }
        }
    }
}

/// One line on stdout with the address the health/metrics port listens on.
fn announce(port: Option<&HealthPort>) {
    if let Some(p) = port {
        println!("stepwise-agent http listening on {}", p.local_addr());
    }
}

type Running = tokio::task::JoinHandle<Result<(), stepwise_agent::AgentError>>;

fn start(
    cfg: AgentConfig,
    port: Option<HealthPort>,
) -> (tokio::sync::oneshot::Sender<()>, Running) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut agent = Agent::new(cfg);
    if let Some(p) = port {
        agent = agent.with_health_port(p);
    }
    let run = tokio::spawn(agent.run(async move {
        let _ = stop_rx.await;
    }));
    (stop_tx, run)
}
