//! The HTTP Task (`arn:aws:states:::http:invoke`): any HTTPS API, with the
//! authentication of a connection named by `Authentication.ConnectionArn`
//! and defined in the coordinator's config (basic, API key, or OAuth client
//! credentials).

use super::{Connection, ConnectionKind, Integrations, as_text, encode_form, missing};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use stepwise_asl::StatesError;

/// The socket error AWS's HTTP Task fails with when the endpoint cannot be
/// reached, or does not answer in time.
const SOCKET: &str = "States.Http.Socket";

/// How long a request may take by default (AWS's HTTP Task: 60 s).
const DEFAULT_TIMEOUT_SECONDS: u64 = 60;

/// OAuth access tokens by connection ARN, kept until shortly before they
/// expire (as EventBridge connections keep theirs), so a token endpoint
/// sees one request per token, not one per call.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenCache {
    fn get(&self, arn: &str) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        let (t, until) = tokens.get(arn)?;
        (Instant::now() < *until).then(|| t.clone())
    }

    fn put(&self, arn: &str, token: &str, lifetime: Duration) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                arn.to_owned(),
                (token.to_owned(), Instant::now() + lifetime),
            );
        }
    }
}

/// How long an HTTP Task request may take (`http_timeout_seconds`).
pub(super) fn timeout(ig: &Integrations) -> Duration {
    Duration::from_secs(
        ig.settings
            .http_timeout_seconds
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
            .max(1),
    )
}

/// A request that failed before an answer came: `States.Http.Socket`.
fn socket_error(url: &str, e: &reqwest::Error) -> StatesError {
    if e.is_timeout() {
        StatesError::new(
            SOCKET,
            format!("The request to {url} did not answer in time"),
        )
    } else {
        StatesError::new(SOCKET, format!("The request to {url} failed: {e}"))
    }
}

/// `arn:aws:states:::http:invoke`.
pub(super) async fn invoke(ig: &Integrations, p: &Value) -> Result<Value, StatesError> {
    let endpoint = p
        .get("ApiEndpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("http:invoke", "ApiEndpoint"))?;
    let method = p
        .get("Method")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("http:invoke", "Method"))?;
    let method =
        reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            StatesError::new(
                "States.Runtime",
                format!("'{method}' is not an HTTP method"),
            )
        })?;
    let mut url = endpoint.to_owned();
    if let Some(q) = p.get("QueryParameters").and_then(Value::as_object) {
        let pairs: Vec<(String, String)> = q.iter().map(|(k, v)| (k.clone(), as_text(v))).collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&encode_form(&pairs));
    }
    let mut req = ig.http.request(method, &url).timeout(timeout(ig));
    if let Some(h) = p.get("Headers").and_then(Value::as_object) {
        for (k, v) in h {
            req = req.header(k, as_text(v));
        }
    }
    if let Some(arn) = p
        .pointer("/Authentication/ConnectionArn")
        .and_then(Value::as_str)
    {
        let conn = ig
            .settings
            .connections
            .iter()
            .find(|c| c.arn == arn)
            .ok_or_else(|| {
                StatesError::new(
                    SOCKET,
                    format!("The connection {arn} is not defined in the coordinator's [[integrations.connections]]"),
                )
            })?;
        req = authenticate(ig, conn, req).await?;
    }
    if let Some(body) = p.get("RequestBody") {
        let form = p
            .pointer("/Transform/RequestBodyEncoding")
            .and_then(Value::as_str)
            == Some("URL_ENCODED");
        req = match (form, body) {
            (true, Value::Object(o)) => {
                let pairs: Vec<(String, String)> =
                    o.iter().map(|(k, v)| (k.clone(), as_text(v))).collect();
                req.header("content-type", "application/x-www-form-urlencoded")
                    .body(encode_form(&pairs))
            }
            (_, Value::String(s)) => req.body(s.clone()),
            (_, v) => req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(v).unwrap_or_default()),
        };
    }
    let resp = req.send().await.map_err(|e| socket_error(endpoint, &e))?;
    let status = resp.status();
    let mut headers = Map::new();
    for (k, v) in resp.headers() {
        headers.insert(
            k.as_str().to_owned(),
            json!([String::from_utf8_lossy(v.as_bytes())]),
        );
    }
    let text = resp.text().await.map_err(|e| socket_error(endpoint, &e))?;
    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    let out = json!({
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": status.as_u16(),
        "StatusText": status.canonical_reason().unwrap_or_default(),
    });
    if !status.is_success() {
        return Err(StatesError::new(
            format!("States.Http.StatusCode.{}", status.as_u16()),
            serde_json::to_string(&out).unwrap_or_default(),
        ));
    }
    Ok(out)
}

async fn authenticate(
    ig: &Integrations,
    c: &Connection,
    req: reqwest::RequestBuilder,
) -> Result<reqwest::RequestBuilder, StatesError> {
    let bad =
        |what: &str| StatesError::new(SOCKET, format!("The connection {} lacks {what}", c.arn));
    match c.kind {
        ConnectionKind::Basic => Ok(req.basic_auth(
            c.username.clone().ok_or_else(|| bad("username"))?,
            c.password.clone(),
        )),
        ConnectionKind::ApiKey => Ok(req.header(
            c.api_key_name.clone().ok_or_else(|| bad("api_key_name"))?,
            c.api_key_value
                .clone()
                .ok_or_else(|| bad("api_key_value"))?,
        )),
        ConnectionKind::OauthClientCredentials => {
            if let Some(t) = ig.oauth.get(&c.arn) {
                return Ok(req.bearer_auth(t));
            }
            let url = c.token_url.as_deref().ok_or_else(|| bad("token_url"))?;
            let form = [
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                (
                    "client_id".to_owned(),
                    c.client_id.clone().ok_or_else(|| bad("client_id"))?,
                ),
                (
                    "client_secret".to_owned(),
                    c.client_secret
                        .clone()
                        .ok_or_else(|| bad("client_secret"))?,
                ),
            ];
            let resp = ig
                .http
                .post(url)
                .timeout(timeout(ig))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_form(&form))
                .send()
                .await
                .map_err(|e| socket_error(url, &e))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| socket_error(url, &e))?;
            if !status.is_success() {
                return Err(StatesError::new(
                    SOCKET,
                    format!(
                        "The OAuth token endpoint of {} answered {status}: {text}",
                        c.arn
                    ),
                ));
            }
            let token: Value = serde_json::from_str(&text).map_err(|e| {
                StatesError::new(
                    SOCKET,
                    format!(
                        "The OAuth token endpoint of {} answered no JSON: {e}",
                        c.arn
                    ),
                )
            })?;
            let t = token
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("an access_token from its token_url"))?;
            // Kept until a minute before it expires (an hour when the
            // endpoint does not say).
            let lifetime = token
                .get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(3600)
                .saturating_sub(60);
            if lifetime > 0 {
                ig.oauth.put(&c.arn, t, Duration::from_secs(lifetime));
            }
            Ok(req.bearer_auth(t))
        }
    }
}
