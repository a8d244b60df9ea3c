//! Three coordinators on one fresh PostgreSQL database: one owns the
//! executions, two wait. Many STANDARD executions with Wait, an activity,
//! Parallel and Map run; the owner is SIGKILLed mid-run; a waiting node takes
//! over, and every execution completes with the right output, no state
//! entered twice, no task answered twice. Then that node stops and the last
//! one answers the same for every execution.
//!
//! Needs PostgreSQL (`STEPWISE_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`); skipped without one unless
//! `CI` is set, when it fails instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Pending, ROLE, Server, client, wait_done};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepwise_coordinator::store::postgres::scratch;

const N: usize = 16;

/// Every event of an execution: (id, previous id, type, state name if any).
async fn history(c: &aws_sdk_sfn::Client, arn: &str) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let h = c
            .get_execution_history()
            .execution_arn(arn)
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .expect("history");
        out.extend(h.events().iter().map(|e| {
            (
                e.id(),
                e.previous_event_id(),
                e.r#type().as_str().to_owned(),
            )
        }));
        token = h.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// A worker answering the activity on whichever node currently serves:
/// each task it receives is answered once (retried on another node only if
/// the request did not reach one). Counts the answers each input got accepted.
fn worker(
    url: Arc<Mutex<String>>,
    act: String,
    accepted: Arc<Mutex<HashMap<i64, u32>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let c = common::client_without_retries(&url.lock().unwrap().clone());
            let t = match c
                .get_activity_task()
                .activity_arn(&act)
                .worker_name("w")
                .send()
                .await
            {
                Ok(t) => t,
                Err(_) => {
                    // The node is gone: wait for the test to name the next one.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(token) = t.task_token().map(str::to_owned) else {
                continue;
            };
            let n = serde_json::from_str::<Value>(t.input().unwrap()).unwrap()["n"]
                .as_i64()
                .unwrap();
            loop {
                let c = common::client_without_retries(&url.lock().unwrap().clone());
                match c
                    .send_task_success()
                    .task_token(&token)
                    .output(json!(n * 2).to_string())
                    .send()
                    .await
                {
                    Ok(_) => {
                        *accepted.lock().unwrap().entry(n).or_default() += 1;
                        break;
                    }
                    // A 5xx (e.g. the new owner still taking over) is tried again, like any worker would.
                    Err(e)
                        if e.raw_response()
                            .is_some_and(|r| r.status().is_server_error()) =>
                    {
                        eprintln!("answer for {n} tried again: {e:?}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    // Refused by the service (answered already, e.g. a task handed out again after the takeover).
                    Err(e @ aws_sdk_sfn::error::SdkError::ServiceError(_)) => {
                        eprintln!("answer for {n} refused: {e:?}");
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_coordinators_one_killed() {
    let Some(db) = scratch::Database::create("several").unwrap() else {
        return;
    };
    let args = [
        "--database-url",
        db.url.as_str(),
        "--wait-time-scale",
        "0.2",
    ];
    let mut first = Pending::spawn(&args);
    let mut a = first
        .listening(Duration::from_secs(60))
        .expect("the first coordinator owns the database and listens");
    // The other two wait for the database.
    let mut standbys = vec![Pending::spawn(&args), Pending::spawn(&args)];

    let c = a.client();
    let act = c
        .create_activity()
        .name("double")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": act, "ResultPath": "$.doubled", "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Each", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
            {"StartAt": "BW", "States": {
                "BW": {"Type": "Wait", "Seconds": 1, "Next": "B"},
                "B": {"Type": "Pass", "Result": "b", "End": true}}}
        ]},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.each", "Next": "Done",
            "ItemProcessor": {"StartAt": "Item", "States": {
                "Item": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}}},
        "Done": {"Type": "Pass", "End": true}
    }})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("several")
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
            .input(json!({"n": i, "items": [1, 2, 3]}).to_string())
            .send()
            .await
            .unwrap();
        arns.push(ex.execution_arn().to_owned());
    }
    let url = Arc::new(Mutex::new(a.url.clone()));
    let accepted = Arc::new(Mutex::new(HashMap::new()));
    let w = worker(url.clone(), act.clone(), accepted.clone());
    // Kill the owner once a third of the tasks are answered (the rest are
    // waiting, in Wait states, in Parallel or Map, or not scheduled yet).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while accepted.lock().unwrap().len() < N / 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker got no tasks"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();

    // One of the waiting nodes takes over.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (b, mut last) = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no coordinator took over"
        );
        if let Some(s) = standbys[0].listening(Duration::from_millis(100)) {
            break (s, standbys.remove(1));
        }
        if let Some(s) = standbys[1].listening(Duration::from_millis(100)) {
            break (s, standbys.remove(0));
        }
    };
    let cb = b.client();
    // The executions whose tasks were not answered are still running: the
    // worker cannot reach the new owner before it is named below.
    let running = cb
        .list_executions()
        .state_machine_arn(&sm)
        .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    assert!(
        !running.executions().is_empty(),
        "nothing was left to take over"
    );
    *url.lock().unwrap() = b.url.clone();
    let mut seen = Vec::new();
    for (i, arn) in arns.iter().enumerate() {
        let d = wait_done(&cb, arn, Duration::from_secs(60)).await;
        if d.status().as_str() != "SUCCEEDED" {
            panic!(
                "{arn}: {:?} {:?}: {:?}",
                d.status(),
                d.cause(),
                history(&cb, arn).await
            );
        }
        let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"n": i, "items": [1, 2, 3], "doubled": i * 2, "both": ["a", "b"],
                   "each": [{"v": 1}, {"v": 2}, {"v": 3}]}),
            "{arn}"
        );
        let events = history(&cb, arn).await;
        // Ids 1..=n, each once: no round was written twice.
        let ids: Vec<i64> = events.iter().map(|e| e.0).collect();
        assert_eq!(ids, (1..=events.len() as i64).collect::<Vec<_>>(), "{arn}");
        let count = |t: &str| events.iter().filter(|e| e.2 == t).count();
        for (entered, want) in [
            ("WaitStateEntered", 2),
            ("TaskStateEntered", 1),
            ("ParallelStateEntered", 1),
            ("MapStateEntered", 1),
            ("PassStateEntered", 6),
            ("ActivitySucceeded", 1),
            ("ExecutionSucceeded", 1),
        ] {
            assert_eq!(count(entered), want, "{arn}: {entered} in {events:?}");
        }
        seen.push((d.output().map(str::to_owned), events));
    }
    // No task answered twice: each history has one ActivitySucceeded (above),
    // and no task's answer was accepted twice. (An answer the killed owner
    // committed but could not acknowledge is refused when sent again to the
    // new owner: that input counts no acceptance here, which is right.)
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= N / 2, "{accepted:?}");
    assert!(accepted.values().all(|&n| n == 1), "{accepted:?}");
    w.abort();

    // The last node answers the same once the second stops.
    let mut b = b;
    assert!(b.terminate().is_some_and(|s| s.success()));
    let c = last
        .listening(Duration::from_secs(60))
        .expect("the last coordinator takes over");
    let cc = client(&c.url);
    for (arn, (output, events)) in arns.iter().zip(&seen) {
        let d = cc
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        assert_eq!(d.output().map(str::to_owned), *output, "{arn}");
        assert_eq!(history(&cc, arn).await, *events, "{arn}");
    }
    let listed = cc
        .list_executions()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), N);
    drop::<Server>(c);
}
