//! The console through `oneshot` on its router, over an engine on a memory
//! store: pages, the graph as a file, filters, read-only by default, the
//! start action when allowed, and HTTP Basic with a key of the auth file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::engine::{Engine, EngineConfig};
use crate::store::memory::MemoryStore;
use crate::time::SystemClock;
use axum::http::Request as HttpRequest;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8084";

struct Env {
    api: Router,
    console: Router,
    engine: EngineHandle,
    cancel: CancellationToken,
}

fn env(allow_changes: bool, auth_file: Option<std::path::PathBuf>) -> Env {
    let cfg = EngineConfig {
        scope: crate::arn::ArnScope {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        },
        wait_scale: 1.0,
        integrations: Arc::new(crate::integrations::Integrations::from_env().unwrap()),
    };
    let engine = Engine::load(cfg, Arc::new(MemoryStore::new()), Arc::new(SystemClock))
        .unwrap()
        .keep_express(10, true);
    let cancel = CancellationToken::new();
    let (handle, _join) = engine.spawn(cancel.clone());
    let addr: std::net::SocketAddr = HOST.parse().unwrap();
    let gate = Gate::new(
        auth_file,
        "us-east-1",
        "123456789012",
        HostCheck::new(addr, &[]),
        Duration::from_secs(5),
    )
    .unwrap();
    Env {
        api: crate::api::app(handle.clone(), cancel.clone()),
        console: app(
            handle.clone(),
            gate,
            HostCheck::new(addr, &[]),
            ConsoleSettings { allow_changes },
        ),
        engine: handle,
        cancel,
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn api(e: &Env, action: &str, body: Value) -> Value {
    let req = HttpRequest::post("/")
        .header("x-amz-target", format!("AWSStepFunctions.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = e.api.clone().oneshot(req).await.unwrap();
    let b = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
    serde_json::from_slice(&b).unwrap()
}

async fn get(e: &Env, path: &str) -> (StatusCode, String) {
    get_as(e, path, None).await
}

async fn get_as(e: &Env, path: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = HttpRequest::get(path).header("host", HOST);
    if let Some(a) = auth {
        req = req.header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(a)
            ),
        );
    }
    let r = e
        .console
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let b = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8_lossy(&b).into_owned())
}

async fn post(e: &Env, path: &str, body: Value, marked: bool) -> (StatusCode, String) {
    let mut req = HttpRequest::post(path)
        .header("host", HOST)
        .header("content-type", "application/json");
    if marked {
        req = req.header(CHANGE_HEADER, "1");
    }
    let r = e
        .console
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let b = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8_lossy(&b).into_owned())
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

const DEF: &str = r#"{"StartAt":"Pick","States":{
  "Pick":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"Boom"}],"Default":"Done"},
  "Boom":{"Type":"Fail","Error":"Custom.Error","Cause":"it broke"},
  "Done":{"Type":"Pass","End":true}}}"#;

async fn machine(e: &Env, name: &str, kind: &str) -> String {
    let r = api(
        e,
        "CreateStateMachine",
        json!({"name": name, "definition": DEF, "roleArn": "arn:aws:iam::123456789012:role/r", "type": kind}),
    )
    .await;
    r["stateMachineArn"].as_str().unwrap().to_owned()
}

async fn run(e: &Env, machine: &str, name: &str, input: Value) -> String {
    let r = api(
        e,
        "StartExecution",
        json!({"stateMachineArn": machine, "name": name, "input": input.to_string()}),
    )
    .await;
    let arn = r["executionArn"].as_str().unwrap().to_owned();
    // Wait on the engine's change signal until it has finished.
    let mut changes = e.engine.changes();
    loop {
        let d = api(e, "DescribeExecution", json!({"executionArn": arn})).await;
        if d["status"] != "RUNNING" {
            return arn;
        }
        changes.changed().await.unwrap();
    }
}

#[tokio::test]
async fn pages_show_machines_executions_and_a_coloured_graph() {
    let e = env(false, None);
    let m = machine(&e, "flow", "STANDARD").await;
    let ok = run(&e, &m, "good-1", json!({"fail": false})).await;
    let bad = run(&e, &m, "bad-1", json!({"fail": true})).await;

    let (s, home) = get(&e, "/console/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        home.contains(">flow<") && home.contains("STANDARD"),
        "{home}"
    );

    let (s, svg) = get(
        &e,
        &format!("/console/state-machines/{}/graph.svg", enc(&m)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(svg.starts_with("<svg") && svg.contains(r#"data-state="Pick""#));
    assert!(svg.contains("$.fail == true"));

    let (s, page) = get(&e, &format!("/console/state-machines/{}", enc(&m))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("good-1") && page.contains("bad-1"));
    assert!(!page.contains(r#"id="start""#), "read-only: no start form");

    let (_, good) = get(&e, &format!("/console/executions/{}", enc(&ok))).await;
    assert!(
        good.contains(r#"class="st succeeded" data-state="Done""#),
        "{good}"
    );
    assert!(good.contains(r#"class="st not-reached" data-state="Boom""#));
    assert!(good.contains("PassStateExited"));
    assert!(good.contains(r#"id="timeline""#));

    let (_, failed) = get(&e, &format!("/console/executions/{}", enc(&bad))).await;
    assert!(
        failed.contains(r#"class="st failed" data-state="Boom""#),
        "{failed}"
    );
    assert!(failed.contains("Custom.Error") && failed.contains("it broke"));

    let (_, list) = get(&e, "/console/executions?status=FAILED").await;
    assert!(list.contains("bad-1") && !list.contains("good-1"), "{list}");
    let (_, list) = get(&e, "/console/executions?prefix=good").await;
    assert!(list.contains("good-1") && !list.contains("bad-1"));
    let (_, list) = get(
        &e,
        "/console/executions?from=2001-01-01T00:00&to=2002-01-01",
    )
    .await;
    assert!(!list.contains("good-1"));
    let (s, _) = get(&e, "/console/executions?from=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _) = get(
        &e,
        "/console/executions/arn:aws:states:us-east-1:123456789012:execution:flow:nope",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn express_executions_are_kept_in_the_ring_with_their_history() {
    let e = env(false, None);
    let m = machine(&e, "quick", "EXPRESS").await;
    let arn = run(&e, &m, "x-1", json!({"fail": false})).await;
    let (_, list) = get(&e, "/console/executions").await;
    assert!(list.contains("x-1"), "{list}");
    let (s, page) = get(&e, &format!("/console/executions/{}", enc(&arn))).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(
        page.contains(r#"class="st succeeded" data-state="Done""#),
        "{page}"
    );
}

#[tokio::test]
async fn changes_are_refused_unless_allowed() {
    let e = env(false, None);
    let m = machine(&e, "flow", "STANDARD").await;
    let (s, body) = post(
        &e,
        "/console/actions/start",
        json!({"stateMachineArn": m}),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("--console-allow-changes"));

    let e = env(true, None);
    let m = machine(&e, "flow", "STANDARD").await;
    let (s, _) = post(
        &e,
        "/console/actions/start",
        json!({"stateMachineArn": m}),
        false,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a form from another site");
    let (s, body) = post(
        &e,
        "/console/actions/start",
        json!({"stateMachineArn": m, "input": "{not json"}),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("not valid JSON"));
    let (s, body) = post(
        &e,
        "/console/actions/start",
        json!({"stateMachineArn": m, "name": "from-console", "input": "{}"}),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["executionArn"]
            .as_str()
            .unwrap()
            .ends_with(":from-console")
    );
    let (_, page) = get(&e, &format!("/console/state-machines/{}", enc(&m))).await;
    assert!(page.contains(r#"id="start""#));
}

#[tokio::test]
async fn the_console_follows_the_auth_file_and_the_host_check() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(
        &keys,
        r#"
[[key]]
access_key_id = "AKIDREAD"
secret_access_key = "read-secret"
allow = ["Describe*", "List*", "Get*"]

[[key]]
access_key_id = "AKIDWORKER"
secret_access_key = "worker-secret"
allow = ["GetActivityTask", "SendTask*"]
"#,
    )
    .unwrap();
    let e = env(false, Some(keys));
    let (s, _) = get(&e, "/console/").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = get_as(&e, "/console/", Some("AKIDREAD:wrong")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = get_as(&e, "/console/", Some("AKIDREAD:read-secret")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = get_as(&e, "/console/", Some("AKIDWORKER:worker-secret")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("ListStateMachines"));

    let req = HttpRequest::get("/console/")
        .header("host", "evil.example:8084")
        .body(Body::empty())
        .unwrap();
    let r = e.console.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn activities_show_parked_pollers_and_workers_seen() {
    let e = env(false, None);
    let r = api(&e, "CreateActivity", json!({"name": "charge"})).await;
    let activity = r["activityArn"].as_str().unwrap().to_owned();
    // A poll parked in the engine (sent before the page's own command).
    let (tx, _rx) = tokio::sync::oneshot::channel();
    e.engine
        .call_raw(Command::GetActivityTask {
            activity,
            worker: "worker-7".into(),
            reply: tx,
        })
        .await
        .unwrap();
    let (s, page) = get(&e, "/console/activities").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("activity:charge"), "{page}");
    assert!(page.contains("1: worker-7"), "{page}");
    assert!(page.contains("worker-7 ("), "last seen: {page}");
}

#[tokio::test]
async fn the_executions_list_pages() {
    let e = env(false, None);
    let m = machine(&e, "many", "STANDARD").await;
    for i in 0..PAGE_SIZE + 5 {
        run(&e, &m, &format!("run-{i:03}"), json!({"fail": false})).await;
    }
    let (_, first) = get(&e, "/console/executions").await;
    assert_eq!(first.matches("<tr><td><a href=").count(), PAGE_SIZE);
    assert!(first.contains(r#"id="next""#) && !first.contains(r#"id="prev""#));
    let (_, second) = get(&e, "/console/executions?page=1").await;
    assert_eq!(second.matches("<tr><td><a href=").count(), 5);
    assert!(second.contains(r#"id="prev""#) && !second.contains(r#"id="next""#));
    assert!(second.contains("run-000") && !second.contains("run-054"));
}

#[tokio::test]
async fn stop_and_redrive_from_the_console() {
    let e = env(true, None);
    let def = r#"{"StartAt":"Hold","States":{"Hold":{"Type":"Wait","Seconds":100000,"End":true}}}"#;
    let r = api(
        &e,
        "CreateStateMachine",
        json!({"name": "hold", "definition": def, "roleArn": "arn:aws:iam::123456789012:role/r"}),
    )
    .await;
    let m = r["stateMachineArn"].as_str().unwrap().to_owned();
    let r = api(
        &e,
        "StartExecution",
        json!({"stateMachineArn": m, "name": "held"}),
    )
    .await;
    let arn = r["executionArn"].as_str().unwrap().to_owned();
    let status = |d: &Value| d["status"].as_str().unwrap_or_default().to_owned();
    let describe = || api(&e, "DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(status(&describe().await), "RUNNING");
    // Not from a form of another site.
    let (s, _) = post(
        &e,
        "/console/actions/stop",
        json!({"executionArn": arn}),
        false,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(status(&describe().await), "RUNNING");
    let (s, body) = post(
        &e,
        "/console/actions/stop",
        json!({"executionArn": arn}),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let d = describe().await;
    assert_eq!(status(&d), "ABORTED");
    assert_eq!(d["error"], "Console.Stopped");
    let (s, body) = post(
        &e,
        "/console/actions/redrive",
        json!({"executionArn": arn}),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let d = describe().await;
    assert_eq!(status(&d), "RUNNING");
    assert_eq!(d["redriveCount"], 1);
    // A running execution cannot be redriven: the engine's error comes back.
    let (s, body) = post(
        &e,
        "/console/actions/redrive",
        json!({"executionArn": arn}),
        true,
    )
    .await;
    assert!(s.is_client_error(), "{s} {body}");
}
