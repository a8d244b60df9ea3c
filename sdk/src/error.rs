//! AWS error codes of the Step Functions API and the error body shape.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($variant:ident => $text:literal, $status:literal;)*) => {
        /// Every AWS error `__type` of the Step Functions API.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = concat!("`", $text, "`")] $variant,)*
            /// A code this version does not know.
            Other(String),
        }

        impl ErrorCode {
            /// The wire name.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }

            /// Parses a wire name; AWS sometimes prefixes it with a namespace
            /// (`com.amazonaws.states#TaskTimedOut`) or suffixes `:http://...`.
            pub fn parse(s: &str) -> Self {
                let s = s.rsplit('#').next().unwrap_or(s);
                let s = s.split(':').next().unwrap_or(s);
                match s {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The HTTP status AWS answers with.
            pub fn http_status(&self) -> u16 {
                match self {
                    $(Self::$variant => $status,)*
                    Self::Other(_) => 400,
                }
            }
        }
    };
}

codes! {
    ActivityAlreadyExists => "ActivityAlreadyExists", 400;
    ActivityDoesNotExist => "ActivityDoesNotExist", 400;
    ActivityLimitExceeded => "ActivityLimitExceeded", 400;
    ActivityWorkerLimitExceeded => "ActivityWorkerLimitExceeded", 400;
    ConflictException => "ConflictException", 400;
    ServiceQuotaExceededException => "ServiceQuotaExceededException", 400;
    ExecutionAlreadyExists => "ExecutionAlreadyExists", 400;
    ExecutionDoesNotExist => "ExecutionDoesNotExist", 400;
    ExecutionNotRedrivable => "ExecutionNotRedrivable", 400;
    ExecutionLimitExceeded => "ExecutionLimitExceeded", 400;
    InvalidArn => "InvalidArn", 400;
    InvalidDefinition => "InvalidDefinition", 400;
    InvalidExecutionInput => "InvalidExecutionInput", 400;
    InvalidLoggingConfiguration => "InvalidLoggingConfiguration", 400;
    InvalidName => "InvalidName", 400;
    InvalidOutput => "InvalidOutput", 400;
    InvalidToken => "InvalidToken", 400;
    InvalidTracingConfiguration => "InvalidTracingConfiguration", 400;
    MissingRequiredParameter => "MissingRequiredParameter", 400;
    ResourceNotFound => "ResourceNotFound", 400;
    StateMachineAlreadyExists => "StateMachineAlreadyExists", 400;
    StateMachineDeleting => "StateMachineDeleting", 400;
    StateMachineDoesNotExist => "StateMachineDoesNotExist", 400;
    StateMachineLimitExceeded => "StateMachineLimitExceeded", 400;
    StateMachineTypeNotSupported => "StateMachineTypeNotSupported", 400;
    TaskDoesNotExist => "TaskDoesNotExist", 400;
    TaskTimedOut => "TaskTimedOut", 400;
    TooManyTags => "TooManyTags", 400;
    ValidationException => "ValidationException", 400;
    SerializationException => "SerializationException", 400;
    UnknownOperationException => "UnknownOperationException", 400;
    AccessDeniedException => "AccessDeniedException", 400;
    UnrecognizedClientException => "UnrecognizedClientException", 400;
    InvalidSignatureException => "InvalidSignatureException", 400;
    MissingAuthenticationTokenException => "MissingAuthenticationTokenException", 400;
    IncompleteSignatureException => "IncompleteSignatureException", 400;
    ExpiredTokenException => "ExpiredTokenException", 400;
    ThrottlingException => "ThrottlingException", 400;
    InternalFailure => "InternalFailure", 500;
    ServiceUnavailable => "ServiceUnavailable", 503;
}

impl ErrorCode {
    /// Errors worth retrying: throttling and server-side failures.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::ThrottlingException | Self::InternalFailure | Self::ServiceUnavailable
        )
    }

    /// The task behind a token is gone: stop working on it.
    pub fn is_task_closed(&self) -> bool {
        matches!(
            self,
            Self::TaskDoesNotExist | Self::TaskTimedOut | Self::InvalidToken
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of an AWS JSON 1.0 error: `{"__type": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApiErrorBody {
    /// The error code.
    #[serde(rename = "__type", alias = "code")]
    pub r#type: String,
    /// The message (AWS spells it `message` or `Message`).
    #[serde(default, alias = "Message")]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_with_namespaces() {
        assert_eq!(ErrorCode::parse("TaskTimedOut"), ErrorCode::TaskTimedOut);
        assert_eq!(
            ErrorCode::parse("com.amazonaws.states#InvalidToken"),
            ErrorCode::InvalidToken
        );
        assert_eq!(ErrorCode::parse("Nope"), ErrorCode::Other("Nope".into()));
        assert_eq!(ErrorCode::InternalFailure.http_status(), 500);
        assert!(ErrorCode::TaskDoesNotExist.is_task_closed());
    }

    #[test]
    fn error_bodies_in_both_spellings() {
        let a: ApiErrorBody =
            serde_json::from_str(r#"{"__type":"InvalidArn","message":"bad"}"#).unwrap();
        let b: ApiErrorBody =
            serde_json::from_str(r#"{"code":"InvalidArn","Message":"bad"}"#).unwrap();
        assert_eq!(a, b);
    }
}
