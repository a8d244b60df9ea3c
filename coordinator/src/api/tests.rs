//! The HTTP layer through `tower::ServiceExt::oneshot` on the router (no
//! socket): request decoding, error shapes and statuses, a create/describe
//! round trip, and the health check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::engine::{Engine, EngineConfig};
use crate::store::memory::MemoryStore;
use crate::time::SystemClock;
use axum::body::Body;
use axum::http::Request;
use std::sync::Arc;
use tower::ServiceExt;

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

/// Stops the engine behind a router and waits until it has stopped.
struct Stop(CancellationToken, tokio::task::JoinHandle<()>);

impl Stop {
    async fn now(self) {
        self.0.cancel();
        self.1.await.unwrap();
    }
}

/// A router over an engine on a memory store, and what stops the engine.
fn router() -> (Router, Stop) {
    let cfg = EngineConfig {
        scope: arn::ArnScope {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        },
        wait_scale: 1.0,
        integrations: Arc::new(
            crate::integrations::Integrations::from_env().expect("integrations"),
        ),
    };
    let engine = Engine::load(cfg, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).unwrap();
    let cancel = CancellationToken::new();
    let (handle, join) = engine.spawn(cancel.clone());
    (app(handle, CancellationToken::new()), Stop(cancel, join))
}

/// A `POST /` with `X-Amz-Target: AWSStepFunctions.<action>`.
fn request(action: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/")
        .header("x-amz-target", format!("AWSStepFunctions.{action}"))
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

/// Sends `req`; the status, headers and body parsed as JSON (`Null` if it is not JSON).
async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let r = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, v)
}

async fn call(app: &Router, action: &str, body: Value) -> (StatusCode, Value) {
    let req = request(action, "application/x-amz-json-1.0", body.to_string());
    let (status, _, v) = send(app, req).await;
    (status, v)
}

/// Asserts the AWS JSON 1.0 error shape: status, `__type`, a message, and the headers SDKs read.
fn assert_error(status: StatusCode, headers: &HeaderMap, body: &Value, want: (u16, &str)) {
    assert_eq!(status.as_u16(), want.0, "{body}");
    assert_eq!(body["__type"], want.1, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(headers["content-type"], "application/x-amz-json-1.0");
    assert_eq!(headers["x-amzn-errortype"], want.1);
}

#[tokio::test]
async fn malformed_json_is_a_serialization_exception() {
    let (app, _stop) = router();
    for body in ["{\"name\":", "[1,2]", "\"text\"", "nope"] {
        let req = request("ListStateMachines", "application/x-amz-json-1.0", body);
        let (status, headers, v) = send(&app, req).await;
        assert_error(status, &headers, &v, (400, "SerializationException"));
    }
}

#[tokio::test]
async fn an_unknown_or_missing_action_is_an_unknown_operation() {
    let (app, _stop) = router();
    let req = request("DoSomethingElse", "application/x-amz-json-1.0", "{}");
    let (status, headers, v) = send(&app, req).await;
    assert_error(status, &headers, &v, (400, "UnknownOperationException"));
    let no_target = Request::post("/")
        .header("content-type", "application/x-amz-json-1.0")
        .body(Body::from("{}"))
        .unwrap();
    let (status, headers, v) = send(&app, no_target).await;
    assert_error(status, &headers, &v, (400, "UnknownOperationException"));
    let other_service = Request::post("/")
        .header("x-amz-target", "AmazonSQS.ListQueues")
        .body(Body::from("{}"))
        .unwrap();
    let (status, headers, v) = send(&app, other_service).await;
    assert_error(status, &headers, &v, (400, "UnknownOperationException"));
}

#[tokio::test]
async fn the_content_type_does_not_decide_how_the_body_is_read() {
    // The target header and the JSON body decide; `curl -d` (form type) or
    // `application/json` work as the AWS type does, and a body that is not
    // JSON is refused whatever its declared type.
    let (app, _stop) = router();
    for ct in [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
    ] {
        let (status, _, v) = send(&app, request("ListActivities", ct, "{}")).await;
        assert_eq!(status, StatusCode::OK, "{ct}: {v}");
        assert_eq!(v["activities"], json!([]));
        let (status, headers, v) = send(&app, request("ListActivities", ct, "a=b")).await;
        assert_error(status, &headers, &v, (400, "SerializationException"));
    }
}

#[tokio::test]
async fn members_missing_or_of_the_wrong_type_are_named() {
    let (app, _stop) = router();
    let (status, v) = call(&app, "CreateStateMachine", json!({"name": "m"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["__type"], "ValidationException");
    assert!(v["message"].as_str().unwrap().contains("definition"), "{v}");
    let (status, v) = call(&app, "DescribeStateMachine", json!({"stateMachineArn": 7})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["__type"], "SerializationException", "{v}");
}

#[tokio::test]
async fn a_state_machine_created_is_described_as_created() {
    let (app, _stop) = router();
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let (status, created) = call(
        &app,
        "CreateStateMachine",
        json!({"name": "hello", "definition": definition.to_string(), "roleArn": ROLE,
               "tags": [{"key": "team", "value": "a"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let arn = created["stateMachineArn"].as_str().unwrap().to_owned();
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:hello"
    );
    assert!(created["creationDate"].is_number(), "{created}");

    let (status, d) = call(
        &app,
        "DescribeStateMachine",
        json!({"stateMachineArn": arn}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["stateMachineArn"], arn);
    assert_eq!(d["name"], "hello");
    assert_eq!(d["status"], "ACTIVE");
    assert_eq!(d["type"], "STANDARD");
    assert_eq!(d["roleArn"], ROLE);
    assert_eq!(d["creationDate"], created["creationDate"]);
    let described: Value = serde_json::from_str(d["definition"].as_str().unwrap()).unwrap();
    assert_eq!(described, definition);
    let (_, tags) = call(&app, "ListTagsForResource", json!({"resourceArn": arn})).await;
    assert_eq!(tags["tags"], json!([{"key": "team", "value": "a"}]));

    // An execution of it, started and described through the same router.
    let (status, started) = call(
        &app,
        "StartExecution",
        json!({"stateMachineArn": arn, "name": "e1", "input": "{\"x\":1}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let exec = started["executionArn"].as_str().unwrap().to_owned();
    let (status, x) = call(&app, "DescribeExecution", json!({"executionArn": exec})).await;
    assert_eq!(status, StatusCode::OK, "{x}");
    assert_eq!(x["status"], "SUCCEEDED");
    assert_eq!(x["output"], "{\"x\":1}");
}

#[tokio::test]
async fn errors_of_the_engine_keep_their_aws_shape() {
    let (app, _stop) = router();
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:missing";
    let req = request(
        "DescribeStateMachine",
        "application/x-amz-json-1.0",
        json!({"stateMachineArn": missing}).to_string(),
    );
    let (status, headers, v) = send(&app, req).await;
    assert_error(status, &headers, &v, (400, "StateMachineDoesNotExist"));
    assert!(v["message"].as_str().unwrap().contains(missing));

    let req = request(
        "CreateStateMachine",
        "application/x-amz-json-1.0",
        json!({"name": "bad", "definition": "{\"StartAt\": \"X\"}", "roleArn": ROLE}).to_string(),
    );
    let (status, headers, v) = send(&app, req).await;
    assert_error(status, &headers, &v, (400, "InvalidDefinition"));

    let req = request(
        "DescribeExecution",
        "application/x-amz-json-1.0",
        json!({"executionArn": "not-an-arn"}).to_string(),
    );
    let (status, headers, v) = send(&app, req).await;
    assert_error(status, &headers, &v, (400, "InvalidArn"));
}

#[tokio::test]
async fn a_stopped_engine_answers_service_unavailable_and_fails_the_health_check() {
    let (app, stop) = router();
    let health = || Request::get("/healthz").body(Body::empty()).unwrap();
    let r = app.clone().oneshot(health()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"ok");

    stop.now().await;
    let r = app.clone().oneshot(health()).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let req = request("ListActivities", "application/x-amz-json-1.0", "{}");
    let (status, headers, v) = send(&app, req).await;
    assert_error(status, &headers, &v, (503, "ServiceUnavailable"));
}
