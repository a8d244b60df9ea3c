//! `TestState`: one state run in isolation. `stepwise_asl::test_state`
//! decides; this turns the request's JSON texts into values and the outcome
//! into AWS's response shape. Nothing is stored and no engine is involved.

use super::{ApiError, saturating_i32};
use crate::arn::ArnScope;
use crate::time::iso8601;
use serde_json::{Value, json};
use stepwise_asl::compile::{CompileOptions, compile_str};
use stepwise_asl::model::{State, StateKind, StateMachine};
use stepwise_asl::step::MAX_PAYLOAD_BYTES;
use stepwise_asl::test_state::{Mock, TestInput, TestOutcome, TestStatus, compile_state};
use stepwise_asl::{StatesError, Variables};
use stepwise_sdk::types::{
    InspectionData, InspectionErrorDetails, InspectionLevel, TestExecutionStatus, TestStateInput,
    TestStateOutput,
};

/// The name a single-state definition runs under (it appears in error causes).
const SINGLE_STATE: &str = "TestState";
/// The longest definition AWS accepts.
const MAX_DEFINITION_BYTES: usize = 1_048_576;

/// Runs the state `r` describes.
pub(super) fn run(
    r: TestStateInput,
    scope: &ArnScope,
    now_ms: i64,
) -> Result<TestStateOutput, ApiError> {
    if r.definition.len() > MAX_DEFINITION_BYTES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length less than or equal to {MAX_DEFINITION_BYTES}"
        )));
    }
    let machine = compile(&r)?;
    let state = match &r.state_name {
        Some(name) => find(&machine, name).ok_or_else(|| {
            ApiError::validation(format!(
                "The state '{name}' (stateName) is not in the definition"
            ))
        })?,
        None => machine
            .state(SINGLE_STATE)
            .ok_or_else(|| ApiError::internal("the single-state definition lost its state"))?,
    };
    let input_text = r.input.as_deref().unwrap_or("{}");
    if input_text.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::invalid_execution_input(format!(
            "Input exceeds the maximum size of {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    let input: Value = serde_json::from_str(input_text).map_err(|e| {
        ApiError::invalid_execution_input(format!(
            "Invalid input: the input is not valid JSON: {e}"
        ))
    })?;
    let vars = object_text("variables", r.variables.as_deref())?.unwrap_or_default();
    let retried = r
        .state_configuration
        .as_ref()
        .and_then(|c| c.retrier_retry_count)
        .unwrap_or(0);
    let retried = u32::try_from(retried).map_err(|_| {
        ApiError::validation(
            "1 validation error detected: Value at 'stateConfiguration.retrierRetryCount' failed to satisfy constraint: Member must have value greater than or equal to 0",
        )
    })?;
    let context = match object_text("context", r.context.as_deref())? {
        Some(c) => Value::Object(c),
        None => default_context(scope, now_ms, &state.name, &input, &r, retried),
    };
    let mock = mock(&r)?;
    let outcome = stepwise_asl::test_state::test_state(TestInput {
        state,
        input,
        context: &context,
        vars: &vars,
        mock,
        retrier_retry_count: retried,
        seed: now_ms as u64,
    })
    .map_err(|e| ApiError::validation(e.to_string()))?;
    let detailed = matches!(
        r.inspection_level,
        Some(InspectionLevel::Debug | InspectionLevel::Trace)
    );
    Ok(response(outcome, detailed))
}

/// The machine the state is in: the whole definition with `stateName`, the
/// state alone without.
fn compile(r: &TestStateInput) -> Result<StateMachine, ApiError> {
    let options = CompileOptions::default();
    let invalid = |e: stepwise_asl::DefinitionError| ApiError::invalid_definition(e.to_string());
    if r.state_name.is_some() {
        return compile_str(&r.definition, options).map_err(invalid);
    }
    let value: Value = serde_json::from_str(&r.definition).map_err(|e| {
        ApiError::invalid_definition(format!(
            "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e}'"
        ))
    })?;
    if value.get("States").is_some() && value.get("StartAt").is_some() {
        return Err(ApiError::validation(
            "The definition is a whole state machine: name the state to test with stateName",
        ));
    }
    if !value.is_object() {
        return Err(ApiError::invalid_definition(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: a state must be a JSON object'",
        ));
    }
    compile_state(SINGLE_STATE, &value, options).map_err(invalid)
}

/// A state by name, at the top level or inside a Parallel branch or Map processor.
fn find<'m>(m: &'m StateMachine, name: &str) -> Option<&'m State> {
    m.state(name).or_else(|| {
        m.states.values().find_map(|s| match &s.kind {
            StateKind::Parallel { branches } => branches.iter().find_map(|b| find(b, name)),
            StateKind::Map(map) => find(&map.processor, name),
            _ => None,
        })
    })
}

/// A JSON object given as text (`variables`, `context`).
fn object_text(field: &str, text: Option<&str>) -> Result<Option<Variables>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(Some(o)),
        Ok(_) => Err(ApiError::validation(format!(
            "The {field} must be a JSON object"
        ))),
        Err(e) => Err(ApiError::validation(format!(
            "The {field} is not valid JSON: {e}"
        ))),
    }
}

fn mock(r: &TestStateInput) -> Result<Option<Mock>, ApiError> {
    let Some(m) = &r.mock else {
        return Ok(None);
    };
    match (&m.result, &m.error_output) {
        (Some(result), None) => serde_json::from_str(result)
            .map(|v| Some(Mock::Result(v)))
            .map_err(|e| ApiError::validation(format!("The mock result is not valid JSON: {e}"))),
        (None, Some(e)) => Ok(Some(Mock::Error(StatesError::new(
            e.error.clone().unwrap_or_default(),
            e.cause.clone().unwrap_or_default(),
        )))),
        _ => Err(ApiError::validation(
            "A mock has either a result or an errorOutput, not both and not neither",
        )),
    }
}

/// The context object AWS gives a tested state when none is passed.
fn default_context(
    scope: &ArnScope,
    now_ms: i64,
    state: &str,
    input: &Value,
    r: &TestStateInput,
    retried: u32,
) -> Value {
    let machine = "TestStateMachine";
    let machine_arn = scope.state_machine(machine);
    let now = iso8601(now_ms);
    json!({
        "Execution": {
            "Id": crate::arn::execution_arn_for(&machine_arn, "TestStateExecution"),
            "Input": input,
            "Name": "TestStateExecution",
            "RoleArn": r.role_arn.clone().unwrap_or_default(),
            "StartTime": now,
            "RedriveCount": 0,
        },
        "State": {"EnteredTime": now, "Name": state, "RetryCount": retried},
        "StateMachine": {"Id": machine_arn, "Name": machine},
    })
}

fn text(v: &Value) -> String {
    v.to_string()
}

fn response(o: TestOutcome, detailed: bool) -> TestStateOutput {
    let status = match o.status {
        TestStatus::Succeeded => TestExecutionStatus::Succeeded,
        TestStatus::Failed => TestExecutionStatus::Failed,
        TestStatus::Retriable => TestExecutionStatus::Retriable,
        TestStatus::CaughtError => TestExecutionStatus::CaughtError,
    };
    let inspection_data = detailed.then(|| {
        let i = &o.inspection;
        let t = |v: &Option<Value>| v.as_ref().map(text);
        let map = o.map.as_ref();
        InspectionData {
            input: t(&i.input),
            after_arguments: t(&i.after_arguments),
            after_input_path: t(&i.after_input_path),
            after_parameters: t(&i.after_parameters),
            result: t(&i.result),
            after_result_selector: t(&i.after_result_selector),
            after_result_path: t(&i.after_result_path),
            variables: serde_json::to_string(&o.variables).ok(),
            error_details: o.error_details.map(|d| InspectionErrorDetails {
                catch_index: d.catch_index.map(saturating_i32),
                retry_index: d.retry_index.map(saturating_i32),
                retry_backoff_interval_seconds: d
                    .retry_backoff_interval_seconds
                    .map(saturating_i32),
            }),
            after_item_selector: map
                .and_then(|m| serde_json::to_string(&m.after_item_selector).ok()),
            tolerated_failure_count: map
                .and_then(|m| m.tolerated_failure_count)
                .map(saturating_i32),
            tolerated_failure_percentage: map
                .and_then(|m| m.tolerated_failure_percentage)
                .map(|p| p as f32),
            max_concurrency: map.map(|m| saturating_i32(m.max_concurrency)),
        }
    });
    TestStateOutput {
        output: o.output.as_ref().map(text),
        error: o.error.as_ref().map(|e| e.error.clone()),
        cause: o.error.as_ref().map(|e| e.cause.clone()),
        inspection_data,
        next_state: o.next_state,
        status: Some(status),
    }
}
