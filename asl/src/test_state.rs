//! `TestState`: one state run in isolation, with the value after each
//! data-flow stage recorded. Pure like the rest of the crate: the work a Task,
//! Parallel or Map state would start is not run; a mock stands in for its
//! result or its error, and a Wait state does not wait.
//!
//! ```
//! use serde_json::json;
//! use stepwise_asl::compile::{compile, CompileOptions};
//! use stepwise_asl::test_state::{test_state, Mock, TestInput, TestStatus};
//!
//! let machine = compile(&json!({"StartAt": "Charge", "States": {
//!     "Charge": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:charge",
//!                "ResultPath": "$.receipt", "End": true}}}),
//!     CompileOptions::default()).unwrap();
//! let (ctx, vars) = (json!({}), Default::default());
//! let run = test_state(TestInput {
//!     state: machine.start().unwrap(),
//!     input: json!({"amount": 3}),
//!     context: &ctx,
//!     vars: &vars,
//!     mock: Some(Mock::Result(json!({"id": "r-1"}))),
//!     retrier_retry_count: 0,
//!     map_iteration_failure_count: None,
//!     item_reader_data: None,
//!     seed: 1,
//! }).unwrap();
//! assert_eq!(run.status, TestStatus::Succeeded);
//! assert_eq!(run.output, Some(json!({"amount": 3, "receipt": {"id": "r-1"}})));
//! ```

use crate::compile::{CompileOptions, compile};
use crate::diagnostic::{DefinitionError, pointer};
use crate::env::Variables;
use crate::error::{StatesError, names};
use crate::model::{State, StateKind, StateMachine};
use crate::step::{
    Action, Inspection, Outcome, StepContext, complete, enter, error_matches, map_failure_tolerated,
};
use serde_json::Value;
use std::cell::RefCell;

/// What stands in for the work of a Task, Parallel or Map state.
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    /// The work succeeded with this result (an array for Parallel and Map).
    Result(Value),
    /// The work failed with this error.
    Error(StatesError),
}

/// One state to test.
#[derive(Debug, Clone)]
pub struct TestInput<'a> {
    /// The state.
    pub state: &'a State,
    /// Its raw input.
    pub input: Value,
    /// The context object `$$`.
    pub context: &'a Value,
    /// The variables in scope.
    pub vars: &'a Variables,
    /// The result or error of the state's work (required for Task, Parallel
    /// and Map states).
    pub mock: Option<Mock>,
    /// How many times the matching retrier has already retried.
    pub retrier_retry_count: u32,
    /// For a Map state: how many of its iterations failed. Beyond the
    /// state's tolerance (when it has one) the Map fails with
    /// `States.ExceedToleratedFailureThreshold` instead of the mock result.
    pub map_iteration_failure_count: Option<u32>,
    /// For a Map state with an `ItemReader`: the items it read.
    pub item_reader_data: Option<Value>,
    /// Seed for `States.UUID`, `States.MathRandom`, `$random()` and Retry jitter.
    pub seed: u64,
}

/// How the tested state ended (`TestState`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// The state completed.
    Succeeded,
    /// The state failed and nothing handled the error.
    Failed,
    /// The state failed and a retrier would run it again.
    Retriable,
    /// The state failed and a catcher handled the error.
    CaughtError,
}

impl TestStatus {
    /// The wire text (`SUCCEEDED`, `FAILED`, `RETRIABLE`, `CAUGHT_ERROR`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Retriable => "RETRIABLE",
            Self::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// Which retrier or catcher handled an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    /// The index of the matching `Catch` entry.
    pub catch_index: Option<usize>,
    /// The index of the matching `Retry` entry.
    pub retry_index: Option<usize>,
    /// The delay before the retry, in whole seconds.
    pub retry_backoff_interval_seconds: Option<u64>,
}

/// The Map stages (`afterItemSelector` and the resolved limits).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapInspection {
    /// Each iteration's input, after `ItemsPath`/`Items` and `ItemSelector`.
    pub after_item_selector: Vec<Value>,
    /// `MaxConcurrency` resolved (0: no limit).
    pub max_concurrency: u64,
    /// `ToleratedFailureCount` resolved.
    pub tolerated_failure_count: Option<u64>,
    /// `ToleratedFailurePercentage` resolved.
    pub tolerated_failure_percentage: Option<f64>,
}

/// What the tested state did.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// How it ended.
    pub status: TestStatus,
    /// Its output (also when a catcher handled the error).
    pub output: Option<Value>,
    /// The error it raised (also when a retrier or catcher handled it).
    pub error: Option<StatesError>,
    /// The state it goes to (none at the end of a machine or on failure).
    pub next_state: Option<String>,
    /// The value after each stage.
    pub inspection: Inspection,
    /// Map stages, for a Map state.
    pub map: Option<MapInspection>,
    /// Which retrier or catcher handled the error.
    pub error_details: Option<ErrorDetails>,
    /// The variables in scope after the state (its `Assign` applied).
    pub variables: Variables,
}

/// Why a state cannot be tested as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestStateError {
    /// A Task state without a mock.
    #[error(
        "The state '{state}' is a {kind} state: its work is not run by TestState, so give a mock result or error output"
    )]
    MockRequired {
        /// The state's name.
        state: String,
        /// Task.
        kind: &'static str,
    },
    /// A Map or Parallel state without a mock (AWS's words; the API answers
    /// `InvalidDefinition`).
    #[error(
        "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]"
    )]
    MapOrParallelWithoutMock,
    /// A mock result that is not an array for Parallel or Map.
    #[error(
        "The mock result of the {kind} state '{state}' must be a JSON array (one element per {per})"
    )]
    MockNotArray {
        /// The state's name.
        state: String,
        /// Parallel or Map.
        kind: &'static str,
        /// branch or iteration.
        per: &'static str,
    },
    /// A Parallel state's mock result with another count of elements than it
    /// has branches.
    #[error(
        "The mock result of the Parallel state '{state}' has {got} elements, but the state has {branches} branches"
    )]
    MockBranchCount {
        /// The state's name.
        state: String,
        /// The elements of the mock result.
        got: usize,
        /// The state's branches.
        branches: usize,
    },
    /// A mock given for a state that has no work to mock (AWS's words).
    #[error("State type '{kind}' is not supported when a mock is specified")]
    MockNotAllowed {
        /// The state's name.
        state: String,
        /// The state's type.
        kind: &'static str,
    },
}

/// Compiles one state's definition (what `TestState` takes without a
/// `stateName`) as state `name` of a machine of its own. The states it names
/// (`Next`, `Default`, a Choice rule's or a catcher's `Next`) are stood in
/// for by Succeed states, and problems are located in the state's own JSON
/// (`/Parameters`, not `/States/<name>/Parameters`).
pub fn compile_state(
    name: &str,
    state: &Value,
    options: CompileOptions,
) -> Result<StateMachine, DefinitionError> {
    let mut states = serde_json::Map::new();
    states.insert(name.to_owned(), state.clone());
    let named = |v: &Value| v.as_str().map(str::to_owned);
    let mut targets: Vec<String> = ["Next", "Default"]
        .iter()
        .filter_map(|k| state.get(*k).and_then(named))
        .collect();
    for list in ["Choices", "Catch"] {
        if let Some(Value::Array(entries)) = state.get(list) {
            targets.extend(entries.iter().filter_map(|e| e.get("Next").and_then(named)));
        }
    }
    for t in targets {
        if t != name {
            states.insert(t, serde_json::json!({"Type": "Succeed"}));
        }
    }
    let machine = serde_json::json!({"StartAt": name, "States": states});
    compile(&machine, options).map_err(|mut e| {
        let prefix = pointer("/States", name);
        for d in &mut e.diagnostics {
            if let Some(rest) = d.location.strip_prefix(&prefix)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                d.location = rest.to_owned();
            }
        }
        e
    })
}

/// Runs one state: enters it with the input, completes its work with the
/// mock, and reports the outcome and every stage.
pub fn test_state(t: TestInput<'_>) -> Result<TestOutcome, TestStateError> {
    let state = t.state;
    let cell = RefCell::new(Inspection {
        input: Some(t.input.clone()),
        ..Inspection::default()
    });
    let sc = StepContext {
        context: t.context,
        vars: t.vars,
        entered_event_id: 2,
        seed: t.seed,
        inspect: Some(&cell),
        item_reader_data: t.item_reader_data.as_ref(),
    };
    let retry_counts = vec![t.retrier_retry_count; state.retry.len()];
    let has_work = matches!(
        state.kind,
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
    );
    if !has_work && t.mock.is_some() {
        return Err(TestStateError::MockNotAllowed {
            state: state.name.clone(),
            kind: state.kind.type_name(),
        });
    }
    if has_work
        && t.mock.is_none()
        && matches!(state.kind, StateKind::Parallel { .. } | StateKind::Map(_))
    {
        return Err(TestStateError::MapOrParallelWithoutMock);
    }
    let mut given = t.mock;
    let mut mock = || {
        given.take().ok_or_else(|| TestStateError::MockRequired {
            state: state.name.clone(),
            kind: state.kind.type_name(),
        })
    };
    let mut map = None;
    let outcome = match enter(state, &t.input, &retry_counts, &sc) {
        Action::Complete(o) => o,
        Action::Wait { then, .. } => then,
        Action::RunTask { .. } => finish(state, &t.input, mock()?, &retry_counts, &sc),
        Action::RunBranches { .. } => {
            let mock = mock()?;
            check_array(state, &mock, "branch")?;
            finish(state, &t.input, mock, &retry_counts, &sc)
        }
        Action::RunIterations {
            items,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            failure,
        } => {
            let mut mock = mock()?;
            check_array(state, &mock, "iteration")?;
            // The iterations said to have failed, against the Map's tolerance.
            if let (Some(failed), Mock::Result(_)) = (t.map_iteration_failure_count, &mock)
                && (tolerated_failure_count.is_some() || tolerated_failure_percentage.is_some())
                && !map_failure_tolerated(
                    failed as usize,
                    items.len(),
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                )
            {
                mock = Mock::Error(StatesError::new(
                    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    "The specified tolerated failure threshold was exceeded",
                ));
            }
            map = Some(MapInspection {
                after_item_selector: items,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
            });
            // A bad tolerance is raised after the Map starts, in place of its work.
            let mock = failure.map(Mock::Error).unwrap_or(mock);
            finish(state, &t.input, mock, &retry_counts, &sc)
        }
    };
    let mut variables = t.vars.clone();
    let mut apply = |assigned: Variables| variables.extend(assigned);
    let (status, output, error, next_state, error_details) = match outcome {
        Outcome::Next {
            state: next,
            output,
            assigned,
        } => {
            apply(assigned);
            (TestStatus::Succeeded, Some(output), None, Some(next), None)
        }
        Outcome::End { output, assigned } => {
            apply(assigned);
            (TestStatus::Succeeded, Some(output), None, None, None)
        }
        Outcome::Retry {
            retrier,
            delay_ms,
            error,
        } => (
            TestStatus::Retriable,
            None,
            Some(error),
            None,
            Some(ErrorDetails {
                retry_index: Some(retrier),
                retry_backoff_interval_seconds: Some(delay_ms / 1000),
                ..ErrorDetails::default()
            }),
        ),
        Outcome::Caught {
            state: next,
            output,
            error,
            assigned,
        } => {
            apply(assigned);
            let catch_index = state
                .catch
                .iter()
                .position(|c| error_matches(&c.error_equals, &error.error));
            (
                TestStatus::CaughtError,
                Some(output),
                Some(error),
                Some(next),
                Some(ErrorDetails {
                    catch_index,
                    ..ErrorDetails::default()
                }),
            )
        }
        Outcome::Fail(error) => {
            // A retrier that matched but has no attempts left is still reported.
            let error_details = state
                .retry
                .iter()
                .position(|r| error_matches(&r.error_equals, &error.error))
                .map(|i| ErrorDetails {
                    retry_index: Some(i),
                    ..ErrorDetails::default()
                });
            (TestStatus::Failed, None, Some(error), None, error_details)
        }
    };
    Ok(TestOutcome {
        status,
        output,
        error,
        next_state,
        inspection: cell.into_inner(),
        map,
        error_details,
        variables,
    })
}

fn finish(
    state: &State,
    raw: &Value,
    mock: Mock,
    retry_counts: &[u32],
    sc: &StepContext<'_>,
) -> Outcome {
    let result = match mock {
        Mock::Result(v) => Ok(v),
        Mock::Error(e) => Err(e),
    };
    complete(state, raw, result, retry_counts, sc)
}

fn check_array(state: &State, mock: &Mock, per: &'static str) -> Result<(), TestStateError> {
    match (mock, &state.kind) {
        (Mock::Result(Value::Array(items)), StateKind::Parallel { branches })
            if items.len() != branches.len() =>
        {
            Err(TestStateError::MockBranchCount {
                state: state.name.clone(),
                got: items.len(),
                branches: branches.len(),
            })
        }
        (Mock::Result(Value::Array(_)) | Mock::Error(_), _) => Ok(()),
        (Mock::Result(_), _) => Err(TestStateError::MockNotArray {
            state: state.name.clone(),
            kind: state.kind.type_name(),
            per,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::error::names;
    use serde_json::json;

    const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:work";

    fn machine(state: Value) -> StateMachine {
        compile_state("S", &state, CompileOptions::default()).unwrap()
    }

    #[test]
    fn a_single_state_compiles_with_its_targets_stood_in_for() {
        let m = machine(json!({"Type": "Choice", "Choices": [
            {"Variable": "$.a", "IsPresent": true, "Next": "A"}], "Default": "B"}));
        assert_eq!(m.states.len(), 3);
        let e = compile_state(
            "S",
            &json!({"Type": "Pass", "Parameters": {"x.$": "States.Nope()"}, "End": true}),
            CompileOptions::default(),
        )
        .unwrap_err();
        assert!(
            e.diagnostics
                .iter()
                .any(|d| d.location == "/Parameters/x.$"),
            "{e:?}"
        );
        let e = compile_state("S", &json!({"Type": "Pass"}), CompileOptions::default());
        assert!(e.is_err());
    }

    /// Runs a Map state with `stateConfiguration`'s Map fields.
    fn run_map(
        state: Value,
        input: Value,
        mock: Mock,
        failures: Option<u32>,
        read: Option<Value>,
    ) -> TestOutcome {
        let m = machine(state);
        let (ctx, vars) = (json!({"Execution": {"Name": "t"}}), Variables::new());
        test_state(TestInput {
            state: m.state("S").unwrap(),
            input,
            context: &ctx,
            vars: &vars,
            mock: Some(mock),
            retrier_retry_count: 0,
            map_iteration_failure_count: failures,
            item_reader_data: read,
            seed: 3,
        })
        .unwrap()
    }

    #[test]
    fn map_iteration_failures_are_weighed_against_the_tolerance() {
        let map = |extra: Value| {
            let mut m = json!({"Type": "Map", "ItemsPath": "$.xs",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "End": true});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            m
        };
        let input = json!({"xs": ["a", "b", "c"]});
        let ok = || Mock::Result(json!([1, 1, 1]));
        let retry = json!({"ToleratedFailureCount": 1, "Retry": [
            {"ErrorEquals": ["Other"]}, {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"]}]});
        // Within the tolerance: the mock result.
        let r = run_map(map(retry.clone()), input.clone(), ok(), Some(1), None);
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.output, Some(json!([1, 1, 1])));
        assert_eq!(r.inspection.after_items_path, Some(json!(["a", "b", "c"])));
        assert_eq!(r.inspection.after_result_selector, Some(json!([1, 1, 1])));
        // Beyond it: the threshold error, through Retry then Catch.
        let r = run_map(map(retry), input.clone(), ok(), Some(2), None);
        assert_eq!(r.status, TestStatus::Retriable);
        let e = r.error.unwrap();
        assert_eq!(e.error, names::EXCEED_TOLERATED_FAILURE_THRESHOLD);
        assert_eq!(
            e.cause,
            "The specified tolerated failure threshold was exceeded"
        );
        assert_eq!(r.error_details.unwrap().retry_index, Some(1));
        let caught = json!({"ToleratedFailurePercentage": 50, "Catch": [
            {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Handler"}]});
        let r = run_map(map(caught), input.clone(), ok(), Some(2), None);
        assert_eq!(r.status, TestStatus::CaughtError);
        assert_eq!(r.error_details.unwrap().catch_index, Some(0));
        // Without a tolerance AWS keeps the mock result.
        let r = run_map(map(json!({})), input, ok(), Some(2), None);
        assert_eq!(r.status, TestStatus::Succeeded);
    }

    #[test]
    fn a_map_with_an_item_reader_iterates_over_the_data_given() {
        let state = json!({"Type": "Map", "QueryLanguage": "JSONata",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSON"},
                           "Arguments": {"Bucket": "b", "Key": "k"}},
            "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true});
        let r = run_map(
            state,
            json!({"Bucket": "b"}),
            Mock::Result(json!([1, 4])),
            None,
            Some(json!([1, 2])),
        );
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.output, Some(json!([1, 4])));
        assert_eq!(
            r.map.unwrap().after_item_selector,
            vec![json!({"n": 1}), json!({"n": 2})]
        );
    }

    #[test]
    fn an_exhausted_retrier_is_reported_with_the_failure() {
        let r = run(
            json!({"Type": "Task", "Resource": ACTIVITY,
                   "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2}], "End": true}),
            json!({}),
            Some(Mock::Error(StatesError::new("Busy", "later"))),
            2,
        );
        assert_eq!(r.status, TestStatus::Failed);
        assert_eq!(r.error_details.unwrap().retry_index, Some(0));
        // A Pass state reports its result as the value after ResultSelector.
        let r = run(
            json!({"Type": "Pass", "Result": {"k": 1}, "End": true}),
            json!({}),
            None,
            0,
        );
        assert_eq!(r.inspection.after_result_selector, Some(json!({"k": 1})));
    }

    fn run(state: Value, input: Value, mock: Option<Mock>, retried: u32) -> TestOutcome {
        try_run(state, input, mock, retried).unwrap()
    }

    fn try_run(
        state: Value,
        input: Value,
        mock: Option<Mock>,
        retried: u32,
    ) -> Result<TestOutcome, TestStateError> {
        let m = machine(state);
        let (ctx, vars) = (json!({"Execution": {"Name": "t"}}), Variables::new());
        test_state(TestInput {
            state: m.state("S").unwrap(),
            input,
            context: &ctx,
            vars: &vars,
            mock,
            retrier_retry_count: retried,
            map_iteration_failure_count: None,
            item_reader_data: None,
            seed: 3,
        })
    }

    #[test]
    fn pass_reports_every_jsonpath_stage() {
        let r = run(
            json!({"Type": "Pass", "InputPath": "$.order", "Parameters": {"n.$": "$.qty"},
                   "ResultPath": "$.picked", "OutputPath": "$.picked", "Next": "Next1"}),
            json!({"order": {"qty": 2}}),
            None,
            0,
        );
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.next_state.as_deref(), Some("Next1"));
        assert_eq!(r.output, Some(json!({"n": 2})));
        let i = &r.inspection;
        assert_eq!(i.input, Some(json!({"order": {"qty": 2}})));
        assert_eq!(i.after_input_path, Some(json!({"qty": 2})));
        assert_eq!(i.after_parameters, Some(json!({"n": 2})));
        assert_eq!(i.result, Some(json!({"n": 2})));
        assert_eq!(
            i.after_result_path,
            Some(json!({"order": {"qty": 2}, "picked": {"n": 2}}))
        );
    }

    #[test]
    fn task_with_a_mock_result_goes_through_result_selector_and_assign() {
        let r = run(
            json!({"Type": "Task", "Resource": ACTIVITY, "ResultSelector": {"id.$": "$.Id"},
                   "ResultPath": "$.r", "Assign": {"last.$": "$.Id"}, "End": true}),
            json!({"a": 1}),
            Some(Mock::Result(json!({"Id": "x", "Other": 0}))),
            0,
        );
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.next_state, None);
        assert_eq!(r.output, Some(json!({"a": 1, "r": {"id": "x"}})));
        assert_eq!(r.inspection.after_parameters, Some(json!({"a": 1})));
        assert_eq!(r.inspection.result, Some(json!({"Id": "x", "Other": 0})));
        assert_eq!(r.inspection.after_result_selector, Some(json!({"id": "x"})));
        assert_eq!(r.variables.get("last"), Some(&json!("x")));
    }

    #[test]
    fn a_mock_error_is_retriable_then_caught_once_retries_are_spent() {
        let state = json!({"Type": "Task", "Resource": ACTIVITY,
            "Retry": [{"ErrorEquals": ["Other"]},
                      {"ErrorEquals": ["Busy"], "IntervalSeconds": 4, "MaxAttempts": 2, "BackoffRate": 2.0}],
            "Catch": [{"ErrorEquals": ["Other"], "Next": "Next1"},
                      {"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handler"}],
            "End": true});
        let busy = || Some(Mock::Error(StatesError::new("Busy", "try later")));
        let r = run(state.clone(), json!({}), busy(), 1);
        assert_eq!(r.status, TestStatus::Retriable);
        assert_eq!(r.error.as_ref().map(|e| e.error.as_str()), Some("Busy"));
        assert_eq!(r.output, None);
        let d = r.error_details.unwrap();
        assert_eq!(d.retry_index, Some(1));
        assert_eq!(d.retry_backoff_interval_seconds, Some(8));

        let r = run(state, json!({"k": 1}), busy(), 2);
        assert_eq!(r.status, TestStatus::CaughtError);
        assert_eq!(r.next_state.as_deref(), Some("Handler"));
        assert_eq!(r.error_details.unwrap().catch_index, Some(1));
        assert_eq!(
            r.output,
            Some(json!({"k": 1, "err": {"Error": "Busy", "Cause": "try later"}}))
        );
    }

    #[test]
    fn choice_fail_and_wait_need_no_mock() {
        let choice = json!({"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Handler"}], "Default": "Next1"});
        let r = run(choice.clone(), json!({"n": 2}), None, 0);
        assert_eq!(
            (r.status, r.next_state.as_deref()),
            (TestStatus::Succeeded, Some("Handler"))
        );
        let r = run(choice, json!({"n": 0}), None, 0);
        assert_eq!(r.next_state.as_deref(), Some("Next1"));

        let r = run(
            json!({"Type": "Fail", "Error": "Order.Empty", "Cause": "no items"}),
            json!({}),
            None,
            0,
        );
        assert_eq!(r.status, TestStatus::Failed);
        assert_eq!(r.error.unwrap().error, "Order.Empty");

        let r = run(
            json!({"Type": "Wait", "Seconds": 3600, "Next": "Next1"}),
            json!({"x": 1}),
            None,
            0,
        );
        assert_eq!(r.status, TestStatus::Succeeded);
        assert_eq!(r.output, Some(json!({"x": 1})));
    }

    #[test]
    fn work_without_a_mock_and_wrong_mocks_are_refused() {
        let task = json!({"Type": "Task", "Resource": ACTIVITY, "End": true});
        assert!(matches!(
            try_run(task, json!({}), None, 0),
            Err(TestStateError::MockRequired { kind: "Task", .. })
        ));
        let map = json!({"Type": "Map", "ItemProcessor": {"StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}}, "End": true});
        // Map and Parallel states are not run without a mock (AWS: InvalidDefinition).
        assert_eq!(
            try_run(map.clone(), json!([1]), None, 0),
            Err(TestStateError::MapOrParallelWithoutMock)
        );
        assert!(matches!(
            try_run(map.clone(), json!([1]), Some(Mock::Result(json!({}))), 0),
            Err(TestStateError::MockNotArray { kind: "Map", .. })
        ));
        assert!(matches!(
            try_run(
                json!({"Type": "Pass", "End": true}),
                json!({}),
                Some(Mock::Result(json!(1))),
                0
            ),
            Err(TestStateError::MockNotAllowed { kind: "Pass", .. })
        ));
        // A Parallel state's mock result has one element per branch.
        let parallel = json!({"Type": "Parallel", "Branches": [
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": true}}}], "End": true});
        assert_eq!(
            try_run(
                parallel.clone(),
                json!({}),
                Some(Mock::Result(json!([1]))),
                0
            ),
            Err(TestStateError::MockBranchCount {
                state: "S".to_owned(),
                got: 1,
                branches: 2
            })
        );
        assert!(try_run(parallel, json!({}), Some(Mock::Result(json!([1, 2]))), 0).is_ok());
        // With a mock, the Map reports its items and limits.
        let r = run(
            json!({"Type": "Map", "ItemSelector": {"v.$": "$$.Map.Item.Value"}, "MaxConcurrency": 2,
                   "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                   "End": true}),
            json!([1, 2]),
            Some(Mock::Result(json!(["a", "b"]))),
            0,
        );
        assert_eq!(r.output, Some(json!(["a", "b"])));
        let m = r.map.unwrap();
        assert_eq!(
            m.after_item_selector,
            vec![json!({"v": 1}), json!({"v": 2})]
        );
        assert_eq!(m.max_concurrency, 2);
    }

    #[test]
    fn jsonata_states_report_arguments_and_variables() {
        let r = run(
            json!({"Type": "Task", "QueryLanguage": "JSONata", "Resource": ACTIVITY,
                   "Arguments": {"total": "{% $states.input.a + 1 %}"},
                   "Output": "{% $states.result.ok %}", "Assign": {"seen": "{% $states.result.ok %}"},
                   "End": true}),
            json!({"a": 1}),
            Some(Mock::Result(json!({"ok": true}))),
            0,
        );
        assert_eq!(r.inspection.after_arguments, Some(json!({"total": 2})));
        assert_eq!(r.output, Some(json!(true)));
        assert_eq!(r.variables.get("seen"), Some(&json!(true)));
        // A Task timing out is States.Timeout, which States.TaskFailed does not match.
        let r = run(
            json!({"Type": "Task", "Resource": ACTIVITY,
                   "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Handler"}], "End": true}),
            json!({}),
            Some(Mock::Error(StatesError::new(names::TIMEOUT, ""))),
            0,
        );
        assert_eq!(r.status, TestStatus::Failed);
    }
}
