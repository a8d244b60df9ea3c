//! One signed HTTP exchange with an AWS service, and the shapes Step
//! Functions gives its answers and errors (`SdkHttpMetadata`,
//! `SdkResponseMetadata`; causes ending in `(Service: ...; Status Code: ...;
//! Error Code: ...; Request ID: ...; Proxy: null)`).

use super::Integrations;
use super::endpoints::Service;
use serde_json::{Map, Value, json};
use std::time::SystemTime;
use stepwise_asl::{StatesError, names};
use stepwise_sdk::Credentials;

/// A service's answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn request_id(&self) -> String {
        self.header("x-amzn-RequestId")
            .or_else(|| self.header("x-amz-request-id"))
            .unwrap_or_default()
            .to_owned()
    }

    pub(super) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON (`{}` when empty).
    pub(super) fn json(&self) -> Result<Value, StatesError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Map::new()));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            StatesError::new(
                names::TASK_FAILED,
                format!("The service answered with a body that is not JSON: {e}"),
            )
        })
    }

    /// `SdkHttpMetadata` and `SdkResponseMetadata`, added to `out`.
    pub(super) fn add_metadata(&self, out: &mut Map<String, Value>) {
        let mut all = Map::new();
        let mut one = Map::new();
        for (k, v) in &self.headers {
            match all.get_mut(k) {
                Some(Value::Array(a)) => a.push(json!(v)),
                _ => {
                    all.insert(k.clone(), json!([v]));
                }
            }
            one.insert(k.clone(), json!(v));
        }
        out.insert(
            "SdkHttpMetadata".into(),
            json!({"AllHttpHeaders": all, "HttpHeaders": one, "HttpStatusCode": self.status}),
        );
        out.insert(
            "SdkResponseMetadata".into(),
            json!({"RequestId": self.request_id()}),
        );
    }
}

/// Where a request goes: an optimized integration's service (its endpoint
/// settings), or an SDK integration's resolved endpoint.
pub(super) enum Dest<'a> {
    Service(Service),
    Url {
        /// The base URL.
        base: String,
        /// Whether it is AWS itself (which needs real credentials).
        is_aws: bool,
        signing_name: &'a str,
        /// The service's name in messages.
        label: &'a str,
    },
}

impl From<Service> for Dest<'_> {
    fn from(s: Service) -> Self {
        Dest::Service(s)
    }
}

impl Dest<'_> {
    /// The base URL, whether it is AWS, the signing name and the service's label.
    fn resolve(&self, ig: &Integrations, region: &str) -> (String, bool, &str, &str) {
        match self {
            Dest::Service(s) => {
                let (base, is_aws) = ig.endpoints.url(*s, region);
                (base, is_aws, s.signing_name, s.key)
            }
            Dest::Url {
                base,
                is_aws,
                signing_name,
                label,
            } => (base.clone(), *is_aws, signing_name, label),
        }
    }
}

/// A request to send.
pub(super) struct Call<'a> {
    pub service: Dest<'a>,
    pub region: &'a str,
    pub method: &'a str,
    /// Path and query, starting with `/`.
    pub path: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

tokio::task_local! {
    /// The role (`Credentials.RoleArn`) the current task's calls are made with.
    pub(super) static ROLE: Option<String>;
}

/// Sends a request signed with the coordinator's credentials, or with those
/// of the role the task names in `Credentials`.
pub(super) async fn send(ig: &Integrations, call: Call<'_>) -> Result<Answer, StatesError> {
    let (_, is_aws, _, label) = call.service.resolve(ig, call.region);
    let creds = match ig.credentials.get().await {
        Ok(Some(c)) => c,
        // A local endpoint (moto, LocalStack, Step Functions Local's
        // targets) takes any key; AWS itself needs real ones.
        Ok(None) if !is_aws => Credentials::new("stepwise", "stepwise", None),
        Ok(None) => {
            return Err(StatesError::new(
                names::TASK_FAILED,
                format!(
                    "No AWS credentials to call {label} (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or run on ECS/EC2 with a role)"
                ),
            ));
        }
        Err(e) => {
            return Err(StatesError::new(
                names::TASK_FAILED,
                format!("Could not resolve AWS credentials: {e}"),
            ));
        }
    };
    let role = ROLE.try_with(Clone::clone).ok().flatten();
    let creds = match role {
        Some(role) => super::sts::assume(ig, &role, call.region, creds).await?,
        None => creds,
    };
    send_signed(ig, call, &creds).await
}

/// Sends a request signed with `creds`.
pub(super) async fn send_signed(
    ig: &Integrations,
    call: Call<'_>,
    creds: &Credentials,
) -> Result<Answer, StatesError> {
    let (base, _, signing_name, label) = call.service.resolve(ig, call.region);
    let url = format!("{base}{}", call.path);
    let signed = stepwise_sdk::sign_request(
        call.method,
        &url,
        signing_name,
        call.region,
        creds,
        &call.headers,
        &call.body,
        SystemTime::now(),
    )
    .map_err(|e| {
        StatesError::new(
            names::TASK_FAILED,
            format!("Could not sign the request: {e}"),
        )
    })?;
    let method = reqwest::Method::from_bytes(call.method.as_bytes())
        .map_err(|e| StatesError::new(names::TASK_FAILED, e.to_string()))?;
    let mut req = ig.http.request(method, &url).body(call.body);
    for (k, v) in call.headers.iter().chain(signed.iter()) {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| {
        StatesError::new(
            names::TASK_FAILED,
            format!("Could not reach {label} at {base}: {e}"),
        )
    })?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp
        .bytes()
        .await
        .map_err(|e| StatesError::new(names::TASK_FAILED, format!("Reading the answer: {e}")))?
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A JSON-protocol call (`X-Amz-Target`, `application/x-amz-json-1.x`).
pub(super) async fn json_call(
    ig: &Integrations,
    service: Service,
    region: &str,
    target: &str,
    version: &str,
    body: &Value,
) -> Result<Answer, StatesError> {
    send(
        ig,
        Call {
            service: service.into(),
            region,
            method: "POST",
            path: "/".into(),
            headers: vec![
                (
                    "content-type".into(),
                    format!("application/x-amz-json-{version}"),
                ),
                ("x-amz-target".into(), target.to_owned()),
            ],
            body: serde_json::to_vec(body).unwrap_or_default(),
        },
    )
    .await
}

/// The error code of a JSON-protocol error answer (`__type`, `code` or the
/// `x-amzn-ErrorType` header, without its namespace) and its message.
pub(super) fn json_error(a: &Answer) -> (String, String) {
    let body: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    let raw = body
        .get("__type")
        .or_else(|| body.get("code"))
        .or_else(|| body.get("Type"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| a.header("x-amzn-ErrorType").map(str::to_owned))
        .unwrap_or_else(|| format!("Http{}", a.status));
    let code = raw
        .rsplit('#')
        .next()
        .unwrap_or(&raw)
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let message = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (code, message)
}

/// The task failure for a service error, named and worded as Step Functions does.
pub(super) fn service_error(
    prefix: &str,
    service_name: &str,
    a: &Answer,
    code: &str,
    message: &str,
) -> StatesError {
    let name = if code.ends_with("Exception") {
        code.to_owned()
    } else {
        format!("{code}Exception")
    };
    StatesError::new(
        format!("{prefix}.{name}"),
        format!(
            "{message} (Service: {service_name}; Status Code: {}; Error Code: {code}; Request ID: {}; Proxy: null)",
            a.status,
            a.request_id()
        ),
    )
}

/// `body` with the answer's metadata added (an object answer; others are wrapped as they are).
pub(super) fn with_metadata(a: &Answer, body: Value) -> Value {
    match body {
        Value::Object(mut o) => {
            a.add_metadata(&mut o);
            Value::Object(o)
        }
        other => other,
    }
}

/// The text of the first `<tag>` element of a small, known XML answer
/// (the query protocol's few fields; no crate needed for that).
pub(super) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// An answer made up for tests.
#[cfg(test)]
pub(super) fn test_answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
    Answer {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_answer as answer;

    #[test]
    fn json_errors_are_named_as_step_functions_names_them() {
        let a = answer(
            400,
            &[("x-amzn-RequestId", "r-1")],
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        let (code, message) = json_error(&a);
        assert_eq!(code, "ResourceNotFoundException");
        let e = service_error("DynamoDB", "AmazonDynamoDBv2", &a, &code, &message);
        assert_eq!(e.error, "DynamoDB.ResourceNotFoundException");
        assert_eq!(
            e.cause,
            "Requested resource not found (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException; Request ID: r-1; Proxy: null)"
        );
        let a = answer(
            404,
            &[("x-amzn-ErrorType", "ResourceNotFoundException:http://x/")],
            "",
        );
        assert_eq!(json_error(&a).0, "ResourceNotFoundException");
        let e = service_error("SNS", "AmazonSNS", &a, "NotFound", "Topic does not exist");
        assert_eq!(e.error, "SNS.NotFoundException");
    }

    #[test]
    fn metadata_lists_headers_and_the_request_id() {
        let a = answer(
            200,
            &[
                ("x-amzn-RequestId", "r-2"),
                ("content-type", "application/json"),
            ],
            "{}",
        );
        let v = with_metadata(&a, json!({"A": 1}));
        assert_eq!(v["SdkResponseMetadata"]["RequestId"], "r-2");
        assert_eq!(v["SdkHttpMetadata"]["HttpStatusCode"], 200);
        assert_eq!(
            v["SdkHttpMetadata"]["AllHttpHeaders"]["content-type"],
            json!(["application/json"])
        );
        assert_eq!(v["A"], 1);
    }
}
