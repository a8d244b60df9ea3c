//! Service integrations: the calls Task states make to AWS services (or any
//! AWS-compatible endpoint), one file per service, and the mocks that stand
//! in for them in users' test suites.
//!
//! The runtime decides that a task calls a service (`Request::Integration`);
//! the engine hands the call here once the round is committed, and the
//! answer comes back to the engine as the task's result (or, for
//! `.waitForTaskToken`, as the `TaskSubmitted` output, the task then waiting
//! for its token).

mod aws;
pub mod aws_sdk;
mod batch;
mod dynamodb;
mod ecs;
pub mod endpoints;
mod events;
mod http_task;
mod keys;
mod lambda;
pub mod mock;
mod sns;
mod sqs;
mod sts;

use crate::engine::runtime::IntegrationCall;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use stepwise_asl::StatesError;
use stepwise_asl::names;
use stepwise_asl::resource::{self, Pattern, Resource};
use stepwise_sdk::credentials::{ChainSettings, CredentialsChain};

pub use endpoints::Endpoints;
pub use mock::MockConfig;

/// What became of a service call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// The task's result.
    Done(Result<Value, StatesError>),
    /// A `.waitForTaskToken` call was made: record `TaskSubmitted` with this
    /// output and wait for the token.
    Submitted(Value),
}

/// A Lambda function served on-premise by an activity: `lambda:invoke` (and
/// a function ARN resource) of a function matching `function` is handed to
/// pollers of `activity`, and the answer comes back in Lambda's output shape.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LambdaActivity {
    /// A function name or ARN; `*` matches any run of characters.
    pub function: String,
    /// The activity ARN whose workers run it.
    pub activity: String,
}

/// An HTTP Task connection (`Authentication.ConnectionArn`), defined in the
/// coordinator's config instead of EventBridge.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Connection {
    /// The connection ARN the definition names.
    pub arn: String,
    /// How requests through it authenticate.
    pub kind: ConnectionKind,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub api_key_name: Option<String>,
    #[serde(default)]
    pub api_key_value: Option<String>,
    /// OAuth token endpoint.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// How an HTTP Task connection authenticates (EventBridge connections'
/// `AuthorizationType`s).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// `username` and `password`, sent as HTTP basic authentication.
    Basic,
    /// `api_key_name: api_key_value`, sent as a header.
    ApiKey,
    /// A bearer token from `token_url` (OAuth client credentials grant,
    /// `client_id` and `client_secret`), kept until it expires.
    OauthClientCredentials,
}

/// The `[integrations]` section of the coordinator's config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IntegrationSettings {
    /// Endpoint for every service (as `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Endpoints per service (`lambda`, `sns`, `sqs`, `dynamodb`, `events`...).
    pub endpoints: BTreeMap<String, String>,
    /// Lambda functions served by activities.
    pub lambda_activities: Vec<LambdaActivity>,
    /// HTTP Task connections.
    pub connections: Vec<Connection>,
    /// Seconds a call may take before the task fails with `States.Timeout`
    /// (when the state sets no `TimeoutSeconds`). Default 60.
    pub call_timeout_seconds: Option<u64>,
    /// Seconds an HTTP Task's request may take before it fails with
    /// `States.Http.Socket`, as AWS's HTTP Task does after 60 s. Default 60.
    pub http_timeout_seconds: Option<u64>,
    /// A folder of further AWS service models for `aws-sdk:*` tasks
    /// (botocore's `data/` layout, or `<service>.json[.gz]` files).
    pub models_dir: Option<std::path::PathBuf>,
}

/// Makes service calls for tasks.
pub struct Integrations {
    mocks: Option<MockConfig>,
    endpoints: Endpoints,
    settings: IntegrationSettings,
    http: reqwest::Client,
    credentials: CredentialsChain,
    roles: sts::RoleCache,
    oauth: http_task::TokenCache,
    models: aws_sdk::model::Models,
    /// This coordinator's own URL (where `aws-sdk:sfn:*` calls go by default).
    own_url: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("mocks", &self.mocks.is_some())
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// Why the integrations could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Mock(#[from] mock::MockError),
    #[error("integrations: {0}")]
    Http(String),
}

impl Integrations {
    /// Integrations with these settings, the endpoints of the environment
    /// (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`, Step Functions
    /// Local's `<SERVICE>_ENDPOINT`) and an optional mock file.
    pub fn new(
        settings: IntegrationSettings,
        mocks: Option<MockConfig>,
    ) -> Result<Self, SetupError> {
        let endpoints = Endpoints::from_env_and(&settings);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SetupError::Http(e.to_string()))?;
        let credentials = CredentialsChain::new(ChainSettings::from_env())
            .map_err(|e| SetupError::Http(e.to_string()))?;
        Ok(Self {
            mocks,
            endpoints,
            models: aws_sdk::model::Models::new(settings.models_dir.clone()),
            own_url: std::sync::OnceLock::new(),
            settings,
            http,
            credentials,
            roles: sts::RoleCache::default(),
            oauth: http_task::TokenCache::default(),
        })
    }

    /// No mocks, endpoints from the environment only (tests and tools).
    pub fn from_env() -> Result<Self, SetupError> {
        Self::new(IntegrationSettings::default(), None)
    }

    /// Tells the integrations where this coordinator listens (once bound).
    pub fn set_own_url(&self, url: String) {
        let _ = self.own_url.set(url);
    }

    fn self_url(&self) -> Option<&str> {
        self.own_url.get().map(String::as_str)
    }

    /// The AWS service models (`aws-sdk:*` tasks, TestState's field validation).
    pub fn models(&self) -> &aws_sdk::model::Models {
        &self.models
    }

    /// The mock configuration, if one was loaded.
    pub fn mocks(&self) -> Option<&MockConfig> {
        self.mocks.as_ref()
    }

    /// Whether the config maps any Lambda function to an activity.
    pub fn serves_lambdas(&self) -> bool {
        !self.settings.lambda_activities.is_empty()
    }

    /// The activity that serves a Lambda function, if the config maps one.
    pub fn lambda_activity(&self, function: &str) -> Option<&str> {
        // `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`
        // and `<account>:function:<name>` also match by their name.
        let name = function
            .split_once("function:")
            .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
            .unwrap_or(function);
        self.settings
            .lambda_activities
            .iter()
            .find(|m| glob(&m.function, function) || glob(&m.function, name))
            .map(|m| m.activity.as_str())
    }

    /// Makes a task's service call. `region` is the coordinator's.
    pub async fn call(&self, call: &IntegrationCall, region: &str) -> CallOutcome {
        let parsed = match resource::parse(&call.resource) {
            Ok(r) => r,
            Err(_) => {
                return CallOutcome::Done(Err(unsupported(&call.resource)));
            }
        };
        // An HTTP Task's own request timeout (a token request, then the
        // request) fails it with `States.Http.Socket` before this one.
        let is_http = matches!(&parsed, Resource::Service { service, .. } if service == "http");
        let default = if is_http {
            2 * http_task::timeout(self).as_secs() + 5
        } else {
            60
        };
        let limit = Duration::from_secs(
            call.timeout_seconds
                .or(self.settings.call_timeout_seconds)
                .unwrap_or(default)
                .max(1),
        );
        let fut = aws::ROLE.scope(call.role_arn.clone(), self.dispatch(&parsed, call, region));
        let result = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(StatesError::new(
                names::TIMEOUT,
                format!(
                    "The call to {} did not answer within {} s",
                    call.resource,
                    limit.as_secs()
                ),
            )),
        };
        match (result, parsed.pattern()) {
            (Ok(v), Pattern::WaitForTaskToken | Pattern::Sync | Pattern::Sync2) => {
                CallOutcome::Submitted(v)
            }
            (r, _) => CallOutcome::Done(r),
        }
    }

    /// Waits for the job a `.sync` task submitted (`submitted`: the answer
    /// of the submitting call) to finish, polling with a growing interval
    /// (from 1 s up to 30 s); its end is the task's result.
    pub async fn wait_job(
        &self,
        call: &IntegrationCall,
        submitted: &Value,
        region: &str,
    ) -> Result<Value, StatesError> {
        let parsed = resource::parse(&call.resource).map_err(|_| unsupported(&call.resource))?;
        let (service, action, region) = match &parsed {
            Resource::Service {
                service,
                action,
                region: r,
                ..
            } => (
                service.as_str(),
                action.as_str(),
                r.as_deref().unwrap_or(region),
            ),
            _ => return Err(unsupported(&call.resource)),
        };
        aws::ROLE
            .scope(
                call.role_arn.clone(),
                self.poll_job(call, service, action, region, submitted),
            )
            .await
    }

    async fn poll_job(
        &self,
        call: &IntegrationCall,
        service: &str,
        action: &str,
        region: &str,
        submitted: &Value,
    ) -> Result<Value, StatesError> {
        let mut interval = Duration::from_secs(1);
        loop {
            let done = match (service, action) {
                ("ecs", "runTask") => ecs::poll(self, region, &call.parameters, submitted).await?,
                ("batch", "submitJob") => batch::poll(self, region, submitted).await?,
                _ => return Err(unsupported(&call.resource)),
            };
            if let Some(v) = done {
                return Ok(v);
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 3 / 2).min(Duration::from_secs(30));
        }
    }

    async fn dispatch(
        &self,
        parsed: &Resource,
        call: &IntegrationCall,
        default_region: &str,
    ) -> Result<Value, StatesError> {
        let p = &call.parameters;
        match parsed {
            Resource::LambdaFunction { region } => {
                lambda::invoke_function(self, &call.resource, region, p).await
            }
            Resource::Service {
                service,
                action,
                region,
                ..
            } => {
                let region = region.as_deref().unwrap_or(default_region);
                match (service.as_str(), action.as_str()) {
                    ("lambda", "invoke") => lambda::invoke(self, region, p).await,
                    ("sns", "publish") => sns::publish(self, region, p).await,
                    ("sqs", "sendMessage") => sqs::send_message(self, region, p).await,
                    ("dynamodb", a) => dynamodb::call(self, region, a, p).await,
                    ("events", "putEvents") => events::put_events(self, region, p).await,
                    ("http", "invoke") => http_task::invoke(self, p).await,
                    ("ecs", "runTask") => ecs::run_task(self, region, p).await,
                    ("batch", "submitJob") => batch::submit_job(self, region, p).await,
                    _ => Err(unsupported(&call.resource)),
                }
            }
            Resource::AwsSdk {
                service,
                action,
                region,
                ..
            } => {
                let region = region.as_deref().unwrap_or(default_region);
                aws_sdk::call(self, service, action, region, p).await
            }
            Resource::Activity => Err(unsupported(&call.resource)),
        }
    }
}

/// The task failure for a resource this build cannot call.
fn unsupported(resource: &str) -> StatesError {
    StatesError::new(
        names::TASK_FAILED,
        format!(
            "The resource '{resource}' is not supported by this coordinator yet: it can call lambda:invoke, Lambda function ARNs, sns:publish, sqs:sendMessage, dynamodb:getItem/putItem/updateItem/deleteItem, events:putEvents, ecs:runTask, batch:submitJob, http:invoke, states:startExecution and aws-sdk:<service>:<action>, and run activities (or mock any Task with a mock config)."
        ),
    )
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A JSON value as the text a service takes (strings as they are, others as JSON).
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Percent-encodes a URL path segment or form value (RFC 3986 unreserved kept).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k=v&...`, percent-encoded.
fn encode_form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The failure for a parameter a service requires.
fn missing(service: &str, field: &str) -> StatesError {
    StatesError::new(
        names::TASK_FAILED,
        format!("The field '{field}' is required by {service} but was missing from the parameters"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob("resize", "resize"));
        assert!(!glob("resize", "resize2"));
        assert!(glob("resize-*", "resize-image"));
        assert!(glob(
            "*:function:img-*",
            "arn:aws:lambda:us-east-1:1:function:img-x"
        ));
        assert!(glob("*", ""));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("a*b*c", "a-b-c"));
    }

    #[test]
    fn lambda_activities_match_names_and_arns() {
        let settings = IntegrationSettings {
            lambda_activities: vec![LambdaActivity {
                function: "resize-*".into(),
                activity: "arn:a".into(),
            }],
            ..Default::default()
        };
        let ig = Integrations::new(settings, None).unwrap();
        assert_eq!(ig.lambda_activity("resize-x"), Some("arn:a"));
        assert_eq!(
            ig.lambda_activity("arn:aws:lambda:us-east-1:123456789012:function:resize-x:live"),
            Some("arn:a")
        );
        assert_eq!(
            ig.lambda_activity("123456789012:function:resize-y"),
            Some("arn:a")
        );
        assert_eq!(ig.lambda_activity("crop"), None);
    }

    #[test]
    fn as_text_keeps_strings_and_writes_json() {
        assert_eq!(as_text(&Value::String("hi".into())), "hi");
        assert_eq!(as_text(&serde_json::json!({"a": 1})), r#"{"a":1}"#);
    }
}
