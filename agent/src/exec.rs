//! The `exec` handler: run a program with the task input on stdin; JSON on
//! stdout is the output. A non-zero exit is a failure named by the exit-code
//! map (default `Agent.ExitCode.<n>`) with the tail of stderr as cause. The
//! whole process group is killed on timeout, when the task is closed by the
//! coordinator, and when the agent gives up on it at shutdown.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use stepwise_sdk::{TaskContext, TaskFailure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How much of stderr becomes the failure's cause.
pub const STDERR_TAIL_BYTES: usize = 4096;
/// The most stdout a task may print (the output limit, with room for whitespace).
pub const MAX_STDOUT_BYTES: usize = 512 * 1024;

/// A configured program.
#[derive(Debug, Clone)]
pub struct ExecHandler {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Exit code → error name.
    pub exit_codes: BTreeMap<i32, String>,
    /// Time limit.
    pub timeout: Duration,
}

impl ExecHandler {
    /// Runs the program for one task.
    pub async fn run(&self, input: Value, ctx: TaskContext) -> Result<Value, TaskFailure> {
        let Some((program, args)) = self.command.split_first() else {
            return Err(TaskFailure::new(
                "Agent.Config",
                "the exec handler has no command",
            ));
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .envs(&self.env)
            .env("STEPWISE_TASK_TOKEN", &ctx.task_token)
            .env("STEPWISE_ACTIVITY_ARN", &ctx.activity_arn)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().map_err(|e| {
            TaskFailure::new(
                "Agent.ExecFailed",
                format!("could not start {program}: {e}"),
            )
        })?;
        let pid = child.id();
        // Dropped before the program was reaped (the worker gave up on the
        // task at shutdown): the whole group goes, not only its leader.
        let mut group = GroupGuard(pid);
        let mut stdin = child.stdin.take();
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let body = input.to_string();
        let io = async {
            let write = async {
                if let Some(mut s) = stdin.take() {
                    // A program that does not read its input is fine.
                    let _ = s.write_all(body.as_bytes()).await;
                    let _ = s.shutdown().await;
                }
            };
            let read_out = async {
                let mut buf = Vec::new();
                if let Some(s) = stdout.as_mut() {
                    let _ = s
                        .take(MAX_STDOUT_BYTES as u64 + 1)
                        .read_to_end(&mut buf)
                        .await;
                }
                buf
            };
            let read_err = async {
                let mut buf = Vec::new();
                if let Some(s) = stderr.as_mut() {
                    let _ = s.read_to_end(&mut buf).await;
                }
                buf
            };
            let ((), out, err) = tokio::join!(write, read_out, read_err);
            let status = child.wait().await;
            (out, err, status)
        };
        let outcome = tokio::select! {
            r = io => Some(r),
            _ = tokio::time::sleep(self.timeout) => None,
            _ = ctx.cancelled() => None,
        };
        let Some((out, err, status)) = outcome else {
            group.0 = None;
            kill_group(pid);
            let why = if ctx.is_cancelled() {
                "the task was closed"
            } else {
                "the time limit passed"
            };
            return Err(TaskFailure::new(
                "Agent.Timeout",
                format!(
                    "{program} was killed after {}s: {why}",
                    self.timeout.as_secs()
                ),
            ));
        };
        group.0 = None;
        let status = status.map_err(|e| TaskFailure::new("Agent.ExecFailed", e.to_string()))?;
        let tail = stderr_tail(&err);
        if !status.success() {
            return Err(match status.code() {
                Some(code) => TaskFailure::new(
                    self.exit_codes
                        .get(&code)
                        .cloned()
                        .unwrap_or_else(|| format!("Agent.ExitCode.{code}")),
                    tail,
                ),
                None => TaskFailure::new(
                    "Agent.Signal",
                    format!("{program} was killed by a signal. {tail}"),
                ),
            });
        }
        if out.len() > MAX_STDOUT_BYTES {
            return Err(TaskFailure::new(
                "Agent.OutputTooLarge",
                format!("{program} printed more than {MAX_STDOUT_BYTES} bytes"),
            ));
        }
        let text = String::from_utf8_lossy(&out);
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text.trim()).map_err(|e| {
            TaskFailure::new(
                "Agent.InvalidOutput",
                format!(
                    "{program} printed something that is not JSON ({e}): {}",
                    text.chars().take(200).collect::<String>()
                ),
            )
        })
    }
}

fn stderr_tail(err: &[u8]) -> String {
    let start = err.len().saturating_sub(STDERR_TAIL_BYTES);
    String::from_utf8_lossy(&err[start..]).trim().to_owned()
}

/// Kills the process group it holds when dropped.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0.take());
    }
}

/// Kills the whole process group of `pid` (the handler ran it as a group leader).
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sh(script: &str, timeout_ms: u64) -> ExecHandler {
        ExecHandler {
            command: vec!["sh".into(), "-c".into(), script.into()],
            env: BTreeMap::new(),
            cwd: None,
            exit_codes: BTreeMap::from([(3, "Image.TooLarge".to_owned())]),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[tokio::test]
    async fn stdin_to_stdout() {
        let h = sh("cat", 5000);
        assert_eq!(
            h.run(json!({"a": 1}), TaskContext::for_tests("t")).await,
            Ok(json!({"a": 1}))
        );
    }

    #[tokio::test]
    async fn exit_codes_map_to_error_names_with_stderr_tail() {
        let h = sh("echo oops >&2; exit 3", 5000);
        assert_eq!(
            h.run(json!({}), TaskContext::for_tests("t")).await,
            Err(TaskFailure::new("Image.TooLarge", "oops"))
        );
        let h = sh("exit 7", 5000);
        assert_eq!(
            h.run(json!({}), TaskContext::for_tests("t"))
                .await
                .unwrap_err()
                .error,
            "Agent.ExitCode.7"
        );
    }

    #[tokio::test]
    async fn non_json_output_is_a_clear_failure() {
        let h = sh("echo hello", 5000);
        assert_eq!(
            h.run(json!({}), TaskContext::for_tests("t"))
                .await
                .unwrap_err()
                .error,
            "Agent.InvalidOutput"
        );
    }

    #[tokio::test]
    async fn the_process_group_is_killed_on_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("child-alive");
        // A grandchild that would write a file after 2 s if it survived.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let h = sh(&script, 200);
        let e = h
            .run(json!({}), TaskContext::for_tests("t"))
            .await
            .unwrap_err();
        assert_eq!(e.error, "Agent.Timeout");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "the grandchild survived the group kill");
    }

    /// The live (not zombie) processes of a process group, by command name.
    #[cfg(target_os = "linux")]
    fn group_members(pgid: u32) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid pgrp ...
            let Some((comm, rest)) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") "))
            else {
                continue;
            };
            let f: Vec<&str> = rest.split(' ').collect();
            if f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string() {
                out.push(comm.to_owned());
            }
        }
        out
    }

    /// At shutdown past its deadline the worker drops the handler's future:
    /// `sh -c "sleep 60; cat"` must not leave its `sleep` behind.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn dropping_the_handler_kills_its_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pg = dir.path().join("pgid");
        let h = sh(
            &format!("echo $$ > {}; sleep 60; cat", pg.display()),
            120_000,
        );
        let mut run = Box::pin(h.run(json!({}), TaskContext::for_tests("t")));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let pgid = loop {
            tokio::select! {
                r = &mut run => panic!("the handler finished: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            if let Some(id) = std::fs::read_to_string(&pg)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                && group_members(id).iter().any(|c| c == "sleep")
            {
                break id;
            }
            assert!(std::time::Instant::now() < deadline, "sleep never started");
        };
        drop(run);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !group_members(pgid).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "left behind: {:?}",
                group_members(pgid)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_missing_program_fails_cleanly() {
        let mut h = sh("true", 1000);
        h.command = vec!["/nonexistent/program".into()];
        assert_eq!(
            h.run(json!({}), TaskContext::for_tests("t"))
                .await
                .unwrap_err()
                .error,
            "Agent.ExecFailed"
        );
    }
}
