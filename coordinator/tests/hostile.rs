//! Hostile input across a restart: whatever `StartExecution` accepts must be
//! read back after the coordinator restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ROLE, Server, create_machine, start_execution, wait_done};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_input_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::start(Some(&data), &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("deep")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{act}","End":true}}}}}}"#
    );
    let sm = c
        .create_state_machine()
        .name("deep")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    // As deep as the API's JSON parser accepts.
    let input = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let mut execs = Vec::new();
    for name in ["a", "b"] {
        execs.push(
            c.start_execution()
                .state_machine_arn(&sm)
                .name(name)
                .input(&input)
                .send()
                .await
                .unwrap()
                .execution_arn()
                .to_owned(),
        );
    }
    assert!(s.terminate().is_some_and(|st| st.success()));

    let s = Server::start(Some(&data), &[]);
    let c = s.client();
    // Still known to the engine: it can be stopped...
    c.stop_execution()
        .execution_arn(&execs[1])
        .send()
        .await
        .unwrap();
    // ...and its task is handed out again.
    let task = tokio::time::timeout(
        Duration::from_secs(20),
        c.get_activity_task().activity_arn(&act).send(),
    )
    .await
    .expect("the task was not handed out after the restart")
    .unwrap();
    assert_eq!(task.input(), Some(input.as_str()));
    c.send_task_success()
        .task_token(task.task_token().unwrap())
        .output(&input)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &execs[0], Duration::from_secs(20)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED");
    assert_eq!(d.output(), Some(input.as_str()));
    let d = wait_done(&c, &execs[1], Duration::from_secs(20)).await;
    assert_eq!(d.status().as_str(), "ABORTED");
}

/// The process's address space (`VmSize`), in bytes.
fn address_space(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expression_that_would_exhaust_memory_fails_its_execution_not_the_server() {
    let mut s = Server::start(None, &[]);
    // Under a memory limit: 1 GiB more address space than it has now.
    let limit = address_space(s.pid()) + (1 << 30);
    let st = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(s.pid().to_string())
        .arg(format!("--as={limit}"))
        .status()
        .expect("prlimit (util-linux) is needed for this test");
    assert!(st.success(), "prlimit failed");
    let c = s.client();
    // A string that doubles 40 times (2^41 bytes in the end), and $pad far
    // past any output AWS would accept.
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"Grow","States":{
        "Grow":{"Type":"Pass","Output":"{% ($d := function($x, $n) { $n = 0 ? $x : $d($x & $x, $n - 1) }; $length($d('ab', 40))) %}","Next":"Pad"},
        "Pad":{"Type":"Pass","Output":"{% $length($pad('', 300000000, 'a')) %}","End":true}}}"#;
    let fine = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":"{% $states.input.n + 1 %}","End":true}}}"#;
    let grow = create_machine(&c, "grow", def).await;
    let fine = create_machine(&c, "fine", fine).await;
    let mut hostile = Vec::new();
    for _ in 0..3 {
        hostile.push(start_execution(&c, &grow, None, None).await);
    }
    for e in &hostile {
        let d = wait_done(&c, e, Duration::from_secs(60)).await;
        assert_eq!(d.status().as_str(), "FAILED");
        assert_eq!(d.error(), Some("States.QueryEvaluationError"));
        assert!(
            d.cause().is_some_and(|c| c.contains("memory limit")),
            "{:?}",
            d.cause()
        );
    }
    // The server lives on and serves the others.
    let e = start_execution(&c, &fine, None, Some(r#"{"n": 41}"#)).await;
    let d = wait_done(&c, &e, Duration::from_secs(20)).await;
    assert_eq!(d.output(), Some("42"));
    assert!(s.alive());
}
