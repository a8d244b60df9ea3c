//! The gate in front of a stub API, requests signed by `aws-sigv4` (the
//! signer of the AWS SDKs and of `stepwise-sdk`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use std::time::{Duration, SystemTime};
use tower::ServiceExt;

const KEYS: &str = r#"
[[key]]
name = "admin"
access_key_id = "AKIDADMIN"
secret_access_key = "admin-secret-key"
allow = ["*"]

[[key]]
name = "worker"
access_key_id = "AKIDWORKER"
secret_access_key = "worker-secret-key"
allow = ["GetActivityTask", "SendTask*"]
resources = ["arn:aws:states:us-east-1:123456789012:activity:charge"]
"#;

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:charge";

fn app(keys: Option<&str>, names: &[&str]) -> (Router, Gate, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = keys.map(|k| {
        let p = dir.path().join("keys.toml");
        std::fs::write(&p, k).unwrap();
        p
    });
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let gate = Gate::new(
        file,
        "us-east-1",
        "123456789012",
        HostCheck::new("127.0.0.1:8083".parse().unwrap(), &names),
        Duration::from_millis(300),
    )
    .unwrap();
    let router = Router::new().route("/", post(|| async { "{}" })).layer(
        axum::middleware::from_fn_with_state(gate.clone(), super::gate),
    );
    (router, gate, dir)
}

struct Req<'a> {
    host: &'a str,
    action: &'a str,
    body: String,
    key: Option<(&'a str, &'a str)>,
    time: SystemTime,
    region: &'a str,
}

impl<'a> Req<'a> {
    fn new(action: &'a str, body: serde_json::Value) -> Self {
        Self {
            host: "127.0.0.1:8083",
            action,
            body: body.to_string(),
            key: None,
            time: SystemTime::now(),
            region: "us-east-1",
        }
    }
    fn key(mut self, id: &'a str, secret: &'a str) -> Self {
        self.key = Some((id, secret));
        self
    }
    fn build(&self) -> Request {
        let target = format!("AWSStepFunctions.{}", self.action);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.into()),
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amz-target".into(), target),
        ];
        if let Some((id, secret)) = self.key {
            headers.extend(sign(
                &format!("http://{}/", self.host),
                self.region,
                id,
                secret,
                &headers,
                self.body.as_bytes(),
                self.time,
            ));
        }
        let mut b = Request::builder().method("POST").uri("/");
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Body::from(self.body.clone())).unwrap()
    }
}

fn sign(
    url: &str,
    region: &str,
    id: &str,
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(id, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("states")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn call(app: &Router, req: Request) -> (StatusCode, String, String) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let ty = r
        .headers()
        .get("x-amzn-ErrorType")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ty, String::from_utf8_lossy(&body).into_owned())
}

fn list() -> Req<'static> {
    Req::new("ListActivities", serde_json::json!({}))
}

#[tokio::test]
async fn without_keys_unsigned_calls_are_served_on_known_hosts_only() {
    let (app, gate, _d) = app(None, &["sfn.internal"]);
    assert!(!gate.requires_signature());
    for host in [
        "127.0.0.1:8083",
        "localhost:8083",
        "LOCALHOST.",
        "[::1]:8083",
        "sfn.internal:8083",
        "127.0.0.5",
    ] {
        let mut r = list();
        r.host = host;
        assert_eq!(call(&app, r.build()).await.0, StatusCode::OK, "{host}");
    }
    for host in [
        "attacker.example:8083",
        "10.0.0.1:8083",
        "localhost.attacker.example",
        "",
    ] {
        let mut r = list();
        r.host = host;
        let (status, ty, body) = call(&app, r.build()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host}");
        assert_eq!(ty, "AccessDeniedException", "{host}");
        assert!(body.contains("--host-name"), "{body}");
    }
}

#[test]
fn any_ip_is_a_host_when_listening_on_all_interfaces() {
    let h = HostCheck::new("0.0.0.0:8083".parse().unwrap(), &[]);
    assert!(h.allows("10.1.2.3:8083"));
    assert!(h.allows("[fe80::1]:8083"));
    assert!(!h.allows("rebind.attacker.example:8083"));
    let h = HostCheck::new("10.1.2.3:8083".parse().unwrap(), &[]);
    assert!(h.allows("10.1.2.3"));
    assert!(!h.allows("10.1.2.4"));
}

#[tokio::test]
async fn signed_with_the_right_key_is_served() {
    let (app, gate, _d) = app(Some(KEYS), &[]);
    assert!(gate.requires_signature());
    let (status, _, body) = call(&app, list().key("AKIDADMIN", "admin-secret-key").build()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Signed for localhost, too.
    let mut r = list().key("AKIDADMIN", "admin-secret-key");
    r.host = "localhost:8083";
    assert_eq!(call(&app, r.build()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refusals_have_the_aws_codes() {
    let (app, _gate, _d) = app(Some(KEYS), &[]);
    let (status, ty, body) = call(&app, list().build()).await;
    assert_eq!(
        (status, ty.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException"
        )
    );
    assert!(body.contains("Missing Authentication Token"), "{body}");

    let (_, ty, _) = call(&app, list().key("AKIDNOBODY", "admin-secret-key").build()).await;
    assert_eq!(ty, "UnrecognizedClientException");

    let (_, ty, body) = call(&app, list().key("AKIDADMIN", "wrong-secret-key").build()).await;
    assert_eq!(ty, "InvalidSignatureException");
    assert!(body.contains("does not match"), "{body}");

    let mut stale = list().key("AKIDADMIN", "admin-secret-key");
    stale.time = SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200); // 2001
    let (_, ty, body) = call(&app, stale.build()).await;
    assert_eq!(ty, "InvalidSignatureException");
    assert!(
        body.contains("Signature expired: 20010101T000000Z"),
        "{body}"
    );

    let mut future = list().key("AKIDADMIN", "admin-secret-key");
    future.time = SystemTime::now() + Duration::from_secs(3600);
    let (_, ty, body) = call(&app, future.build()).await;
    assert_eq!(ty, "InvalidSignatureException");
    assert!(body.contains("not yet current"), "{body}");

    let mut region = list().key("AKIDADMIN", "admin-secret-key");
    region.region = "eu-west-1";
    let (_, ty, body) = call(&app, region.build()).await;
    assert_eq!(ty, "InvalidSignatureException");
    assert!(body.contains("region"), "{body}");

    // A body changed after signing.
    let mut req = list().key("AKIDADMIN", "admin-secret-key").build();
    *req.body_mut() = Body::from("{\"maxResults\":1}");
    let (_, ty, _) = call(&app, req).await;
    assert_eq!(ty, "InvalidSignatureException");

    for garbage in [
        "garbage",
        "AWS4-HMAC-SHA256 Credential=AKIDADMIN",
        "AWS4-HMAC-SHA256 Credential=AKIDADMIN/2023/us-east-1/states, SignedHeaders=host, Signature=00",
    ] {
        let mut req = list().build();
        req.headers_mut()
            .insert("authorization", garbage.parse().unwrap());
        let (status, ty, _) = call(&app, req).await;
        assert_eq!(
            (status, ty.as_str()),
            (StatusCode::BAD_REQUEST, "IncompleteSignatureException"),
            "{garbage}"
        );
    }
    // A signature over a date that is then removed.
    let mut req = list().key("AKIDADMIN", "admin-secret-key").build();
    req.headers_mut().remove("x-amz-date");
    let (_, ty, body) = call(&app, req).await;
    assert_eq!(ty, "IncompleteSignatureException");
    assert!(body.contains("X-Amz-Date"), "{body}");
}

#[tokio::test]
async fn a_worker_key_polls_and_answers_its_activity_only() {
    let (app, _gate, _d) = app(Some(KEYS), &[]);
    let w = ("AKIDWORKER", "worker-secret-key");
    let poll = Req::new(
        "GetActivityTask",
        serde_json::json!({"activityArn": ACTIVITY}),
    )
    .key(w.0, w.1);
    assert_eq!(call(&app, poll.build()).await.0, StatusCode::OK);
    let answer = Req::new(
        "SendTaskSuccess",
        serde_json::json!({"taskToken": "t", "output": "{}"}),
    )
    .key(w.0, w.1);
    assert_eq!(call(&app, answer.build()).await.0, StatusCode::OK);

    let other = Req::new(
        "GetActivityTask",
        serde_json::json!({"activityArn": "arn:aws:states:us-east-1:123456789012:activity:refund"}),
    )
    .key(w.0, w.1);
    let (_, ty, body) = call(&app, other.build()).await;
    assert_eq!(ty, "AccessDeniedException");
    assert!(
        body.contains("User: worker is not authorized to perform: states:GetActivityTask"),
        "{body}"
    );

    let create = Req::new(
        "CreateStateMachine",
        serde_json::json!({"name": "m", "definition": "{}", "roleArn": "r"}),
    )
    .key(w.0, w.1);
    let (status, ty, body) = call(&app, create.build()).await;
    assert_eq!(
        (status, ty.as_str()),
        (StatusCode::BAD_REQUEST, "AccessDeniedException")
    );
    assert!(body.contains("stateMachine:m"), "{body}");
    let (_, ty, _) = call(&app, list().key(w.0, w.1).build()).await;
    assert_eq!(ty, "AccessDeniedException");
}

#[tokio::test]
async fn reload_swaps_keys_and_keeps_them_on_error() {
    let (app, gate, dir) = app(Some(KEYS), &[]);
    let p = dir.path().join("keys.toml");
    std::fs::write(
        &p,
        "[[key]]\naccess_key_id='AKIDNEW'\nsecret_access_key='new-secret-key'\nallow=['*']\n",
    )
    .unwrap();
    assert_eq!(gate.reload().unwrap(), 1);
    assert_eq!(
        call(&app, list().key("AKIDNEW", "new-secret-key").build())
            .await
            .0,
        StatusCode::OK
    );
    let (_, ty, _) = call(&app, list().key("AKIDADMIN", "admin-secret-key").build()).await;
    assert_eq!(ty, "UnrecognizedClientException");
    std::fs::write(&p, "not toml [").unwrap();
    assert!(gate.reload().is_err());
    assert_eq!(
        call(&app, list().key("AKIDNEW", "new-secret-key").build())
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_bodies_get_the_aws_error_shape() {
    let (app, _gate, _d) = app(None, &[]);
    let mut r = list();
    r.body = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES + 1));
    let (status, ty, body) = call(&app, r.build()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(ty, "RequestEntityTooLargeException");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "RequestEntityTooLargeException");
}
