//! The coordinator binary on a network: SigV4 with keys from `--auth-file`
//! (the official `aws-sdk-sfn` signing), key scopes, reload on SIGHUP, and
//! the refusal to listen beyond loopback without authentication.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use common::{ROLE, Server, wait_done};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEYS: &str = r#"
[[key]]
name = "admin"
access_key_id = "AKIDADMIN"
secret_access_key = "admin-secret-key"
allow = ["*"]

[[key]]
name = "charge-worker"
access_key_id = "AKIDWORKER"
secret_access_key = "worker-secret-key"
allow = ["GetActivityTask", "SendTask*"]
resources = ["arn:aws:states:*:*:activity:charge"]
"#;

fn client(url: &str, id: &str, secret: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(id, secret, None, None, "test"))
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_owned()
}

/// A raw HTTP/1.1 POST (no signature), returning the status line and body.
fn raw_post(url: &str, host: &str, target: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = "{}";
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.{target}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_calls_scoped_keys_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, KEYS).unwrap();
    let s = Server::start(None, &["--auth-file", keys.to_str().unwrap()]);
    let admin = client(&s.url, "AKIDADMIN", "admin-secret-key");
    let worker = client(&s.url, "AKIDWORKER", "worker-secret-key");

    let act = admin
        .create_activity()
        .name("charge")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = format!(
        r#"{{"StartAt":"Charge","States":{{"Charge":{{"Type":"Task","Resource":"{act}","End":true}}}}}}"#
    );
    let sm = admin
        .create_state_machine()
        .name("pay")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let exec = admin
        .start_execution()
        .state_machine_arn(&sm)
        .input(r#"{"amount":3}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();

    // The worker's key polls and answers its activity.
    let task = worker
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    let token = task.task_token().expect("a task").to_owned();
    assert_eq!(task.input(), Some(r#"{"amount":3}"#));
    worker
        .send_task_success()
        .task_token(token)
        .output(r#"{"paid":true}"#)
        .send()
        .await
        .unwrap();
    let done = wait_done(&admin, &exec, Duration::from_secs(20)).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED");

    // ... and nothing else.
    let e = worker
        .create_state_machine()
        .name("evil")
        .definition(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let e = worker
        .list_executions()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");

    let e = client(&s.url, "AKIDADMIN", "not-the-secret")
        .list_activities()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");
    let e = client(&s.url, "AKIDSTRANGER", "admin-secret-key")
        .list_activities()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");

    let r = raw_post(&s.url, "127.0.0.1", "ListActivities");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("MissingAuthenticationTokenException"), "{r}");
    let r = raw_post(&s.url, "attacker.example", "ListActivities");
    assert!(r.contains("is not a name of this coordinator"), "{r}");

    // SIGHUP reads the file again.
    std::fs::write(
        &keys,
        "[[key]]\naccess_key_id = \"AKIDLATE\"\nsecret_access_key = \"late-secret-key\"\nallow = [\"List*\"]\n",
    )
    .unwrap();
    let late = client(&s.url, "AKIDLATE", "late-secret-key");
    assert_eq!(
        code(&late.list_activities().send().await.unwrap_err()),
        "UnrecognizedClientException"
    );
    let st = Command::new("kill")
        .arg("-HUP")
        .arg(s.pid().to_string())
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match late.list_activities().send().await {
            Ok(l) => {
                assert_eq!(l.activities().len(), 1);
                break;
            }
            Err(e) => {
                assert_eq!(code(&e), "UnrecognizedClientException");
                assert!(Instant::now() < deadline, "the key file was not reloaded");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let e = admin.list_activities().send().await.unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");
}

fn run(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stepwise-coordinator"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn refuses_to_listen_beyond_loopback_without_auth() {
    let out = run(&["--in-memory", "--listen", "0.0.0.0:0"])
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--auth-file") && err.contains("--insecure-no-auth"),
        "{err}"
    );

    // Told so, it starts, and says so.
    let mut c = run(&["--in-memory", "--listen", "0.0.0.0:0", "--insecure-no-auth"]);
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(c.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(
        line.starts_with("stepwise-coordinator listening on 0.0.0.0:"),
        "{line}"
    );
    c.kill().unwrap();
    let out = c.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("insecure-no-auth"), "{err}");

    // A bad keys file stops it at start.
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "[[key]]\naccess_key_id = \"A\"\n").unwrap();
    let out = run(&[
        "--in-memory",
        "--listen",
        "127.0.0.1:0",
        "--auth-file",
        keys.to_str().unwrap(),
    ])
    .wait_with_output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keys.toml"), "{err}");
}

#[test]
fn listens_on_a_host_name() {
    let mut c = run(&["--in-memory", "--listen", "localhost:0"]);
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(c.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("stepwise-coordinator listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let port = addr.rsplit(':').next().unwrap();
    let r = raw_post(
        &format!("http://{addr}"),
        &format!("localhost:{port}"),
        "ListActivities",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    c.kill().unwrap();
    let _ = c.wait();
}

/// Starts the binary with `extra` flags and returns it with its address.
fn start_with(extra: &[&str]) -> (std::process::Child, String) {
    let mut args = vec!["--in-memory", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut c = run(&args);
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(c.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("stepwise-coordinator listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (c, addr)
}

/// Reads until the peer closes, or `within` passes; returns what came and whether it closed.
fn read_until_closed(s: &mut std::net::TcpStream, within: Duration) -> (String, bool) {
    s.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

#[test]
fn slow_idle_and_excess_connections_are_bounded() {
    let (mut c, addr) = start_with(&[
        "--header-timeout-seconds",
        "1",
        "--body-timeout-seconds",
        "1",
        "--max-connections",
        "3",
    ]);
    // A client that never finishes its headers is cut off.
    let started = Instant::now();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(10));
    assert!(closed, "a client sending half a header was kept");
    assert!(started.elapsed() < Duration::from_secs(5));

    // So is an idle one.
    let mut idle = std::net::TcpStream::connect(&addr).unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(10));
    assert!(closed, "an idle connection was kept");

    // A body that does not arrive gets AWS's error shape.
    let mut body = std::net::TcpStream::connect(&addr).unwrap();
    body.write_all(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSStepFunctions.ListActivities\r\nContent-Length: 100\r\n\r\n{\"a\":",
    )
    .unwrap();
    let (r, _) = read_until_closed(&mut body, Duration::from_secs(10));
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    assert!(r.contains("RequestTimeoutException"), "{r}");

    // At most 3 connections are served; the next waits for one to close.
    let held: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = std::net::TcpStream::connect(&addr).unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (r, _) = read_until_closed(&mut fourth, Duration::from_millis(300));
    assert!(r.is_empty(), "a 4th connection was served: {r}");
    drop(held);
    let (r, closed) = read_until_closed(&mut fourth, Duration::from_secs(10));
    assert!(closed && r.starts_with("HTTP/1.1 200"), "{r}");
    c.kill().unwrap();
    let _ = c.wait();
}
