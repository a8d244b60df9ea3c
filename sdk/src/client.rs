//! The Step Functions client: one async method per action, over reqwest
//! (rustls), SigV4-signed when credentials are present, retried with jittered
//! exponential backoff on throttling, 5xx and network errors (never on client
//! errors).
//!
//! ```no_run
//! # async fn demo() -> Result<(), stepwise_sdk::Error> {
//! use stepwise_sdk::{Client, types::StartExecutionInput};
//! let client = Client::builder().endpoint_url("http://127.0.0.1:8083").build()?;
//! let started = client
//!     .start_execution(StartExecutionInput {
//!         state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:hello".into(),
//!         input: Some(r#"{"name":"ada"}"#.into()),
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("{}", started.execution_arn);
//! # Ok(()) }
//! ```

use crate::error::{ApiErrorBody, ErrorCode};
use crate::types::*;
use backon::{ExponentialBuilder, Retryable};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long a `GetActivityTask` call may take: above the 60 s long poll.
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(70);
/// Timeout of every other call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong calling the API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The service answered with an error.
    #[error("{code}: {message}")]
    Api {
        /// The AWS error code.
        code: ErrorCode,
        /// The service's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },
    /// The request could not be sent or the connection broke.
    #[error("network error: {0}")]
    Network(String),
    /// The call took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The response could not be decoded.
    #[error("could not decode the response of {action}: {message}")]
    Decode {
        /// The action.
        action: String,
        /// What was wrong.
        message: String,
    },
    /// The client is misconfigured (bad endpoint, certificate...).
    #[error("configuration error: {0}")]
    Config(String),
    /// The request could not be signed.
    #[error("signing error: {0}")]
    Signing(String),
}

impl Error {
    /// The AWS error code, for API errors.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Worth retrying: throttling, 5xx, network and timeouts.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { code, status, .. } => code.is_retryable() || *status >= 500,
            Error::Network(_) | Error::Timeout(_) => true,
            _ => false,
        }
    }
}

/// AWS credentials.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token (temporary credentials).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Static credentials.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, when set.
    pub fn from_env() -> Option<Self> {
        let id = std::env::var("AWS_ACCESS_KEY_ID")
            .ok()
            .filter(|s| !s.is_empty())?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
            .ok()
            .filter(|s| !s.is_empty())?;
        let token = std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|s| !s.is_empty());
        Some(Self::new(id, secret, token))
    }
}

/// Builds a [`Client`].
#[derive(Debug, Default, Clone)]
pub struct ClientBuilder {
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<Credentials>,
    chain: bool,
    ca_pem: Option<Vec<u8>>,
    max_retries: Option<usize>,
}

impl ClientBuilder {
    /// Any endpoint URL, e.g. the Stepwise coordinator `http://127.0.0.1:8083`.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }
    /// An AWS region: the endpoint becomes `https://states.<region>.amazonaws.com` unless set.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Credentials for SigV4 signing (optional against the coordinator).
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = Some(c);
        self
    }
    /// Resolve credentials through the standard chain (environment, shared
    /// files with `AWS_PROFILE`, ECS container credentials, EC2 IMDSv2),
    /// refreshed before they expire.
    pub fn credentials_chain(mut self) -> Self {
        self.chain = true;
        self
    }
    /// Extra trusted CA certificates (PEM) besides the system's/webpki roots.
    pub fn ca_bundle_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }
    /// Retries after the first attempt (default 3).
    pub fn max_retries(mut self, n: usize) -> Self {
        self.max_retries = Some(n);
        self
    }
    /// Region, endpoint and credentials from the standard environment variables
    /// (`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_SFN`/`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`...).
    pub fn from_env(mut self) -> Self {
        if self.region.is_none() {
            self.region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok();
        }
        if self.endpoint.is_none() {
            self.endpoint = std::env::var("AWS_ENDPOINT_URL_SFN")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .ok();
        }
        if self.credentials.is_none() {
            self.credentials = Credentials::from_env();
        }
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let region = self.region.unwrap_or_else(|| "us-east-1".into());
        let endpoint_is_aws = self.endpoint.is_none();
        let endpoint = match self.endpoint {
            Some(e) => e,
            None => format!("https://states.{region}.amazonaws.com"),
        };
        let url = reqwest::Url::parse(&endpoint)
            .map_err(|e| Error::Config(format!("invalid endpoint '{endpoint}': {e}")))?;
        let make = |timeout: Duration| -> Result<reqwest::Client, Error> {
            let mut b = reqwest::Client::builder()
                .timeout(timeout)
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90));
            if let Some(pem) = &self.ca_pem {
                let certs = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| Error::Config(format!("CA bundle: {e}")))?;
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            } else if url.scheme() == "http" {
                // Plain HTTP (a coordinator on loopback): reading the
                // system's root certificates would only cost time and memory.
                b = b.tls_certs_only([]);
            }
            b.build().map_err(|e| Error::Config(e.to_string()))
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http: make(CALL_TIMEOUT)?,
                poll_http: make(LONG_POLL_TIMEOUT)?,
                url,
                region,
                // Against AWS itself (no endpoint), fall back on the full chain
                // (shared files, ECS, EC2); against a coordinator only when asked.
                credentials: match (self.credentials, self.chain || endpoint_is_aws) {
                    (Some(c), _) => CredSource::Static(c),
                    (None, true) => {
                        CredSource::Chain(Box::new(crate::credentials::CredentialsChain::new(
                            crate::credentials::ChainSettings::from_env(),
                        )?))
                    }
                    (None, false) => CredSource::None,
                },
                max_retries: self.max_retries.unwrap_or(3),
            }),
        })
    }
}

enum CredSource {
    None,
    Static(Credentials),
    Chain(Box<crate::credentials::CredentialsChain>),
}

struct Inner {
    http: reqwest::Client,
    poll_http: reqwest::Client,
    /// The endpoint, parsed once.
    url: reqwest::Url,
    region: String,
    credentials: CredSource,
    max_retries: usize,
}

/// The Step Functions client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.url.as_str())
            .field("region", &self.inner.region)
            .finish()
    }
}

macro_rules! actions {
    ($($(#[$m:meta])* $fn_name:ident => $action:literal ($input:ty) -> $output:ty;)*) => {
        impl Client {
            $(
                $(#[$m])*
                pub async fn $fn_name(&self, input: $input) -> Result<$output, Error> {
                    self.call($action, &input).await
                }
            )*
        }
    };
}

actions! {
    /// `CreateStateMachine`.
    create_state_machine => "CreateStateMachine" (CreateStateMachineInput) -> CreateStateMachineOutput;
    /// `DescribeStateMachine`.
    describe_state_machine => "DescribeStateMachine" (StateMachineArnInput) -> DescribeStateMachineOutput;
    /// `UpdateStateMachine`.
    update_state_machine => "UpdateStateMachine" (UpdateStateMachineInput) -> UpdateStateMachineOutput;
    /// `DeleteStateMachine`.
    delete_state_machine => "DeleteStateMachine" (StateMachineArnInput) -> Empty;
    /// `ListStateMachines`.
    list_state_machines => "ListStateMachines" (PageInput) -> ListStateMachinesOutput;
    /// `ValidateStateMachineDefinition`.
    validate_state_machine_definition => "ValidateStateMachineDefinition" (ValidateStateMachineDefinitionInput) -> ValidateStateMachineDefinitionOutput;
    /// `PublishStateMachineVersion`.
    publish_state_machine_version => "PublishStateMachineVersion" (PublishStateMachineVersionInput) -> PublishStateMachineVersionOutput;
    /// `ListStateMachineVersions`, newest first.
    list_state_machine_versions => "ListStateMachineVersions" (StateMachinePageInput) -> ListStateMachineVersionsOutput;
    /// `DeleteStateMachineVersion`.
    delete_state_machine_version => "DeleteStateMachineVersion" (DeleteStateMachineVersionInput) -> Empty;
    /// `CreateStateMachineAlias`.
    create_state_machine_alias => "CreateStateMachineAlias" (CreateStateMachineAliasInput) -> CreateStateMachineAliasOutput;
    /// `DescribeStateMachineAlias`.
    describe_state_machine_alias => "DescribeStateMachineAlias" (StateMachineAliasArnInput) -> DescribeStateMachineAliasOutput;
    /// `UpdateStateMachineAlias`.
    update_state_machine_alias => "UpdateStateMachineAlias" (UpdateStateMachineAliasInput) -> UpdateStateMachineAliasOutput;
    /// `DeleteStateMachineAlias`.
    delete_state_machine_alias => "DeleteStateMachineAlias" (StateMachineAliasArnInput) -> Empty;
    /// `ListStateMachineAliases`.
    list_state_machine_aliases => "ListStateMachineAliases" (StateMachinePageInput) -> ListStateMachineAliasesOutput;
    /// `RedriveExecution`: a failed, timed-out or aborted execution runs again from where it stopped.
    redrive_execution => "RedriveExecution" (RedriveExecutionInput) -> RedriveExecutionOutput;
    /// `ListMapRuns`: the distributed Map runs of an execution.
    list_map_runs => "ListMapRuns" (ListMapRunsInput) -> ListMapRunsOutput;
    /// `DescribeMapRun`.
    describe_map_run => "DescribeMapRun" (DescribeMapRunInput) -> DescribeMapRunOutput;
    /// `UpdateMapRun`: a running Map Run's concurrency or failure tolerance.
    update_map_run => "UpdateMapRun" (UpdateMapRunInput) -> Empty;
    /// `TestState`: one state run in isolation.
    test_state => "TestState" (TestStateInput) -> TestStateOutput;
    /// `DescribeStateMachineForExecution`.
    describe_state_machine_for_execution => "DescribeStateMachineForExecution" (ExecutionArnInput) -> DescribeStateMachineForExecutionOutput;
    /// `StartExecution`.
    start_execution => "StartExecution" (StartExecutionInput) -> StartExecutionOutput;
    /// `StartSyncExecution` (EXPRESS).
    start_sync_execution => "StartSyncExecution" (StartExecutionInput) -> StartSyncExecutionOutput;
    /// `StopExecution`.
    stop_execution => "StopExecution" (StopExecutionInput) -> StopExecutionOutput;
    /// `DescribeExecution`.
    describe_execution => "DescribeExecution" (ExecutionArnInput) -> DescribeExecutionOutput;
    /// `ListExecutions`.
    list_executions => "ListExecutions" (ListExecutionsInput) -> ListExecutionsOutput;
    /// `GetExecutionHistory`.
    get_execution_history => "GetExecutionHistory" (GetExecutionHistoryInput) -> GetExecutionHistoryOutput;
    /// `CreateActivity`.
    create_activity => "CreateActivity" (CreateActivityInput) -> CreateActivityOutput;
    /// `DeleteActivity`.
    delete_activity => "DeleteActivity" (ActivityArnInput) -> Empty;
    /// `DescribeActivity`.
    describe_activity => "DescribeActivity" (ActivityArnInput) -> ActivityListItem;
    /// `ListActivities`.
    list_activities => "ListActivities" (PageInput) -> ListActivitiesOutput;
    /// `SendTaskSuccess`.
    send_task_success => "SendTaskSuccess" (SendTaskSuccessInput) -> Empty;
    /// `SendTaskFailure`.
    send_task_failure => "SendTaskFailure" (SendTaskFailureInput) -> Empty;
    /// `SendTaskHeartbeat`.
    send_task_heartbeat => "SendTaskHeartbeat" (SendTaskHeartbeatInput) -> Empty;
    /// `TagResource`.
    tag_resource => "TagResource" (TagResourceInput) -> Empty;
    /// `UntagResource`.
    untag_resource => "UntagResource" (UntagResourceInput) -> Empty;
    /// `ListTagsForResource`.
    list_tags_for_resource => "ListTagsForResource" (ListTagsForResourceInput) -> ListTagsForResourceOutput;
}

impl Client {
    /// A builder; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        self.inner.url.as_str()
    }

    /// `GetActivityTask`: a long poll of up to 60 s; an empty answer means no task.
    /// Not retried here: a worker polls again by itself.
    pub async fn get_activity_task(
        &self,
        input: GetActivityTaskInput,
    ) -> Result<GetActivityTaskOutput, Error> {
        let body = serde_json::to_vec(&input).map_err(|e| Error::Config(e.to_string()))?;
        self.send_once(&self.inner.poll_http, "GetActivityTask", body)
            .await
    }

    /// Any action by name with a JSON body: for tools (such as a load
    /// generator) and for actions this client has no typed method for.
    /// Signed and retried like the typed calls.
    pub async fn call_json(
        &self,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        self.call(action, input).await
    }

    async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        action: &str,
        input: &I,
    ) -> Result<O, Error> {
        let body = serde_json::to_vec(input).map_err(|e| Error::Config(e.to_string()))?;
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(self.inner.max_retries)
            .with_jitter();
        (|| async { self.send_once(&self.inner.http, action, body.clone()).await })
            .retry(policy)
            .when(Error::is_retryable)
            .await
    }

    async fn send_once<O: DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        action: &str,
        body: Vec<u8>,
    ) -> Result<O, Error> {
        let target = format!("AWSStepFunctions.{action}");
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amz-target".into(), target),
        ];
        let creds = match &self.inner.credentials {
            CredSource::None => None,
            CredSource::Static(c) => Some(c.clone()),
            CredSource::Chain(chain) => chain.get().await?,
        };
        if let Some(c) = &creds {
            headers.extend(sign(
                self.inner.url.as_str(),
                &self.inner.region,
                c,
                &headers,
                &body,
            )?);
        }
        let mut req = http.post(self.inner.url.clone()).body(body);
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout(format!("{action}: {e}"))
            } else {
                Error::Network(format!("{action}: {e}"))
            }
        })?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Network(format!("{action}: {e}")))?;
        if (200..300).contains(&status) {
            let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else {
                &bytes
            };
            return serde_json::from_slice(text).map_err(|e| Error::Decode {
                action: action.into(),
                message: e.to_string(),
            });
        }
        let body: ApiErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ApiErrorBody {
            r#type: if status >= 500 {
                "InternalFailure".into()
            } else {
                "ValidationException".into()
            },
            message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        });
        Err(Error::Api {
            code: ErrorCode::parse(&body.r#type),
            message: body.message,
            status,
        })
    }
}

/// SigV4 settings: S3 signs the path as sent (encoded once, not normalized)
/// and the payload's hash, which it takes in `x-amz-content-sha256`.
fn settings_for(service: &str) -> aws_sigv4::http_request::SigningSettings {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SigningSettings, UriPathNormalizationMode,
    };
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    settings
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a POST to `url`.
pub(crate) fn sign(
    url: &str,
    region: &str,
    c: &Credentials,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>, Error> {
    sign_at(url, region, c, headers, body, SystemTime::now())
}

pub(crate) fn sign_at(
    url: &str,
    region: &str,
    c: &Credentials,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, Error> {
    sign_request("POST", url, "states", region, c, headers, body, time)
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for
/// a request to any AWS service (`service` is its signing name: `lambda`,
/// `sns`, `dynamodb`, `events`...). `headers` are the other headers sent.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &str,
    url: &str,
    service: &str,
    region: &str,
    c: &Credentials,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, Error> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.clone(),
        c.session_token.clone(),
        None,
        "stepwise-sdk",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings_for(service))
        .build()
        .map_err(|e| Error::Signing(e.to_string()))?
        .into();
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_default();
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("host", host.as_str()));
    let signable = SignableRequest::new(method, url, all.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| Error::Signing(e.to_string()))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_requests_sign_their_payload_hash() {
        let c = Credentials::new("AKID", "secret", None);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let signed = sign_request(
            "PUT",
            "http://127.0.0.1:1/b/a%20b",
            "s3",
            "us-east-1",
            &c,
            &[],
            b"hi",
            t,
        )
        .unwrap();
        let get = |k: &str| signed.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("x-amz-content-sha256").as_deref(),
            Some("8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4")
        );
        assert!(get("authorization").is_some_and(|a| a.contains("x-amz-content-sha256")));
        let other = sign_request(
            "POST",
            "http://127.0.0.1:1/",
            "sqs",
            "us-east-1",
            &c,
            &[],
            b"hi",
            t,
        )
        .unwrap();
        assert!(other.iter().all(|(n, _)| n != "x-amz-content-sha256"));
    }

    #[test]
    fn builder_defaults_to_the_regional_endpoint() {
        let c = Client::builder().region("eu-west-1").build().unwrap();
        assert_eq!(c.endpoint(), "https://states.eu-west-1.amazonaws.com/");
        let c = Client::builder()
            .endpoint_url("http://127.0.0.1:8083")
            .build()
            .unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:8083/");
        assert!(matches!(
            Client::builder().endpoint_url("not a url").build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn retry_classification() {
        let api = |code: ErrorCode, status| Error::Api {
            code,
            message: String::new(),
            status,
        };
        assert!(api(ErrorCode::ThrottlingException, 400).is_retryable());
        assert!(api(ErrorCode::InternalFailure, 500).is_retryable());
        assert!(!api(ErrorCode::TaskDoesNotExist, 400).is_retryable());
        assert!(Error::Network("x".into()).is_retryable());
        assert!(!Error::Config("x".into()).is_retryable());
    }

    /// The signature for a fixed request, time and credentials, computed with
    /// botocore's `SigV4Auth` for the same request (service `states`).
    #[test]
    fn sigv4_matches_botocore() {
        let c = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
        );
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
            (
                "x-amz-target".to_owned(),
                "AWSStepFunctions.GetActivityTask".to_owned(),
            ),
        ];
        let body = br#"{"activityArn":"arn:aws:states:us-east-1:123456789012:activity:a"}"#;
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let out = sign_at(
            "https://states.us-east-1.amazonaws.com/",
            "us-east-1",
            &c,
            &headers,
            body,
            time,
        )
        .unwrap();
        let get = |k: &str| {
            out.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("x-amz-date"), "20231114T221320Z");
        assert_eq!(get("x-amz-security-token"), "session-token");
        assert_eq!(
            get("authorization"),
            include_str!("../tests/data/sigv4_botocore.txt").trim()
        );
    }
}
