//! The AWS Step Functions wire types (AWS JSON 1.0), defined once: the client
//! sends them, the coordinator decodes them. Field names are AWS's; optional
//! fields are skipped when absent; unknown fields are ignored.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A timestamp as AWS JSON 1.0 encodes it: epoch seconds, with fractions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 1000.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Ok(Self((v * 1000.0).round() as i64))
    }
}

macro_rules! string_enum {
    (@first $first:ident $(, $rest:ident)*) => { Self::$first };
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant,)*
            /// A value this version does not know.
            #[serde(untagged)]
            Unknown(String),
        }
        impl $name {
            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Unknown(s) => s,
                }
            }
        }
        impl Default for $name {
            fn default() -> Self {
                string_enum!(@first $($variant),*)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// STANDARD or EXPRESS.
    StateMachineType { Standard = "STANDARD", Express = "EXPRESS" }
);
string_enum!(
    /// The status of an execution.
    ExecutionStatus {
        Running = "RUNNING", Succeeded = "SUCCEEDED", Failed = "FAILED", TimedOut = "TIMED_OUT",
        Aborted = "ABORTED", PendingRedrive = "PENDING_REDRIVE"
    }
);
string_enum!(
    /// `ListExecutions`' `redriveFilter`.
    ExecutionRedriveFilter { Redriven = "REDRIVEN", NotRedriven = "NOT_REDRIVEN" }
);
string_enum!(
    /// Whether an execution can be redriven.
    ExecutionRedriveStatus {
        Redrivable = "REDRIVABLE", NotRedrivable = "NOT_REDRIVABLE", RedrivableByMapRun = "REDRIVABLE_BY_MAP_RUN"
    }
);
string_enum!(
    /// The status of a state machine.
    StateMachineStatus { Active = "ACTIVE", Deleting = "DELETING" }
);
string_enum!(
    /// The result of `ValidateStateMachineDefinition`.
    ValidationResult { Ok = "OK", Fail = "FAIL" }
);
string_enum!(
    /// The severity of a validation diagnostic.
    DiagnosticSeverity { Error = "ERROR", Warning = "WARNING" }
);

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
}

/// Whether a payload was included or truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DataDetails {
    /// Whether the data is included.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub included: Option<bool>,
    /// Whether the data was truncated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub truncated: Option<bool>,
}

macro_rules! wire {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
        }
    };
}

wire!(
    /// `CreateStateMachine` request.
    CreateStateMachineInput {
        /// The name (1-80 characters).
        name: String,
        /// The ASL definition, as a string.
        definition: String,
        /// The IAM role ARN.
        role_arn: String,
        /// STANDARD (default) or EXPRESS.
        #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
        r#type: Option<StateMachineType>,
        /// Logging configuration, as sent.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        logging_configuration: Option<serde_json::Value>,
        /// Tracing configuration, as sent.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tracing_configuration: Option<serde_json::Value>,
        /// Tags.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        tags: Vec<Tag>,
        /// Publish the definition as version 1 too.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        publish: Option<bool>,
        /// The published version's description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        version_description: Option<String>,
    }
);
wire!(
    /// `CreateStateMachine` response.
    CreateStateMachineOutput {
        /// The machine's ARN.
        state_machine_arn: String,
        /// When it was created.
        creation_date: Timestamp,
        /// The version published with it.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_version_arn: Option<String>,
    }
);
wire!(
    /// `DescribeStateMachine` / `DeleteStateMachine` request.
    StateMachineArnInput {
        /// The machine's ARN.
        state_machine_arn: String,
    }
);
wire!(
    /// `DescribeStateMachine` response.
    DescribeStateMachineOutput {
        /// ARN.
        state_machine_arn: String,
        /// Name.
        name: String,
        /// ACTIVE or DELETING.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        status: Option<StateMachineStatus>,
        /// The definition.
        definition: String,
        /// The role.
        role_arn: String,
        /// STANDARD or EXPRESS.
        #[serde(rename = "type")]
        r#type: StateMachineType,
        /// When it was created.
        creation_date: Timestamp,
        /// Revision.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        revision_id: Option<String>,
        /// Logging configuration.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        logging_configuration: Option<serde_json::Value>,
        /// Tracing configuration.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tracing_configuration: Option<serde_json::Value>,
        /// A version's description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        description: Option<String>,
    }
);
wire!(
    /// `UpdateStateMachine` request.
    UpdateStateMachineInput {
        /// ARN.
        state_machine_arn: String,
        /// A new definition.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        definition: Option<String>,
        /// A new role.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        role_arn: Option<String>,
        /// New logging configuration.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        logging_configuration: Option<serde_json::Value>,
        /// New tracing configuration.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tracing_configuration: Option<serde_json::Value>,
        /// Publish the new revision as a version too.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        publish: Option<bool>,
        /// The published version's description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        version_description: Option<String>,
    }
);
wire!(
    /// `UpdateStateMachine` response.
    UpdateStateMachineOutput {
        /// When it was updated.
        update_date: Timestamp,
        /// The new revision.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        revision_id: Option<String>,
        /// The version published with it.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_version_arn: Option<String>,
    }
);
wire!(
    /// A request with `maxResults` / `nextToken` only.
    PageInput {
        /// Page size (1-1000).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_results: Option<i32>,
        /// From a previous page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// One entry of `ListStateMachines`.
    StateMachineListItem {
        /// ARN.
        state_machine_arn: String,
        /// Name.
        name: String,
        /// Type.
        #[serde(rename = "type")]
        r#type: StateMachineType,
        /// Created.
        creation_date: Timestamp,
    }
);
wire!(
    /// `ListStateMachines` response.
    ListStateMachinesOutput {
        /// Machines.
        state_machines: Vec<StateMachineListItem>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `ValidateStateMachineDefinition` request.
    ValidateStateMachineDefinitionInput {
        /// The definition.
        definition: String,
        /// STANDARD or EXPRESS.
        #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
        r#type: Option<StateMachineType>,
        /// Most diagnostics to return.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_results: Option<i32>,
    }
);
wire!(
    /// One validation problem.
    ValidationDiagnostic {
        /// ERROR or WARNING.
        severity: DiagnosticSeverity,
        /// e.g. `SCHEMA_VALIDATION_FAILED`.
        code: String,
        /// What is wrong.
        message: String,
        /// JSON pointer of the field.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        location: Option<String>,
    }
);
wire!(
    /// `ValidateStateMachineDefinition` response.
    ValidateStateMachineDefinitionOutput {
        /// OK or FAIL.
        result: ValidationResult,
        /// The problems.
        diagnostics: Vec<ValidationDiagnostic>,
        /// More problems than returned.
        #[serde(default)]
        truncated: bool,
    }
);
wire!(
    /// A request naming an execution.
    ExecutionArnInput {
        /// The execution's ARN.
        execution_arn: String,
    }
);
wire!(
    /// `DescribeStateMachineForExecution` response.
    DescribeStateMachineForExecutionOutput {
        /// ARN.
        state_machine_arn: String,
        /// Name.
        name: String,
        /// The definition the execution runs.
        definition: String,
        /// Role.
        role_arn: String,
        /// Last update.
        update_date: Timestamp,
        /// Revision.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        revision_id: Option<String>,
    }
);
wire!(
    /// `StartExecution` / `StartSyncExecution` request.
    StartExecutionInput {
        /// The machine.
        state_machine_arn: String,
        /// A unique name (default: a UUID).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        name: Option<String>,
        /// The input, JSON text (default `{}`).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        input: Option<String>,
        /// X-Ray trace header.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        trace_header: Option<String>,
    }
);
wire!(
    /// `StartExecution` response.
    StartExecutionOutput {
        /// The execution.
        execution_arn: String,
        /// When it started.
        start_date: Timestamp,
    }
);
wire!(
    /// Billing details of an EXPRESS execution.
    BillingDetails {
        /// Memory billed.
        #[serde(rename = "billedMemoryUsedInMB")]
        billed_memory_used_in_mb: i64,
        /// Duration billed.
        billed_duration_in_milliseconds: i64,
    }
);
wire!(
    /// `StartSyncExecution` response.
    StartSyncExecutionOutput {
        /// The execution.
        execution_arn: String,
        /// The machine.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_arn: Option<String>,
        /// The name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        name: Option<String>,
        /// Started.
        start_date: Timestamp,
        /// Stopped.
        stop_date: Timestamp,
        /// SUCCEEDED, FAILED or TIMED_OUT.
        status: ExecutionStatus,
        /// Error name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// Cause.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
        /// Input JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        input: Option<String>,
        /// Output JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        output: Option<String>,
        /// Billing.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        billing_details: Option<BillingDetails>,
    }
);
wire!(
    /// `StopExecution` request.
    StopExecutionInput {
        /// The execution.
        execution_arn: String,
        /// Error name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// Cause.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
    }
);
wire!(
    /// `StopExecution` response.
    StopExecutionOutput {
        /// When it stopped.
        stop_date: Timestamp,
    }
);
wire!(
    /// `DescribeExecution` response.
    DescribeExecutionOutput {
        /// The execution.
        execution_arn: String,
        /// The machine.
        state_machine_arn: String,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        name: Option<String>,
        /// Status.
        status: ExecutionStatus,
        /// Started.
        start_date: Timestamp,
        /// Stopped.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        stop_date: Option<Timestamp>,
        /// Input JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        input: Option<String>,
        /// Output JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        output: Option<String>,
        /// Error name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// Cause.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
        /// The version it runs, when started from a version or an alias.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_version_arn: Option<String>,
        /// The alias it was started from.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_alias_arn: Option<String>,
        /// How many times it was redriven.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_count: Option<i32>,
        /// When it was last redriven.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_date: Option<Timestamp>,
        /// Whether it can be redriven.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_status: Option<ExecutionRedriveStatus>,
        /// Why it cannot be redriven.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_status_reason: Option<String>,
    }
);
wire!(
    /// `ListExecutions` request.
    ListExecutionsInput {
        /// The machine.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_arn: Option<String>,
        /// Only this status.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        status_filter: Option<ExecutionStatus>,
        /// Only redriven (or never redriven) executions.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_filter: Option<ExecutionRedriveFilter>,

        /// Page size.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_results: Option<i32>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// One entry of `ListExecutions`.
    ExecutionListItem {
        /// The execution.
        execution_arn: String,
        /// The machine.
        state_machine_arn: String,
        /// Name.
        name: String,
        /// Status.
        status: ExecutionStatus,
        /// Started.
        start_date: Timestamp,
        /// Stopped.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        stop_date: Option<Timestamp>,
        /// The version it runs, when started from a version or an alias.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_version_arn: Option<String>,
        /// The alias it was started from.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_machine_alias_arn: Option<String>,
        /// How many times it was redriven.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_count: Option<i32>,
        /// When it was last redriven.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        redrive_date: Option<Timestamp>,
    }
);
wire!(
    /// `ListExecutions` response.
    ListExecutionsOutput {
        /// Executions, newest first.
        executions: Vec<ExecutionListItem>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `GetExecutionHistory` request.
    GetExecutionHistoryInput {
        /// The execution.
        execution_arn: String,
        /// Page size.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_results: Option<i32>,
        /// Newest first.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reverse_order: Option<bool>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
        /// Include inputs and outputs (default true).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        include_execution_data: Option<bool>,
    }
);
wire!(
    /// One history event. The `...EventDetails` member that matches `type` is
    /// kept as JSON (AWS defines several dozen of them).
    HistoryEvent {
        /// When it happened.
        timestamp: Timestamp,
        /// e.g. `TaskStateEntered`.
        #[serde(rename = "type")]
        r#type: String,
        /// Id, from 1.
        id: i64,
        /// The previous related event.
        #[serde(default)]
        previous_event_id: i64,
        /// The details member(s), by their AWS names.
        #[serde(flatten)]
        details: serde_json::Map<String, serde_json::Value>,
    }
);
wire!(
    /// `GetExecutionHistory` response.
    GetExecutionHistoryOutput {
        /// Events.
        events: Vec<HistoryEvent>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `CreateActivity` request.
    CreateActivityInput {
        /// Name.
        name: String,
        /// Tags.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        tags: Vec<Tag>,
    }
);
wire!(
    /// `CreateActivity` response.
    CreateActivityOutput {
        /// ARN.
        activity_arn: String,
        /// Created.
        creation_date: Timestamp,
    }
);
wire!(
    /// A request naming an activity.
    ActivityArnInput {
        /// The activity.
        activity_arn: String,
    }
);
wire!(
    /// `DescribeActivity` response, and one entry of `ListActivities`.
    ActivityListItem {
        /// ARN.
        activity_arn: String,
        /// Name.
        name: String,
        /// Created.
        creation_date: Timestamp,
    }
);
wire!(
    /// `ListActivities` response.
    ListActivitiesOutput {
        /// Activities.
        activities: Vec<ActivityListItem>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `GetActivityTask` request.
    GetActivityTaskInput {
        /// The activity.
        activity_arn: String,
        /// Recorded in `ActivityStarted`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        worker_name: Option<String>,
    }
);
wire!(
    /// `GetActivityTask` response: empty when the long poll found nothing.
    GetActivityTaskOutput {
        /// The task token.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        task_token: Option<String>,
        /// The task's input, JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        input: Option<String>,
    }
);
wire!(
    /// `SendTaskSuccess` request.
    SendTaskSuccessInput {
        /// The task token.
        task_token: String,
        /// The output, JSON text.
        output: String,
    }
);
wire!(
    /// `SendTaskFailure` request.
    SendTaskFailureInput {
        /// The task token.
        task_token: String,
        /// Error name (up to 256 characters).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// Cause.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
    }
);
wire!(
    /// `SendTaskHeartbeat` request.
    SendTaskHeartbeatInput {
        /// The task token.
        task_token: String,
    }
);
wire!(
    /// `TagResource` request.
    TagResourceInput {
        /// The resource.
        resource_arn: String,
        /// Tags to add.
        tags: Vec<Tag>,
    }
);
wire!(
    /// `UntagResource` request.
    UntagResourceInput {
        /// The resource.
        resource_arn: String,
        /// Keys to remove.
        tag_keys: Vec<String>,
    }
);
wire!(
    /// `ListTagsForResource` request.
    ListTagsForResourceInput {
        /// The resource.
        resource_arn: String,
    }
);
wire!(
    /// `ListTagsForResource` response.
    ListTagsForResourceOutput {
        /// Tags.
        tags: Vec<Tag>,
    }
);
string_enum!(
    /// How much `TestState` reports: INFO (the outcome), DEBUG and TRACE (also every data-flow stage).
    InspectionLevel { Info = "INFO", Debug = "DEBUG", Trace = "TRACE" }
);
string_enum!(
    /// How a state tested with `TestState` ended.
    TestExecutionStatus {
        Succeeded = "SUCCEEDED", Failed = "FAILED", Retriable = "RETRIABLE", CaughtError = "CAUGHT_ERROR"
    }
);
string_enum!(
    /// How a `TestState` mock result is checked against the service's response shape.
    MockResponseValidationMode { Strict = "STRICT", Present = "PRESENT", None = "NONE" }
);
wire!(
    /// The error a `TestState` mock raises.
    MockErrorOutput {
        /// The error name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// The cause.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
    }
);
wire!(
    /// What stands in for a tested state's work: a result (JSON text) or an error.
    MockInput {
        /// The result, as JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        result: Option<String>,
        /// The error.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error_output: Option<MockErrorOutput>,
        /// How the result is checked.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        field_validation_mode: Option<MockResponseValidationMode>,
    }
);
wire!(
    /// Where in its retries and iterations the tested state is.
    TestStateConfiguration {
        /// How many times the matching retrier has retried.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retrier_retry_count: Option<i32>,
        /// The state inside a Parallel or Map the error came from.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error_caused_by_state: Option<String>,
        /// How many Map iterations failed.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        map_iteration_failure_count: Option<i32>,
        /// The items an ItemReader read, as JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        map_item_reader_data: Option<String>,
    }
);
wire!(
    /// `TestState` request.
    TestStateInput {
        /// The state (or, with `state_name`, the whole machine).
        definition: String,
        /// The role.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        role_arn: Option<String>,
        /// The input, as JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        input: Option<String>,
        /// How much to report.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        inspection_level: Option<InspectionLevel>,
        /// Whether to reveal secrets in HTTP requests.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reveal_secrets: Option<bool>,
        /// The variables in scope, as a JSON object text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        variables: Option<String>,
        /// The state to test in a whole machine.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_name: Option<String>,
        /// What stands in for the state's work.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        mock: Option<MockInput>,
        /// The context object, as JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        context: Option<String>,
        /// Retry and Map position.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        state_configuration: Option<TestStateConfiguration>,
    }
);
wire!(
    /// Which retrier or catcher handled a tested state's error.
    InspectionErrorDetails {
        /// The matching `Catch` index.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        catch_index: Option<i32>,
        /// The matching `Retry` index.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retry_index: Option<i32>,
        /// The delay before the retry, in seconds.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retry_backoff_interval_seconds: Option<i32>,
    }
);
wire!(
    /// The value after each data-flow stage of a tested state (JSON texts).
    InspectionData {
        /// The raw input.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        input: Option<String>,
        /// After `Arguments` (JSONata).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_arguments: Option<String>,
        /// After `InputPath`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_input_path: Option<String>,
        /// After `Parameters`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_parameters: Option<String>,
        /// The result.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        result: Option<String>,
        /// After `ResultSelector`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_result_selector: Option<String>,
        /// After `ResultPath`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_result_path: Option<String>,
        /// The variables after the state.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        variables: Option<String>,
        /// Which retrier or catcher handled the error.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error_details: Option<InspectionErrorDetails>,
        /// A Map state's items after `ItemsPath`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_items_path: Option<String>,
        /// Each Map iteration's input after `ItemSelector`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        after_item_selector: Option<String>,
        /// `ToleratedFailureCount` resolved.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tolerated_failure_count: Option<i32>,
        /// `ToleratedFailurePercentage` resolved.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tolerated_failure_percentage: Option<f32>,
        /// `MaxConcurrency` resolved.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_concurrency: Option<i32>,
    }
);
wire!(
    /// `TestState` response.
    TestStateOutput {
        /// The output, as JSON text.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        output: Option<String>,
        /// The error.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// The cause.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cause: Option<String>,
        /// Every stage (DEBUG and TRACE).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        inspection_data: Option<InspectionData>,
        /// The next state.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_state: Option<String>,
        /// How the state ended.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        status: Option<TestExecutionStatus>,
    }
);
wire!(
    /// `PublishStateMachineVersion` request.
    PublishStateMachineVersionInput {
        /// The machine.
        state_machine_arn: String,
        /// Publish only if the machine is still at this revision.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        revision_id: Option<String>,
        /// The version's description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        description: Option<String>,
    }
);
wire!(
    /// `PublishStateMachineVersion` response.
    PublishStateMachineVersionOutput {
        /// When the version was published.
        creation_date: Timestamp,
        /// The version's ARN (`<machine>:<n>`).
        state_machine_version_arn: String,
    }
);
wire!(
    /// A request listing the versions or aliases of a machine.
    StateMachinePageInput {
        /// The machine.
        state_machine_arn: String,
        /// Page size.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_results: Option<i32>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// One entry of `ListStateMachineVersions`.
    StateMachineVersionListItem {
        /// The version's ARN.
        state_machine_version_arn: String,
        /// When it was published.
        creation_date: Timestamp,
    }
);
wire!(
    /// `ListStateMachineVersions` response.
    ListStateMachineVersionsOutput {
        /// Versions, newest first.
        state_machine_versions: Vec<StateMachineVersionListItem>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `DeleteStateMachineVersion` request.
    DeleteStateMachineVersionInput {
        /// The version's ARN.
        state_machine_version_arn: String,
    }
);
wire!(
    /// One version an alias routes to, and its share of executions.
    RoutingConfigurationListItem {
        /// The version's ARN.
        state_machine_version_arn: String,
        /// Percent of executions (0-100).
        weight: i32,
    }
);
wire!(
    /// `CreateStateMachineAlias` request.
    CreateStateMachineAliasInput {
        /// The alias's description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        description: Option<String>,
        /// The name (not a number).
        name: String,
        /// One or two versions with weights summing to 100.
        routing_configuration: Vec<RoutingConfigurationListItem>,
    }
);
wire!(
    /// `CreateStateMachineAlias` response.
    CreateStateMachineAliasOutput {
        /// The alias's ARN (`<machine>:<name>`).
        state_machine_alias_arn: String,
        /// When it was created.
        creation_date: Timestamp,
    }
);
wire!(
    /// A request naming an alias.
    StateMachineAliasArnInput {
        /// The alias's ARN.
        state_machine_alias_arn: String,
    }
);
wire!(
    /// `DescribeStateMachineAlias` response.
    DescribeStateMachineAliasOutput {
        /// The alias's ARN.
        state_machine_alias_arn: String,
        /// Name.
        name: String,
        /// Description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        description: Option<String>,
        /// Where it routes.
        routing_configuration: Vec<RoutingConfigurationListItem>,
        /// When it was created.
        creation_date: Timestamp,
        /// When it was last updated.
        update_date: Timestamp,
    }
);
wire!(
    /// `UpdateStateMachineAlias` request.
    UpdateStateMachineAliasInput {
        /// The alias's ARN.
        state_machine_alias_arn: String,
        /// A new description.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        description: Option<String>,
        /// A new routing.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        routing_configuration: Option<Vec<RoutingConfigurationListItem>>,
    }
);
wire!(
    /// `UpdateStateMachineAlias` response.
    UpdateStateMachineAliasOutput {
        /// When it was updated.
        update_date: Timestamp,
    }
);
wire!(
    /// One entry of `ListStateMachineAliases`.
    StateMachineAliasListItem {
        /// The alias's ARN.
        state_machine_alias_arn: String,
        /// When it was created.
        creation_date: Timestamp,
    }
);
wire!(
    /// `ListStateMachineAliases` response.
    ListStateMachineAliasesOutput {
        /// Aliases.
        state_machine_aliases: Vec<StateMachineAliasListItem>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `RedriveExecution` request.
    RedriveExecutionInput {
        /// The execution.
        execution_arn: String,
        /// Idempotency token.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        client_token: Option<String>,
    }
);
wire!(
    /// `RedriveExecution` response.
    RedriveExecutionOutput {
        /// When the redrive happened.
        redrive_date: Timestamp,
    }
);
string_enum!(
    /// The status of a Map Run.
    MapRunStatus { Running = "RUNNING", Succeeded = "SUCCEEDED", Failed = "FAILED", Aborted = "ABORTED" }
);
wire!(
    /// `ListMapRuns` request.
    ListMapRunsInput {
        /// The execution.
        execution_arn: String,
        /// Page size.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_results: Option<i32>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// One entry of `ListMapRuns`.
    MapRunListItem {
        /// The execution.
        execution_arn: String,
        /// The run's ARN.
        map_run_arn: String,
        /// `<machine ARN>/<Map state label>`.
        state_machine_arn: String,
        /// Started.
        start_date: Timestamp,
        /// Stopped.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        stop_date: Option<Timestamp>,
    }
);
wire!(
    /// `ListMapRuns` response.
    ListMapRunsOutput {
        /// The runs, oldest first.
        map_runs: Vec<MapRunListItem>,
        /// Next page.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        next_token: Option<String>,
    }
);
wire!(
    /// `DescribeMapRun` request.
    DescribeMapRunInput {
        /// The run's ARN.
        map_run_arn: String,
    }
);
wire!(
    /// A Map Run's items (or child executions) by state.
    MapRunCounts {
        /// Not started.
        pending: i64,
        /// Running.
        running: i64,
        /// Succeeded.
        succeeded: i64,
        /// Failed.
        failed: i64,
        /// Timed out.
        timed_out: i64,
        /// Aborted.
        aborted: i64,
        /// All.
        total: i64,
        /// Results written by a ResultWriter.
        results_written: i64,
    }
);
wire!(
    /// `DescribeMapRun` response.
    DescribeMapRunOutput {
        /// The run's ARN.
        map_run_arn: String,
        /// The execution.
        execution_arn: String,
        /// Status.
        status: MapRunStatus,
        /// Started.
        start_date: Timestamp,
        /// Stopped.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        stop_date: Option<Timestamp>,
        /// Most iterations at once (0: no limit).
        max_concurrency: i32,
        /// Tolerated failure percentage.
        tolerated_failure_percentage: f32,
        /// Tolerated failure count.
        tolerated_failure_count: i64,
        /// Items by state.
        item_counts: MapRunCounts,
        /// Child executions by state (one per item here).
        execution_counts: MapRunCounts,
    }
);
wire!(
    /// `UpdateMapRun` request.
    UpdateMapRunInput {
        /// The run's ARN.
        map_run_arn: String,
        /// Most iterations at once (0: no limit).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_concurrency: Option<i32>,
        /// Tolerated failure percentage.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tolerated_failure_percentage: Option<f32>,
        /// Tolerated failure count.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tolerated_failure_count: Option<i64>,
    }
);
wire!(
    /// The empty response of several actions.
    Empty {}
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_epoch_seconds() {
        let t = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(serde_json::to_value(t).unwrap(), json!(1_700_000_000.123));
        let back: Timestamp = serde_json::from_value(json!(1_700_000_000.123)).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn requests_use_aws_field_names_and_skip_absent_fields() {
        let r = StartExecutionInput {
            state_machine_arn: "arn".into(),
            input: Some("{}".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"stateMachineArn": "arn", "input": "{}"})
        );
        let r = CreateStateMachineInput {
            name: "n".into(),
            definition: "{}".into(),
            role_arn: "r".into(),
            r#type: Some(StateMachineType::Express),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"name": "n", "definition": "{}", "roleArn": "r", "type": "EXPRESS"})
        );
        let r = GetActivityTaskInput {
            activity_arn: "a".into(),
            worker_name: Some("w".into()),
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"activityArn": "a", "workerName": "w"})
        );
    }

    #[test]
    fn responses_decode_and_ignore_unknown_fields() {
        let d: DescribeExecutionOutput = serde_json::from_value(json!({
            "executionArn": "e", "stateMachineArn": "m", "status": "SUCCEEDED", "startDate": 1.5,
            "output": "{}", "redriveCount": 0, "somethingNew": true
        }))
        .unwrap();
        assert_eq!(d.status, ExecutionStatus::Succeeded);
        assert_eq!(d.start_date.as_millis(), 1500);
        let empty: GetActivityTaskOutput = serde_json::from_value(json!({})).unwrap();
        assert!(empty.task_token.is_none());
        let s: ExecutionStatus = serde_json::from_value(json!("SOMETHING_NEW")).unwrap();
        assert_eq!(s, ExecutionStatus::Unknown("SOMETHING_NEW".into()));
    }

    #[test]
    fn history_events_keep_their_details() {
        let h: GetExecutionHistoryOutput = serde_json::from_value(json!({"events": [
            {"timestamp": 1.0, "type": "PassStateEntered", "id": 2, "previousEventId": 1,
             "stateEnteredEventDetails": {"name": "A", "input": "{}"}}
        ]}))
        .unwrap();
        assert_eq!(h.events[0].details["stateEnteredEventDetails"]["name"], "A");
        let back = serde_json::to_value(&h.events[0]).unwrap();
        assert_eq!(back["stateEnteredEventDetails"]["name"], "A");
    }
}
