//! The official `aws-sdk-sfn` client against the real coordinator binary:
//! every action, including its error cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType, Tag};
use common::{ROLE, Server, event_types, wait_done};
use serde_json::{Value, json};
use std::time::Duration;

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_owned()
}

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"greeting.$":"States.Format('hello {}', $.name)"},"End":true}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machine_lifecycle_and_errors() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let created = c
        .create_state_machine()
        .name("m1")
        .definition(PASS)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let arn = created.state_machine_arn().to_owned();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:stateMachine:m1");
    // Idempotent for an identical request; a different one is refused.
    let again = c
        .create_state_machine()
        .name("m1")
        .definition(PASS)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(again.state_machine_arn(), arn);
    let other = r#"{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}"#;
    let e = c
        .create_state_machine()
        .name("m1")
        .definition(other)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "StateMachineAlreadyExists");

    let d = c
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.name(), "m1");
    assert_eq!(d.definition(), PASS);
    assert_eq!(d.r#type(), &StateMachineType::Standard);

    c.update_state_machine()
        .state_machine_arn(&arn)
        .definition(other)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.definition(), other);

    let list = c.list_state_machines().send().await.unwrap();
    assert_eq!(list.state_machines().len(), 1);

    // Invalid definitions name the offending field.
    let bad = r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:us-east-1:123456789012:activity:x","End":true,"Retry":[{"ErrorEquals":["States.ALL","X"]}]}}}"#;
    let e = c
        .create_state_machine()
        .name("bad")
        .definition(bad)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidDefinition");
    assert!(
        e.message()
            .unwrap_or_default()
            .contains("/States/A/Retry/0/ErrorEquals"),
        "{:?}",
        e.message()
    );
    let v = c
        .validate_state_machine_definition()
        .definition(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(v.result().as_str(), "FAIL");
    assert_eq!(
        v.diagnostics()[0].location(),
        Some("/States/A/Retry/0/ErrorEquals")
    );
    let v = c
        .validate_state_machine_definition()
        .definition(PASS)
        .send()
        .await
        .unwrap();
    assert_eq!(v.result().as_str(), "OK");

    let e = c
        .create_state_machine()
        .name("bad name")
        .definition(PASS)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidName");
    let e = c
        .describe_state_machine()
        .state_machine_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArn");
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope";
    let e = c
        .describe_state_machine()
        .state_machine_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "StateMachineDoesNotExist");

    c.delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let e = c
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "StateMachineDoesNotExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_history_and_pagination() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let arn = c
        .create_state_machine()
        .name("m")
        .definition(PASS)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();

    let started = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("e1")
        .input(r#"{"name":"ada"}"#)
        .send()
        .await
        .unwrap();
    let e1 = started.execution_arn().to_owned();
    assert_eq!(e1, "arn:aws:states:us-east-1:123456789012:execution:m:e1");
    let d = wait_done(&c, &e1, Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out, json!({"greeting": "hello ada"}));

    // The name of a closed execution cannot be reused.
    let e = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("e1")
        .input(r#"{"name":"ada"}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExecutionAlreadyExists");
    let e = c
        .start_execution()
        .state_machine_arn(&arn)
        .input("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidExecutionInput");

    for i in 0..5 {
        c.start_execution()
            .state_machine_arn(&arn)
            .name(format!("p{i}"))
            .input(r#"{"name":"p"}"#)
            .send()
            .await
            .unwrap();
    }
    // Pages of 2 until the end.
    let mut seen = 0;
    let mut token = None;
    loop {
        let page = c
            .list_executions()
            .state_machine_arn(&arn)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        seen += page.executions().len();
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, 6);
    let failed = c
        .list_executions()
        .state_machine_arn(&arn)
        .status_filter(ExecutionStatus::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.executions().len(), 0);

    assert_eq!(
        event_types(&c, &e1).await,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let rev = c
        .get_execution_history()
        .execution_arn(&e1)
        .reverse_order(true)
        .include_execution_data(false)
        .send()
        .await
        .unwrap();
    assert_eq!(rev.events()[0].r#type().as_str(), "ExecutionSucceeded");
    assert!(
        rev.events()[0]
            .execution_succeeded_event_details()
            .unwrap()
            .output()
            .is_none()
    );

    let sm = c
        .describe_state_machine_for_execution()
        .execution_arn(&e1)
        .send()
        .await
        .unwrap();
    assert_eq!(sm.definition(), PASS);

    let missing = "arn:aws:states:us-east-1:123456789012:execution:m:nope";
    let e = c
        .describe_execution()
        .execution_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExecutionDoesNotExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_idempotent_start() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let def = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#;
    let arn = c
        .create_state_machine()
        .name("w")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let a = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("x")
        .input("{}")
        .send()
        .await
        .unwrap();
    // Same name and input while running: the same execution.
    let b = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("x")
        .input("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(a.execution_arn(), b.execution_arn());
    let e = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("x")
        .input(r#"{"other":1}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExecutionAlreadyExists");
    c.stop_execution()
        .execution_arn(a.execution_arn())
        .error("Why")
        .cause("Because")
        .send()
        .await
        .unwrap();
    let d = c
        .describe_execution()
        .execution_arn(a.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
    assert_eq!(d.error(), Some("Why"));
    assert_eq!(
        event_types(&c, a.execution_arn())
            .await
            .last()
            .map(String::as_str),
        Some("ExecutionAborted")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_tokens_and_errors() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("work")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    assert_eq!(
        c.describe_activity()
            .activity_arn(&act)
            .send()
            .await
            .unwrap()
            .name(),
        "work"
    );
    assert_eq!(
        c.list_activities().send().await.unwrap().activities().len(),
        1
    );
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": act, "Next": "T2",
              "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "Handled"}]},
        "T2": {"Type": "Task", "Resource": act, "End": true},
        "Handled": {"Type": "Pass", "End": true}
    }})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("act")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();

    // Success path: two tasks.
    let ex = c
        .start_execution()
        .state_machine_arn(&sm)
        .input(r#"{"n":1}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let t = c
        .get_activity_task()
        .activity_arn(&act)
        .worker_name("w1")
        .send()
        .await
        .unwrap();
    assert_eq!(t.input(), Some(r#"{"n":1}"#));
    let token = t.task_token().unwrap().to_owned();
    c.send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap();
    c.send_task_success()
        .task_token(&token)
        .output(r#"{"n":2}"#)
        .send()
        .await
        .unwrap();
    // The task is closed now.
    let e = c
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "TaskTimedOut");
    let t2 = c
        .get_activity_task()
        .activity_arn(&act)
        .worker_name("w1")
        .send()
        .await
        .unwrap();
    assert_eq!(t2.input(), Some(r#"{"n":2}"#));
    c.send_task_success()
        .task_token(t2.task_token().unwrap())
        .output(r#"{"done":true}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(d.output(), Some(r#"{"done":true}"#));
    let types = event_types(&c, &ex).await;
    assert_eq!(
        &types[..6],
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited"
        ]
    );

    // Failure caught by Catch.
    let ex = c
        .start_execution()
        .state_machine_arn(&sm)
        .input("{}")
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let t = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    c.send_task_failure()
        .task_token(t.task_token().unwrap())
        .error("Boom")
        .cause("bad luck")
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out, json!({"err": {"Error": "Boom", "Cause": "bad luck"}}));

    // Forged and malformed tokens.
    for bad in ["", "garbage", "YWJj.ZGVm"] {
        let e = c
            .send_task_success()
            .task_token(bad)
            .output("{}")
            .send()
            .await
            .unwrap_err();
        assert!(
            ["InvalidToken", "ValidationException"].contains(&code(&e).as_str()),
            "{bad}: {}",
            code(&e)
        );
    }
    let e = c
        .get_activity_task()
        .activity_arn("arn:aws:states:us-east-1:123456789012:activity:none")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ActivityDoesNotExist");
    c.delete_activity().activity_arn(&act).send().await.unwrap();
    let e = c
        .describe_activity()
        .activity_arn(&act)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ActivityDoesNotExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_timeouts_and_heartbeats() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("slow")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "HeartbeatSeconds": 1, "End": true,
        "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 1}]}}})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("hb")
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
        .input("{}")
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    // First worker takes the task and goes silent: the heartbeat times out.
    let t = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    let silent = t.task_token().unwrap().to_owned();
    // The retry hands the task out again; a second worker finishes it.
    let t2 = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    let e = c
        .send_task_success()
        .task_token(&silent)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "TaskTimedOut");
    c.send_task_success()
        .task_token(t2.task_token().unwrap())
        .output(r#"{"ok":1}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded);
    assert!(
        event_types(&c, &ex)
            .await
            .contains(&"ActivityTimedOut".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_sync_nested_and_tags() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let ex_sm = c
        .create_state_machine()
        .name("fast")
        .r#type(StateMachineType::Express)
        .definition(PASS)
        .role_arn(ROLE)
        .tags(Tag::builder().key("team").value("a").build())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let r = c
        .start_sync_execution()
        .state_machine_arn(&ex_sm)
        .input(r#"{"name":"bo"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_str(), "SUCCEEDED");
    assert_eq!(r.output(), Some(r#"{"greeting":"hello bo"}"#));
    assert!(r.billing_details().is_some());

    // Tags.
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&ex_sm)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    c.tag_resource()
        .resource_arn(&ex_sm)
        .tags(Tag::builder().key("env").value("dev").build())
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&ex_sm)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&ex_sm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags()
            .iter()
            .map(|t| t.key().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["env"]
    );

    // Sync on a STANDARD machine is refused.
    let child = c
        .create_state_machine()
        .name("child")
        .definition(PASS)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let e = c
        .start_sync_execution()
        .state_machine_arn(&child)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "StateMachineTypeNotSupported");

    // A parent runs the child with startExecution.sync:2.
    let parent_def = json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Input": {"name.$": "$.who"}},
        "OutputPath": "$.Output", "End": true}}})
    .to_string();
    let parent = c
        .create_state_machine()
        .name("parent")
        .definition(parent_def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let ex = c
        .start_execution()
        .state_machine_arn(&parent)
        .input(r#"{"who":"cy"}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, ex.execution_arn(), Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    assert_eq!(d.output(), Some(r#"{"greeting":"hello cy"}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_aws_errors() {
    let s = Server::start(None, &[]);
    let http = |target: &str, body: &str| {
        let addr = s.url.trim_start_matches("http://").to_owned();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        stream.read_to_string(&mut resp).unwrap();
        resp
    };
    let r = http("AWSStepFunctions.ListStateMachines", "{not json");
    assert!(
        r.starts_with("HTTP/1.1 400") && r.contains("SerializationException"),
        "{r}"
    );
    let r = http("AWSStepFunctions.NoSuchThing", "{}");
    assert!(r.contains("UnknownOperationException"), "{r}");
    let r = http(
        "AWSStepFunctions.StartExecution",
        r#"{"stateMachineArn": 5}"#,
    );
    assert!(r.contains("SerializationException"), "{r}");
    let big = format!(
        r#"{{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:x","input":"{}"}}"#,
        "x".repeat(300_000)
    );
    let r = http("AWSStepFunctions.StartExecution", &big);
    assert!(
        r.contains("ValidationException"),
        "{}",
        &r[..200.min(r.len())]
    );
    // Every answer, an error or not, carries a request id, as AWS's do.
    assert!(
        r.to_ascii_lowercase().contains("\r\nx-amzn-requestid: "),
        "{}",
        &r[..200.min(r.len())]
    );
    let r = http("AWSStepFunctions.NoSuchThing", "{}");
    assert!(
        r.to_ascii_lowercase().contains("\r\nx-amzn-requestid: "),
        "{r}"
    );
    // The server is still fine, and the SDK sees the request id.
    use aws_sdk_sfn::operation::RequestId;
    let ok = s.client().list_state_machines().send().await.unwrap();
    assert_eq!(ok.request_id().map(str::len), Some(36));
    let e = s
        .client()
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:123456789012:execution:nope:nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error().and_then(|e| e.request_id()).is_some(),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_skips_pollers_whose_connection_is_gone() {
    use std::io::Write;
    let s = Server::start(None, &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("dc")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def =
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": true}}})
            .to_string();
    let sm = c
        .create_state_machine()
        .name("dc")
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    // A poller parks, then its connection dies.
    let body = json!({"activityArn": act}).to_string();
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut dead = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        dead,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: AWSStepFunctions.GetActivityTask\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(dead);
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.start_execution()
        .state_machine_arn(&sm)
        .input("{}")
        .send()
        .await
        .unwrap();
    // The task goes to the next live poller at once, not after a timeout.
    let t = tokio::time::timeout(
        Duration::from_secs(10),
        c.get_activity_task().activity_arn(&act).send(),
    )
    .await
    .expect("task handed to the live poller")
    .unwrap();
    assert!(t.task_token().is_some());
}

fn example(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../examples/workflows/{name}.asl.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_workflows_run() {
    let s = Server::start(None, &[]);
    let c = s.client();
    // Data processing with Map: one bad record out of eleven is rejected.
    let sm = c
        .create_state_machine()
        .name("data")
        .definition(example("data-processing-map"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let mut records: Vec<Value> = (0..10)
        .map(
            |i| json!({"id": i, "value": if i % 2 == 0 { json!(i) } else { json!(i.to_string()) }}),
        )
        .collect();
    records.push(json!({"id": 10, "value": null}));
    let ex = c
        .start_execution()
        .state_machine_arn(sm.state_machine_arn())
        .input(json!({"records": records}).to_string())
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, ex.execution_arn(), Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    // The null record takes the Reject path: listed, not counted.
    assert_eq!(out["count"], json!(10));
    assert_eq!(out["rejected"], json!([10]));

    // Parent/child with startExecution.sync:2 inside a Map.
    c.create_state_machine()
        .name("child-report")
        .definition(example("child-report"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let parent = c
        .create_state_machine()
        .name("parent")
        .definition(example("parent-child"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let ex = c
        .start_execution()
        .state_machine_arn(parent.state_machine_arn())
        .input(r#"{"regions":["eu","us"]}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, ex.execution_arn(), Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(
        out,
        json!([{"region": "eu", "status": "ok"}, {"region": "us", "status": "ok"}])
    );

    // Human approval: the child hands the token to an approver activity.
    c.create_activity()
        .name("notify-approver")
        .send()
        .await
        .unwrap();
    c.create_state_machine()
        .name("notify-approver")
        .definition(example("notify-approver"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let approval = c
        .create_state_machine()
        .name("approval")
        .definition(example("human-approval"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let ex = c
        .start_execution()
        .state_machine_arn(approval.state_machine_arn())
        .input(r#"{"amount":5}"#)
        .send()
        .await
        .unwrap();
    let t = c
        .get_activity_task()
        .activity_arn("arn:aws:states:us-east-1:123456789012:activity:notify-approver")
        .send()
        .await
        .unwrap();
    let request: Value = serde_json::from_str(t.input().unwrap()).unwrap();
    let parent_token = request["taskToken"].as_str().unwrap().to_owned();
    c.send_task_success()
        .task_token(t.task_token().unwrap())
        .output("{}")
        .send()
        .await
        .unwrap();
    c.send_task_success()
        .task_token(&parent_token)
        .output(r#"{"approvedBy":"kim"}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, ex.execution_arn(), Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out["approval"], json!({"approvedBy": "kim"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_fulfillment_with_parallel_and_map_activities() {
    let s = Server::start(None, &["--wait-time-scale", "0.01"]);
    let c = s.client();
    for a in ["charge-card", "reserve-stock", "pack-line"] {
        c.create_activity().name(a).send().await.unwrap();
    }
    let sm = c
        .create_state_machine()
        .name("orders")
        .definition(example("order-fulfillment"))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let arn = |a: &str| format!("arn:aws:states:us-east-1:123456789012:activity:{a}");
    // Workers: the card is declined for order "o-2", fails once transiently for "o-1".
    let mut workers = Vec::new();
    for a in ["charge-card", "reserve-stock", "pack-line"] {
        let c = c.clone();
        let activity = arn(a);
        let name = a.to_owned();
        workers.push(tokio::spawn(async move {
            let mut transient_done = false;
            loop {
                let t = c
                    .get_activity_task()
                    .activity_arn(&activity)
                    .send()
                    .await
                    .unwrap();
                let Some(token) = t.task_token() else {
                    continue;
                };
                let input: Value = serde_json::from_str(t.input().unwrap()).unwrap();
                let r = match (name.as_str(), input["orderId"].as_str()) {
                    ("charge-card", Some("o-2")) => Err(("Payment.Declined", "card declined")),
                    ("charge-card", Some("o-1")) if !transient_done => {
                        transient_done = true;
                        Err(("Payment.Transient", "try again"))
                    }
                    ("charge-card", _) => Ok(json!({"charged": input["amount"]})),
                    ("reserve-stock", _) => Ok(json!({"reserved": true})),
                    _ => Ok(json!({"packed": input["line"]["sku"]})),
                };
                match r {
                    Ok(v) => c
                        .send_task_success()
                        .task_token(token)
                        .output(v.to_string())
                        .send()
                        .await
                        .unwrap(),
                    Err((e, cause)) => {
                        c.send_task_failure()
                            .task_token(token)
                            .error(e)
                            .cause(cause)
                            .send()
                            .await
                            .unwrap();
                        continue;
                    }
                };
            }
        }));
    }
    let order = |id: &str| {
        json!({"orderId": id, "total": 30, "card": "4111", "lines": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}).to_string()
    };
    let ok = c
        .start_execution()
        .state_machine_arn(sm.state_machine_arn())
        .input(order("o-1"))
        .send()
        .await
        .unwrap();
    let declined = c
        .start_execution()
        .state_machine_arn(sm.state_machine_arn())
        .input(order("o-2"))
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, ok.execution_arn(), Duration::from_secs(20)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    assert_eq!(
        serde_json::from_str::<Value>(d.output().unwrap()).unwrap(),
        json!({"orderId": "o-1", "status": "SHIPPED", "parcels": 3})
    );
    let types = event_types(&c, ok.execution_arn()).await;
    assert_eq!(
        types.iter().filter(|t| *t == "ActivityFailed").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "MapIterationSucceeded")
            .count(),
        3,
        "{types:?}"
    );
    let d = wait_done(&c, declined.execution_arn(), Duration::from_secs(20)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    assert_eq!(
        serde_json::from_str::<Value>(d.output().unwrap()).unwrap(),
        json!({"orderId": "o-2", "status": "CANCELLED", "reason": "card declined"})
    );
    for w in workers {
        w.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_runs_one_state_with_a_mock() {
    use aws_sdk_sfn::types::{
        InspectionLevel, MockErrorOutput, MockInput, TestExecutionStatus, TestStateConfiguration,
    };
    let s = Server::start(None, &[]);
    let c = s.client();
    // A Pass state alone: every data-flow stage at DEBUG.
    let r = c
        .test_state()
        .definition(
            r#"{"Type":"Pass","InputPath":"$.order","Parameters":{"n.$":"$.qty"},"ResultPath":"$.picked","Next":"Ship"}"#,
        )
        .input(r#"{"order":{"qty":2}}"#)
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Some(&TestExecutionStatus::Succeeded));
    assert_eq!(r.next_state(), Some("Ship"));
    let out: Value = serde_json::from_str(r.output().unwrap()).unwrap();
    assert_eq!(out, json!({"order": {"qty": 2}, "picked": {"n": 2}}));
    let i = r.inspection_data().unwrap();
    assert_eq!(i.after_input_path(), Some(r#"{"qty":2}"#));
    assert_eq!(i.after_parameters(), Some(r#"{"n":2}"#));

    // An activity Task with a mocked error: retriable, then caught once the retries are spent.
    let task = r#"{"Type":"Task","Resource":"arn:aws:states:us-east-1:123456789012:activity:charge",
        "Retry":[{"ErrorEquals":["Card.Busy"],"IntervalSeconds":2,"MaxAttempts":2}],
        "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Refund"}],"End":true}"#;
    let busy = || {
        MockInput::builder()
            .error_output(
                MockErrorOutput::builder()
                    .error("Card.Busy")
                    .cause("try later")
                    .build(),
            )
            .build()
    };
    let r = c
        .test_state()
        .definition(task)
        .input("{}")
        .mock(busy())
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Some(&TestExecutionStatus::Retriable));
    assert_eq!(r.error(), Some("Card.Busy"));
    let d = r.inspection_data().unwrap().error_details().unwrap();
    assert_eq!(
        (d.retry_index(), d.retry_backoff_interval_seconds()),
        (Some(0), Some(2))
    );
    let r = c
        .test_state()
        .definition(task)
        .input(r#"{"id":7}"#)
        .mock(busy())
        .state_configuration(
            TestStateConfiguration::builder()
                .retrier_retry_count(2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Some(&TestExecutionStatus::CaughtError));
    assert_eq!(r.next_state(), Some("Refund"));
    let out: Value = serde_json::from_str(r.output().unwrap()).unwrap();
    assert_eq!(
        out,
        json!({"id": 7, "error": {"Error": "Card.Busy", "Cause": "try later"}})
    );
    assert!(r.inspection_data().is_none(), "INFO reports no stages");

    // A state of a whole machine, by name, with a mocked result and variables.
    let machine = r#"{"StartAt":"Get","States":{"Get":{"Type":"Task","QueryLanguage":"JSONata",
        "Resource":"arn:aws:states:us-east-1:123456789012:activity:get",
        "Arguments":{"id":"{% $id %}"},"Output":"{% $states.result.name %}","End":true}}}"#;
    let r = c
        .test_state()
        .definition(machine)
        .state_name("Get")
        .variables(r#"{"id":"u-1"}"#)
        .mock(MockInput::builder().result(r#"{"name":"Ada"}"#).build())
        .inspection_level(InspectionLevel::Trace)
        .send()
        .await
        .unwrap();
    assert_eq!(r.output(), Some(r#""Ada""#));
    assert_eq!(
        r.inspection_data().unwrap().after_arguments(),
        Some(r#"{"id":"u-1"}"#)
    );

    // What cannot be run is refused with the error a client expects.
    let e = c.test_state().definition(task).send().await.unwrap_err();
    assert_eq!(code(&e), "ValidationException", "{e:?}");
    let e = c
        .test_state()
        .definition(r#"{"Type":"Pass","Next":5}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidDefinition");
    let e = c
        .test_state()
        .definition(machine)
        .state_name("Nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .test_state()
        .definition(r#"{"Type":"Pass","End":true}"#)
        .input("{oops")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidExecutionInput");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_aliases_route_executions() {
    use aws_sdk_sfn::types::RoutingConfigurationListItem;
    let s = Server::start(None, &[]);
    let c = s.client();
    let hello = |greeting: &str| {
        format!(
            r#"{{"StartAt":"A","States":{{"A":{{"Type":"Pass","Result":"{greeting}","End":true}}}}}}"#
        )
    };
    let created = c
        .create_state_machine()
        .name("greeter")
        .definition(hello("v1"))
        .role_arn(ROLE)
        .publish(true)
        .version_description("first")
        .send()
        .await
        .unwrap();
    let arn = created.state_machine_arn().to_owned();
    let v1 = created.state_machine_version_arn().unwrap().to_owned();
    assert_eq!(v1, format!("{arn}:1"));
    let updated = c
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(hello("v2"))
        .publish(true)
        .send()
        .await
        .unwrap();
    let v2 = updated.state_machine_version_arn().unwrap().to_owned();
    assert_eq!(v2, format!("{arn}:2"));
    // Publishing an unchanged revision answers the latest version; a stale revision is a conflict.
    let again = c
        .publish_state_machine_version()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(again.state_machine_version_arn(), v2);
    let e = c
        .publish_state_machine_version()
        .state_machine_arn(&arn)
        .revision_id("stale")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");

    let versions = c
        .list_state_machine_versions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = versions
        .state_machine_versions()
        .iter()
        .map(|v| v.state_machine_version_arn().to_owned())
        .collect();
    assert_eq!(listed, [v2.clone(), v1.clone()]);
    let d = c
        .describe_state_machine()
        .state_machine_arn(&v1)
        .send()
        .await
        .unwrap();
    assert!(d.definition().contains("v1"));
    assert_eq!(d.description(), Some("first"));
    // Versions are not machines of their own.
    let machines = c.list_state_machines().send().await.unwrap();
    assert_eq!(machines.state_machines().len(), 1);

    let route = |v: &str, w: i32| {
        RoutingConfigurationListItem::builder()
            .state_machine_version_arn(v)
            .weight(w)
            .build()
            .unwrap()
    };
    let alias = c
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(route(&v1, 100))
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn()
        .to_owned();
    assert_eq!(alias, format!("{arn}:live"));
    let e = c
        .create_state_machine_alias()
        .name("bad")
        .routing_configuration(route(&v1, 60))
        .routing_configuration(route(&v2, 30))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");

    // Executions through the alias, the version and the machine itself.
    let run = |target: String, name: &'static str| {
        let c = c.clone();
        async move {
            let x = c
                .start_execution()
                .state_machine_arn(target)
                .name(name)
                .send()
                .await
                .unwrap();
            wait_done(&c, x.execution_arn(), Duration::from_secs(10)).await
        }
    };
    let via_alias = run(alias.clone(), "a").await;
    assert_eq!(via_alias.output(), Some(r#""v1""#));
    assert_eq!(via_alias.state_machine_alias_arn(), Some(alias.as_str()));
    assert_eq!(via_alias.state_machine_version_arn(), Some(v1.as_str()));
    assert_eq!(
        via_alias.execution_arn(),
        format!("{}:a", arn.replace(":stateMachine:", ":execution:"))
    );
    let via_version = run(v2.clone(), "b").await;
    assert_eq!(via_version.output(), Some(r#""v2""#));
    assert_eq!(via_version.state_machine_alias_arn(), None);
    let plain = run(arn.clone(), "c").await;
    assert_eq!(plain.state_machine_version_arn(), None);

    // Shift the alias to v2; list executions per alias and per machine.
    c.update_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .routing_configuration(route(&v2, 100))
        .description("now v2")
        .send()
        .await
        .unwrap();
    let after = run(alias.clone(), "d").await;
    assert_eq!(after.output(), Some(r#""v2""#));
    let d = c
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .unwrap();
    assert_eq!(d.description(), Some("now v2"));
    assert_eq!(d.routing_configuration()[0].state_machine_version_arn(), v2);
    let by_alias = c
        .list_executions()
        .state_machine_arn(&alias)
        .send()
        .await
        .unwrap();
    assert_eq!(by_alias.executions().len(), 2);
    let all = c
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(all.executions().len(), 4);

    // A version an alias routes to can't be deleted; deleting the machine takes everything.
    let e = c
        .delete_state_machine_version()
        .state_machine_version_arn(&v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    c.delete_state_machine_version()
        .state_machine_version_arn(&v1)
        .send()
        .await
        .unwrap();
    let aliases = c
        .list_state_machine_aliases()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(aliases.state_machine_aliases().len(), 1);
    c.delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let e = c
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFound");
    let e = c
        .start_execution()
        .state_machine_arn(&v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "StateMachineDoesNotExist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_is_redriven_from_the_state_that_failed() {
    use aws_sdk_sfn::types::{ExecutionRedriveFilter, ExecutionRedriveStatus};
    let s = Server::start(None, &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("charge")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Assign": {"order.$": "$.order"}, "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": act, "Parameters": {"order.$": "$order"},
                   "ResultPath": "$.receipt", "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"receipt.$": "$.receipt", "redrives.$": "$$.Execution.RedriveCount"},
                 "End": true}}})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("shop")
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
        .input(r#"{"order":"o-1"}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let t = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    assert_eq!(t.input(), Some(r#"{"order":"o-1"}"#));
    c.send_task_failure()
        .task_token(t.task_token().unwrap())
        .error("Card.Unavailable")
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Failed);
    assert_eq!(
        d.redrive_status(),
        Some(&ExecutionRedriveStatus::Redrivable)
    );
    assert_eq!(d.redrive_count(), Some(0));

    // The failed Task runs again with the same input; Prepare does not.
    c.redrive_execution()
        .execution_arn(&ex)
        .send()
        .await
        .unwrap();
    let e = c
        .redrive_execution()
        .execution_arn(&ex)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExecutionNotRedrivable", "a running execution");
    let t = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    assert_eq!(t.input(), Some(r#"{"order":"o-1"}"#));
    c.send_task_success()
        .task_token(t.task_token().unwrap())
        .output(r#"{"id":"r-9"}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out, json!({"receipt": {"id": "r-9"}, "redrives": 1}));
    assert_eq!(d.redrive_count(), Some(1));
    assert!(d.redrive_date().is_some());
    assert_eq!(
        d.redrive_status(),
        Some(&ExecutionRedriveStatus::NotRedrivable)
    );
    let types = event_types(&c, &ex).await;
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("PassStateEntered"), 2, "{types:?}"); // Prepare once, Done once
    assert_eq!(count("TaskStateEntered"), 2, "{types:?}");
    assert_eq!(count("ExecutionRedriven"), 1, "{types:?}");
    let redriven_at = types.iter().position(|t| t == "ExecutionRedriven").unwrap();
    assert_eq!(types[redriven_at - 1], "ExecutionFailed");
    assert_eq!(types[redriven_at + 1], "TaskStateEntered");

    // A succeeded execution can't be redriven; the listing filters redriven ones.
    let e = c
        .redrive_execution()
        .execution_arn(&ex)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ExecutionNotRedrivable");
    let listed = c
        .list_executions()
        .state_machine_arn(&sm)
        .redrive_filter(ExecutionRedriveFilter::Redriven)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), 1);
    assert_eq!(listed.executions()[0].redrive_count(), Some(1));
    let listed = c
        .list_executions()
        .state_machine_arn(&sm)
        .redrive_filter(ExecutionRedriveFilter::NotRedriven)
        .send()
        .await
        .unwrap();
    assert!(listed.executions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_runs_only_the_map_iterations_that_failed() {
    let s = Server::start(None, &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("ship")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
                 "ItemProcessor": {"StartAt": "Ship", "States": {
                     "Ship": {"Type": "Task", "Resource": act, "End": true}}},
                 "End": true}}})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("ship-all")
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
        .input(r#"{"items":["a","b","c"]}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    // All three handed out first; "b" fails last, once "a" and "c" succeeded.
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let t = c
            .get_activity_task()
            .activity_arn(&act)
            .send()
            .await
            .unwrap();
        let item: String = serde_json::from_str(t.input().unwrap()).unwrap();
        tasks.push((item, t));
    }
    tasks.sort_by_key(|(item, _)| item == "b");
    for (item, t) in tasks {
        if item == "b" {
            c.send_task_failure()
                .task_token(t.task_token().unwrap())
                .error("Courier.Down")
                .send()
                .await
                .unwrap();
        } else {
            c.send_task_success()
                .task_token(t.task_token().unwrap())
                .output(format!(r#""shipped {item}""#))
                .send()
                .await
                .unwrap();
        }
    }
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Failed);

    c.redrive_execution()
        .execution_arn(&ex)
        .send()
        .await
        .unwrap();
    let t = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    assert_eq!(
        t.input(),
        Some(r#""b""#),
        "only the failed iteration runs again"
    );
    c.send_task_success()
        .task_token(t.task_token().unwrap())
        .output(r#""shipped b""#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{:?}", d.cause());
    assert_eq!(d.output(), Some(r#"["shipped a","shipped b","shipped c"]"#));
    let types = event_types(&c, &ex).await;
    let scheduled = types.iter().filter(|t| *t == "ActivityScheduled").count();
    assert_eq!(scheduled, 4, "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_runs_are_listed_described_and_updated() {
    use aws_sdk_sfn::types::MapRunStatus;
    let s = Server::start(None, &[]);
    let c = s.client();
    let act = c
        .create_activity()
        .name("item")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let def = json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "MaxConcurrency": 1, "Label": "Items",
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                   "StartAt": "Work", "States": {
                     "Work": {"Type": "Task", "Resource": act, "End": true}}},
                 "End": true}}})
    .to_string();
    let sm = c
        .create_state_machine()
        .name("runs")
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
        .input("[1, 2, 3]")
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let first = c
        .get_activity_task()
        .activity_arn(&act)
        .send()
        .await
        .unwrap();
    let runs = c.list_map_runs().execution_arn(&ex).send().await.unwrap();
    assert_eq!(runs.map_runs().len(), 1);
    let run = runs.map_runs()[0].map_run_arn().to_owned();
    assert_eq!(
        runs.map_runs()[0].state_machine_arn(),
        format!("{sm}/Items")
    );
    let d = c.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(d.status(), &MapRunStatus::Running);
    assert_eq!(d.max_concurrency(), 1);
    let counts = d.item_counts().unwrap();
    assert_eq!(
        (counts.running(), counts.pending(), counts.total()),
        (1, 2, 3)
    );

    // Raising the limit starts the other two at once.
    c.update_map_run()
        .map_run_arn(&run)
        .max_concurrency(3)
        .send()
        .await
        .unwrap();
    let mut tokens = vec![first.task_token().unwrap().to_owned()];
    for _ in 0..2 {
        let t = c
            .get_activity_task()
            .activity_arn(&act)
            .send()
            .await
            .unwrap();
        tokens.push(t.task_token().unwrap().to_owned());
    }
    for t in &tokens {
        c.send_task_success()
            .task_token(t)
            .output("{}")
            .send()
            .await
            .unwrap();
    }
    let done = wait_done(&c, &ex, Duration::from_secs(10)).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    let d = c.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(d.status(), &MapRunStatus::Succeeded);
    assert_eq!(d.max_concurrency(), 3);
    assert_eq!(d.item_counts().unwrap().succeeded(), 3);
    assert!(d.stop_date().is_some());
    let e = c
        .update_map_run()
        .map_run_arn(&run)
        .max_concurrency(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFound");
    let e = c
        .describe_map_run()
        .map_run_arn(format!("{}/Nope:1", ex.replace(":execution:", ":mapRun:")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFound");
}
