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
        }
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
                            async move { h.run(e.payload, e.context).await }
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
                            async move { h.run(e.payload, e.context).await }
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
        if let Some(port) = &self.config.http {
            serve_http(port.listen, metrics.clone()).await?;
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
        Ok(())
    }
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

/// `/healthz` and Prometheus `/metrics` on a loopback port.
async fn serve_http(
    addr: std::net::SocketAddr,
    metrics: Arc<WorkerMetrics>,
) -> Result<(), AgentError> {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { render_metrics(&m) }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
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
