//! Integrations that need no AWS at all: the HTTP Task against a local
//! server, a Lambda function served on-premise by an activity worker, and
//! Step Functions Local mock files.

mod common;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use common::{ROLE, Server, wait_done};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn create_and_start(
    server: &Server,
    name: &str,
    def: &Value,
    input: &str,
    case: Option<&str>,
) -> String {
    let c = server.client();
    let m = c
        .create_state_machine()
        .name(name)
        .role_arn(ROLE)
        .definition(def.to_string())
        .send()
        .await
        .expect("create");
    let arn = match case {
        Some(case) => format!("{}#{case}", m.state_machine_arn()),
        None => m.state_machine_arn().to_owned(),
    };
    c.start_execution()
        .state_machine_arn(arn)
        .input(input)
        .send()
        .await
        .expect("start")
        .execution_arn()
        .to_owned()
}

/// A local API: `/orders` needs basic auth `shop:secret` and echoes what it got.
async fn api() -> String {
    let app = Router::new()
        .route(
            "/orders",
            post(|headers: HeaderMap, body: String| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                // "shop:secret" in base64.
                if auth != "Basic c2hvcDpzZWNyZXQ=" {
                    return (StatusCode::UNAUTHORIZED, "{}".to_owned());
                }
                let trace = headers
                    .get("x-trace")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (
                    StatusCode::CREATED,
                    json!({"received": serde_json::from_str::<Value>(&body).unwrap_or(Value::Null), "trace": trace})
                        .to_string(),
                )
            }),
        )
        .route("/gone", get(|| async { (StatusCode::NOT_FOUND, "no such thing") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_task_with_a_connection_from_the_config() {
    let base = api().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("coordinator.toml");
    std::fs::write(
        &config,
        r#"
[[integrations.connections]]
arn = "arn:aws:events:us-east-1:123456789012:connection/shop/1"
kind = "basic"
username = "shop"
password = "secret"
"#,
    )
    .expect("write config");
    let server = Server::start(None, &["--config", config.to_str().expect("utf-8 path")]);
    let def = json!({"StartAt": "Post", "States": {
        "Post": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": format!("{base}/orders"), "Method": "POST",
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/shop/1"},
                "Headers": {"x-trace": "t-1"}, "QueryParameters": {"dry": "no"},
                "RequestBody": {"order.$": "$.order"}},
            "ResultSelector": {"status.$": "$.StatusCode", "body.$": "$.ResponseBody"},
            "ResultPath": "$.post", "Next": "Gone"},
        "Gone": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": format!("{base}/gone"), "Method": "GET",
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/shop/1"}},
            "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.gone", "Next": "Down"}],
            "End": true},
        "Down": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": "http://127.0.0.1:1/", "Method": "GET"},
            "Catch": [{"ErrorEquals": ["States.Http.Socket"], "ResultPath": "$.down", "Next": "Done"}],
            "End": true},
        "Done": {"Type": "Succeed"}}});
    let exec = create_and_start(&server, "http", &def, r#"{"order": 5}"#, None).await;
    let c = server.client();
    let d = wait_done(&c, &exec, Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED", "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap_or("null")).expect("json");
    assert_eq!(
        out["post"],
        json!({"status": 201, "body": {"received": {"order": 5}, "trace": "t-1"}})
    );
    assert_eq!(out["gone"]["Error"], "States.Http.StatusCode.404");
    assert_eq!(out["down"]["Error"], "States.Http.Socket");
}

/// A local API for the other connection kinds: `/keyed` wants the header
/// `x-api-key: k1`; `/token` is an OAuth token endpoint (counted); `/bearer`
/// wants its token; `/slow` never answers.
async fn api_with_tokens(token_requests: Arc<AtomicUsize>) -> String {
    let authorized = |want: &'static str, headers: &HeaderMap, name: &str| {
        let got = headers.get(name).and_then(|v| v.to_str().ok());
        if got == Some(want) {
            (StatusCode::OK, json!({"ok": true}).to_string())
        } else {
            (StatusCode::FORBIDDEN, json!({"got": got}).to_string())
        }
    };
    let app = Router::new()
        .route(
            "/keyed",
            get(move |h: HeaderMap| async move { authorized("k1", &h, "x-api-key") }),
        )
        .route(
            "/bearer",
            get(move |h: HeaderMap| async move { authorized("Bearer tok-1", &h, "authorization") }),
        )
        .route(
            "/token",
            post(move |body: String| async move {
                token_requests.fetch_add(1, Ordering::SeqCst);
                if body.contains("grant_type=client_credentials")
                    && body.contains("client_id=app")
                    && body.contains("client_secret=s3cret")
                {
                    (
                        StatusCode::OK,
                        json!({"access_token": "tok-1", "token_type": "bearer", "expires_in": 3600})
                            .to_string(),
                    )
                } else {
                    (StatusCode::UNAUTHORIZED, "{}".to_owned())
                }
            }),
        )
        .route("/slow", get(std::future::pending::<String>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_task_api_key_and_oauth_connections_and_the_request_timeout() {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let base = api_with_tokens(token_requests.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("coordinator.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[integrations]
http_timeout_seconds = 1

[[integrations.connections]]
arn = "arn:aws:events:us-east-1:123456789012:connection/keyed/1"
kind = "api_key"
api_key_name = "x-api-key"
api_key_value = "k1"

[[integrations.connections]]
arn = "arn:aws:events:us-east-1:123456789012:connection/oauth/1"
kind = "oauth_client_credentials"
token_url = "{base}/token"
client_id = "app"
client_secret = "s3cret"
"#
        ),
    )
    .expect("write config");
    let server = Server::start(None, &["--config", config.to_str().expect("utf-8 path")]);
    let get = |name: &str, path: &str, connection: &str, next: &str| {
        json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": format!("{base}{path}"), "Method": "GET",
                "Authentication": {"ConnectionArn": format!("arn:aws:events:us-east-1:123456789012:connection/{connection}/1")}},
            "ResultSelector": {"status.$": "$.StatusCode"}, "ResultPath": format!("$.{name}"),
            "Next": next})
    };
    let mut slow = get("slow", "/slow", "keyed", "Done");
    slow["Catch"] =
        json!([{"ErrorEquals": ["States.Http.Socket"], "ResultPath": "$.slow", "Next": "Done"}]);
    let def = json!({"StartAt": "Keyed", "States": {
        "Keyed": get("keyed", "/keyed", "keyed", "Bearer1"),
        "Bearer1": get("bearer1", "/bearer", "oauth", "Bearer2"),
        "Bearer2": get("bearer2", "/bearer", "oauth", "Slow"),
        "Slow": slow,
        "Done": {"Type": "Succeed"}}});
    let exec = create_and_start(&server, "http-kinds", &def, "{}", None).await;
    let c = server.client();
    let d = wait_done(&c, &exec, Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED", "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap_or("null")).expect("json");
    for state in ["keyed", "bearer1", "bearer2"] {
        assert_eq!(out[state], json!({"status": 200}), "{state}: {out}");
    }
    assert_eq!(out["slow"]["Error"], "States.Http.Socket", "{out}");
    // One token for both OAuth calls: it is kept until it expires.
    assert_eq!(token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lambda_function_served_by_an_activity_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("coordinator.toml");
    std::fs::write(
        &config,
        r#"
[[integrations.lambda_activities]]
function = "resize-*"
activity = "arn:aws:states:us-east-1:123456789012:activity:resize"
"#,
    )
    .expect("write config");
    let server = Server::start(None, &["--config", config.to_str().expect("utf-8 path")]);
    let c = server.client();
    c.create_activity()
        .name("resize")
        .send()
        .await
        .expect("activity");
    let def = json!({"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "resize-image", "Payload": {"w.$": "$.w"}},
            "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode"}, "ResultPath": "$.invoke",
            "Next": "Direct"},
        "Direct": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:resize-thumb",
            "ResultPath": "$.direct", "End": true}}});
    let exec = create_and_start(&server, "onprem", &def, r#"{"w": 640}"#, None).await;
    // A worker answers both functions, as the agent or an SDK worker would.
    for expected in [
        json!({"w": 640}),
        json!({"w": 640, "invoke": {"payload": {"w": 320}, "status": 200}}),
    ] {
        let task = c
            .get_activity_task()
            .activity_arn("arn:aws:states:us-east-1:123456789012:activity:resize")
            .worker_name("w1")
            .send()
            .await
            .expect("poll");
        let input: Value =
            serde_json::from_str(task.input().unwrap_or("null")).expect("json input");
        assert_eq!(input, expected);
        let half = input["w"].as_i64().unwrap_or(0) / 2;
        c.send_task_success()
            .task_token(task.task_token().unwrap_or_default())
            .output(json!({"w": half}).to_string())
            .send()
            .await
            .expect("answer");
    }
    let d = wait_done(&c, &exec, Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED", "{:?}", d.cause());
    let out: Value = serde_json::from_str(d.output().unwrap_or("null")).expect("json");
    assert_eq!(out["invoke"], json!({"payload": {"w": 320}, "status": 200}));
    assert_eq!(out["direct"], json!({"w": 320}));
    let types = common::event_types(&c, &exec).await;
    assert!(types.iter().any(|t| t == "TaskSucceeded"), "{types:?}");
    assert!(
        types.iter().any(|t| t == "LambdaFunctionSucceeded"),
        "{types:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mock_file_answers_for_the_states_of_a_test_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mocks = dir.path().join("mocks.json");
    std::fs::write(
        &mocks,
        json!({
            "StateMachines": {"orders": {"TestCases": {
                "HappyPath": {"Charge": "Charged", "Notify": "Sent"},
                "Flaky": {"Charge": "FailsTwice", "Notify": "Sent"}}}},
            "MockedResponses": {
                "Charged": {"0": {"Return": {"StatusCode": 200, "Payload": {"charged": true}}}},
                "FailsTwice": {
                    "0-1": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "slow down"}},
                    "2": {"Return": {"StatusCode": 200, "Payload": {"charged": "late"}}}},
                "Sent": {"0": {"Return": {"MessageId": "m-1"}}}}
        })
        .to_string(),
    )
    .expect("write mocks");
    let server = Server::start(
        None,
        &["--mock-config", mocks.to_str().expect("utf-8 path")],
    );
    let def = json!({"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}],
            "ResultSelector": {"charged.$": "$.Payload.charged"}, "ResultPath": "$.charge", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message.$": "$$.Task.Token"},
            "ResultPath": "$.notify", "End": true}}});
    let c = server.client();
    let happy = create_and_start(&server, "orders", &def, "{}", Some("HappyPath")).await;
    let d = wait_done(&c, &happy, Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED", "{:?}", d.cause());
    assert_eq!(
        d.output(),
        Some(r#"{"charge":{"charged":true},"notify":{"MessageId":"m-1"}}"#)
    );
    let m = c
        .list_state_machines()
        .send()
        .await
        .expect("list")
        .state_machines()[0]
        .state_machine_arn()
        .to_owned();
    let flaky = c
        .start_execution()
        .state_machine_arn(format!("{m}#Flaky"))
        .send()
        .await
        .expect("start")
        .execution_arn()
        .to_owned();
    let d = wait_done(&c, &flaky, Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED", "{:?}", d.cause());
    assert_eq!(
        d.output(),
        Some(r#"{"charge":{"charged":"late"},"notify":{"MessageId":"m-1"}}"#)
    );
    let types = common::event_types(&c, &flaky).await;
    assert_eq!(
        types.iter().filter(|t| *t == "TaskFailed").count(),
        2,
        "{types:?}"
    );
    assert!(types.iter().any(|t| t == "TaskSubmitted"), "{types:?}");
    // A test case the file does not have is refused.
    let e = c
        .start_execution()
        .state_machine_arn(format!("{m}#NoSuchCase"))
        .send()
        .await
        .expect_err("unknown test case");
    assert!(format!("{e:?}").contains("NoSuchCase"), "{e:?}");
}

#[test]
fn a_bad_mock_file_is_refused_at_start_with_its_path_and_the_json_pointer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mocks = dir.path().join("mocks.json");
    std::fs::write(
        &mocks,
        r#"{"StateMachines": {"m": {"TestCases": {"c": {"S": "Nope"}}}}, "MockedResponses": {}}"#,
    )
    .expect("write mocks");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stepwise-coordinator"))
        .args(["--in-memory", "--listen", "127.0.0.1:0"])
        .env("SFN_MOCK_CONFIG", &mocks)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mocks.json"), "{err}");
    assert!(err.contains("/StateMachines/m/TestCases/c/S"), "{err}");
    assert!(err.contains("no mocked response named 'Nope'"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_role_arn_assumes_the_role_through_sts() {
    use std::sync::{Arc, Mutex};
    // One stub for STS and DynamoDB, recording the key each request was signed with.
    let keys: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = keys.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: String| {
        let seen = seen.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let key = auth
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').next())
                .unwrap_or_default()
                .to_owned();
            if body.contains("Action=AssumeRole") {
                seen.lock().unwrap().push(("sts".into(), key));
                let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
                    <AccessKeyId>ASIAROLEKEY</AccessKeyId><SecretAccessKey>role-secret</SecretAccessKey>\
                    <SessionToken>role-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>\
                    </Credentials></AssumeRoleResult></AssumeRoleResponse>";
                return ([("content-type", "text/xml")], xml.to_owned());
            }
            let token = headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            seen.lock().unwrap().push(("dynamodb".into(), format!("{key} {token}")));
            (
                [("content-type", "application/x-amz-json-1.0")],
                r#"{"Item":{"id":{"S":"1"}}}"#.to_owned(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let stub = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let env = [
        ("AWS_ENDPOINT_URL", stub.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDCOORDINATOR"),
        ("AWS_SECRET_ACCESS_KEY", "coordinator-secret"),
    ];
    let server = Server::start_env(None, &[], &env);
    let def = json!({"StartAt": "Own", "States": {
        "Own": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "t", "Key": {"id": {"S": "1"}}}, "ResultPath": null, "Next": "AsRole"},
        "AsRole": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Credentials": {"RoleArn.$": "$.role"},
            "Parameters": {"TableName": "t", "Key": {"id": {"S": "1"}}}, "ResultPath": null, "Next": "AgainAsRole"},
        "AgainAsRole": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "QueryLanguage": "JSONata",
            "Credentials": {"RoleArn": "{% $states.input.role %}"},
            "Arguments": {"TableName": "t", "Key": {"id": {"S": "1"}}}, "End": true}}});
    let exec = create_and_start(
        &server,
        "roles",
        &def,
        r#"{"role": "arn:aws:iam::123456789012:role/reader"}"#,
        None,
    )
    .await;
    let d = wait_done(&server.client(), &exec, Duration::from_secs(30)).await;
    assert_eq!(d.status().as_str(), "SUCCEEDED", "{:?}", d.cause());
    let seen = keys.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("dynamodb".to_owned(), "AKIDCOORDINATOR ".to_owned()),
            ("sts".to_owned(), "AKIDCOORDINATOR".to_owned()),
            ("dynamodb".to_owned(), "ASIAROLEKEY role-token".to_owned()),
            // The role's credentials are cached: no second AssumeRole.
            ("dynamodb".to_owned(), "ASIAROLEKEY role-token".to_owned()),
        ]
    );
}
