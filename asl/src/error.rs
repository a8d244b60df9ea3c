//! Errors raised inside a workflow: the predefined `States.*` names and the
//! `{Error, Cause}` pair that Retry and Catch match on.

use serde::{Deserialize, Serialize};

/// The predefined error names, spelled exactly as AWS Step Functions spells them.
pub mod names {
    /// Matches any error name (but not `States.Runtime` or `States.DataLimitExceeded`).
    pub const ALL: &str = "States.ALL";
    /// Matches any error except `States.Timeout`.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A Task ran longer than `TimeoutSeconds`, or the execution ran out of time.
    pub const TIMEOUT: &str = "States.Timeout";
    /// A Task sent no heartbeat for longer than `HeartbeatSeconds`.
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// A Parallel or Map branch failed.
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// A Choice state matched no rule and has no `Default`.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A path in `Parameters`/`ItemSelector`/`ResultSelector` matched nothing.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// `ResultPath` could not be applied to the state's input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// An intrinsic function failed.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// A payload exceeded 262,144 bytes.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// An error the execution could not process (bad paths, bad types...). Not retriable.
    pub const RUNTIME: &str = "States.Runtime";
    /// The task's principal lacked permission.
    pub const PERMISSIONS: &str = "States.Permissions";
    /// A Map state's failure tolerance was exceeded.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// The Map item reader failed.
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    /// The Map result writer failed.
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    /// A JSONata expression failed (JSONata query language).
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// An error raised inside a workflow: what `Retry` and `Catch` match on, and
/// what `ExecutionFailed` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StatesError {
    /// The error name, e.g. `States.Timeout` or a custom name sent by a worker.
    pub error: String,
    /// A human-readable cause (may be empty).
    pub cause: String,
    /// Set when a JSONata expression failed (`States.QueryEvaluationError`):
    /// the field it was written in (`Output`, `Arguments/x`, `Items`...).
    /// The coordinator records an `EvaluationFailed` event for such errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl StatesError {
    /// Builds an error from a name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
            location: None,
        }
    }

    /// `States.QueryEvaluationError` raised while evaluating the JSONata in `field`.
    pub fn query_evaluation(field: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            location: Some(field.into()),
            ..Self::new(names::QUERY_EVALUATION_ERROR, cause)
        }
    }

    /// `States.Runtime` with the given cause.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// `States.IntrinsicFailure` with the given cause.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// Errors that terminate the execution regardless of Retry/Catch
    /// (`States.Runtime`, `States.DataLimitExceeded`) are not matched by `States.ALL`.
    pub fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME || self.error == names::DATA_LIMIT_EXCEEDED
    }
}
