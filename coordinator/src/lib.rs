//! # stepwise-coordinator
//!
//! An AWS Step Functions compatible server: the AWS JSON 1.0 API over axum,
//! an engine that asks `stepwise-asl` what happens next, commits it, then acts,
//! timers, activity queues, and a durable store (SQLite by default).
//!
//! The binary is a thin `main.rs` over [`serve`]; tests build the same app
//! in-process with [`start`].
#![forbid(unsafe_code)]

pub mod api;
pub mod arn;
pub mod config;
pub mod engine;
pub mod store;
pub mod time;
pub mod token;

use config::Settings;
use engine::{Engine, EngineConfig, EngineHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;
use tokio_util::sync::CancellationToken;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened or loaded.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The engine could not start.
    #[error("engine: {0}")]
    Engine(#[from] engine::StartError),
    /// The listener failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// A running coordinator: its address, a handle to its engine, and how to stop it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The engine.
    pub engine: EngineHandle,
    cancel: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    engine_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting requests, lets the engine commit its last round, and waits.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.server.await;
        let _ = self.engine_task.await;
    }
}

/// Opens the store named by the settings.
pub fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, store::StoreError> {
    if settings.in_memory {
        Ok(Arc::new(store::memory::MemoryStore::new()))
    } else {
        Ok(Arc::new(store::sqlite::SqliteStore::open(
            &settings.data_dir,
        )?))
    }
}

/// Starts the coordinator on the settings' address and returns once it listens.
pub async fn start(settings: Settings) -> Result<Running, ServeError> {
    let store = open_store(&settings)?;
    let cfg = EngineConfig {
        scope: arn::ArnScope {
            region: settings.region.clone(),
            account: settings.account_id.clone(),
        },
        wait_scale: settings.wait_time_scale,
    };
    let engine =
        tokio::task::block_in_place(|| Engine::load(cfg, store, Arc::new(time::SystemClock)))?;
    let cancel = CancellationToken::new();
    let (handle, engine_task) = engine.spawn(cancel.child_token());
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    // Small request/response exchanges (long polls, task answers) must not
    // wait for Nagle + delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let app = api::app(handle.clone(), cancel.clone());
    let stop = cancel.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    tracing::info!(%addr, "stepwise coordinator listening");
    Ok(Running {
        addr,
        engine: handle,
        cancel,
        server,
        engine_task,
    })
}

/// Runs the coordinator until `shutdown` resolves.
pub async fn serve(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let running = start(settings).await?;
    // A plain line on stdout so scripts and tests can learn the bound port
    // (written without `println!`, which panics when stdout cannot be written).
    let line = format!("stepwise-coordinator listening on {}\n", running.addr);
    if let Err(e) = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes()) {
        tracing::warn!(error = %e, "could not write the listening address to stdout");
    }
    shutdown.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Installs the `tracing` subscriber: human-readable text or JSON lines, filtered by `RUST_LOG` (default `info`).
///
/// A log line that cannot be written (a full disk under a redirected stderr)
/// is lost, and nothing else: the subscriber's own report of such a failure
/// is an `eprintln!`, which panics when stderr fails, so it is turned off.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .log_internal_errors(false)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
