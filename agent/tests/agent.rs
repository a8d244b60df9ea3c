//! The agent binary against a coordinator started in-process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stepwise_sdk::Client;
use stepwise_sdk::types::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

struct AgentProc(Child);

impl AgentProc {
    fn start(config: &std::path::Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        AgentProc(child)
    }
    fn signal(&self, sig: &str) {
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.0.id().to_string())
            .status()
            .unwrap();
    }
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn coordinator() -> (stepwise_coordinator::Running, Client, String) {
    let settings = stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        ..Default::default()
    };
    let running = stepwise_coordinator::start(settings).await.unwrap();
    let url = format!("http://{}", running.addr);
    let client = Client::builder().endpoint_url(&url).build().unwrap();
    (running, client, url)
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("agent.toml");
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    p
}

async fn machine(c: &Client, name: &str, def: Value) -> String {
    // Create the activities the definition uses (as a deployment would),
    // so executions do not race the agent's own idempotent CreateActivity.
    let text = def.to_string();
    for part in text.split(":activity:").skip(1) {
        let name: String = part
            .chars()
            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '-' || *ch == '_')
            .collect();
        c.create_activity(CreateActivityInput { name, tags: vec![] })
            .await
            .unwrap();
    }
    c.create_state_machine(CreateStateMachineInput {
        name: name.into(),
        definition: def.to_string(),
        role_arn: ROLE.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .state_machine_arn
}

async fn start(c: &Client, sm: &str, input: Value) -> String {
    c.start_execution(StartExecutionInput {
        state_machine_arn: sm.into(),
        input: Some(input.to_string()),
        ..Default::default()
    })
    .await
    .unwrap()
    .execution_arn
}

async fn wait(c: &Client, arn: &str, timeout: Duration) -> DescribeExecutionOutput {
    let deadline = Instant::now() + timeout;
    loop {
        let d = c
            .describe_execution(ExecutionArnInput {
                execution_arn: arn.into(),
            })
            .await
            .unwrap();
        if d.status != ExecutionStatus::Running || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn act(name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:activity:{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_and_http_handlers_and_a_caught_exit_code() {
    let (_server, c, url) = coordinator().await;
    // The application an http handler forwards to.
    let app = axum::Router::new().route(
        "/greet",
        axum::routing::post(|headers: axum::http::HeaderMap, body: String| async move {
            let input: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let has_token = headers.contains_key("x-stepwise-task-token");
            json!({"greeting": format!("hello {}", input["name"].as_str().unwrap_or("?")), "token": has_token}).to_string()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            r#"
            [coordinator]
            endpoint = "{url}"
            [activities.upper]
            handler = {{ type = "exec", command = ["sh", "-c", "tr a-z A-Z"] }}
            [activities.picky]
            handler = {{ type = "exec", command = ["sh", "-c", "echo 'no thanks' >&2; exit 4"], exit_codes = {{ "4" = "Picky.Refused" }} }}
            [activities.greet]
            handler = {{ type = "http", url = "http://{app_addr}/greet" }}
            "#
        ),
    );
    let _agent = AgentProc::start(&cfg);
    let sm = machine(&c, "flow", json!({"StartAt": "Upper", "States": {
        "Upper": {"Type": "Task", "Resource": act("upper"), "ResultPath": "$.upper", "Next": "Greet"},
        "Greet": {"Type": "Task", "Resource": act("greet"), "ResultPath": "$.greet", "Next": "Picky"},
        "Picky": {"Type": "Task", "Resource": act("picky"), "End": true,
                  "Catch": [{"ErrorEquals": ["Picky.Refused"], "ResultPath": "$.refused", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}
    }}))
    .await;
    let ex = start(&c, &sm, json!({"name": "ada"})).await;
    let d = wait(&c, &ex, Duration::from_secs(30)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?}", d.cause);
    let out: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(out["upper"], json!({"NAME": "ADA"}));
    assert_eq!(
        out["greet"],
        json!({"greeting": "hello ada", "token": true})
    );
    assert_eq!(
        out["refused"],
        json!({"Error": "Picky.Refused", "Cause": "no thanks"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_task_finish() {
    let (_server, c, url) = coordinator().await;
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let cfg = write_config(
        &dir,
        &format!(
            r#"
            shutdown_deadline_seconds = 20
            [coordinator]
            endpoint = "{url}"
            [activities.slow]
            handler = {{ type = "exec", command = ["sh", "-c", "touch {}; sleep 1; echo '\"finished\"'"] }}
            "#,
            started.display()
        ),
    );
    let mut agent = AgentProc::start(&cfg);
    let sm = machine(&c, "slowflow", json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": act("slow"), "End": true}}})).await;
    let ex = start(&c, &sm, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the task never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.signal("TERM");
    let status = agent
        .wait_exit(Duration::from_secs(20))
        .expect("the agent exited");
    assert!(status.success(), "{status:?}");
    let d = wait(&c, &ex, Duration::from_secs(5)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output.as_deref(), Some(r#""finished""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agents_task_times_out_and_retry_completes_it_elsewhere() {
    let (_server, c, url) = coordinator().await;
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    // First agent: hangs (and heartbeats only every 30 s).
    let hang = write_config(
        &dir,
        &format!(
            r#"
            [coordinator]
            endpoint = "{url}"
            [activities.job]
            heartbeat_seconds = 30
            handler = {{ type = "exec", command = ["sh", "-c", "touch {}; sleep 60"] }}
            "#,
            started.display()
        ),
    );
    let mut first = AgentProc::start(&hang);
    let sm = machine(&c, "retry", json!({"StartAt": "J", "States": {"J": {"Type": "Task", "Resource": act("job"), "HeartbeatSeconds": 1, "End": true,
        "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 2}]}}}))
    .await;
    let ex = start(&c, &sm, json!({"n": 1})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(
            Instant::now() < deadline,
            "the first agent never started the task"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.signal("KILL");
    let _ = first.wait_exit(Duration::from_secs(5));
    // Second agent: answers at once.
    let dir2 = tempfile::tempdir().unwrap();
    let ok = write_config(
        &dir2,
        &format!(
            r#"
            [coordinator]
            endpoint = "{url}"
            [activities.job]
            handler = {{ type = "exec", command = ["sh", "-c", "echo '{{\"done\":true}}'"] }}
            "#
        ),
    );
    let _second = AgentProc::start(&ok);
    let d = wait(&c, &ex, Duration::from_secs(30)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?}", d.cause);
    assert_eq!(d.output.as_deref(), Some(r#"{"done":true}"#));
}

#[test]
fn check_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        r#"
        [coordinator]
        endpoint = "ftp://nope"
        [activities.a]
        concurrency = 0
        handler = { type = "exec", command = [] }
        [activities.b]
        handler = { type = "http", url = "not a url" }
        "#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "coordinator.endpoint",
        "activities.a.concurrency",
        "activities.a.handler.command",
        "activities.b.handler.url",
    ] {
        assert!(err.contains(key), "{key} missing in {err}");
    }
    let good = write_config(
        &dir,
        "[coordinator]\nendpoint = \"http://127.0.0.1:8083\"\n[activities.a]\nhandler = { type = \"exec\", command = [\"cat\"] }\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
        .arg("check")
        .arg("--config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn example_configs_pass_check() {
    for f in [
        "examples/agent/exec.toml",
        "examples/agent/http.toml",
        "examples/ecs/agent.toml",
    ] {
        let path = format!("{}/../{f}", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
            .arg("check")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `systemctl reload` with the example configuration (which sets `[http] listen`):
/// the agent keeps its health/metrics socket and the task it is running, and the
/// reloaded handlers take the next tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_the_example_config_keeps_the_http_port_and_running_tasks() {
    use std::io::BufRead;
    let (_server, c, url) = coordinator().await;
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let release = dir.path().join("release");
    // The example file as installed by the unit, plus a slow activity that
    // runs until the test lets it finish.
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/agent/exec.toml"
    ))
    .unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "{example}\n[activities.slow]\nhandler = {{ type = \"exec\", command = [\"sh\", \"-c\", \"touch {}; while [ ! -e {} ]; do sleep 0.05; done; echo '\\\"finished\\\"'\"] }}\n",
            started.display(),
            release.display()
        ),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
        .arg("--config")
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .env("STEPWISE_AGENT__COORDINATOR__ENDPOINT", &url)
        // The example's fixed port would collide between test runs: any free one.
        .env("STEPWISE_AGENT__HTTP__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut agent = AgentProc(child);
    let stdout = agent.0.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = line_tx.send(l);
        }
    });
    let stderr = agent.0.stderr.take().unwrap();
    let (log_tx, log_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = log_tx.send(l);
        }
    });
    let first = line_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let addr = first
        .strip_prefix("stepwise-agent http listening on ")
        .unwrap_or_else(|| panic!("unexpected line {first}"))
        .to_owned();
    let health = || {
        let addr = addr.clone();
        async move {
            reqwest::get(format!("http://{addr}/healthz"))
                .await
                .ok()?
                .text()
                .await
                .ok()
        }
    };
    assert_eq!(health().await.as_deref(), Some("ok"));

    let slow = machine(&c, "slow-reload", json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": act("slow"), "End": true}}})).await;
    let upper = machine(&c, "upper-reload", json!({"StartAt": "U", "States": {"U": {"Type": "Task", "Resource": act("uppercase"), "End": true}}})).await;
    let ex = start(&c, &slow, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the task never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    agent.signal("HUP");
    // The reload is done once it says so.
    loop {
        let l = log_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the agent logged its reload");
        assert!(!l.contains("\u{1b}["), "colour codes in a piped log: {l:?}");
        if l.contains("configuration reloaded") {
            break;
        }
    }
    assert_eq!(
        agent.0.try_wait().unwrap(),
        None,
        "the agent exited on SIGHUP"
    );
    assert_eq!(
        health().await.as_deref(),
        Some("ok"),
        "the http port was lost"
    );
    assert!(
        line_rx.try_recv().is_err(),
        "the port was announced again though its address did not change"
    );

    // The task started before the reload finishes and is reported.
    std::fs::write(&release, "").unwrap();
    let d = wait(&c, &ex, Duration::from_secs(20)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?}", d.cause);
    assert_eq!(d.output.as_deref(), Some(r#""finished""#));
    // The reloaded handlers answer new tasks.
    let ex = start(&c, &upper, json!({"name": "ada"})).await;
    let d = wait(&c, &ex, Duration::from_secs(20)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?}", d.cause);
    assert_eq!(d.output.as_deref(), Some(r#"{"NAME":"ADA"}"#));
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stepwise_agent_tasks_total{outcome=\"succeeded\"} 2"),
        "{metrics}"
    );
    // One INFO line per task: activity, token prefix, outcome, duration.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tasks = Vec::new();
    while tasks.len() < 2 && Instant::now() < deadline {
        if let Ok(l) = log_rx.recv_timeout(Duration::from_millis(200))
            && l.contains(" task ")
        {
            tasks.push(l);
        }
    }
    assert!(
        tasks.iter().any(|l| l.contains("activity=slow")
            && l.contains("outcome=\"succeeded\"")
            && l.contains("token=")
            && l.contains("ms=")),
        "{tasks:?}"
    );
    assert!(
        tasks.iter().any(|l| l.contains("activity=uppercase")),
        "{tasks:?}"
    );
}

#[test]
fn check_finds_an_exec_program_that_does_not_exist_and_prints_the_path_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        r#"
        [coordinator]
        endpoint = "http://127.0.0.1:8083"
        [activities.resize]
        concurrency = "two"
        handler = { type = "exec", command = ["/usr/local/bin/no-such-resize-image"] }
        [activities.notify]
        timeout_seconds = "1m"
        handler = { type = "http", url = "http://127.0.0.1:8080/notify" }
        "#,
    );
    let run = |cfg: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
            .arg("check")
            .arg("--config")
            .arg(cfg)
            .output()
            .unwrap()
    };
    // Type errors first: every one of them, the file's path once.
    let out = run(&cfg);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(&cfg.display().to_string()).count(), 1, "{err}");
    assert!(err.contains("activities.resize.concurrency"), "{err}");
    assert!(err.contains("activities.notify.timeout_seconds"), "{err}");
    // Then the program that is not there.
    let cfg = write_config(
        &dir,
        r#"
        [coordinator]
        endpoint = "http://127.0.0.1:8083"
        [activities.resize]
        handler = { type = "exec", command = ["/usr/local/bin/no-such-resize-image"] }
        "#,
    );
    let out = run(&cfg);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "activities.resize.handler.command: program /usr/local/bin/no-such-resize-image does not exist"
        ),
        "{err}"
    );
}

#[test]
fn the_readme_names_every_error_the_agent_can_produce() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for dir in ["agent/src", "sdk/src"] {
        for e in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            for prefix in ["\"Agent.", "\"Handler.", "\"Worker."] {
                for (at, _) in text.match_indices(prefix) {
                    let name: String = text[at + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                        .collect();
                    // `Agent.ExitCode.7` in a unit test is `Agent.ExitCode.<n>`.
                    let name = name.trim_end_matches(|c: char| c == '.' || c.is_ascii_digit());
                    names.insert(name.to_owned());
                }
            }
        }
    }
    assert!(names.contains("Agent.ExecFailed"), "{names:?}");
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !readme.contains(&format!("`{n}")))
        .collect();
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}

/// A Lambda function of an AWS definition, served on this host by the
/// agent's exec handler through the coordinator's `lambda_activities`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_function_served_by_the_exec_handler() {
    let mut settings = stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        ..Default::default()
    };
    settings.integrations.lambda_activities.push(
        stepwise_coordinator::integrations::LambdaActivity {
            function: "shout".into(),
            activity: act("shout"),
        },
    );
    let running = stepwise_coordinator::start(settings).await.unwrap();
    let url = format!("http://{}", running.addr);
    let c = Client::builder().endpoint_url(&url).build().unwrap();
    c.create_activity(CreateActivityInput {
        name: "shout".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            r#"
            [coordinator]
            endpoint = "{url}"
            [activities.shout]
            handler = {{ type = "exec", command = ["sh", "-c", "tr a-z A-Z"] }}
            "#
        ),
    );
    let _agent = AgentProc::start(&cfg);
    // As written for AWS: lambda:invoke with a FunctionName and a Payload.
    let sm = machine(&c, "lambda-on-prem", json!({"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:shout", "Payload": {"word.$": "$.word"}},
            "ResultSelector": {"said.$": "$.Payload", "status.$": "$.StatusCode"}, "End": true}
    }}))
    .await;
    let ex = start(&c, &sm, json!({"word": "hello"})).await;
    let d = wait(&c, &ex, Duration::from_secs(30)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?}", d.cause);
    let out: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(out, json!({"said": {"WORD": "HELLO"}, "status": 200}));
}

/// A test CA and a certificate it signed for localhost and 127.0.0.1, as PEM
/// files in `dir`: (CA, certificate, key). The CA is `name`d so two differ.
fn certs(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Stepwise test CA {name}"),
    );
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// An agent with a worker's key (allowed to poll and answer its activity,
/// nothing else) over HTTPS with a custom CA runs a workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_a_worker_key_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(
        &keys,
        r#"
[[key]]
access_key_id = "AKIDADMIN"
secret_access_key = "admin-secret-key"
allow = ["*"]

[[key]]
name = "upper-worker"
access_key_id = "AKIDWORKER"
secret_access_key = "worker-secret-key"
allow = ["GetActivityTask", "SendTask*"]
resources = ["arn:aws:states:*:*:activity:upper"]
"#,
    )
    .unwrap();
    let (ca, cert, key) = certs(dir.path(), "agent");
    let running = stepwise_coordinator::start(stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        auth_file: Some(keys),
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!("https://localhost:{}", running.addr.port());
    let admin = Client::builder()
        .endpoint_url(&url)
        .credentials(stepwise_sdk::Credentials::new(
            "AKIDADMIN",
            "admin-secret-key",
            None,
        ))
        .ca_bundle_pem(std::fs::read(&ca).unwrap())
        .build()
        .unwrap();
    let sm = machine(
        &admin,
        "tls",
        json!({"StartAt": "Upper", "States": {
        "Upper": {"Type": "Task", "Resource": act("upper"), "End": true}}}),
    )
    .await;
    let cfg = write_config(
        &dir,
        &format!(
            r#"
            [coordinator]
            endpoint = "{url}"
            ca_bundle = "{}"
            [activities.upper]
            arn = "{}"
            handler = {{ type = "exec", command = ["sh", "-c", "tr a-z A-Z"] }}
            "#,
            ca.display(),
            act("upper")
        ),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_stepwise-agent"))
        .arg("--config")
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .env("AWS_ACCESS_KEY_ID", "AKIDWORKER")
        .env("AWS_SECRET_ACCESS_KEY", "worker-secret-key")
        .env_remove("AWS_SESSION_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let _agent = AgentProc(child);
    let arn = start(&admin, &sm, json!({"word": "hello"})).await;
    let d = wait(&admin, &arn, Duration::from_secs(30)).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.output.as_deref(), Some(r#"{"WORD":"HELLO"}"#));
    running.shutdown().await;
}
