//! API errors in the AWS JSON 1.0 shape: `{"__type": "...", "message": "..."}`
//! with the HTTP status the AWS SDKs expect, so clients raise the right exception.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered to an API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The AWS error code (`__type`), e.g. `ExecutionDoesNotExist`.
    pub code: &'static str,
    /// What went wrong and what to fix.
    pub message: String,
}

macro_rules! codes {
    ($($fn_name:ident => $code:literal),* $(,)?) => {
        impl ApiError {
            $(
                #[doc = concat!("`", $code, "`.")]
                pub fn $fn_name(message: impl Into<String>) -> Self {
                    Self { code: $code, message: message.into() }
                }
            )*
        }
    };
}

codes! {
    invalid_definition => "InvalidDefinition",
    invalid_arn => "InvalidArn",
    invalid_name => "InvalidName",
    invalid_execution_input => "InvalidExecutionInput",
    invalid_output => "InvalidOutput",
    invalid_token => "InvalidToken",
    state_machine_does_not_exist => "StateMachineDoesNotExist",
    state_machine_already_exists => "StateMachineAlreadyExists",
    state_machine_type_not_supported => "StateMachineTypeNotSupported",
    execution_does_not_exist => "ExecutionDoesNotExist",
    execution_already_exists => "ExecutionAlreadyExists",
    execution_not_redrivable => "ExecutionNotRedrivable",
    activity_does_not_exist => "ActivityDoesNotExist",
    activity_worker_limit_exceeded => "ActivityWorkerLimitExceeded",
    task_does_not_exist => "TaskDoesNotExist",
    task_timed_out => "TaskTimedOut",
    resource_not_found => "ResourceNotFound",
    too_many_tags => "TooManyTags",
    conflict => "ConflictException",
    service_quota_exceeded => "ServiceQuotaExceededException",
    validation => "ValidationException",
    serialization => "SerializationException",
    unknown_operation => "UnknownOperationException",
    missing_parameter => "MissingRequiredParameter",
    internal => "InternalFailure",
    missing_authentication_token => "MissingAuthenticationTokenException",
    incomplete_signature => "IncompleteSignatureException",
    unrecognized_client => "UnrecognizedClientException",
    invalid_signature => "InvalidSignatureException",
    access_denied => "AccessDeniedException",
    request_too_large => "RequestEntityTooLargeException",
    request_timeout => "RequestTimeoutException",
    unavailable => "ServiceUnavailable",
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self.code {
            "InternalFailure" => StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "RequestEntityTooLargeException" => StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTimeoutException" => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"__type": self.code, "message": self.message}).to_string();
        let mut r = (self.status(), body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        r.headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        r
    }
}
