//! The real binary on a full filesystem: a 2 MiB tmpfs holds its data
//! directory and its log. While it is full, `StartExecution` answers 5xx and
//! no execution runs from a start that was not stored; the server keeps
//! serving though its log cannot be written; once space is freed, new
//! executions succeed with whole histories, without a restart.
//!
//! Mounting needs root (CI runs as root). Where mounting is not permitted the
//! test fails when `CI` is set, and says it did not run otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ROLE, Server, client_without_retries};
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(dir.path().to_path_buf(), dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the filesystem refuses more.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(&[0]).is_ok() {}
    let _ = f.sync_all();
}

/// `GET /healthz`: the status code.
fn health(url: &str) -> u16 {
    let addr = url.trim_start_matches("http://");
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn ten_passes() -> String {
    let mut states = serde_json::Map::new();
    for i in 0..10 {
        let next = if i == 9 {
            json!({"Type": "Pass", "End": true})
        } else {
            json!({"Type": "Pass", "Next": format!("P{}", i + 1)})
        };
        states.insert(format!("P{i}"), next);
    }
    json!({"StartAt": "P0", "States": states}).to_string()
}

/// Asserts a whole history: ids 1..=n from `ExecutionStarted` to `ExecutionSucceeded`.
async fn assert_whole(c: &aws_sdk_sfn::Client, arn: &str) {
    let h = c
        .get_execution_history()
        .execution_arn(arn)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = h.events().iter().map(|e| e.id()).collect();
    let expected: Vec<i64> = (1..=ids.len() as i64).collect();
    assert_eq!(ids, expected, "history of {arn}");
    let types: Vec<&str> = h.events().iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    assert_eq!(
        types.iter().filter(|t| **t == "PassStateEntered").count(),
        10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_starts_and_the_server_recovers_when_space_is_freed() {
    let fs = match Tmpfs::mount("2m") {
        Ok(fs) => fs,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but the full-disk test cannot run: {e}")
        }
        Err(e) => {
            eprintln!("full-disk test NOT RUN (needs root to mount a tmpfs): {e}");
            return;
        }
    };
    let data = fs.0.join("data");
    let log = std::fs::File::create(fs.0.join("coordinator.log")).unwrap();
    let mut s = Server::start_logging(Some(&data), &[], "info", Stdio::from(log));
    let c = client_without_retries(&s.url);
    let machine = c
        .create_state_machine()
        .name("passes")
        .definition(ten_passes())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    // One that outlives its first round: its Wait ends a second after the start.
    let waits = c
        .create_state_machine()
        .name("waits")
        .definition(
            json!({"StartAt": "W", "States": {
                "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                "P": {"Type": "Pass", "End": true}}})
            .to_string(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    // Inputs near the 256 KiB limit: each start needs new pages in the WAL.
    let input = json!({"pad": "x".repeat(200_000)}).to_string();

    let filler = fs.0.join("filler");
    fill(&filler);
    let mut refused = Vec::new();
    for i in 0..6 {
        let (name, m) = if i % 2 == 0 {
            (format!("full-{i}"), &machine)
        } else {
            (format!("wait-{i}"), &waits)
        };
        refused.push(format!(
            "{}:{name}",
            m.replace(":stateMachine:", ":execution:")
        ));
        let err = c
            .start_execution()
            .state_machine_arn(m)
            .name(&name)
            .input(&input)
            .send()
            .await
            .expect_err("a start on a full disk is not stored");
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert!(
            status.is_some_and(|s| s >= 500),
            "{name}: {status:?} {err:?}"
        );
    }
    // The failed writes to the log did not stop the server.
    assert!(s.alive(), "the coordinator died on the full disk");
    let t0 = Instant::now();
    while health(&s.url) != 200 {
        assert!(t0.elapsed() < Duration::from_secs(10), "no healthy answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // None of them ran: nothing is known of them, now or after their Wait
    // would have ended.
    for pass in 0..2 {
        for arn in &refused {
            let err = c
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .expect_err("no such execution");
            assert!(
                err.as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()),
                "{arn}: {err:?}"
            );
        }
        if pass == 0 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    }

    // Space is freed: the same server stores and runs new executions, whole.
    std::fs::remove_file(&filler).unwrap();
    let mut arns = Vec::new();
    for name in ["full-0", "after-1", "after-2"] {
        let arn = c
            .start_execution()
            .state_machine_arn(&machine)
            .name(name)
            .input(&input)
            .send()
            .await
            .unwrap()
            .execution_arn()
            .to_owned();
        arns.push(arn);
    }
    for arn in &arns {
        let d = common::wait_done(&c, arn, Duration::from_secs(10)).await;
        assert_eq!(d.status().as_str(), "SUCCEEDED", "{arn}");
        assert_whole(&c, arn).await;
    }
    let listed = c
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), 3);
    assert!(s.alive());
    drop(s);
    drop(fs);
}
