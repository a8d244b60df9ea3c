//! A pure, synchronous in-process runner over the stepping API: no clock (Wait
//! states and Retry delays advance a virtual clock), no threads (Parallel
//! branches and Map iterations run one after another), no I/O (Task states call
//! a handler you pass in). For unit-testing workflows, and for checking the
//! language against recordings of AWS without a server.
//!
//! ```
//! use serde_json::json;
//! use stepwise_asl::compile::{compile, CompileOptions};
//! use stepwise_asl::local::{run, LocalOptions};
//!
//! let m = compile(&json!({"StartAt": "W", "States": {
//!     "W": {"Type": "Wait", "Seconds": 30, "Next": "P"},
//!     "P": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "End": true}}}),
//!     CompileOptions::default()).unwrap();
//! let r = run(&m, json!({"n": 1}), LocalOptions::default());
//! assert_eq!(r.output, Ok(json!({"n": 2})));
//! assert_eq!(r.elapsed_ms, 30_000);
//! ```

use crate::env::{Variables, iso8601 as iso};
use crate::error::{StatesError, names};
use crate::model::{MapMode, StateKind, StateMachine, StatePhase};
use crate::step::{self, Action, Outcome, StepContext, WaitUntil};
use serde_json::{Map, Value, json};

/// The most history events a run may record (as AWS: 25,000).
pub const MAX_EVENTS: usize = 25_000;

/// A task handler: `(resource, input) -> result`.
pub type TaskHandler<'a> = Box<dyn FnMut(&str, &Value) -> Result<Value, StatesError> + 'a>;

/// Options of a run.
pub struct LocalOptions<'a> {
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// Virtual start time (ms since the epoch).
    pub start_time_ms: i64,
    /// Seed of intrinsics and jitter.
    pub seed: u64,
    /// What Task states call; without one a Task fails with `States.TaskFailed`.
    pub task_handler: Option<TaskHandler<'a>>,
}

impl Default for LocalOptions<'_> {
    fn default() -> Self {
        Self {
            execution_name: "local".into(),
            start_time_ms: 1_700_000_000_000,
            seed: 1,
            task_handler: None,
        }
    }
}

impl std::fmt::Debug for LocalOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalOptions")
            .field("execution_name", &self.execution_name)
            .finish_non_exhaustive()
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRun {
    /// The output, or the error that failed the execution.
    pub output: Result<Value, StatesError>,
    /// History event types in order, as AWS names them.
    pub events: Vec<&'static str>,
    /// Virtual time spent in Wait states and Retry delays.
    pub elapsed_ms: u64,
}

struct Runner<'a> {
    now: i64,
    start: i64,
    seed: u64,
    events: Vec<&'static str>,
    handler: Option<TaskHandler<'a>>,
    /// The last time formatted by `iso`, which most states of a run share.
    iso_cache: (i64, String),
}

/// Runs a machine to its end.
pub fn run(machine: &StateMachine, input: Value, options: LocalOptions<'_>) -> LocalRun {
    let id = format!(
        "arn:aws:states:us-east-1:123456789012:execution:local:{}",
        options.execution_name
    );
    let mut context = json!({
        "Execution": {"Id": id, "Input": input, "Name": options.execution_name,
                      "RoleArn": "arn:aws:iam::123456789012:role/local", "StartTime": iso(options.start_time_ms), "RedriveCount": 0},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:local", "Name": "local"},
    });
    let mut r = Runner {
        now: options.start_time_ms,
        start: options.start_time_ms,
        seed: options.seed,
        events: vec!["ExecutionStarted"],
        handler: options.task_handler,
        iso_cache: (options.start_time_ms, iso(options.start_time_ms)),
    };
    let vars = Variables::new();
    let mut output = r.machine(&mut context, machine, input, &vars, false);
    // The machine's TimeoutSeconds against the virtual clock.
    let timed_out = machine
        .timeout_seconds
        .is_some_and(|t| (r.now - r.start) > (t as i64).saturating_mul(1000));
    if timed_out {
        output = Err(StatesError::new(names::TIMEOUT, ""));
        r.now = r.start
            + machine
                .timeout_seconds
                .map_or(0, |t| (t as i64).saturating_mul(1000));
    }
    r.events.push(if timed_out {
        "ExecutionTimedOut"
    } else if output.is_ok() {
        "ExecutionSucceeded"
    } else {
        "ExecutionFailed"
    });
    LocalRun {
        output,
        events: r.events,
        elapsed_ms: (r.now - r.start).max(0) as u64,
    }
}

/// Sets `$$.State` to `{Name, EnteredTime[, RetryCount]}`, reusing the
/// object and its strings of the previous state.
fn set_state(ctx: &mut Value, name: &str, entered_time: &str, retry_count: Option<u32>) {
    let Value::Object(ctx) = ctx else {
        return;
    };
    let state = ctx
        .entry("State")
        .or_insert_with(|| Value::Object(Map::new()));
    if !state.is_object() {
        *state = Value::Object(Map::new());
    }
    let Value::Object(state) = state else {
        return;
    };
    set_string(state, "Name", name);
    set_string(state, "EnteredTime", entered_time);
    match retry_count {
        Some(n) => {
            state.insert("RetryCount".into(), Value::from(n));
        }
        None => {
            // The last key: removing it keeps the order of the others.
            state.remove("RetryCount");
        }
    }
}

fn set_string(m: &mut Map<String, Value>, key: &str, value: &str) {
    match m.get_mut(key) {
        Some(Value::String(s)) => {
            s.clear();
            s.push_str(value);
        }
        _ => {
            m.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
}

impl Runner<'_> {
    /// `iso(ms)`, formatted once per distinct time.
    fn iso(&mut self, ms: i64) -> &str {
        if self.iso_cache.0 != ms {
            self.iso_cache = (ms, iso(ms));
        }
        &self.iso_cache.1
    }

    fn event(&mut self, quiet: bool, e: &'static str) -> Result<(), StatesError> {
        if !quiet {
            self.events.push(e);
        }
        if self.events.len() > MAX_EVENTS {
            return Err(StatesError::runtime(format!(
                "The execution reached the maximum number of history events ({MAX_EVENTS})."
            )));
        }
        Ok(())
    }

    /// Runs `m`; `ctx` is the context object, whose `State` field each state
    /// overwrites in place (the execution's input in it is never copied).
    fn machine(
        &mut self,
        ctx: &mut Value,
        m: &StateMachine,
        input: Value,
        outer: &Variables,
        quiet: bool,
    ) -> Result<Value, StatesError> {
        let mut vars = outer.clone();
        let mut name = m.start_at.clone();
        let mut input = input;
        loop {
            let Some(state) = m.state(&name) else {
                return Err(StatesError::runtime(format!(
                    "State '{name}' does not exist"
                )));
            };
            let ty = state.kind.type_name();
            self.event(quiet, state.kind.event_type(StatePhase::Entered))?;
            let entered_id = self.events.len() as u64;
            let entered_at = self.now;
            let mut retries: Vec<u32> = Vec::new();
            let block = matches!(ty, "Parallel" | "Map");
            let outcome = loop {
                self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let retry_count = matches!(
                    state.kind,
                    StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
                )
                .then(|| retries.iter().sum::<u32>());
                set_state(ctx, &name, self.iso(entered_at), retry_count);
                let sc = StepContext {
                    context: &*ctx,
                    vars: &vars,
                    entered_event_id: entered_id,
                    seed: self.seed,
                    inspect: None,
                    item_reader_data: None,
                };
                let mut children_failed = false;
                let o = match step::enter(state, &input, &retries, &sc) {
                    Action::Complete(o) => o,
                    Action::Wait { until, then } => {
                        let ms = match until {
                            WaitUntil::Seconds(s) => (s as i64).saturating_mul(1000),
                            WaitUntil::Timestamp(t) => (t.timestamp_millis() - self.now).max(0),
                        };
                        self.now = self.now.saturating_add(ms);
                        then
                    }
                    Action::RunTask {
                        resource,
                        input: task_input,
                        ..
                    } => {
                        self.event(quiet, "TaskScheduled")?;
                        let result = match self.handler.as_mut() {
                            Some(h) => h(&resource, &task_input),
                            None => Err(StatesError::new(
                                names::TASK_FAILED,
                                format!("no task handler for {resource}"),
                            )),
                        };
                        self.event(
                            quiet,
                            if result.is_ok() {
                                "TaskSucceeded"
                            } else {
                                "TaskFailed"
                            },
                        )?;
                        step::complete(state, &input, result, &retries, &sc)
                    }
                    Action::RunBranches {
                        input: branch_input,
                    } => {
                        self.event(quiet, "ParallelStateStarted")?;
                        let StateKind::Parallel { branches } = &state.kind else {
                            break Outcome::Fail(StatesError::runtime("not a Parallel state"));
                        };
                        let mut results = Vec::with_capacity(branches.len());
                        let mut failure = None;
                        let mut inner_ctx = sc.context.clone();
                        for b in branches {
                            match self.machine(
                                &mut inner_ctx,
                                b,
                                branch_input.clone(),
                                &vars,
                                quiet,
                            ) {
                                Ok(v) => results.push(v),
                                Err(e) => {
                                    failure = Some(e);
                                    break;
                                }
                            }
                        }
                        let result = match failure {
                            Some(e) => {
                                children_failed = true;
                                Err(e)
                            }
                            None => {
                                self.event(quiet, "ParallelStateSucceeded")?;
                                Ok(Value::Array(results))
                            }
                        };
                        step::complete(state, &input, result, &retries, &sc)
                    }
                    Action::RunIterations {
                        items,
                        tolerated_failure_count,
                        tolerated_failure_percentage,
                        failure,
                        ..
                    } => {
                        let StateKind::Map(map) = &state.kind else {
                            break Outcome::Fail(StatesError::runtime("not a Map state"));
                        };
                        let distributed = map.mode == MapMode::Distributed;
                        self.event(quiet, "MapStateStarted")?;
                        if let Some(e) = failure {
                            step::handle_error(state, &input, e, &retries, &sc)
                        } else {
                            if distributed {
                                self.event(quiet, "MapRunStarted")?;
                            }
                            let inner_quiet = quiet || distributed;
                            let total = items.len();
                            let mut results = Vec::with_capacity(total);
                            let (mut failed, mut failure) = (0usize, None);
                            let mut inner_ctx = sc.context.clone();
                            for item in items {
                                self.event(inner_quiet, "MapIterationStarted")?;
                                match self.machine(
                                    &mut inner_ctx,
                                    &map.processor,
                                    item,
                                    &vars,
                                    inner_quiet,
                                ) {
                                    Ok(v) => {
                                        self.event(inner_quiet, "MapIterationSucceeded")?;
                                        results.push(v);
                                    }
                                    Err(e) => {
                                        self.event(inner_quiet, "MapIterationFailed")?;
                                        failed += 1;
                                        results.push(Value::Null);
                                        if !step::map_failure_tolerated(
                                            failed,
                                            total,
                                            tolerated_failure_count,
                                            tolerated_failure_percentage,
                                        ) {
                                            failure = Some(e);
                                            break;
                                        }
                                    }
                                }
                            }
                            let result = match failure {
                                Some(e) => {
                                    if distributed {
                                        self.event(quiet, "MapRunFailed")?;
                                    }
                                    children_failed = true;
                                    Err(e)
                                }
                                None => {
                                    if distributed {
                                        self.event(quiet, "MapRunSucceeded")?;
                                    }
                                    self.event(quiet, "MapStateSucceeded")?;
                                    Ok(Value::Array(results))
                                }
                            };
                            step::complete(state, &input, result, &retries, &sc)
                        }
                    }
                };
                match o {
                    Outcome::Retry {
                        retrier, delay_ms, ..
                    } => {
                        if retries.len() <= retrier {
                            retries.resize(retrier + 1, 0);
                        }
                        retries[retrier] += 1;
                        self.now = self.now.saturating_add(delay_ms as i64);
                    }
                    other => {
                        if block
                            && children_failed
                            && matches!(other, Outcome::Caught { .. } | Outcome::Fail(_))
                        {
                            self.event(quiet, state.kind.event_type(StatePhase::Failed))?;
                        }
                        break other;
                    }
                }
            };
            match outcome {
                Outcome::Next {
                    state: next,
                    output,
                    assigned,
                }
                | Outcome::Caught {
                    state: next,
                    output,
                    assigned,
                    ..
                } => {
                    self.event(quiet, state.kind.event_type(StatePhase::Exited))?;
                    vars.extend(assigned);
                    name = next;
                    input = output;
                }
                Outcome::End { output, .. } => {
                    if ty != "Fail" {
                        self.event(quiet, state.kind.event_type(StatePhase::Exited))?;
                    }
                    return Ok(output);
                }
                Outcome::Fail(e) => return Err(e),
                Outcome::Retry { .. } => return Err(StatesError::runtime("unexpected retry")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileOptions, compile};

    fn m(def: Value) -> StateMachine {
        compile(&def, CompileOptions::default()).unwrap()
    }

    #[test]
    fn pass_choice_and_events() {
        let r = run(
            &m(json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
                "Big": {"Type": "Pass", "Result": "big", "End": true},
                "Small": {"Type": "Succeed"}}})),
            json!({"n": 2}),
            LocalOptions::default(),
        );
        assert_eq!(r.output, Ok(json!("big")));
        assert_eq!(
            r.events,
            [
                "ExecutionStarted",
                "ChoiceStateEntered",
                "ChoiceStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
    }

    #[test]
    fn parallel_and_map() {
        let r = run(
            &m(json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Next": "M", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 2, "End": true}}}]},
                "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "X", "States": {
                    "X": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}}}}})),
            json!({}),
            LocalOptions::default(),
        );
        assert_eq!(r.output, Ok(json!([{"v": 1}, {"v": 2}])));
        assert!(r.events.contains(&"MapIterationSucceeded"));
    }

    #[test]
    fn retry_with_virtual_time_then_catch() {
        let mut calls = 0;
        let handler: TaskHandler<'_> = Box::new(move |_r, _i| {
            calls += 1;
            Err(StatesError::new("Flaky", format!("call {calls}")))
        });
        let r = run(
            &m(json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "Next": "Done",
                      "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 2}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]},
                "Done": {"Type": "Succeed"},
                "Handled": {"Type": "Pass", "End": true}}})),
            json!({}),
            LocalOptions {
                task_handler: Some(handler),
                ..Default::default()
            },
        );
        assert_eq!(
            r.output,
            Ok(json!({"error": {"Error": "Flaky", "Cause": "call 3"}}))
        );
        // 2 s, then 4 s of backoff.
        assert_eq!(r.elapsed_ms, 6_000);
    }

    #[test]
    fn fail_and_unhandled_errors() {
        let r = run(
            &m(
                json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}),
            ),
            json!({}),
            LocalOptions::default(),
        );
        assert_eq!(r.output, Err(StatesError::new("E", "C")));
        assert_eq!(
            r.events,
            ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
        );
    }

    #[test]
    fn a_pass_cycle_stops_at_the_history_limit() {
        let m2 = m(json!({"StartAt": "A", "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "C"}], "Default": "B"},
            "B": {"Type": "Pass", "Next": "A"}, "C": {"Type": "Succeed"}}}));
        let r = run(&m2, json!({}), LocalOptions::default());
        assert_eq!(r.output.unwrap_err().error, names::RUNTIME);
    }
}
