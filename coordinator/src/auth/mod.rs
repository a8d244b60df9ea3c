//! What stands before the API: the `Host` check (against DNS rebinding), the
//! request body limit in AWS's error shape, SigV4 verification and key
//! scopes (with `--auth-file`), and an audit line per mutating call.

pub mod keys;
pub mod sigv4;

use crate::api::{ApiError, MAX_BODY_BYTES};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keys::{KeyRing, KeysError};
use serde::Deserialize;
use sigv4::SigError;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Which `Host` headers are served: localhost and loopback addresses, the
/// listen address (any IP address when listening on all interfaces), and the
/// configured names. A page on another site that rebinds its DNS name to
/// this machine sends its own name, and is refused.
#[derive(Debug, Clone)]
pub struct HostCheck {
    listen: IpAddr,
    names: Vec<String>,
}

impl HostCheck {
    /// For a server listening on `listen`, also known as `names`.
    pub fn new(listen: SocketAddr, names: &[String]) -> Self {
        Self {
            listen: listen.ip(),
            names: names.iter().map(|n| normalize(n)).collect(),
        }
    }

    /// Whether a request with this `Host` header is served.
    pub fn allows(&self, host: &str) -> bool {
        let h = normalize(strip_port(host));
        if h == "localhost" || self.names.contains(&h) {
            return true;
        }
        let ip = h
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(&h);
        match ip.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.listen || self.listen.is_unspecified(),
            Err(_) => false,
        }
    }
}

fn normalize(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The gate's shared state: the keys (replaced on reload) and the rules.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<Option<Arc<KeyRing>>>,
    auth_file: Option<PathBuf>,
    region: String,
    account: String,
    hosts: HostCheck,
    body_timeout: Duration,
}

impl Gate {
    /// Loads the keys file, if any.
    pub fn new(
        auth_file: Option<PathBuf>,
        region: &str,
        account: &str,
        hosts: HostCheck,
        body_timeout: Duration,
    ) -> Result<Self, KeysError> {
        let keys = match &auth_file {
            Some(p) => Some(Arc::new(KeyRing::load(p)?)),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(keys),
                auth_file,
                region: region.to_owned(),
                account: account.to_owned(),
                hosts,
                body_timeout,
            }),
        })
    }

    /// Whether requests must be signed.
    pub fn requires_signature(&self) -> bool {
        self.inner.auth_file.is_some()
    }

    /// Reads the keys file again; on error the keys in use stay. Returns how many keys are loaded.
    pub fn reload(&self) -> Result<usize, KeysError> {
        let Some(p) = &self.inner.auth_file else {
            return Ok(0);
        };
        let ring = KeyRing::load(p)?;
        let n = ring.len();
        match self.inner.keys.write() {
            Ok(mut g) => *g = Some(Arc::new(ring)),
            Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(ring)),
        }
        Ok(n)
    }

    /// The key with this access key id, if requests are authenticated and it exists.
    pub fn key(&self, access_key_id: &str) -> Option<keys::Key> {
        self.keys()?.get(access_key_id).cloned()
    }

    fn keys(&self) -> Option<Arc<KeyRing>> {
        match self.inner.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The ARNs (and names of things created) a request names, read without
/// copying the rest of the body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Named<'a> {
    #[serde(borrow, default)]
    activity_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state_machine_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    execution_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    resource_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    map_run_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state_machine_alias_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state_machine_version_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

impl Named<'_> {
    fn resources(&self, action: &str, region: &str, account: &str) -> Vec<String> {
        let mut out: Vec<String> = [
            &self.activity_arn,
            &self.state_machine_arn,
            &self.execution_arn,
            &self.resource_arn,
            &self.map_run_arn,
            &self.state_machine_alias_arn,
            &self.state_machine_version_arn,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.to_string())
        .collect();
        if let Some(name) = &self.name {
            match action {
                "CreateActivity" => {
                    out.push(format!("arn:aws:states:{region}:{account}:activity:{name}"))
                }
                "CreateStateMachine" => out.push(format!(
                    "arn:aws:states:{region}:{account}:stateMachine:{name}"
                )),
                _ => {}
            }
        }
        out
    }
}

fn read_only(action: &str) -> bool {
    ["Describe", "List", "Get", "Validate", "TestState"]
        .iter()
        .any(|p| action.starts_with(p))
}

impl From<SigError> for ApiError {
    fn from(e: SigError) -> Self {
        let m = e.to_string();
        match e {
            SigError::Missing => ApiError::missing_authentication_token(m),
            SigError::Incomplete(_) => ApiError::incomplete_signature(m),
            SigError::UnknownKey => ApiError::unrecognized_client(m),
            SigError::Invalid(_) => ApiError::invalid_signature(m),
        }
    }
}

/// The axum middleware: `Host`, body size, signature, scope, then the API, then the audit line.
pub async fn gate(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    match &host {
        Some(h) if gate.inner.hosts.allows(h) => {}
        other => {
            return ApiError::access_denied(format!(
                "Host '{}' is not a name of this coordinator: call it by its address, localhost, or a name given with --host-name",
                other.as_deref().unwrap_or("")
            ))
            .into_response();
        }
    }
    if !(req.method() == Method::POST && req.uri().path() == "/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body, gate.inner.body_timeout).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let action = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AWSStepFunctions."))
        .unwrap_or("")
        .to_owned();
    let mutating = !action.is_empty() && !read_only(&action);
    let keys = gate.keys();
    let named = if mutating || keys.is_some() {
        serde_json::from_slice::<Named<'_>>(&bytes).unwrap_or_default()
    } else {
        Named::default()
    };
    let resources = named.resources(&action, &gate.inner.region, &gate.inner.account);
    // Who signed (or claims to have signed), and whether the call may go on.
    let (who, verdict) = match &keys {
        None => ("anonymous".to_owned(), Ok(())),
        Some(ring) => authorize(
            &gate,
            ring,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &bytes,
            &action,
            &resources,
        ),
    };
    let response = match &verdict {
        Ok(()) => {
            next.run(Request::from_parts(parts, Body::from(bytes.clone())))
                .await
        }
        Err(e) => e.clone().into_response(),
    };
    if mutating || verdict.is_err() {
        let result = response
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("OK");
        tracing::info!(
            target: "stepwise::audit",
            who = who.as_str(),
            action = action.as_str(),
            resource = resources.join(",").as_str(),
            status = response.status().as_u16(),
            result,
            "audit"
        );
    }
    response
}

/// Checks the signature and the key's scope: who the caller is (the key's
/// name once its signature checks, else the key id it claims, else
/// `unauthenticated`), and whether it may make this call.
#[allow(clippy::too_many_arguments)]
fn authorize(
    gate: &Gate,
    ring: &KeyRing,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    action: &str,
    resources: &[String],
) -> (String, Result<(), ApiError>) {
    let Some(header) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return ("unauthenticated".into(), Err(SigError::Missing.into()));
    };
    let auth = match sigv4::parse_authorization(header) {
        Ok(a) => a,
        Err(e) => return ("unauthenticated".into(), Err(e.into())),
    };
    let Some(key) = ring.get(auth.access_key_id) else {
        return (
            auth.access_key_id.to_owned(),
            Err(SigError::UnknownKey.into()),
        );
    };
    if let Err(e) = sigv4::verify(
        &auth,
        &key.secret,
        method,
        uri,
        headers,
        body,
        &sigv4::Expect {
            region: &gate.inner.region,
            service: "states",
            now: SystemTime::now(),
        },
    ) {
        return (auth.access_key_id.to_owned(), Err(e.into()));
    }
    let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
    if !key.allows(action, &refs) {
        let on = if resources.is_empty() {
            "*".to_owned()
        } else {
            resources.join(", ")
        };
        return (
            key.name.clone(),
            Err(ApiError::access_denied(format!(
                "User: {} is not authorized to perform: states:{action} on resource: {on} because no [[key]] allow entry of its key allows it",
                key.name
            ))),
        );
    }
    (key.name.clone(), Ok(()))
}

async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, ApiError> {
    let Ok(read) = tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await
    else {
        return Err(ApiError::request_timeout(format!(
            "The request body did not arrive within {} s",
            timeout.as_secs_f64()
        )));
    };
    read.map_err(|e| {
        // The limit's error comes boxed in one or more `axum::Error`s.
        let mut inner = e.into_inner();
        loop {
            match inner.downcast::<axum::Error>() {
                Ok(e) => inner = e.into_inner(),
                Err(other) => {
                    inner = other;
                    break;
                }
            }
        }
        if inner.is::<http_body_util::LengthLimitError>() {
            too_large()
        } else {
            ApiError::serialization(format!("The request body could not be read: {inner}"))
        }
    })
}

/// A request body over [`MAX_BODY_BYTES`], in AWS's error shape (HTTP 413).
pub(crate) fn too_large() -> ApiError {
    ApiError::request_too_large(format!(
        "Request entity too large: the request body is over {MAX_BODY_BYTES} bytes"
    ))
}

#[cfg(test)]
mod tests;
