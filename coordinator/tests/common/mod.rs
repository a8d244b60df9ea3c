//! Starts the real `stepwise-coordinator` binary on 127.0.0.1:0 and builds an
//! official `aws-sdk-sfn` client for it. The process is killed on drop.
#![allow(dead_code, unreachable_pub)]

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/test";

pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts a coordinator on a data directory (`None`: in memory).
    pub fn start(data_dir: Option<&Path>, extra: &[&str]) -> Server {
        Self::start_full(data_dir, extra, &[], "warn", Stdio::inherit())
    }

    /// [`Server::start`] with these environment variables set for the process.
    pub fn start_env(data_dir: Option<&Path>, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_full(data_dir, extra, env, "warn", Stdio::inherit())
    }

    /// [`Server::start`] with `RUST_LOG=log_level` and its log (stderr) sent to `log`.
    pub fn start_logging(
        data_dir: Option<&Path>,
        extra: &[&str],
        log_level: &str,
        log: Stdio,
    ) -> Server {
        Self::start_full(data_dir, extra, &[], log_level, log)
    }

    fn start_full(
        data_dir: Option<&Path>,
        extra: &[&str],
        env: &[(&str, &str)],
        log_level: &str,
        log: Stdio,
    ) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise-coordinator"));
        cmd.envs(env.iter().copied());
        cmd.arg("--listen").arg("127.0.0.1:0");
        match data_dir {
            Some(d) => {
                cmd.arg("--data-dir").arg(d);
            }
            None => {
                cmd.arg("--in-memory");
            }
        }
        cmd.args(extra)
            .env("RUST_LOG", log_level)
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("start coordinator");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut url = None;
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = line.strip_prefix("stepwise-coordinator listening on ") {
                        url = Some(format!("http://{}", addr.trim()));
                        break;
                    }
                }
                _ => break,
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let url = url.expect("coordinator did not report its address");
        Server {
            child: Some(child),
            url,
            data_dir: data_dir.map(Path::to_path_buf).unwrap_or_default(),
        }
    }

    /// The process id (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn client(&self) -> aws_sdk_sfn::Client {
        client(&self.url)
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The SDK prefixes `StartSyncExecution` hosts with `sync-`, as AWS wants;
/// a local endpoint has no such host, so strip it (boto3 has
/// `inject_host_prefix=False` for the same reason).
#[derive(Debug)]
struct NoHostPrefix;

impl aws_sdk_sfn::config::Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _rc: &aws_sdk_sfn::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sfn::config::ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        let req = ctx.request_mut();
        let uri = req.uri().to_string();
        if let Some(rest) = uri.strip_prefix("http://sync-") {
            req.set_uri(format!("http://{rest}"))?;
        }
        Ok(())
    }
}

pub fn client(url: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(config(url).build())
}

/// A client that does not retry: each call is one request, whose answer the test sees.
pub fn client_without_retries(url: &str) -> aws_sdk_sfn::Client {
    let conf = config(url)
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

fn config(url: &str) -> aws_sdk_sfn::config::Builder {
    aws_sdk_sfn::Config::builder()
        .interceptor(NoHostPrefix)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
}

/// Creates a STANDARD state machine and returns its ARN.
pub async fn create_machine(c: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    c.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn()
        .to_owned()
}

/// Starts an execution of `machine` (named `name` when given) and returns its ARN.
pub async fn start_execution(
    c: &aws_sdk_sfn::Client,
    machine: &str,
    name: Option<&str>,
    input: Option<&str>,
) -> String {
    c.start_execution()
        .state_machine_arn(machine)
        .set_name(name.map(str::to_owned))
        .set_input(input.map(str::to_owned))
        .send()
        .await
        .expect("start execution")
        .execution_arn()
        .to_owned()
}

/// Polls DescribeExecution until the execution is no longer RUNNING.
pub async fn wait_done(
    c: &aws_sdk_sfn::Client,
    arn: &str,
    timeout: Duration,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + timeout;
    loop {
        let d = c
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe");
        if d.status().as_str() != "RUNNING" || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every event type of an execution's history, in order.
pub async fn event_types(c: &aws_sdk_sfn::Client, arn: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let h = c
            .get_execution_history()
            .execution_arn(arn)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("history");
        out.extend(h.events().iter().map(|e| e.r#type().as_str().to_owned()));
        token = h.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// A coordinator process that may not listen yet (a standby waiting to own
/// a shared database): its stdout lines arrive on `lines`.
pub struct Pending {
    child: Option<Child>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Pending {
    /// Starts `stepwise-coordinator --listen 127.0.0.1:0 ARGS...` (log level warn).
    pub fn spawn(args: &[&str]) -> Pending {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise-coordinator"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start coordinator");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Pending {
            child: Some(child),
            lines,
        }
    }

    /// The running server once it reports its address, waiting at most `timeout`.
    pub fn listening(&mut self, timeout: Duration) -> Option<Server> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(addr) = line.strip_prefix("stepwise-coordinator listening on ") {
                return Some(Server {
                    child: self.child.take(),
                    url: format!("http://{}", addr.trim()),
                    data_dir: PathBuf::new(),
                });
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
