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
pub mod auth;
pub mod config;
pub mod console;
pub mod crash_guard;
pub mod engine;
pub mod integrations;
pub mod server;
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
    /// The mock file or the integration settings are wrong.
    #[error("{0}")]
    Integrations(#[from] integrations::SetupError),
    /// The keys file could not be used.
    #[error("{0}")]
    Keys(#[from] auth::keys::KeysError),
    /// The TLS certificate or key could not be used.
    #[error("{0}")]
    Tls(#[from] server::TlsError),
    /// A non-loopback address without authentication.
    #[error(
        "refusing to listen on {0} without authentication: give --auth-file FILE (README: Running on a network), or --insecure-no-auth to let anyone who reaches the port do anything"
    )]
    Unauthenticated(SocketAddr),
}

/// A running coordinator: its address, a handle to its engine, and how to stop it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The engine.
    pub engine: EngineHandle,
    /// The web console's bound address, when it is on.
    pub console_addr: Option<SocketAddr>,
    gate: auth::Gate,
    tls: Option<Arc<server::Tls>>,
    cancel: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    engine_task: tokio::task::JoinHandle<()>,
    /// The data directory's crash marker (none in memory).
    crash_guard: Option<crash_guard::CrashGuard>,
}

impl Running {
    /// Reads the keys file again (what SIGHUP does); the keys in use stay on error.
    pub fn reload(&self) -> Result<usize, auth::keys::KeysError> {
        self.gate.reload()
    }

    /// Reads the TLS certificate and key again (SIGHUP too); the ones in use stay on error.
    pub fn reload_tls(&self) -> Result<(), server::TlsError> {
        match &self.tls {
            Some(t) => t.reload(),
            None => Ok(()),
        }
    }

    /// Whether it serves HTTPS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Stops accepting requests, lets the engine commit its last round, and waits.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.server.await;
        let engine = self.engine_task.await;
        // A clean stop: running executions owe no crash.
        if let (Ok(()), Some(g)) = (engine, &self.crash_guard)
            && let Err(e) = g.clean_stop()
        {
            tracing::error!(error = %e, "could not remove the crash marker; the next start will count a crash");
        }
    }
}

/// Opens the store named by the settings.
pub fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, store::StoreError> {
    if let Some(url) = &settings.database_url {
        Ok(Arc::new(store::postgres::PostgresStore::open(url)?))
    } else if settings.in_memory {
        Ok(Arc::new(store::memory::MemoryStore::new()))
    } else {
        Ok(Arc::new(store::sqlite::SqliteStore::open(
            &settings.data_dir,
        )?))
    }
}

/// Starts the coordinator on the settings' address and returns once it listens.
pub async fn start(settings: Settings) -> Result<Running, ServeError> {
    let mocks = match &settings.mock_config {
        Some(path) => {
            Some(integrations::MockConfig::load(path).map_err(integrations::SetupError::from)?)
        }
        None => None,
    };
    let integrations = Arc::new(integrations::Integrations::new(
        settings.integrations.clone(),
        mocks,
    )?);
    let console_public = settings
        .console_listen
        .is_some_and(|a| !a.ip().is_loopback());
    if settings.auth_file.is_none() && (!settings.listen.ip().is_loopback() || console_public) {
        if !settings.insecure_no_auth {
            let at = match settings.console_listen {
                Some(c) if console_public => c,
                _ => settings.listen,
            };
            return Err(ServeError::Unauthenticated(at));
        }
        tracing::warn!(
            listen = %settings.listen,
            "--insecure-no-auth: listening on a non-loopback address without authentication; anyone who reaches this port can do anything"
        );
    }
    let gate = auth::Gate::new(
        settings.auth_file.clone(),
        &settings.region,
        &settings.account_id,
        auth::HostCheck::new(settings.listen, &settings.host_names),
        std::time::Duration::from_secs(settings.body_timeout_seconds),
    )?;
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(c), Some(k)) => Some(Arc::new(server::Tls::load(c, k)?)),
        _ => None,
    };
    let limits = server::Limits {
        max_connections: settings.max_connections,
        header_timeout: std::time::Duration::from_secs(settings.header_timeout_seconds),
        body_timeout: std::time::Duration::from_secs(settings.body_timeout_seconds),
    };
    let store = match &settings.database_url {
        // Waits (cancellably: `serve` drops this future on a signal) while
        // another coordinator owns the database's executions.
        Some(url) => {
            let url = url.clone();
            let pg =
                tokio::task::spawn_blocking(move || store::postgres::PostgresStore::connect(&url))
                    .await
                    .map_err(|e| {
                        store::StoreError::Database(format!("open the database: {e}"))
                    })??;
            pg.own().await?;
            Arc::new(pg)
        }
        None => open_store(&settings)?,
    };
    // Bound once the store is ours (a standby waiting for PostgreSQL does
    // not listen), and before the crash marker is written: nothing below
    // fails once it is written but the engine is not running.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let console_listener = match settings.console_listen {
        Some(at) => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|source| ServeError::Listen { addr: at, source })?;
            let a = l.local_addr()?;
            Some((l, a))
        }
        None => None,
    };
    let cfg = EngineConfig {
        scope: arn::ArnScope {
            region: settings.region.clone(),
            account: settings.account_id.clone(),
        },
        wait_scale: settings.wait_time_scale,
        integrations: integrations.clone(),
    };
    let guard = (!settings.in_memory && settings.database_url.is_none())
        .then(|| crash_guard::CrashGuard::new(&settings.data_dir, settings.crash_loop_limit));
    let engine = tokio::task::block_in_place(|| {
        Engine::load_failing(cfg, store, Arc::new(time::SystemClock), |running| {
            let Some(g) = &guard else {
                return Ok(engine::Fail::default());
            };
            Ok(engine::Fail {
                executions: g.at_start(running)?,
                error: crash_guard::ERROR.to_owned(),
                cause: g.cause(),
            })
        })
    })?
    .keep_express(settings.express_keep, settings.console_listen.is_some());
    let cancel = CancellationToken::new();
    let (handle, engine_task) = engine.spawn(cancel.child_token());
    // `aws-sdk:sfn:*` calls this coordinator unless told otherwise.
    let own_host = if addr.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    integrations.set_own_url(format!("{scheme}://{own_host}"));
    let app = api::app(handle.clone(), cancel.clone()).layer(axum::middleware::from_fn_with_state(
        gate.clone(),
        auth::gate,
    ));
    let console_addr = match console_listener {
        Some((l, console_addr)) => {
            let app = console::app(
                handle.clone(),
                gate.clone(),
                auth::HostCheck::new(console_addr, &settings.host_names),
                console::ConsoleSettings {
                    allow_changes: settings.console_allow_changes,
                },
            );
            tokio::spawn(server::run(l, app, tls.clone(), limits, cancel.clone()));
            tracing::info!(addr = %console_addr, "web console listening on /console/");
            Some(console_addr)
        }
        None => None,
    };
    let stop = cancel.clone();
    let server = tokio::spawn(server::run(listener, app, tls.clone(), limits, stop));
    tracing::info!(%addr, "stepwise coordinator listening");
    Ok(Running {
        addr,
        crash_guard: guard,
        console_addr,
        engine: handle,
        gate,
        tls,
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
    tokio::pin!(shutdown);
    // A standby coordinator waits in `start` until the one owning the
    // database stops or dies; a signal meanwhile stops it.
    let running = tokio::select! {
        r = start(settings) => r?,
        _ = &mut shutdown => return Ok(()),
    };
    // A plain line on stdout so scripts and tests can learn the bound port
    // (written without `println!`, which panics when stdout cannot be written).
    let mut line = format!("stepwise-coordinator listening on {}\n", running.addr);
    if let Some(c) = running.console_addr {
        let scheme = if running.tls() { "https" } else { "http" };
        line.push_str(&format!("stepwise console on {scheme}://{c}/console/\n"));
    }
    if let Err(e) = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes()) {
        tracing::warn!(error = %e, "could not write the listening address to stdout");
    }
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    loop {
        #[cfg(unix)]
        let reload = hup.recv();
        #[cfg(not(unix))]
        let reload = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = &mut shutdown => break,
            _ = reload => {
                match running.reload() {
                    Ok(n) => tracing::info!(keys = n, "SIGHUP: keys reloaded"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: reload failed; the previous keys stay in use"),
                }
                match running.reload_tls() {
                    Ok(()) if running.tls() => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Ok(()) => {}
                    Err(e) => tracing::error!(error = %e, "SIGHUP: reload failed; the previous certificate stays in use"),
                }
            }
        }
    }
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
///
/// The handlers are installed when this is called, not when the future is
/// first polled, so a signal that arrives while the server starts (after
/// it printed its address, say) stops it cleanly instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (term, int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
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
    // Colours only on a terminal: a file, a pipe or the journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
