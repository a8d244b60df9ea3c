//! Kill the coordinator with SIGKILL in the middle of many STANDARD executions
//! that use Wait states and activities, restart it on the same data directory,
//! and check that every execution completes with the right output and that no
//! state was entered twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ROLE, Server, create_machine, event_types, start_execution, wait_done};
use serde_json::{Value, json};
use std::time::Duration;

const N: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_flight_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    // Waits are scaled so the test stays short.
    let mut s = Server::start(Some(dir.path()), &["--wait-time-scale", "0.2"]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("double")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 2, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": act, "ResultPath": "$.doubled", "Next": "After"},
        "After": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("crash")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let mut arns = Vec::new();
    for i in 0..N {
        let ex = c
            .start_execution()
            .state_machine_arn(&sm)
            .name(format!("e{i}"))
            .input(json!({"n": i}).to_string())
            .send()
            .await
            .unwrap();
        arns.push(ex.execution_arn().to_owned());
    }
    // Answer a third of the tasks before the crash; take a few more and never answer them.
    let mut taken_unanswered = Vec::new();
    for k in 0..(N / 3 + 3) {
        let t = c
            .get_activity_task()
            .activity_arn(&act)
            .worker_name("before")
            .send()
            .await
            .unwrap();
        let token = t.task_token().unwrap().to_owned();
        if k < N / 3 {
            let n = serde_json::from_str::<Value>(t.input().unwrap()).unwrap()["n"]
                .as_i64()
                .unwrap();
            c.send_task_success()
                .task_token(&token)
                .output(json!(n * 2).to_string())
                .send()
                .await
                .unwrap();
        } else {
            taken_unanswered.push((token, t.input().unwrap().to_owned()));
        }
    }
    s.kill();

    let s2 = Server::start(Some(dir.path()), &["--wait-time-scale", "0.2"]);
    let c = s2.client();
    // Tokens handed out before the crash still work after it.
    for (token, input) in taken_unanswered {
        let n = serde_json::from_str::<Value>(&input).unwrap()["n"]
            .as_i64()
            .unwrap();
        c.send_task_success()
            .task_token(&token)
            .output(json!(n * 2).to_string())
            .send()
            .await
            .unwrap();
    }
    // A worker on the restarted server does the rest.
    let worker = {
        let c = c.clone();
        let act = act.clone();
        tokio::spawn(async move {
            loop {
                let t = c
                    .get_activity_task()
                    .activity_arn(&act)
                    .worker_name("after")
                    .send()
                    .await
                    .unwrap();
                let Some(token) = t.task_token() else {
                    continue;
                };
                let n = serde_json::from_str::<Value>(t.input().unwrap()).unwrap()["n"]
                    .as_i64()
                    .unwrap();
                c.send_task_success()
                    .task_token(token)
                    .output(json!(n * 2).to_string())
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    for (i, arn) in arns.iter().enumerate() {
        let d = wait_done(&c, arn, Duration::from_secs(60)).await;
        assert_eq!(d.status().as_str(), "SUCCEEDED", "{arn}: {:?}", d.cause());
        let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
        assert_eq!(out, json!({"n": i, "doubled": i * 2}), "{arn}");
        let types = event_types(&c, arn).await;
        for entered in ["WaitStateEntered", "TaskStateEntered", "PassStateEntered"] {
            let count = types.iter().filter(|t| *t == entered).count();
            let want = if entered == "WaitStateEntered" { 2 } else { 1 };
            assert_eq!(count, want, "{arn}: {entered} in {types:?}");
        }
        assert_eq!(
            types.iter().filter(|t| *t == "ActivitySucceeded").count(),
            1,
            "{arn}: {types:?}"
        );
    }
    worker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_data_survives() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(Some(dir.path()), &[]);
    let c = s.client();
    let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;
    let sm = c
        .create_state_machine()
        .name("keep")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let ex = c
        .start_execution()
        .state_machine_arn(&sm)
        .input(r#"{"k":1}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    wait_done(&c, &ex, Duration::from_secs(10)).await;
    let status = s.terminate().expect("exited");
    assert!(status.success(), "{status:?}");
    let s2 = Server::start(Some(dir.path()), &[]);
    let c = s2.client();
    let d = c
        .describe_execution()
        .execution_arn(&ex)
        .send()
        .await
        .unwrap();
    assert_eq!(d.output(), Some(r#"{"k":1}"#));
}

async fn status(c: &aws_sdk_sfn::Client, arn: &str) -> (String, Option<String>, Option<String>) {
    let d = c
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .unwrap();
    (
        d.status().as_str().to_owned(),
        d.error().map(str::to_owned),
        d.cause().map(str::to_owned),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_running_through_two_crashes_in_a_row_is_failed_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(Some(dir.path()), &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("never")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": act, "End": true}}})
    .to_string();
    let sm = create_machine(&c, "looping", &def).await;
    let first = start_execution(&c, &sm, Some("first"), None).await;
    // A clean stop and start count nothing.
    assert!(s.terminate().is_some_and(|st| st.success()));
    let mut s = Server::start(Some(dir.path()), &[]);
    // First crash: `first` was running.
    s.kill();
    let mut s = Server::start(Some(dir.path()), &[]);
    let c = s.client();
    assert_eq!(status(&c, &first).await.0, "RUNNING");
    let second = start_execution(&c, &sm, Some("second"), None).await;
    // Second crash in a row: `first` ran through both, `second` through one.
    s.kill();
    let mut s = Server::start(Some(dir.path()), &[]);
    let c = s.client();
    let (st, error, cause) = status(&c, &first).await;
    assert_eq!(st, "FAILED");
    assert_eq!(error.as_deref(), Some("States.Runtime"));
    assert!(
        cause
            .as_deref()
            .is_some_and(|c| c.contains("stopped abnormally")),
        "{cause:?}"
    );
    let types = event_types(&c, &first).await;
    assert_eq!(types.last().map(String::as_str), Some("ExecutionFailed"));
    assert_eq!(status(&c, &second).await.0, "RUNNING");
    // A clean stop forgets the count: one more crash does not fail `second`.
    assert!(s.terminate().is_some_and(|st| st.success()));
    let mut s = Server::start(Some(dir.path()), &[]);
    s.kill();
    let s = Server::start(Some(dir.path()), &[]);
    let c = s.client();
    assert_eq!(status(&c, &second).await.0, "RUNNING");
    // ...and it still works: its task is handed out and answered.
    let task = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    c.send_task_success()
        .task_token(task.task_token().unwrap())
        .output("{}")
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &second, Duration::from_secs(20)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED");
}
