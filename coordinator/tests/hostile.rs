//! Hostile input across a restart: whatever `StartExecution` accepts must be
//! read back after the coordinator restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ROLE, Server, wait_done};
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
