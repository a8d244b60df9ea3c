//! The Worker against a real coordinator (started in-process on 127.0.0.1:0).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stepwise_sdk::types::*;
use stepwise_sdk::worker::ActivityOptions;
use stepwise_sdk::{Client, TaskEvent, TaskFailure, Worker, service_fn};

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

async fn coordinator() -> (stepwise_coordinator::Running, Client) {
    let settings = stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        ..Default::default()
    };
    let running = stepwise_coordinator::start(settings).await.unwrap();
    let client = Client::builder()
        .endpoint_url(format!("http://{}", running.addr))
        .build()
        .unwrap();
    (running, client)
}

async fn activity(c: &Client, name: &str) -> String {
    c.create_activity(CreateActivityInput {
        name: name.into(),
        tags: vec![],
    })
    .await
    .unwrap()
    .activity_arn
}

async fn machine(c: &Client, name: &str, def: Value) -> String {
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

async fn run(c: &Client, sm: &str, input: Value) -> DescribeExecutionOutput {
    let arn = c
        .start_execution(StartExecutionInput {
            state_machine_arn: sm.into(),
            input: Some(input.to_string()),
            ..Default::default()
        })
        .await
        .unwrap()
        .execution_arn;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = c
            .describe_execution(ExecutionArnInput {
                execution_arn: arn.clone(),
            })
            .await
            .unwrap();
        if d.status != ExecutionStatus::Running || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_activities_and_a_caught_handler_error() {
    let (_server, c) = coordinator().await;
    let add = activity(&c, "add").await;
    let check = activity(&c, "check").await;
    let sm = machine(&c, "calc", json!({"StartAt": "Add", "States": {
        "Add": {"Type": "Task", "Resource": add, "Next": "Check"},
        "Check": {"Type": "Task", "Resource": check, "End": true,
                  "Catch": [{"ErrorEquals": ["TooBig"], "ResultPath": "$.error", "Next": "Capped"}]},
        "Capped": {"Type": "Pass", "Result": "capped", "End": true}
    }}))
    .await;
    let worker = Worker::builder()
        .client(c.clone())
        .worker_name("test-worker")
        .activity(
            &add,
            service_fn(|e: TaskEvent<Value>| async move {
                Ok::<_, TaskFailure>(json!({"n": e.payload["n"].as_i64().unwrap_or(0) + 1}))
            }),
        )
        .activity(
            &check,
            service_fn(|e: TaskEvent<Value>| async move {
                if e.payload["n"].as_i64().unwrap_or(0) > 10 {
                    Err(TaskFailure::new("TooBig", "n is above 10"))
                } else {
                    Ok(e.payload)
                }
            }),
        )
        .build()
        .await
        .unwrap();
    let stop = worker.shutdown_handle();
    let handle = tokio::spawn(worker.run());
    let d = run(&c, &sm, json!({"n": 1})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output.as_deref(), Some(r#"{"n":2}"#));
    let d = run(&c, &sm, json!({"n": 20})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output.as_deref(), Some(r#""capped""#));
    stop.initiate_shutdown();
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_handler_times_out_on_heartbeat_and_is_retried() {
    let (_server, c) = coordinator().await;
    let slow = activity(&c, "slow").await;
    let sm = machine(&c, "hb", json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": slow, "HeartbeatSeconds": 1, "End": true,
        "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 2}]}}}))
    .await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = attempts.clone();
    let worker = Worker::builder()
        .client(c.clone())
        .activity_with(
            &slow,
            service_fn(move |e: TaskEvent<Value>| {
                let a = a.clone();
                async move {
                    if a.fetch_add(1, Ordering::SeqCst) == 0 {
                        // First attempt: outlive HeartbeatSeconds without heartbeats; the
                        // worker learns the task closed and drops this result.
                        e.context.cancelled().await;
                        return Ok(json!("too late"));
                    }
                    Ok::<_, TaskFailure>(json!("second try"))
                }
            }),
            // Automatic heartbeats far apart, so the first attempt stays silent
            // until after the coordinator's heartbeat timeout.
            ActivityOptions {
                concurrency: 2,
                pollers: 1,
                heartbeat_interval: Duration::from_millis(1500),
            },
        )
        .build()
        .await
        .unwrap();
    let stop = worker.shutdown_handle();
    let handle = tokio::spawn(worker.run());
    let d = run(&c, &sm, json!({})).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?}", d.cause);
    assert_eq!(d.output.as_deref(), Some(r#""second try""#));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    stop.initiate_shutdown();
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_task_completes_it() {
    let (_server, c) = coordinator().await;
    let work = activity(&c, "work").await;
    let sm = machine(
        &c,
        "sd",
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": work, "End": true}}}),
    )
    .await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let worker = Worker::builder()
        .client(c.clone())
        .shutdown_deadline(Duration::from_secs(10))
        .activity(
            &work,
            service_fn(move |_e: TaskEvent<Value>| {
                let tx = started_tx.lock().unwrap().take();
                async move {
                    if let Some(tx) = tx {
                        let _ = tx.send(());
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok::<_, TaskFailure>(json!("finished"))
                }
            }),
        )
        .build()
        .await
        .unwrap();
    let stop = worker.shutdown_handle();
    let handle = tokio::spawn(worker.run());
    let exec = c
        .start_execution(StartExecutionInput {
            state_machine_arn: sm.clone(),
            input: Some("{}".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .execution_arn;
    started_rx.await.unwrap();
    stop.initiate_shutdown();
    handle.await.unwrap();
    let d = c
        .describe_execution(ExecutionArnInput {
            execution_arn: exec,
        })
        .await
        .unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output.as_deref(), Some(r#""finished""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_typed() {
    let (_server, c) = coordinator().await;
    let e = c
        .describe_execution(ExecutionArnInput {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&stepwise_sdk::ErrorCode::ExecutionDoesNotExist)
    );
    let e = c
        .send_task_success(SendTaskSuccessInput {
            task_token: "forged".into(),
            output: "{}".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&stepwise_sdk::ErrorCode::InvalidToken));
    // Any action by name, as JSON.
    let listed = c
        .call_json("ListActivities", &serde_json::json!({"maxResults": 5}))
        .await
        .unwrap();
    assert!(listed["activities"].is_array(), "{listed}");
    let e = c
        .call_json("NoSuchAction", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(e.code().is_some(), "{e}");
    // Name resolution: a worker registered by name creates the activity.
    let w = Worker::builder()
        .client(c.clone())
        .activity(
            "by-name",
            service_fn(|_e: TaskEvent<Value>| async { Ok::<_, TaskFailure>(Value::Null) }),
        )
        .build()
        .await
        .unwrap();
    assert_eq!(
        w.activities(),
        ["arn:aws:states:us-east-1:123456789012:activity:by-name"]
    );
}
