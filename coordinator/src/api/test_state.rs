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
use stepwise_asl::test_state::{
    Mock, TestInput, TestOutcome, TestStateError, TestStatus, compile_state,
};
use stepwise_asl::{StatesError, Variables};
use stepwise_sdk::types::{
    InspectionData, InspectionErrorDetails, InspectionLevel, TestExecutionStatus, TestStateInput,
    TestStateOutput,
};

/// The name a single-state definition runs under, as on AWS (it appears in
/// error causes and in `$$.State.Name`).
const SINGLE_STATE: &str = "StateName";
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
    // The request is checked before the definition, as AWS does.
    let mock = mock(&r)?;
    if mock.is_some() && r.reveal_secrets == Some(true) {
        return Err(ApiError::validation(
            "TestState does not support RevealSecrets when a mock is specified.",
        ));
    }
    let config = r.state_configuration.as_ref();
    if mock.is_none() && config.is_some_and(|c| c.map_iteration_failure_count.is_some()) {
        return Err(ApiError::validation(
            "TestState does not support MapIterationFailureCount when a mock is not specified.",
        ));
    }
    let machine = compile(&r)?;
    let state = match &r.state_name {
        Some(name) => find(&machine, name)
            .ok_or_else(|| ApiError::validation("State not found in definition"))?,
        None => machine
            .state(SINGLE_STATE)
            .ok_or_else(|| ApiError::internal("the single-state definition lost its state"))?,
    };
    check_mock(&r, state, mock.as_ref())?;
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
    let retried = config.and_then(|c| c.retrier_retry_count).unwrap_or(0);
    let retried = u32::try_from(retried).map_err(|_| {
        ApiError::validation(
            "1 validation error detected: Value at 'stateConfiguration.retrierRetryCount' failed to satisfy constraint: Member must have value greater than or equal to 0",
        )
    })?;
    let failures = config.and_then(|c| c.map_iteration_failure_count);
    let failures = failures
        .map(|n| {
            u32::try_from(n).map_err(|_| {
                ApiError::validation(
                    "1 validation error detected: Value at 'stateConfiguration.mapIterationFailureCount' failed to satisfy constraint: Member must have value greater than or equal to 0",
                )
            })
        })
        .transpose()?;
    let reader_data = config
        .and_then(|c| c.map_item_reader_data.as_deref())
        .map(|text| {
            serde_json::from_str::<Value>(text).map_err(|e| {
                ApiError::validation(format!("The mapItemReaderData is not valid JSON: {e}"))
            })
        })
        .transpose()?;
    if matches!(state.kind, StateKind::Task(_)) && mock.is_none() && r.role_arn.is_none() {
        return Err(ApiError::validation(
            "RoleArn must be specified when testing a Task state",
        ));
    }
    let context = match object_text("context", r.context.as_deref())? {
        Some(c) => {
            check_context(&c, state)?;
            Value::Object(c)
        }
        None => default_context(scope, now_ms, state, &input, &r, retried),
    };
    let outcome = stepwise_asl::test_state::test_state(TestInput {
        state,
        input,
        context: &context,
        vars: &vars,
        mock,
        retrier_retry_count: retried,
        map_iteration_failure_count: failures,
        item_reader_data: reader_data,
        seed: now_ms as u64,
    })
    .map_err(|e| match e {
        TestStateError::MapOrParallelWithoutMock => ApiError::invalid_definition(e.to_string()),
        _ => ApiError::validation(e.to_string()),
    })?;
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

/// A Task's mocked result checked against its API's output shape
/// (`mock.fieldValidationMode`: `STRICT` by default, `PRESENT`, `NONE`).
fn check_mock(r: &TestStateInput, state: &State, mock: Option<&Mock>) -> Result<(), ApiError> {
    use crate::integrations::aws_sdk::{model, validate};
    use stepwise_sdk::types::MockResponseValidationMode as M;
    let (StateKind::Task(task), Some(Mock::Result(result))) = (&state.kind, mock) else {
        return Ok(());
    };
    let mode = match r
        .mock
        .as_ref()
        .and_then(|m| m.field_validation_mode.as_ref())
    {
        None | Some(M::Strict) => validate::Mode::Strict,
        Some(M::Present) => validate::Mode::Present,
        Some(M::None) => return Ok(()),
        Some(M::Unknown(v)) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, PRESENT, NONE]"
            )));
        }
    };
    validate::check_mock(model::shared(), &task.resource, result, mode)
        .map_err(ApiError::validation)
}

fn mock(r: &TestStateInput) -> Result<Option<Mock>, ApiError> {
    let Some(m) = &r.mock else {
        return Ok(None);
    };
    match (&m.result, &m.error_output) {
        (Some(result), None) => serde_json::from_str(result)
            .map(|v| Some(Mock::Result(v)))
            .map_err(|_| ApiError::validation("Mocked result must be valid JSON")),
        (None, Some(e)) => Ok(Some(Mock::Error(StatesError::new(
            e.error.clone().unwrap_or_default(),
            e.cause.clone().unwrap_or_default(),
        )))),
        _ => Err(ApiError::validation(
            "A test mock should have only one of the following fields: [result, errorOutput].",
        )),
    }
}

/// The context object AWS gives a tested state when none is passed: the
/// execution is an Express one, `RoleArn` is null without a `roleArn`, the
/// state is named `StateName` and `State.RetryCount` is there only for a
/// state that can retry.
fn default_context(
    scope: &ArnScope,
    now_ms: i64,
    state: &State,
    input: &Value,
    r: &TestStateInput,
    retried: u32,
) -> Value {
    let machine = "TestStateMachine";
    let machine_arn = scope.state_machine(machine);
    let now = iso8601(now_ms);
    // AWS names the state "StateName" here, also when `stateName` picks one.
    let mut state_fields = json!({"Name": SINGLE_STATE, "EnteredTime": now});
    if matches!(
        state.kind,
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
    ) {
        state_fields["RetryCount"] = json!(retried);
    }
    json!({
        "Execution": {
            "Id": crate::arn::express_arn_for(&machine_arn, "TestStateExecution"),
            "Input": input,
            "Name": "TestStateExecution",
            "RoleArn": r.role_arn,
            "StartTime": now,
        },
        "StateMachine": {"Id": machine_arn, "Name": machine},
        "State": state_fields,
    })
}

/// Checks a context object given with the request against the fields AWS
/// allows there (AWS's messages).
fn check_context(c: &Variables, state: &State) -> Result<(), ApiError> {
    let invalid =
        |why: String| ApiError::validation(format!("Invalid Context object provided: {why}"));
    let waits_for_task = match &state.kind {
        StateKind::Task(t) => {
            t.resource.ends_with(".sync")
                || t.resource.contains(".sync:")
                || t.resource.ends_with(".waitForTaskToken")
        }
        _ => false,
    };
    for (key, value) in c {
        let (fields, strings): (&[&str], &[&str]) = match key.as_str() {
            "Execution" => (
                &[
                    "Id",
                    "Input",
                    "Name",
                    "RoleArn",
                    "StartTime",
                    "RedriveCount",
                    "RedriveTime",
                ],
                &["Id", "Name", "RoleArn", "StartTime", "RedriveTime"],
            ),
            "State" => (
                &["EnteredTime", "Name", "RetryCount"],
                &["EnteredTime", "Name"],
            ),
            "StateMachine" => (&["Id", "Name"], &["Id", "Name"]),
            "Task" if waits_for_task => (&["Token"], &["Token"]),
            "Task" => {
                return Err(invalid(
                    "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".to_owned(),
                ));
            }
            "Map" => {
                return Err(invalid(
                    "'Map' field is not supported when mocking a Context object".to_owned(),
                ));
            }
            other => return Err(invalid(format!("Field '{other}' is not allowed"))),
        };
        let Value::Object(section) = value else {
            return Err(invalid(format!("{key} must be an object")));
        };
        for (field, v) in section {
            if !fields.contains(&field.as_str()) {
                return Err(invalid(format!("Field '{field}' is not allowed")));
            }
            if strings.contains(&field.as_str()) && !v.is_string() {
                return Err(invalid(format!("{key}.{field} must be a string")));
            }
        }
    }
    Ok(())
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
            after_items_path: t(&i.after_items_path),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn request(definition: Value) -> TestStateInput {
        serde_json::from_value(json!({"definition": definition.to_string()})).unwrap()
    }

    fn scope() -> ArnScope {
        ArnScope {
            region: "us-east-1".to_owned(),
            account: "123456789012".to_owned(),
        }
    }

    fn try_run(r: Value) -> Result<TestStateOutput, ApiError> {
        run(serde_json::from_value(r).unwrap(), &scope(), 0)
    }

    const TASK: &str = "arn:aws:states:us-east-1:123456789012:activity:work";

    #[test]
    fn the_default_context_is_aws_s() {
        let machine = compile(&request(
            json!({"Type": "Task", "Resource": TASK, "End": true}),
        ))
        .unwrap();
        let state = machine.state(SINGLE_STATE).unwrap();
        let c = default_context(&scope(), 0, state, &json!({"a": 1}), &request(json!({})), 2);
        assert_eq!(
            c["Execution"]["Id"],
            "arn:aws:states:us-east-1:123456789012:express:TestStateMachine:TestStateExecution"
        );
        assert_eq!(c["Execution"]["RoleArn"], Value::Null);
        assert!(c["Execution"].get("RedriveCount").is_none());
        assert_eq!(c["State"]["Name"], "StateName");
        assert_eq!(c["State"]["RetryCount"], 2);
        // A state that cannot retry has no RetryCount.
        let machine = compile(&request(json!({"Type": "Pass", "End": true}))).unwrap();
        let state = machine.state(SINGLE_STATE).unwrap();
        let c = default_context(&scope(), 0, state, &json!({}), &request(json!({})), 0);
        assert!(c["State"].get("RetryCount").is_none());
    }

    #[test]
    fn a_given_context_is_checked_field_by_field() {
        let pass = json!({"Type": "Pass", "End": true}).to_string();
        let with =
            |context: Value| try_run(json!({"definition": pass, "context": context.to_string()}));
        assert!(with(json!({"Execution": {"Id": "x"}, "State": {}, "StateMachine": {}})).is_ok());
        for (context, message) in [
            (json!({"Pokedex": {}}), "Field 'Pokedex' is not allowed"),
            (
                json!({"Execution": {"pokemon": 1}}),
                "Field 'pokemon' is not allowed",
            ),
            (
                json!({"Execution": {"Id": 1}}),
                "Execution.Id must be a string",
            ),
            (
                json!({"Map": {}}),
                "'Map' field is not supported when mocking a Context object",
            ),
            (
                json!({"Task": {"Token": "t"}}),
                "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern",
            ),
        ] {
            let e = with(context).unwrap_err();
            assert_eq!(e.code, "ValidationException");
            assert_eq!(
                e.message,
                format!("Invalid Context object provided: {message}")
            );
        }
    }

    #[test]
    fn mocked_results_are_checked_against_the_api_output_shape() {
        let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"}, "End": true})
        .to_string();
        let with = |mock: Value| try_run(json!({"definition": task, "mock": mock}));
        let e = with(json!({"result": r#"{"StatusCode": "200"}"#})).unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "Mock result schema validation error: Field 'StatusCode' must be a number"
        );
        let ok = with(json!({"result": r#"{"StatusCode": 200, "Payload": {"a": 1}}"#}));
        assert_eq!(
            ok.map(|o| o.status),
            Ok(Some(TestExecutionStatus::Succeeded))
        );
        let none =
            with(json!({"result": r#"{"StatusCode": "200"}"#, "fieldValidationMode": "NONE"}));
        assert!(none.is_ok());
        let e = with(json!({"result": "{}", "fieldValidationMode": "LOOSE"})).unwrap_err();
        assert!(
            e.message.contains("'mock.fieldValidationMode'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_request_is_checked_before_the_state_runs() {
        let task = json!({"Type": "Task", "Resource": TASK, "End": true}).to_string();
        let map = json!({"Type": "Map", "ItemProcessor": {"StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}}, "End": true})
        .to_string();
        let cases = [
            (
                json!({"definition": task, "mock": {"result": "{}", "errorOutput": {"error": "E"}}}),
                "ValidationException",
                "A test mock should have only one of the following fields: [result, errorOutput].",
            ),
            (
                json!({"definition": task, "mock": {"result": "not JSON"}}),
                "ValidationException",
                "Mocked result must be valid JSON",
            ),
            (
                json!({"definition": task, "mock": {"result": "{}"}, "revealSecrets": true}),
                "ValidationException",
                "TestState does not support RevealSecrets when a mock is specified.",
            ),
            (
                json!({"definition": map, "stateConfiguration": {"mapIterationFailureCount": 0}}),
                "ValidationException",
                "TestState does not support MapIterationFailureCount when a mock is not specified.",
            ),
            (
                json!({"definition": task}),
                "ValidationException",
                "RoleArn must be specified when testing a Task state",
            ),
            (
                json!({"definition": map}),
                "InvalidDefinition",
                "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
            ),
            (
                json!({"definition": json!({"Type": "Pass", "End": true}).to_string(), "mock": {"result": "1"}}),
                "ValidationException",
                "State type 'Pass' is not supported when a mock is specified",
            ),
        ];
        for (r, code, message) in cases {
            let e = try_run(r).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (code, message));
        }
        let machine = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
        let e =
            try_run(json!({"definition": machine.to_string(), "stateName": "dne"})).unwrap_err();
        assert_eq!(e.message, "State not found in definition");
    }

    #[test]
    fn a_map_reports_its_items_after_items_path() {
        let map = json!({"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": {"StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}}, "End": true});
        let out = try_run(
            json!({"definition": map.to_string(), "input": r#"{"xs":[1,2]}"#,
            "inspectionLevel": "DEBUG", "mock": {"result": "[3,4]"}}),
        )
        .unwrap();
        let i = out.inspection_data.unwrap();
        assert_eq!(i.after_items_path.as_deref(), Some("[1,2]"));
        assert_eq!(i.after_result_selector.as_deref(), Some("[3,4]"));
        let e = try_run(
            json!({"definition": map.to_string(), "input": r#"{"xs":{}}"#,
            "mock": {"result": "[]"}}),
        )
        .unwrap();
        assert_eq!(
            e.cause.as_deref(),
            Some("Reference path \"$.xs\" must point to array.")
        );
    }
}
