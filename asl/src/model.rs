//! The compiled definition: every state type with its fields parsed, paths,
//! templates, intrinsics and Choice rules compiled once when the definition is
//! created. Executions share one `Arc<StateMachine>`.

use crate::choice::ChoiceRule;
use crate::intrinsics::Intrinsic;
use crate::jsonata::{Expression, JsonataTemplate};
use crate::path::{Path, ResultPath};
use crate::template::Template;
use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which query language a state uses for its data flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum QueryLanguage {
    /// `InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`.
    #[default]
    #[serde(rename = "JSONPath")]
    JsonPath,
    /// `Arguments`, `Output`, `{% ... %}` expressions.
    #[serde(rename = "JSONata")]
    Jsonata,
}

/// STANDARD or EXPRESS: some resources are only allowed in one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MachineType {
    /// Durable, exactly-once, up to a year.
    #[default]
    Standard,
    /// In memory, at-least-once, up to five minutes.
    Express,
}

/// A compiled state machine (the top level, a Parallel branch or a Map processor).
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// `Comment`.
    pub comment: Option<String>,
    /// `StartAt`.
    pub start_at: String,
    /// `States`, in definition order.
    pub states: IndexMap<String, State>,
    /// `TimeoutSeconds` (top level only).
    pub timeout_seconds: Option<u64>,
    /// `Version`.
    pub version: Option<String>,
    /// The machine-wide `QueryLanguage` (default JSONPath).
    pub query_language: QueryLanguage,
}

impl StateMachine {
    /// The state named `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// The `StartAt` state.
    pub fn start(&self) -> Option<&State> {
        self.states.get(&self.start_at)
    }
}

/// Where a state goes when it finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `Next`.
    Next(String),
    /// `End: true`.
    End,
    /// Choice, Succeed and Fail decide by themselves.
    Terminal,
}

/// An optional path field where JSON `null` has a meaning of its own
/// (`InputPath: null` gives `{}`).
#[derive(Debug, Clone, Default)]
pub enum PathField {
    /// Absent: the default `$`.
    #[default]
    Identity,
    /// `null`: the empty object.
    Null,
    /// A path.
    Path(Path),
}

/// A JSONata field value: JSON in which any string may be a compiled `{% ... %}` expression.
pub type JsonataValue = JsonataTemplate;

/// `Assign`: the variables a state (or a Choice rule, or a catcher) sets.
#[derive(Debug, Clone)]
pub enum Assign {
    /// JSONPath: a payload template (`name.$` keys read the state result, `$$` and variables).
    JsonPath(Template),
    /// JSONata: each value may be or contain a `{% ... %}` expression.
    Jsonata(JsonataTemplate),
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    /// The state's name.
    pub name: String,
    /// `Comment`.
    pub comment: Option<String>,
    /// The effective query language of the state.
    pub query_language: QueryLanguage,
    /// `Next` / `End`.
    pub transition: Transition,
    /// `InputPath`.
    pub input_path: PathField,
    /// `Parameters` (Pass, Task, Parallel; `ItemSelector` for Map is in [`MapState`]).
    pub parameters: Option<Template>,
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `ResultPath` (default `$`).
    pub result_path: ResultPath,
    /// `OutputPath`.
    pub output_path: PathField,
    /// `Arguments` (JSONata).
    pub arguments: Option<JsonataValue>,
    /// `Output` (JSONata).
    pub output: Option<JsonataValue>,
    /// `Assign` (both query languages).
    pub assign: Option<Assign>,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
    /// What kind of state it is, with its own fields.
    pub kind: StateKind,
}

/// The state types and their own fields.
#[derive(Debug, Clone)]
pub enum StateKind {
    /// `Pass` with its optional `Result`.
    Pass {
        /// `Result`.
        result: Option<Value>,
    },
    /// `Task`.
    Task(Box<TaskState>),
    /// `Choice`.
    Choice(Box<ChoiceState>),
    /// `Wait`.
    Wait(WaitFor),
    /// `Succeed`.
    Succeed,
    /// `Fail`.
    Fail(Box<FailState>),
    /// `Parallel`.
    Parallel {
        /// `Branches`.
        branches: Vec<StateMachine>,
    },
    /// `Map`.
    Map(Box<MapState>),
}

/// Which of a state's own history events: `<Type>StateEntered`,
/// `<Type>StateExited` or `<Type>StateFailed` (Parallel and Map).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatePhase {
    /// `...StateEntered`.
    Entered,
    /// `...StateExited`.
    Exited,
    /// `...StateFailed`.
    Failed,
}

impl StateKind {
    /// The history event type of `phase` for this kind of state, e.g. `PassStateEntered`.
    pub fn event_type(&self, phase: StatePhase) -> &'static str {
        macro_rules! names {
            ($t:literal) => {
                match phase {
                    StatePhase::Entered => concat!($t, "StateEntered"),
                    StatePhase::Exited => concat!($t, "StateExited"),
                    StatePhase::Failed => concat!($t, "StateFailed"),
                }
            };
        }
        match self {
            StateKind::Pass { .. } => names!("Pass"),
            StateKind::Task(_) => names!("Task"),
            StateKind::Choice(_) => names!("Choice"),
            StateKind::Wait(_) => names!("Wait"),
            StateKind::Succeed => names!("Succeed"),
            StateKind::Fail(_) => names!("Fail"),
            StateKind::Parallel { .. } => names!("Parallel"),
            StateKind::Map(_) => names!("Map"),
        }
    }

    /// The type name used in history events (`Pass`, `Task`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// A number written literally, read from the input by a path, or (JSONata)
/// computed by an expression.
#[derive(Debug, Clone)]
pub enum NumberSource {
    /// A literal.
    Literal(u64),
    /// A `...Path` field.
    Path(Path),
    /// A JSONata expression.
    Jsonata(Box<Expression>),
}

/// `Task` fields.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// `Resource`.
    pub resource: String,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout: Option<NumberSource>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat: Option<NumberSource>,
    /// `Credentials`, as written.
    pub credentials: Option<Value>,
    /// `Credentials` compiled in the state's query language.
    pub credentials_template: Option<CredentialsTemplate>,
}

/// A Task's `Credentials` (`{"RoleArn": ...}`), evaluated when the task runs.
#[derive(Debug, Clone)]
pub enum CredentialsTemplate {
    /// `RoleArn` or `RoleArn.$` (a path or an intrinsic).
    JsonPath(Template),
    /// `RoleArn` literal or `{% ... %}`.
    Jsonata(JsonataTemplate),
}

/// `Choice` fields.
#[derive(Debug, Clone)]
pub struct ChoiceState {
    /// `Choices`: a rule and its `Next`.
    pub choices: Vec<ChoiceBranch>,
    /// `Default`.
    pub default: Option<String>,
}

/// One entry of `Choices`.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    /// The rule (JSONPath) or the `Condition` (JSONata).
    pub rule: ChoiceCondition,
    /// `Next`.
    pub next: String,
    /// `Assign` of this branch.
    pub assign: Option<Assign>,
    /// `Output` of this branch (JSONata).
    pub output: Option<JsonataValue>,
}

/// A Choice rule in either query language.
#[derive(Debug, Clone)]
pub enum ChoiceCondition {
    /// A compiled JSONPath rule.
    Rule(ChoiceRule),
    /// A JSONata `Condition`: `true`/`false` or an expression.
    Jsonata(JsonataValue),
}

/// How long a `Wait` state waits.
#[derive(Debug, Clone)]
pub enum WaitFor {
    /// `Seconds`.
    Seconds(u64),
    /// `Timestamp`.
    Timestamp(DateTime<FixedOffset>),
    /// `SecondsPath`.
    SecondsPath(Path),
    /// `TimestampPath`.
    TimestampPath(Path),
    /// `Seconds` as a JSONata expression.
    SecondsJsonata(Box<Expression>),
    /// `Timestamp` as a JSONata expression.
    TimestampJsonata(Box<Expression>),
}

/// A string field that is a literal, a path, or an intrinsic (`ErrorPath`/`CausePath`).
#[derive(Debug, Clone)]
pub enum StringSource {
    /// A literal string.
    Literal(String),
    /// A path.
    Path(Path),
    /// An intrinsic function.
    Intrinsic(Intrinsic),
    /// A JSONata expression.
    Jsonata(Box<Expression>),
}

/// `Fail` fields.
#[derive(Debug, Clone, Default)]
pub struct FailState {
    /// `Error` / `ErrorPath`.
    pub error: Option<StringSource>,
    /// `Cause` / `CausePath`.
    pub cause: Option<StringSource>,
}

/// Inline or distributed Map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapMode {
    /// Iterations run inside the parent execution.
    #[default]
    Inline,
    /// Iterations run as child executions of a Map Run.
    Distributed,
}

/// `Map` fields.
#[derive(Debug, Clone)]
pub struct MapState {
    /// `ItemProcessor` (or the legacy `Iterator`).
    pub processor: StateMachine,
    /// `ProcessorConfig.Mode`.
    pub mode: MapMode,
    /// `ProcessorConfig.ExecutionType` for distributed maps.
    pub execution_type: Option<MachineType>,
    /// `ItemsPath` (default `$`).
    pub items_path: Option<Path>,
    /// `Items` (JSONata).
    pub items: Option<JsonataValue>,
    /// `ItemSelector` (or the legacy `Parameters`).
    pub item_selector: Option<Template>,
    /// `ItemSelector` for a JSONata state.
    pub item_selector_jsonata: Option<JsonataValue>,
    /// `MaxConcurrency` / `MaxConcurrencyPath` (0 = no limit).
    pub max_concurrency: Option<NumberSource>,
    /// `ToleratedFailureCount` / `ToleratedFailureCountPath`.
    pub tolerated_failure_count: Option<NumberSource>,
    /// `ToleratedFailurePercentage` / `ToleratedFailurePercentagePath`.
    pub tolerated_failure_percentage: Option<PercentSource>,
    /// `ItemReader`, as written.
    pub item_reader: Option<Value>,
    /// `ItemBatcher`, as written.
    pub item_batcher: Option<Value>,
    /// `ResultWriter`, as written.
    pub result_writer: Option<Value>,
    /// `Label`.
    pub label: Option<String>,
}

/// A percentage written literally or read by a path.
#[derive(Debug, Clone)]
pub enum PercentSource {
    /// A literal between 0 and 100.
    Literal(f64),
    /// A `...Path` field.
    Path(Path),
    /// A JSONata expression.
    Jsonata(Box<Expression>),
}

/// Jitter applied to Retry delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// The computed delay.
    #[default]
    None,
    /// A random delay between 0 and the computed delay.
    Full,
}

/// One `Retry` entry.
#[derive(Debug, Clone)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3; 0 = never retry).
    pub max_attempts: u32,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy`.
    pub jitter: Jitter,
}

/// One `Catch` entry.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `Next`.
    pub next: String,
    /// `ResultPath` (default `$`).
    pub result_path: ResultPath,
    /// `Output` (JSONata).
    pub output: Option<JsonataValue>,
    /// `Assign`.
    pub assign: Option<Assign>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::compile::{CompileOptions, compile};
    use serde_json::json;

    #[test]
    fn every_state_type_has_its_event_names() {
        let m = compile(
            &json!({"StartAt": "Pass", "States": {
                "Pass": {"Type": "Pass", "Next": "Task"},
                "Task": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "Next": "Choice"},
                "Choice": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "Fail"}], "Default": "Wait"},
                "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Parallel"},
                "Parallel": {"Type": "Parallel", "Next": "Map", "Branches": [
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]},
                "Map": {"Type": "Map", "Next": "Succeed", "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "End": true}}}},
                "Succeed": {"Type": "Succeed"},
                "Fail": {"Type": "Fail"}}}),
            CompileOptions::default(),
        )
        .unwrap();
        assert_eq!(m.states.len(), 8);
        for (name, state) in &m.states {
            let ty = state.kind.type_name();
            assert_eq!(ty, name);
            for (phase, suffix) in [
                (StatePhase::Entered, "StateEntered"),
                (StatePhase::Exited, "StateExited"),
                (StatePhase::Failed, "StateFailed"),
            ] {
                assert_eq!(state.kind.event_type(phase), format!("{ty}{suffix}"));
            }
        }
    }
}
