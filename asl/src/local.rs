//! A pure, synchronous in-process runner: a short driver of the one runtime
//! ([`crate::exec`]) with a virtual clock (Wait states and Retry delays move
//! it; nothing sleeps), no threads (Parallel branches and Map iterations are
//! driven one after another) and no I/O (Task states call a handler you pass
//! in, at once). For unit-testing workflows, and for checking the language
//! against recordings of AWS without a server.
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

use crate::env::iso8601 as iso;
use crate::error::{StatesError, names};
use crate::exec::{Cx, MAX_HISTORY_EVENTS, Pending, Request, Runtime};
use crate::model::StateMachine;
use serde_json::{Value, json};
use std::collections::VecDeque;

/// The most history events a run may record (as AWS: 25,000).
pub const MAX_EVENTS: usize = MAX_HISTORY_EVENTS as usize;

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

/// Runs a machine to its end.
pub fn run(machine: &StateMachine, input: Value, options: LocalOptions<'_>) -> LocalRun {
    let LocalOptions {
        execution_name,
        start_time_ms: start,
        seed,
        task_handler: mut handler,
    } = options;
    let execution_arn =
        format!("arn:aws:states:us-east-1:123456789012:execution:local:{execution_name}");
    let mut context = json!({
        "Execution": {"Id": execution_arn, "Input": input, "Name": execution_name,
                      "RoleArn": "arn:aws:iam::123456789012:role/local", "StartTime": iso(start), "RedriveCount": 0},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:local", "Name": "local"},
    });
    let mut rt = Runtime::new(machine, input, start, seed);
    // The execution's deadline is this driver's to keep: the runtime's
    // timers alone say when the virtual clock moves next.
    let deadline = rt.deadline.take();
    let mut cx = Cx::detached(machine, &mut context, &execution_arn, start);
    let mut events = vec!["ExecutionStarted"];
    rt.drive(&mut cx);
    let mut timed_out = false;
    loop {
        run_tasks(&mut rt, &mut cx, &mut handler);
        events.extend(cx.events.drain(..).map(|e| e.event_type));
        if rt.result().is_some() {
            break;
        }
        // Nothing runs until the next timer (a Wait or a Retry delay).
        let next = match (rt.next_deadline(), deadline) {
            (Some(t), Some(d)) => t.min(d),
            (t, d) => match t.or(d) {
                Some(t) => t,
                None => break,
            },
        };
        cx.now = cx.now.max(next);
        rt.fire_timers(&mut cx);
        if deadline.is_some_and(|d| d <= cx.now) {
            run_tasks(&mut rt, &mut cx, &mut handler);
            events.extend(cx.events.drain(..).map(|e| e.event_type));
            timed_out = rt.result().is_none();
            break;
        }
    }
    let output = match rt.result() {
        _ if timed_out => Err(StatesError::new(names::TIMEOUT, "")),
        Some(r) => r.clone(),
        None => Err(StatesError::runtime(
            "The execution waits for something the in-process runner cannot give.",
        )),
    };
    events.push(if timed_out {
        "ExecutionTimedOut"
    } else if output.is_ok() {
        "ExecutionSucceeded"
    } else {
        "ExecutionFailed"
    });
    LocalRun {
        output,
        events,
        elapsed_ms: (cx.now - start).max(0) as u64,
    }
}

/// Answers every task the runtime asked for, in the order it asked, by
/// calling the handler at once (no time passes); answers that start more
/// tasks queue them behind the others.
fn run_tasks(rt: &mut Runtime, cx: &mut Cx<'_>, handler: &mut Option<TaskHandler<'_>>) {
    let mut queue: VecDeque<Request> = cx.requests.drain(..).collect();
    while let Some(request) = queue.pop_front() {
        let id = match request {
            Request::Activity { scheduled_id, .. } => {
                rt.task_started(cx, scheduled_id, "local");
                scheduled_id
            }
            Request::Integration(call) => call.scheduled_id,
            Request::StartChild { scheduled_id, .. } => scheduled_id,
            Request::Deliver {
                scheduled_id,
                result,
            } => {
                rt.task_result(cx, scheduled_id, result);
                queue.extend(cx.requests.drain(..));
                continue;
            }
            Request::Timer { .. } | Request::MapRun(_) => continue,
        };
        // A task of a branch or iteration that was aborted meanwhile is gone.
        let Some(task) = rt.find_task_frame(id).and_then(|f| match &f.pending {
            Pending::Task(t) => Some((t.resource.clone(), t.input.clone())),
            _ => None,
        }) else {
            continue;
        };
        let (resource, input) = task;
        let result = match handler.as_mut() {
            Some(h) => h(&resource, &input),
            None => Err(StatesError::new(
                names::TASK_FAILED,
                format!("no task handler for {resource}"),
            )),
        };
        rt.task_result(cx, id, result);
        queue.extend(cx.requests.drain(..));
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
