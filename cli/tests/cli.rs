//! The `stepwise` binary: every subcommand, run as a user would (stdout is a
//! pipe here, so the output is plain lines).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::process::{Command, Output};
use stepwise_sdk::Client;
use stepwise_sdk::types::*;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const BIN: &str = env!("CARGO_BIN_EXE_stepwise");

fn stepwise(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .env_remove("STEPWISE_ENDPOINT")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn validate_lists_every_problem_with_file_line_column_and_pointer() {
    let examples: Vec<String> = std::fs::read_dir(format!("{ROOT}/examples/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["validate"];
    args.extend(examples.iter().map(String::as_str));
    let o = stepwise(&args);
    assert!(o.status.success(), "{}", text(&o));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.asl.json");
    std::fs::write(
        &bad,
        "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\"Type\": \"Pass\", \"Next\": \"Nowhere\"},\n    \"B\": {\"Type\": \"Wait\", \"End\": true}\n  }\n}\n",
    )
    .unwrap();
    let o = stepwise(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("{}:4:27: error: ", bad.display()))
                && l.contains("/States/A/Next")
        ),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.contains("/States/B")), "{out}");
    let o = stepwise(&["validate", "/nonexistent.asl.json"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn graph_prints_states_and_transitions() {
    let o = stepwise(&["graph", "examples/workflows/order-fulfillment.asl.json"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "start → CheckOrder\n",
        "CheckOrder (Choice)\n  choice 1 → RejectEmptyOrder\n",
        "PayAndReserve (Parallel)\n  branch 1:\n    start → ChargeCard\n",
        "      retry [Payment.Transient] up to 3×\n",
        "  catch [Payment.Declined] → ReleaseStock\n  → PackLines\n",
        "PackLines (Map)\n  each item:\n",
        "RejectTooLarge (Fail)\n  → end (fails with Order.TooLarge)\n",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
}

#[test]
fn graph_draws_svg() {
    let o = stepwise(&[
        "graph",
        "--svg",
        "examples/workflows/order-fulfillment.asl.json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("<svg"), "{out}");
    for expected in [
        r#"data-state="CheckOrder""#,
        r#"data-from="PayAndReserve" data-to="ReleaseStock""#,
        ">Branch 2<",
        ">Each item<",
        "catch Payment.Declined",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
}

fn run(args: &[&str]) -> String {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let o = stepwise(&all);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains('\u{1b}'), "colour codes on a pipe: {t:?}");
    t
}

fn output_json(t: &str) -> Value {
    let at = t.find("SUCCEEDED in ").expect("SUCCEEDED");
    let rest = &t[at..];
    let body = &rest[rest.find('\n').unwrap() + 1..];
    serde_json::from_str(body).unwrap()
}

#[test]
fn run_shows_states_retries_caught_errors_and_the_output() {
    let t = run(&[
        "examples/workflows/data-processing-map.asl.json",
        "--input-file",
        "examples/workflows/inputs/data-processing-map.json",
    ]);
    assert!(t.starts_with("enter Normalise\n  enter Classify\n"), "{t}");
    assert!(t.contains("\n  enter Reject\n"), "{t}");
    assert!(t.contains("\nleave Summarise "), "{t}");
    assert_eq!(
        output_json(&t),
        json!({"count": 3, "values": [3, 4.5, 12], "rejected": [3, 4]})
    );

    // A caught error, named from the command's exit code.
    let t = run(&[
        "examples/workflows/retry-catch.asl.json",
        "--input",
        r#"{"order": "o-1"}"#,
        "--worker",
        "flaky-service=echo 'field order is missing' >&2; exit 4",
        "--exit-code",
        "4=Service.BadRequest",
    ]);
    assert!(
        t.contains("leave CallFlakyService ")
            && t.contains(", caught Service.BadRequest (field order is missing)\n"),
        "{t}"
    );
    assert_eq!(
        output_json(&t),
        json!({"outcome": "bad-request", "detail": "field order is missing"})
    );

    // Retries: fails twice (throttled), then answers.
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("attempts");
    let worker = format!(
        "flaky-service=echo x >> {c}; [ $(wc -l < {c}) -ge 3 ] && echo '{{\"ok\":true}}' || exit 3",
        c = count.display()
    );
    let t = run(&[
        "examples/workflows/retry-catch.asl.json",
        "--wait-time-scale",
        "0",
        "--exit-code",
        "3=Service.Throttled",
        "--worker",
        &worker,
    ]);
    assert!(
        t.contains("leave CallFlakyService ") && t.contains(" ms, 2 retries\n"),
        "{t}"
    );
    assert_eq!(output_json(&t), json!({"ok": true}));

    // An activity nobody answers: a hint on stderr, and `--timeout` ends the wait.
    let o = stepwise(&[
        "run",
        "examples/workflows/retry-catch.asl.json",
        "--timeout",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "waiting for a worker of activity flaky-service: give `--worker flaky-service=COMMAND`"
        ),
        "{err}"
    );
    assert!(err.contains("did not end within 2 s"), "{err}");

    // A failed execution exits 1 and says why.
    let o = stepwise(&[
        "run",
        "examples/workflows/order-fulfillment.asl.json",
        "--input",
        r#"{"orderId": "o-2", "total": 1, "lines": []}"#,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILED in "), "{}", text(&o));
    assert!(text(&o).contains("Order.Empty"), "{}", text(&o));
}

#[test]
fn run_with_workers_and_child_machines() {
    let t = run(&[
        "examples/workflows/order-fulfillment.asl.json",
        "--input-file",
        "examples/workflows/inputs/order-fulfillment.json",
        "--wait-time-scale",
        "0",
        "--worker",
        "charge-card=cat",
        "--worker",
        "reserve-stock=cat",
        "--worker",
        "pack-line=cat",
    ]);
    assert!(t.contains("enter PayAndReserve\n  enter "), "{t}");
    assert_eq!(
        output_json(&t),
        json!({"orderId": "o-1001", "status": "SHIPPED", "parcels": 2})
    );

    let t = run(&[
        "examples/workflows/parent-child.asl.json",
        "--with",
        "examples/workflows/child-report.asl.json",
        "--input-file",
        "examples/workflows/inputs/parent-child.json",
    ]);
    assert_eq!(
        output_json(&t),
        json!([{"region": "eu-west-1", "status": "ok"}, {"region": "us-east-1", "status": "ok"}])
    );

    let approver = format!(
        "notify-approver={BIN} send-task-success --token-field taskToken --output '{{\"approved\":true}}'"
    );
    let t = run(&[
        "examples/workflows/human-approval.asl.json",
        "--with",
        "examples/workflows/notify-approver.asl.json",
        "--input-file",
        "examples/workflows/inputs/human-approval.json",
        "--worker",
        &approver,
    ]);
    assert_eq!(output_json(&t)["approval"], json!({"approved": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_commands_against_an_endpoint() {
    let settings = stepwise_coordinator::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        in_memory: true,
        ..Default::default()
    };
    let server = stepwise_coordinator::start(settings).await.unwrap();
    let url = format!("http://{}", server.addr);
    let c = Client::builder().endpoint_url(&url).build().unwrap();
    let sm = c
        .create_state_machine(CreateStateMachineInput {
            name: "waits".into(),
            definition: json!({"StartAt": "W", "States": {
                "W": {"Type": "Choice", "Choices": [{"Variable": "$.wait", "BooleanEquals": true, "Next": "Long"}], "Default": "Done"},
                "Long": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
                "Done": {"Type": "Pass", "End": true}}})
            .to_string(),
            role_arn: "arn:aws:iam::123456789012:role/test".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .state_machine_arn;
    let api = move |args: Vec<String>| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
                all.extend(["--endpoint", &url]);
                let o = stepwise(&all);
                assert!(o.status.success(), "{all:?}: {}", text(&o));
                String::from_utf8_lossy(&o.stdout).into_owned()
            })
            .await
            .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let quick = api(s(&[
        "start",
        &sm,
        "--name",
        "quick",
        "--input",
        r#"{"wait": false}"#,
    ]))
    .await;
    let quick = quick.trim().to_owned();
    assert!(quick.ends_with(":waits:quick"), "{quick}");
    let long = api(s(&[
        "start",
        &sm,
        "--name",
        "long",
        "--input",
        r#"{"wait": true}"#,
    ]))
    .await;
    let long = long.trim().to_owned();

    // `describe` waits on nothing: poll until the quick one ended.
    let mut described = String::new();
    for _ in 0..100 {
        described = api(s(&["describe", &quick])).await;
        if described.contains("SUCCEEDED") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(described.starts_with("FIELD"), "{described}");
    assert!(
        described.contains("status         SUCCEEDED"),
        "{described}"
    );
    assert!(
        described.contains(r#"output         {"wait":false}"#),
        "{described}"
    );

    let table = api(s(&["executions"])).await;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("MACHINE  NAME   STATUS"), "{table}");
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("waits    long   RUNNING")),
        "{table}"
    );

    let stopped = api(s(&["stop", &long, "--error", "Operator.Cancelled"])).await;
    assert!(
        stopped.starts_with(&format!("stopped {long} at ")),
        "{stopped}"
    );
    let listed: Value = serde_json::from_str(
        &api(s(&[
            "executions",
            "--state-machine",
            &sm,
            "--status",
            "aborted",
            "--json",
        ]))
        .await,
    )
    .unwrap();
    assert_eq!(
        listed["executions"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    assert_eq!(listed["executions"][0]["name"], "long");

    let history = api(s(&["history", &quick])).await;
    assert!(history.starts_with("ID"), "{history}");
    for ty in [
        "ExecutionStarted",
        "ChoiceStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ] {
        assert!(history.contains(ty), "{ty} not in {history}");
    }
    let events: Value = serde_json::from_str(&api(s(&["history", &long, "--json"])).await).unwrap();
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "ExecutionAborted");
    server.shutdown().await;
}

#[test]
fn run_with_a_mock_file_and_a_test_case() {
    let dir = tempfile::tempdir().unwrap();
    let def = dir.path().join("charge.asl.json");
    std::fs::write(
        &def,
        json!({"StartAt": "Charge", "States": {"Charge": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1}],
            "ResultSelector": {"charged.$": "$.Payload.charged"}, "End": true}}})
        .to_string(),
    )
    .unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(
        &mocks,
        json!({"StateMachines": {"charge": {"TestCases": {"Throttled": {"Charge": "Slow"}}}},
               "MockedResponses": {"Slow": {
                   "0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "slow down"}},
                   "1": {"Return": {"StatusCode": 200, "Payload": {"charged": true}}}}}})
        .to_string(),
    )
    .unwrap();
    let t = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        mocks.to_str().unwrap(),
        "--test-case",
        "Throttled",
        "--wait-time-scale",
        "0",
    ]);
    assert_eq!(output_json(&t), json!({"charged": true}), "{t}");
    assert!(t.contains("retr"), "a retry is shown: {t}");
}
