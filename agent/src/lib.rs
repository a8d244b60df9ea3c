//! # stepwise-agent
//!
//! The polling daemon for EC2, ECS and on-premise hosts: it long-polls for
//! activity tasks and runs the handlers it is configured with — a program
//! (`exec`), an HTTP endpoint (`http`), or Rust code linked against the SDK.
//!
//! It is a library too: a user's own binary adds Rust handlers beside the
//! configured ones.
//!
//! ```no_run
//! use stepwise_agent::{Agent, config::AgentConfig};
//! use stepwise_sdk::{TaskEvent, TaskFailure, service_fn, worker::ActivityOptions};
//!
//! # async fn demo() -> Result<(), stepwise_agent::AgentError> {
//! let config = AgentConfig::load("/etc/stepwise/agent.toml".as_ref(), false)?;
//! Agent::new(config)
//!     .rust_handler("greet", ActivityOptions::default(), service_fn(|e: TaskEvent<serde_json::Value>| async move {
//!         Ok::<_, TaskFailure>(serde_json::json!({"hello": e.payload["name"]}))
//!     }))
//!     .run(stepwise_sdk::worker::shutdown_signal())
//!     .await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod exec;
pub mod http;

use config::{AgentConfig, HandlerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use stepwise_sdk::worker::{ActivityOptions, WorkerBuilder, WorkerMetrics};
use stepwise_sdk::{Client, TaskContext, TaskEvent, TaskFailure, Worker, service_fn};
use tower::Service;

/// Why the agent stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The client could not be built or the coordinator refused a call.
    #[error(transparent)]
    Client(#[from] stepwise_sdk::Error),
    /// The worker could not start.
    #[error(transparent)]
    Worker(#[from] stepwise_sdk::worker::WorkerError),
    /// The metrics port could not be opened.
    #[error("http port: {0}")]
    Io(#[from] std::io::Error),
}

type Registrar = Arc<dyn Fn(WorkerBuilder) -> WorkerBuilder + Send + Sync>;

/// The agent: configured handlers plus Rust handlers.
#[derive(Clone)]
pub struct Agent {
    config: AgentConfig,
    rust: Vec<Registrar>,
    health: Option<HealthPort>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("activities", &self.config.activities.keys())
            .field("rust_handlers", &self.rust.len())
            .finish()
    }
}

impl Agent {
    /// An agent for a configuration.
    pub fn new(config: AgentConfig) -> Self {
        Self {
            config,
            rust: Vec::new(),
            health: None,
        }
    }

    /// Serves `/healthz` and `/metrics` on a port opened by the caller, which
    /// outlives this agent (a reload starts a new agent on the same port);
    /// without one, [`Agent::run`] opens `[http] listen` itself and closes it
    /// when it stops.
    pub fn with_health_port(mut self, port: HealthPort) -> Self {
        self.health = Some(port);
        self
    }

    /// Adds a Rust handler for an activity (ARN or name).
    pub fn rust_handler<S, T, R>(
        mut self,
        activity: impl Into<String>,
        options: ActivityOptions,
        handler: S,
    ) -> Self
    where
        S: Service<TaskEvent<T>, Response = R> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<TaskFailure> + Send + 'static,
        T: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
    {
        let activity = activity.into();
        self.rust.push(Arc::new(move |b: WorkerBuilder| {
            b.activity_with(activity.clone(), handler.clone(), options.clone())
        }));
        self
    }

    /// Replaces the configuration (SIGHUP reload); Rust handlers stay.
    pub fn with_config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// The API client the configuration describes.
    pub fn client(&self) -> Result<Client, AgentError> {
        let c = &self.config.coordinator;
        let mut b = Client::builder().from_env();
        if let Some(e) = &c.endpoint {
            b = b.endpoint_url(e);
        }
        if let Some(r) = &c.region {
            b = b.region(r);
        }
        if let Some(ca) = &c.ca_bundle {
            b = b.ca_bundle_pem(std::fs::read(ca)?);
        }
        Ok(b.build()?)
    }

    /// Builds the worker: resolves activity names (creating them), which also
    /// proves the coordinator answers.
    pub async fn worker(&self) -> Result<Worker, AgentError> {
        let client = self.client()?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| stepwise_sdk::Error::Config(e.to_string()))?;
        let worker_name = match &self.config.worker_name {
            Some(n) => n.clone(),
            None => ecs_task_id(&http).await.unwrap_or_else(default_worker_name),
        };
        let mut b = Worker::builder()
            .client(client)
            .worker_name(worker_name)
            .shutdown_deadline(Duration::from_secs(self.config.shutdown_deadline_seconds));
        for (name, a) in &self.config.activities {
            let activity = a.arn.clone().unwrap_or_else(|| name.clone());
            let options = ActivityOptions {
                concurrency: a.concurrency,
                heartbeat_interval: Duration::from_secs(a.heartbeat_seconds),
                pollers: a.concurrency.min(2),
            };
            let timeout = Duration::from_secs(a.timeout_seconds);
            b = match &a.handler {
                HandlerConfig::Exec {
                    command,
                    env,
                    cwd,
                    exit_codes,
                } => {
                    let h = Arc::new(exec::ExecHandler {
                        command: command.clone(),
                        env: env.clone(),
                        cwd: cwd.clone(),
                        exit_codes: exit_codes
                            .iter()
                            .filter_map(|(k, v)| Some((k.parse::<i32>().ok()?, v.clone())))
                            .collect::<BTreeMap<_, _>>(),
                        timeout,
                    });
                    b.activity_with(
                        activity,
                        service_fn(move |e: TaskEvent<Value>| {
                            let h = h.clone();
                            async move { logged(e.context, |ctx| h.run(e.payload, ctx)).await }
                        }),
                        options,
                    )
                }
                HandlerConfig::Http { url, headers } => {
                    let h = Arc::new(http::HttpHandler {
                        url: url.clone(),
                        headers: headers.clone(),
                        timeout,
                        client: http.clone(),
                    });
                    b.activity_with(
                        activity,
                        service_fn(move |e: TaskEvent<Value>| {
                            let h = h.clone();
                            async move { logged(e.context, |ctx| h.run(e.payload, ctx)).await }
                        }),
                        options,
                    )
                }
            };
        }
        for r in &self.rust {
            b = r(b);
        }
        Ok(b.build().await?)
    }

    /// Runs until `shutdown` resolves: READY=1 once the coordinator answered,
    /// STATUS= with live counts, WATCHDOG=1 when systemd asks, STOPPING=1 at the end.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
        let worker = self.worker().await?;
        let metrics = worker.metrics();
        let own_port = match (&self.health, &self.config.http) {
            (Some(_), _) | (None, None) => None,
            (None, Some(h)) => Some(HealthPort::bind(h.listen).await?),
        };
        if let Some(port) = self.health.as_ref().or(own_port.as_ref()) {
            port.add_metrics(metrics.clone());
        }
        let stop = worker.shutdown_handle();
        let running = tokio::spawn(worker.run());
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        tracing::info!(
            activities = self.config.activities.len() + self.rust.len(),
            "agent ready"
        );
        let status = tokio::spawn(report_status(metrics));
        shutdown.await;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        tracing::info!("stopping: no new tasks; running tasks get the shutdown deadline");
        stop.initiate_shutdown();
        let _ = running.await;
        status.abort();
        if let Some(p) = own_port {
            p.close().await;
        }
        Ok(())
    }
}

/// Runs one task and logs one INFO line about it: the activity, the start of
/// its token, the outcome (the error name when it failed) and how long it took.
async fn logged<F, Fut>(ctx: TaskContext, run: F) -> Result<Value, TaskFailure>
where
    F: FnOnce(TaskContext) -> Fut,
    Fut: Future<Output = Result<Value, TaskFailure>>,
{
    let activity = ctx
        .activity_arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let token: String = ctx.task_token.chars().take(12).collect();
    let started = std::time::Instant::now();
    let r = run(ctx).await;
    let ms = started.elapsed().as_millis() as u64;
    match &r {
        Ok(_) => tracing::info!(%activity, %token, outcome = "succeeded", ms, "task"),
        Err(f) => {
            tracing::info!(%activity, %token, outcome = "failed", error = %f.error, ms, "task")
        }
    }
    r
}

async fn report_status(metrics: Arc<WorkerMetrics>) {
    let watchdog = sd_notify::watchdog_enabled();
    let every = watchdog
        .map(|d| d / 2)
        .unwrap_or(Duration::from_secs(5))
        .max(Duration::from_millis(100));
    loop {
        let status = format!(
            "{} running, {} succeeded, {} failed, {} polls",
            metrics.in_flight.load(Ordering::Relaxed),
            metrics.tasks_succeeded.load(Ordering::Relaxed),
            metrics.tasks_failed.load(Ordering::Relaxed),
            metrics.polls.load(Ordering::Relaxed)
        );
        let mut states = vec![sd_notify::NotifyState::Status(&status)];
        if watchdog.is_some() {
            states.push(sd_notify::NotifyState::Watchdog);
        }
        let _ = sd_notify::notify(&states);
        tokio::time::sleep(every).await;
    }
}

/// The `/healthz` and Prometheus `/metrics` port. It stays open across
/// configuration reloads: each agent started on it adds its worker's counters,
/// and `/metrics` reports the sum (so counters never go back). Dropping the
/// last clone closes it.
#[derive(Clone, Debug)]
pub struct HealthPort {
    inner: Arc<PortInner>,
}

#[derive(Debug)]
struct PortInner {
    configured: std::net::SocketAddr,
    local: std::net::SocketAddr,
    metrics: std::sync::Mutex<Vec<Arc<WorkerMetrics>>>,
    stop: tokio_util::sync::CancellationToken,
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl HealthPort {
    /// Opens the port (`[http] listen`).
    pub async fn bind(addr: std::net::SocketAddr) -> Result<Self, AgentError> {
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let inner = Arc::new(PortInner {
            configured: addr,
            local: listener.local_addr()?,
            metrics: std::sync::Mutex::new(Vec::new()),
            stop: tokio_util::sync::CancellationToken::new(),
            server: std::sync::Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/metrics",
                get(move || {
                    let weak = weak.clone();
                    async move {
                        weak.upgrade()
                            .map(|p| HealthPort { inner: p }.render())
                            .unwrap_or_default()
                    }
                }),
            );
        let stop = inner.stop.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        if let Ok(mut s) = inner.server.lock() {
            *s = Some(server);
        }
        Ok(Self { inner })
    }

    /// The address in the configuration.
    pub fn configured_addr(&self) -> std::net::SocketAddr {
        self.inner.configured
    }

    /// The address it listens on (the real port when the configuration says 0).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.inner.local
    }

    /// Keeps the port if the configuration still names its address, opens the
    /// new address if it changed (closing the old one once the new one is
    /// open), closes it if `[http]` is gone. If the new address cannot be
    /// opened, the error is returned and `current` is dropped: the caller
    /// decides (the daemon keeps its old port by reconciling a clone).
    pub async fn reconcile(
        current: Option<HealthPort>,
        wanted: Option<std::net::SocketAddr>,
    ) -> Result<Option<HealthPort>, AgentError> {
        match (current, wanted) {
            (Some(p), Some(a)) if p.configured_addr() == a => Ok(Some(p)),
            (Some(p), Some(a)) => {
                let new = HealthPort::bind(a).await?;
                for m in p.all_metrics() {
                    new.add_metrics(m);
                }
                p.close().await;
                Ok(Some(new))
            }
            (None, Some(a)) => Ok(Some(HealthPort::bind(a).await?)),
            (Some(p), None) => {
                p.close().await;
                Ok(None)
            }
            (None, None) => Ok(None),
        }
    }

    /// Stops listening (also for the other clones) once open requests are answered.
    pub async fn close(&self) {
        self.inner.stop.cancel();
        let server = self.inner.server.lock().ok().and_then(|mut s| s.take());
        if let Some(s) = server {
            let _ = s.await;
        }
    }

    fn all_metrics(&self) -> Vec<Arc<WorkerMetrics>> {
        self.inner
            .metrics
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    fn add_metrics(&self, m: Arc<WorkerMetrics>) {
        if let Ok(mut v) = self.inner.metrics.lock() {
            v.push(m);
        }
    }

    fn render(&self) -> String {
        let total = WorkerMetrics::default();
        if let Ok(v) = self.inner.metrics.lock() {
            for m in v.iter() {
                let add = |to: &std::sync::atomic::AtomicU64,
                           from: &std::sync::atomic::AtomicU64| {
                    to.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
                };
                add(&total.polls, &m.polls);
                add(&total.empty_polls, &m.empty_polls);
                add(&total.poll_errors, &m.poll_errors);
                add(&total.tasks_started, &m.tasks_started);
                add(&total.tasks_succeeded, &m.tasks_succeeded);
                add(&total.tasks_failed, &m.tasks_failed);
                add(&total.tasks_cancelled, &m.tasks_cancelled);
                add(&total.in_flight, &m.in_flight);
                add(&total.handler_micros_total, &m.handler_micros_total);
            }
        }
        render_metrics(&total)
    }
}

/// The worker's counters in the Prometheus text format.
pub fn render_metrics(m: &WorkerMetrics) -> String {
    let c = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed);
    let done = c(&m.tasks_succeeded) + c(&m.tasks_failed);
    format!(
        "# TYPE stepwise_agent_polls_total counter\nstepwise_agent_polls_total {}\n\
         # TYPE stepwise_agent_empty_polls_total counter\nstepwise_agent_empty_polls_total {}\n\
         # TYPE stepwise_agent_poll_errors_total counter\nstepwise_agent_poll_errors_total {}\n\
         # TYPE stepwise_agent_tasks_total counter\n\
         stepwise_agent_tasks_total{{outcome=\"started\"}} {}\n\
         stepwise_agent_tasks_total{{outcome=\"succeeded\"}} {}\n\
         stepwise_agent_tasks_total{{outcome=\"failed\"}} {}\n\
         stepwise_agent_tasks_total{{outcome=\"cancelled\"}} {}\n\
         # TYPE stepwise_agent_tasks_in_flight gauge\nstepwise_agent_tasks_in_flight {}\n\
         # TYPE stepwise_agent_handler_seconds summary\n\
         stepwise_agent_handler_seconds_sum {}\nstepwise_agent_handler_seconds_count {}\n",
        c(&m.polls),
        c(&m.empty_polls),
        c(&m.poll_errors),
        c(&m.tasks_started),
        c(&m.tasks_succeeded),
        c(&m.tasks_failed),
        c(&m.tasks_cancelled),
        c(&m.in_flight),
        c(&m.handler_micros_total) as f64 / 1e6,
        done
    )
}

/// The ECS task id, from the task metadata endpoint (v4) when running in ECS.
pub async fn ecs_task_id(http: &reqwest::Client) -> Option<String> {
    let base = std::env::var("ECS_CONTAINER_METADATA_URI_V4").ok()?;
    ecs_task_id_from(http, &base).await
}

/// The task id from a task metadata endpoint at `base`.
pub async fn ecs_task_id_from(http: &reqwest::Client, base: &str) -> Option<String> {
    let task: Value = http
        .get(format!("{base}/task"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    task["TaskARN"]
        .as_str()?
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The host name.
pub fn default_worker_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "stepwise-agent".into())
}

/// A handler that runs a configured program, for use as a Rust handler too.
pub async fn run_exec(
    handler: &exec::ExecHandler,
    input: Value,
    ctx: TaskContext,
) -> Result<Value, TaskFailure> {
    handler.run(input, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ecs_task_id_comes_from_the_metadata_endpoint() {
        let app = axum::Router::new().route(
            "/v4/task",
            axum::routing::get(|| async {
                r#"{"TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/orders/0f1e2d3c"}"#
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let http = reqwest::Client::new();
        assert_eq!(
            ecs_task_id_from(&http, &format!("http://{addr}/v4"))
                .await
                .as_deref(),
            Some("0f1e2d3c")
        );
        assert_eq!(
            ecs_task_id_from(&http, "http://127.0.0.1:1/nothing").await,
            None
        );
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
        reqwest::get(format!("http://{addr}{path}"))
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    #[tokio::test]
    async fn the_health_port_is_kept_when_its_address_is_unchanged_and_moved_when_it_changed() {
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let port = HealthPort::bind(any).await.unwrap();
        let first = port.local_addr();
        let m = Arc::new(WorkerMetrics::default());
        m.polls.store(5, Ordering::Relaxed);
        port.add_metrics(m);
        assert_eq!(get(first, "/healthz").await.as_deref(), Some("ok"));

        // Same configured address: the same socket, counters kept.
        let port = HealthPort::reconcile(Some(port), Some(any))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(port.local_addr(), first);
        let m2 = Arc::new(WorkerMetrics::default());
        m2.polls.store(2, Ordering::Relaxed);
        port.add_metrics(m2);
        let text = get(first, "/metrics").await.unwrap();
        assert!(text.contains("stepwise_agent_polls_total 7"), "{text}");

        // A new address: opened, and the old one closed.
        let free = std::net::TcpListener::bind(any).unwrap();
        let wanted = free.local_addr().unwrap();
        drop(free);
        let port = HealthPort::reconcile(Some(port), Some(wanted))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(port.local_addr(), wanted);
        assert_eq!(get(wanted, "/healthz").await.as_deref(), Some("ok"));
        assert_eq!(
            get(first, "/healthz").await,
            None,
            "the old port still answers"
        );

        // [http] removed: closed.
        assert!(
            HealthPort::reconcile(Some(port), None)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(get(wanted, "/healthz").await, None);
    }

    #[test]
    fn metrics_render_in_prometheus_format() {
        let m = WorkerMetrics::default();
        m.polls.store(3, Ordering::Relaxed);
        m.tasks_succeeded.store(2, Ordering::Relaxed);
        let text = render_metrics(&m);
        assert!(text.contains("stepwise_agent_polls_total 3"));
        assert!(text.contains("stepwise_agent_tasks_total{outcome=\"succeeded\"} 2"));
    }
}
