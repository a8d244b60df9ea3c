//! The activity Worker runtime: long-poll `GetActivityTask`, run a handler,
//! answer with `SendTaskSuccess` / `SendTaskFailure`, heartbeat while it runs.
//!
//! A handler is any `tower::Service<TaskEvent<T>>` whose response serializes
//! and whose error converts into [`TaskFailure`]; [`service_fn`] turns an
//! async function into one. The whole program for a worker:
//!
//! ```no_run
//! use stepwise_sdk::worker::{TaskEvent, TaskFailure, service_fn};
//!
//! async fn charge(event: TaskEvent<serde_json::Value>) -> Result<serde_json::Value, TaskFailure> {
//!     Ok(serde_json::json!({"charged": event.payload["amount"]}))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), stepwise_sdk::worker::WorkerError> {
//!     stepwise_sdk::run("arn:aws:states:us-east-1:123456789012:activity:charge-card", service_fn(charge)).await
//! }
//! ```
//!
//! Design (after temporalio/sdk-core): a poller takes a concurrency permit
//! *before* it calls `GetActivityTask`, so the worker never holds a task it
//! cannot start; one cancellation token stops polling at once; in-flight tasks
//! get a deadline to finish, then are failed with `Worker.Shutdown` so the
//! workflow's Retry can move them elsewhere.

use crate::client::{Client, Error};
use crate::error::ErrorCode;
use crate::types::{
    GetActivityTaskInput, SendTaskFailureInput, SendTaskHeartbeatInput, SendTaskSuccessInput,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
pub use tower::service_fn;
use tower::{Service, ServiceExt};
use tracing::Instrument;

/// The largest output a task can return (256 KiB).
pub const MAX_OUTPUT_BYTES: usize = 262_144;

/// A boxed future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A task handed to a handler: its typed input and its context.
#[derive(Debug)]
pub struct TaskEvent<T> {
    /// The task's input, decoded.
    pub payload: T,
    /// Token, heartbeats, cancellation.
    pub context: TaskContext,
}

/// What a handler knows about its task.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The task token (for answering later, e.g. from another process).
    pub task_token: String,
    /// The activity the task came from.
    pub activity_arn: String,
    beat: Arc<Notify>,
    cancel: CancellationToken,
}

impl TaskContext {
    /// Asks for a heartbeat now. Cheap and non-blocking: the worker sends it
    /// (throttled) from its own task.
    pub fn heartbeat(&self) {
        self.beat.notify_one();
    }

    /// Resolves when the task is closed by the coordinator (timed out, the
    /// execution stopped) or the worker gives up on it at shutdown. The
    /// handler's result is then dropped.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether [`cancelled`](Self::cancelled) has fired.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A context for tests of handlers.
    pub fn for_tests(task_token: impl Into<String>) -> Self {
        Self {
            task_token: task_token.into(),
            activity_arn: String::new(),
            beat: Arc::new(Notify::new()),
            cancel: CancellationToken::new(),
        }
    }
}

/// How a task failed: the error name the workflow's Retry/Catch match, and a cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    /// Error name, e.g. `Payment.Declined` (at most 256 characters).
    pub error: String,
    /// Human-readable cause.
    pub cause: String,
}

impl TaskFailure {
    /// A failure with an error name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for TaskFailure {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self::new("Handler.Error", e.to_string())
    }
}

impl From<String> for TaskFailure {
    fn from(cause: String) -> Self {
        Self::new("Handler.Error", cause)
    }
}

impl From<&str> for TaskFailure {
    fn from(cause: &str) -> Self {
        Self::new("Handler.Error", cause)
    }
}

impl From<std::convert::Infallible> for TaskFailure {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The client could not be built or an activity could not be resolved.
    #[error(transparent)]
    Client(#[from] Error),
    /// No activity was registered.
    #[error("no activity registered")]
    NoActivities,
}

/// The calls the worker makes; [`Client`] implements it, tests mock it.
pub trait TaskApi: Send + Sync + 'static {
    /// Long-polls for a task: `(token, input)`, or `None` after an empty poll.
    fn poll(
        &self,
        activity: &str,
        worker: &str,
    ) -> BoxFuture<Result<Option<(String, String)>, Error>>;
    /// `SendTaskSuccess`.
    fn succeed(&self, token: &str, output: String) -> BoxFuture<Result<(), Error>>;
    /// `SendTaskFailure`.
    fn fail(&self, token: &str, error: String, cause: String) -> BoxFuture<Result<(), Error>>;
    /// `SendTaskHeartbeat`.
    fn heartbeat(&self, token: &str) -> BoxFuture<Result<(), Error>>;
}

impl TaskApi for Client {
    fn poll(
        &self,
        activity: &str,
        worker: &str,
    ) -> BoxFuture<Result<Option<(String, String)>, Error>> {
        let c = self.clone();
        let input = GetActivityTaskInput {
            activity_arn: activity.to_owned(),
            worker_name: Some(worker.to_owned()),
        };
        Box::pin(async move {
            let r = c.get_activity_task(input).await?;
            Ok(r.task_token
                .map(|t| (t, r.input.unwrap_or_else(|| "{}".into()))))
        })
    }
    fn succeed(&self, token: &str, output: String) -> BoxFuture<Result<(), Error>> {
        let c = self.clone();
        let input = SendTaskSuccessInput {
            task_token: token.to_owned(),
            output,
        };
        Box::pin(async move { c.send_task_success(input).await.map(|_| ()) })
    }
    fn fail(&self, token: &str, error: String, cause: String) -> BoxFuture<Result<(), Error>> {
        let c = self.clone();
        let input = SendTaskFailureInput {
            task_token: token.to_owned(),
            error: Some(error),
            cause: Some(cause),
        };
        Box::pin(async move { c.send_task_failure(input).await.map(|_| ()) })
    }
    fn heartbeat(&self, token: &str) -> BoxFuture<Result<(), Error>> {
        let c = self.clone();
        let input = SendTaskHeartbeatInput {
            task_token: token.to_owned(),
        };
        Box::pin(async move { c.send_task_heartbeat(input).await.map(|_| ()) })
    }
}

type Handler =
    Arc<dyn Fn(Value, TaskContext) -> BoxFuture<Result<Value, TaskFailure>> + Send + Sync>;

/// Limits of one activity.
#[derive(Debug, Clone)]
pub struct ActivityOptions {
    /// Tasks run at once (default 4).
    pub concurrency: usize,
    /// Automatic heartbeat interval while a handler runs (default 10 s).
    pub heartbeat_interval: Duration,
    /// Pollers in flight, at most `concurrency` (default 2).
    pub pollers: usize,
}

impl Default for ActivityOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            heartbeat_interval: Duration::from_secs(10),
            pollers: 2,
        }
    }
}

struct Registration {
    activity: String,
    handler: Handler,
    options: ActivityOptions,
}

/// Counters of a worker, for a metrics exporter.
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    /// `GetActivityTask` calls.
    pub polls: AtomicU64,
    /// Polls that returned no task.
    pub empty_polls: AtomicU64,
    /// Poll errors.
    pub poll_errors: AtomicU64,
    /// Tasks started.
    pub tasks_started: AtomicU64,
    /// Tasks answered with success.
    pub tasks_succeeded: AtomicU64,
    /// Tasks answered with failure.
    pub tasks_failed: AtomicU64,
    /// Tasks closed by the coordinator while running.
    pub tasks_cancelled: AtomicU64,
    /// Tasks in flight.
    pub in_flight: AtomicU64,
    /// Sum of handler durations, microseconds.
    pub handler_micros_total: AtomicU64,
}

/// Builds a [`Worker`].
pub struct WorkerBuilder {
    api: Option<Arc<dyn TaskApi>>,
    client: Option<Client>,
    worker_name: Option<String>,
    shutdown_deadline: Duration,
    registrations: Vec<Registration>,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("activities", &self.registrations.len())
            .finish()
    }
}

impl WorkerBuilder {
    /// The client to use (default: [`Client::builder`]`().from_env()`).
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Any [`TaskApi`] (tests).
    pub fn api(mut self, api: Arc<dyn TaskApi>) -> Self {
        self.api = Some(api);
        self
    }

    /// The name recorded in `ActivityStarted` (default: the host name).
    pub fn worker_name(mut self, name: impl Into<String>) -> Self {
        self.worker_name = Some(name.into());
        self
    }

    /// How long in-flight tasks may run after shutdown starts (default 30 s).
    pub fn shutdown_deadline(mut self, d: Duration) -> Self {
        self.shutdown_deadline = d;
        self
    }

    /// Registers a handler for an activity (ARN, or a name created on start).
    pub fn activity<S, T, R>(self, activity: impl Into<String>, handler: S) -> Self
    where
        S: Service<TaskEvent<T>, Response = R> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<TaskFailure> + Send + 'static,
        T: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
    {
        self.activity_with(activity, handler, ActivityOptions::default())
    }

    /// [`activity`](Self::activity) with limits.
    pub fn activity_with<S, T, R>(
        mut self,
        activity: impl Into<String>,
        handler: S,
        options: ActivityOptions,
    ) -> Self
    where
        S: Service<TaskEvent<T>, Response = R> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<TaskFailure> + Send + 'static,
        T: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
    {
        let handler: Handler = Arc::new(move |input: Value, context: TaskContext| {
            let svc = handler.clone();
            Box::pin(async move {
                let payload: T = serde_json::from_value(input).map_err(|e| {
                    TaskFailure::new(
                        "Handler.InvalidInput",
                        format!("the task input does not match the handler's type: {e}"),
                    )
                })?;
                let out = svc
                    .oneshot(TaskEvent { payload, context })
                    .await
                    .map_err(Into::into)?;
                serde_json::to_value(out)
                    .map_err(|e| TaskFailure::new("Handler.InvalidOutput", e.to_string()))
            }) as BoxFuture<Result<Value, TaskFailure>>
        });
        self.registrations.push(Registration {
            activity: activity.into(),
            handler,
            options,
        });
        self
    }

    /// Resolves activity names, and builds the worker.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        if self.registrations.is_empty() {
            return Err(WorkerError::NoActivities);
        }
        let client = match self.client {
            Some(c) => Some(c),
            None if self.api.is_none() => Some(Client::builder().from_env().build()?),
            None => None,
        };
        let mut regs = self.registrations;
        if let Some(c) = &client {
            for r in &mut regs {
                if !r.activity.starts_with("arn:") {
                    let out = c
                        .create_activity(crate::types::CreateActivityInput {
                            name: r.activity.clone(),
                            tags: vec![],
                        })
                        .await?;
                    r.activity = out.activity_arn;
                }
            }
        }
        let api: Arc<dyn TaskApi> = match (self.api, client) {
            (Some(a), _) => a,
            (None, Some(c)) => Arc::new(c),
            (None, None) => return Err(WorkerError::NoActivities),
        };
        Ok(Worker {
            api,
            worker_name: self.worker_name.unwrap_or_else(default_worker_name),
            shutdown_deadline: self.shutdown_deadline,
            registrations: regs,
            shutdown: CancellationToken::new(),
            metrics: Arc::new(WorkerMetrics::default()),
        })
    }
}

fn default_worker_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "stepwise-worker".into())
}

/// A handle that starts a worker's shutdown.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    /// Stops polling at once; in-flight tasks get the shutdown deadline.
    pub fn initiate_shutdown(&self) {
        self.0.cancel();
    }
}

/// Polls activities and runs their handlers until shut down.
pub struct Worker {
    api: Arc<dyn TaskApi>,
    worker_name: String,
    shutdown_deadline: Duration,
    registrations: Vec<Registration>,
    shutdown: CancellationToken,
    metrics: Arc<WorkerMetrics>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker_name", &self.worker_name)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct InFlight {
    tasks: Mutex<HashMap<String, (CancellationToken, Arc<std::sync::atomic::AtomicBool>)>>,
}

impl Worker {
    /// A builder.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder {
            api: None,
            client: None,
            worker_name: None,
            shutdown_deadline: Duration::from_secs(30),
            registrations: Vec::new(),
        }
    }

    /// A handle to stop the worker from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// The worker's counters.
    pub fn metrics(&self) -> Arc<WorkerMetrics> {
        self.metrics.clone()
    }

    /// The activity ARNs served (names resolved).
    pub fn activities(&self) -> Vec<String> {
        self.registrations
            .iter()
            .map(|r| r.activity.clone())
            .collect()
    }

    /// Runs until [`ShutdownHandle::initiate_shutdown`], then drains in-flight
    /// tasks within the deadline and fails the rest with `Worker.Shutdown`.
    pub async fn run(self) {
        let tracker = TaskTracker::new();
        let in_flight = Arc::new(InFlight::default());
        let mut pollers = Vec::new();
        for reg in &self.registrations {
            let sem = Arc::new(Semaphore::new(reg.options.concurrency.max(1)));
            for _ in 0..reg.options.pollers.clamp(1, reg.options.concurrency.max(1)) {
                pollers.push(tokio::spawn(poll_loop(
                    self.api.clone(),
                    reg.activity.clone(),
                    self.worker_name.clone(),
                    reg.handler.clone(),
                    reg.options.clone(),
                    sem.clone(),
                    self.shutdown.clone(),
                    tracker.clone(),
                    in_flight.clone(),
                    self.metrics.clone(),
                )));
            }
        }
        self.shutdown.cancelled().await;
        for p in pollers {
            let _ = p.await;
        }
        tracker.close();
        if tokio::time::timeout(self.shutdown_deadline, tracker.wait())
            .await
            .is_err()
        {
            // Past the deadline: give up on what still runs so Retry can move it.
            let left: Vec<(
                String,
                CancellationToken,
                Arc<std::sync::atomic::AtomicBool>,
            )> = in_flight
                .tasks
                .lock()
                .map(|m| {
                    m.iter()
                        .map(|(k, (c, f))| (k.clone(), c.clone(), f.clone()))
                        .collect()
                })
                .unwrap_or_default();
            for (token, cancel, given_up) in left {
                given_up.store(true, Ordering::SeqCst);
                cancel.cancel();
                let cause = "The worker shut down before the task finished".to_owned();
                if self
                    .api
                    .fail(&token, "Worker.Shutdown".into(), cause)
                    .await
                    .is_ok()
                {
                    self.metrics.tasks_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn poll_loop(
    api: Arc<dyn TaskApi>,
    activity: String,
    worker: String,
    handler: Handler,
    options: ActivityOptions,
    sem: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    in_flight: Arc<InFlight>,
    metrics: Arc<WorkerMetrics>,
) {
    let mut failures: u32 = 0;
    loop {
        let permit = tokio::select! {
            p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.cancelled() => return,
        };
        metrics.polls.fetch_add(1, Ordering::Relaxed);
        let polled = tokio::select! {
            r = api.poll(&activity, &worker) => r,
            _ = shutdown.cancelled() => return,
        };
        match polled {
            Ok(None) => {
                failures = 0;
                metrics.empty_polls.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Some((token, input))) => {
                failures = 0;
                metrics.tasks_started.fetch_add(1, Ordering::Relaxed);
                let span = tracing::info_span!("task", activity = %activity, token = %token.chars().take(12).collect::<String>(), worker = %worker);
                tracker.spawn(
                    run_task(
                        api.clone(),
                        activity.clone(),
                        token,
                        input,
                        handler.clone(),
                        options.heartbeat_interval,
                        in_flight.clone(),
                        metrics.clone(),
                        permit,
                    )
                    .instrument(span),
                );
            }
            Err(e) => {
                metrics.poll_errors.fetch_add(1, Ordering::Relaxed);
                drop(permit);
                failures = failures.saturating_add(1);
                let delay = backoff(failures);
                tracing::warn!(activity = %activity, error = %e, retry_in_ms = delay.as_millis() as u64, "poll failed");
                if matches!(e.code(), Some(ErrorCode::ActivityDoesNotExist)) {
                    tracing::error!(activity = %activity, "the activity does not exist");
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }
}

/// Jittered exponential backoff: 100 ms doubling up to 30 s, times a random factor in [0.5, 1).
fn backoff(failures: u32) -> Duration {
    let base = 100u64.saturating_mul(1u64 << failures.min(9)).min(30_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let factor = 0.5 + (nanos % 1000) as f64 / 2000.0;
    Duration::from_millis((base as f64 * factor) as u64)
}

#[allow(clippy::too_many_arguments)]
async fn run_task(
    api: Arc<dyn TaskApi>,
    activity: String,
    token: String,
    input: String,
    handler: Handler,
    heartbeat_interval: Duration,
    in_flight: Arc<InFlight>,
    metrics: Arc<WorkerMetrics>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let cancel = CancellationToken::new();
    let given_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Ok(mut m) = in_flight.tasks.lock() {
        m.insert(token.clone(), (cancel.clone(), given_up.clone()));
    }
    let beat = Arc::new(Notify::new());
    let ctx = TaskContext {
        task_token: token.clone(),
        activity_arn: activity,
        beat: beat.clone(),
        cancel: cancel.clone(),
    };
    let started = Instant::now();

    let value: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
    // Run the handler in its own task so a panic is caught and reported; the
    // heartbeats run beside it in this task.
    let job = tokio::spawn((handler)(value, ctx));
    let abort = job.abort_handle();
    let heartbeats = heartbeat_loop(
        api.as_ref(),
        &token,
        &beat,
        &cancel,
        &metrics,
        heartbeat_interval,
    );
    let result = tokio::select! {
        r = job => match r {
            Ok(r) => Some(r),
            Err(e) if e.is_panic() => Some(Err(TaskFailure::new("Handler.Panic", panic_message(e)))),
            Err(_) => None,
        },
        // Returns only once the coordinator closed the task.
        _ = heartbeats => {
            abort.abort();
            None
        }
        _ = cancel.cancelled() => {
            abort.abort();
            None
        }
    };
    cancel.cancel();
    metrics
        .handler_micros_total
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);

    if let Some(result) = result.filter(|_| !given_up.load(Ordering::SeqCst)) {
        let answer = match result {
            Ok(v) => {
                let text = v.to_string();
                if text.len() > MAX_OUTPUT_BYTES {
                    Err(TaskFailure::new(
                        "Handler.OutputTooLarge",
                        format!(
                            "the output has {} bytes; the limit is {MAX_OUTPUT_BYTES}",
                            text.len()
                        ),
                    ))
                } else {
                    Ok(text)
                }
            }
            Err(f) => Err(f),
        };
        let sent = match answer {
            Ok(text) => api.succeed(&token, text).await.map(|_| true),
            Err(f) => {
                let error: String = f.error.chars().take(256).collect();
                api.fail(&token, error, f.cause).await.map(|_| false)
            }
        };
        match sent {
            Ok(true) => {
                metrics.tasks_succeeded.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {
                metrics.tasks_failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "could not report the task's result"),
        }
    }
    if let Ok(mut m) = in_flight.tasks.lock() {
        m.remove(&token);
    }
    metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Sends heartbeats every `interval`, or when the handler asks (at most one
/// per 500 ms); returns once the coordinator says the task is closed (and
/// cancels it then), or when `cancel` fires.
async fn heartbeat_loop(
    api: &dyn TaskApi,
    token: &str,
    beat: &Notify,
    cancel: &CancellationToken,
    metrics: &WorkerMetrics,
    interval: Duration,
) {
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = beat.notified() => {
                let since = last.elapsed();
                if since < Duration::from_millis(500) {
                    tokio::time::sleep(Duration::from_millis(500) - since).await;
                }
            }
            _ = cancel.cancelled() => return,
        }
        last = Instant::now();
        if let Err(e) = api.heartbeat(token).await {
            if e.code().is_some_and(ErrorCode::is_task_closed) {
                tracing::info!(error = %e, "the coordinator closed the task");
                metrics.tasks_cancelled.fetch_add(1, Ordering::Relaxed);
                cancel.cancel();
                return;
            }
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the handler panicked".into()),
        Err(_) => "the handler panicked".into(),
    }
}

/// Runs one handler for one activity until SIGINT/SIGTERM, with a client from
/// the environment (`AWS_ENDPOINT_URL_SFN`/`AWS_ENDPOINT_URL` for the coordinator,
/// `AWS_REGION`, credentials).
pub async fn run<S, T, R>(activity: impl Into<String>, handler: S) -> Result<(), WorkerError>
where
    S: Service<TaskEvent<T>, Response = R> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<TaskFailure> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    let worker = Worker::builder()
        .activity(activity, handler)
        .build()
        .await?;
    let stop = worker.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.initiate_shutdown();
    });
    worker.run().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    type Answer = (String, Result<String, (String, String)>);

    /// A scripted coordinator.
    #[derive(Default)]
    struct Mock {
        tasks: Mutex<VecDeque<(String, String)>>,
        answers: Mutex<Vec<Answer>>,
        heartbeats: Mutex<Vec<String>>,
        closed: Mutex<Vec<String>>,
        polls: AtomicU64,
        fail_polls: AtomicU64,
        in_poll: AtomicU64,
        max_in_poll: AtomicU64,
        notify: Notify,
    }

    impl TaskApi for Arc<Mock> {
        fn poll(
            &self,
            _activity: &str,
            _worker: &str,
        ) -> BoxFuture<Result<Option<(String, String)>, Error>> {
            let m = self.clone();
            Box::pin(async move {
                m.polls.fetch_add(1, Ordering::SeqCst);
                if m.fail_polls.load(Ordering::SeqCst) > 0 {
                    m.fail_polls.fetch_sub(1, Ordering::SeqCst);
                    return Err(Error::Network("down".into()));
                }
                let n = m.in_poll.fetch_add(1, Ordering::SeqCst) + 1;
                m.max_in_poll.fetch_max(n, Ordering::SeqCst);
                let t = m.tasks.lock().unwrap().pop_front();
                let r = match t {
                    Some(t) => Some(t),
                    None => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        None
                    }
                };
                m.in_poll.fetch_sub(1, Ordering::SeqCst);
                Ok(r)
            })
        }
        fn succeed(&self, token: &str, output: String) -> BoxFuture<Result<(), Error>> {
            let m = self.clone();
            let token = token.to_owned();
            Box::pin(async move {
                m.answers.lock().unwrap().push((token, Ok(output)));
                m.notify.notify_waiters();
                Ok(())
            })
        }
        fn fail(&self, token: &str, error: String, cause: String) -> BoxFuture<Result<(), Error>> {
            let m = self.clone();
            let token = token.to_owned();
            Box::pin(async move {
                m.answers.lock().unwrap().push((token, Err((error, cause))));
                m.notify.notify_waiters();
                Ok(())
            })
        }
        fn heartbeat(&self, token: &str) -> BoxFuture<Result<(), Error>> {
            let m = self.clone();
            let token = token.to_owned();
            Box::pin(async move {
                m.heartbeats.lock().unwrap().push(token.clone());
                if m.closed.lock().unwrap().contains(&token) {
                    return Err(Error::Api {
                        code: ErrorCode::TaskTimedOut,
                        message: String::new(),
                        status: 400,
                    });
                }
                Ok(())
            })
        }
    }

    async fn wait_answers(m: &Arc<Mock>, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.answers.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "timed out waiting for answers");
            let notified = m.notify.notified();
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    fn mock_with(tasks: &[(&str, &str)]) -> Arc<Mock> {
        let m = Arc::new(Mock::default());
        m.tasks.lock().unwrap().extend(
            tasks
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned())),
        );
        m
    }

    #[tokio::test]
    async fn success_failure_panic_and_bad_input() {
        let m = mock_with(&[
            ("ok", r#"{"n":1}"#),
            ("err", r#"{"n":-1}"#),
            ("panic", r#"{"n":0}"#),
            ("bad", r#""text""#),
        ]);
        #[derive(serde::Deserialize)]
        struct In {
            n: i64,
        }
        let w = Worker::builder()
            .api(Arc::new(m.clone()))
            .activity(
                "arn:aws:states:us-east-1:123456789012:activity:a",
                service_fn(|e: TaskEvent<In>| async move {
                    match e.payload.n {
                        0 => panic!("boom"),
                        n if n < 0 => Err(TaskFailure::new("Negative", "n < 0")),
                        n => Ok(serde_json::json!({"double": n * 2})),
                    }
                }),
            )
            .build()
            .await
            .unwrap();
        let stop = w.shutdown_handle();
        let run = tokio::spawn(w.run());
        wait_answers(&m, 4).await;
        stop.initiate_shutdown();
        run.await.unwrap();
        let answers: HashMap<_, _> = m.answers.lock().unwrap().iter().cloned().collect();
        assert_eq!(answers["ok"], Ok(r#"{"double":2}"#.to_owned()));
        assert_eq!(answers["err"], Err(("Negative".into(), "n < 0".into())));
        assert_eq!(
            answers["panic"],
            Err(("Handler.Panic".into(), "boom".into()))
        );
        assert!(matches!(&answers["bad"], Err((e, _)) if e == "Handler.InvalidInput"));
    }

    #[tokio::test]
    async fn permits_bound_pollers_and_tasks() {
        let m = mock_with(&[("a", "{}"), ("b", "{}"), ("c", "{}")]);
        let running = Arc::new(AtomicU64::new(0));
        let max_running = Arc::new(AtomicU64::new(0));
        let (r, mr) = (running.clone(), max_running.clone());
        let w = Worker::builder()
            .api(Arc::new(m.clone()))
            .activity_with(
                "arn:aws:states:us-east-1:123456789012:activity:a",
                service_fn(move |_e: TaskEvent<Value>| {
                    let (r, mr) = (r.clone(), mr.clone());
                    async move {
                        let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                        mr.fetch_max(n, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        r.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, TaskFailure>(Value::Null)
                    }
                }),
                ActivityOptions {
                    concurrency: 1,
                    pollers: 3,
                    heartbeat_interval: Duration::from_secs(10),
                },
            )
            .build()
            .await
            .unwrap();
        let stop = w.shutdown_handle();
        let run = tokio::spawn(w.run());
        wait_answers(&m, 3).await;
        stop.initiate_shutdown();
        run.await.unwrap();
        // With one permit: never two tasks at once, never a poll while a task runs.
        assert_eq!(max_running.load(Ordering::SeqCst), 1);
        assert_eq!(m.max_in_poll.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn heartbeats_and_cancellation_when_the_task_closes() {
        let m = mock_with(&[("t", "{}")]);
        m.closed.lock().unwrap().push("t".into());
        let saw_cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = saw_cancel.clone();
        let w = Worker::builder()
            .api(Arc::new(m.clone()))
            .activity_with(
                "arn:aws:states:us-east-1:123456789012:activity:a",
                service_fn(move |e: TaskEvent<Value>| {
                    let s = s.clone();
                    async move {
                        e.context.heartbeat();
                        e.context.cancelled().await;
                        s.store(true, Ordering::SeqCst);
                        Ok::<_, TaskFailure>(Value::Null)
                    }
                }),
                ActivityOptions {
                    concurrency: 1,
                    pollers: 1,
                    heartbeat_interval: Duration::from_secs(60),
                },
            )
            .build()
            .await
            .unwrap();
        let stop = w.shutdown_handle();
        let metrics = w.metrics();
        let run = tokio::spawn(w.run());
        let deadline = Instant::now() + Duration::from_secs(10);
        while metrics.tasks_cancelled.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.initiate_shutdown();
        run.await.unwrap();
        assert_eq!(m.heartbeats.lock().unwrap().as_slice(), ["t"]);
        // The closed task's result is dropped: no answer is sent.
        assert!(m.answers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn shutdown_lets_tasks_finish_then_fails_the_rest() {
        let m = mock_with(&[("quick", "{}"), ("slow", "{}")]);
        let w = Worker::builder()
            .api(Arc::new(m.clone()))
            .shutdown_deadline(Duration::from_millis(300))
            .activity_with(
                "arn:aws:states:us-east-1:123456789012:activity:a",
                service_fn(|e: TaskEvent<Value>| async move {
                    let d = if e.context.task_token == "quick" {
                        100
                    } else {
                        60_000
                    };
                    tokio::time::sleep(Duration::from_millis(d)).await;
                    Ok::<_, TaskFailure>(serde_json::json!("done"))
                }),
                ActivityOptions {
                    concurrency: 2,
                    pollers: 2,
                    heartbeat_interval: Duration::from_secs(60),
                },
            )
            .build()
            .await
            .unwrap();
        let stop = w.shutdown_handle();
        let metrics = w.metrics();
        let run = tokio::spawn(w.run());
        while metrics.tasks_started.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.initiate_shutdown();
        tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap()
            .unwrap();
        let answers: HashMap<_, _> = m.answers.lock().unwrap().iter().cloned().collect();
        assert_eq!(answers["quick"], Ok("\"done\"".into()));
        assert!(matches!(&answers["slow"], Err((e, _)) if e == "Worker.Shutdown"));
    }

    #[tokio::test]
    async fn backs_off_when_the_coordinator_is_unreachable() {
        let m = mock_with(&[("t", "{}")]);
        m.fail_polls.store(3, Ordering::SeqCst);
        let w = Worker::builder()
            .api(Arc::new(m.clone()))
            .activity_with(
                "arn:aws:states:us-east-1:123456789012:activity:a",
                service_fn(|_e: TaskEvent<Value>| async { Ok::<_, TaskFailure>(Value::Null) }),
                ActivityOptions {
                    concurrency: 1,
                    pollers: 1,
                    heartbeat_interval: Duration::from_secs(60),
                },
            )
            .build()
            .await
            .unwrap();
        let stop = w.shutdown_handle();
        let metrics = w.metrics();
        let started = Instant::now();
        let run = tokio::spawn(w.run());
        wait_answers(&m, 1).await;
        stop.initiate_shutdown();
        run.await.unwrap();
        assert_eq!(metrics.poll_errors.load(Ordering::SeqCst), 3);
        // Three failures back off at least 50 + 100 + 200 ms (jittered halves): no busy loop.
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(20) <= Duration::from_secs(30));
        assert!(backoff(20) >= Duration::from_secs(15));
    }
}
