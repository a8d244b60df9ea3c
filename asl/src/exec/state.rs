//! Entering a state and applying its outcome: the context object's `State`,
//! `step::enter`/`step::complete`, Retry delays, Catch, exit events.

use super::frame::{Cached, Frame, Pending, StoredOutcome, assign, machine_at};
use super::task::TaskLimits;
use super::text::{json_string, json_text_string, set_text};
use super::{Cx, Request, Runtime};
use crate::env::{Variables, iso8601};
use crate::error::StatesError;
use crate::model::{StateKind, StatePhase};
use crate::step::{self, Action, Outcome, StepContext, WaitUntil};
use serde_json::{Value, json};

/// What `step` is told about a frame's state.
fn step_context<'a>(context: &'a Value, f: &'a Frame, seed: u64) -> StepContext<'a> {
    StepContext {
        context,
        vars: f.vars.as_ref(),
        entered_event_id: f.entered_id as u64,
        seed,
        inspect: None,
        item_reader_data: None,
    }
}

pub(super) fn scale(ms: f64, factor: f64) -> i64 {
    let v = ms * factor;
    if v.is_finite() && v > 0.0 {
        v.round().min(i64::MAX as f64 / 2.0) as i64
    } else {
        0
    }
}

impl Runtime {
    pub(super) fn set_state_context(
        &mut self,
        cx: &mut Cx<'_>,
        f: &Frame,
        token: Option<String>,
        retryable: bool,
    ) {
        let Value::Object(o) = cx.context else {
            return;
        };
        // Updated in place: every state of every execution sets it.
        let state = o
            .entry("State")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !state.is_object() {
            *state = Value::Object(serde_json::Map::new());
        }
        if let Value::Object(state) = state {
            set_text(state, "Name", &f.state);
            let (at, text) = &mut self.entered_text.0;
            if *at != Some(f.entered_time) {
                *at = Some(f.entered_time);
                *text = iso8601(f.entered_time);
            }
            set_text(state, "EnteredTime", text);
            // AWS shows RetryCount only in states that can retry.
            if retryable {
                state.insert(
                    "RetryCount".to_owned(),
                    json!(f.retry_counts.iter().sum::<u32>()),
                );
            } else if state.contains_key("RetryCount") {
                state.remove("RetryCount");
            }
        }
        match token {
            Some(t) => {
                o.insert("Task".to_owned(), json!({ "Token": t }));
            }
            None => {
                if o.contains_key("Task") {
                    o.remove("Task");
                }
            }
        }
    }

    pub(super) fn enter(&mut self, cx: &mut Cx<'_>, f: &mut Frame) {
        let machine = cx.machine;
        let Some(state) = machine_at(machine, &f.path).and_then(|m| m.state(&f.state)) else {
            f.pending = Pending::Done(Err(StatesError::runtime(format!(
                "State '{}' does not exist",
                f.state
            ))));
            return;
        };
        if !f.entered {
            f.entered = true;
            f.entered_time = cx.now;
            let (name, input, rendered) = (&f.state, &f.input, f.input_text.0.take());
            f.entered_id = self.emit_text(
                cx,
                &mut f.last_event,
                f.quiet,
                state.kind.event_type(StatePhase::Entered),
                |out| {
                    out.extend_from_slice(br#"{"stateEnteredEventDetails":{"name":"#);
                    json_string(out, name);
                    out.extend_from_slice(br#","input":"#);
                    match rendered {
                        Some(text) => out.extend_from_slice(&text),
                        None => json_text_string(out, input),
                    }
                    out.extend_from_slice(br#","inputDetails":{"truncated":false}}}"#);
                },
            );
        }
        // The token of a task scheduled by this step names the scheduling event,
        // which is the next one (entering events were recorded above).
        let token =
            matches!(state.kind, StateKind::Task(_)).then(|| (cx.token_for)(self.task_id(f.quiet)));
        let retryable = matches!(
            state.kind,
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
        );
        self.set_state_context(cx, f, token, retryable);
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let sc = step_context(cx.context, f, self.seed);
        let action = step::enter(state, &f.input, &f.retry_counts, &sc);
        match action {
            Action::Complete(o) => self.apply(cx, f, o),
            Action::Wait { until, then } => {
                let until_ms = match until {
                    WaitUntil::Seconds(s) => cx.now + scale(s as f64 * 1000.0, cx.wait_scale),
                    WaitUntil::Timestamp(t) => {
                        let at = t.timestamp_millis();
                        if at <= cx.now {
                            cx.now
                        } else {
                            cx.now + scale((at - cx.now) as f64, cx.wait_scale)
                        }
                    }
                };
                let stored = match then {
                    Outcome::Next {
                        state,
                        output,
                        assigned,
                    } => StoredOutcome::Next {
                        state,
                        output,
                        assigned,
                    },
                    Outcome::End { output, assigned } => StoredOutcome::End { output, assigned },
                    other => return self.apply(cx, f, other),
                };
                let id = self.next_timer;
                self.next_timer += 1;
                f.pending = Pending::Timer {
                    id,
                    until: until_ms,
                    then: Some(stored),
                };
                cx.requests.push(Request::Timer { at: until_ms });
            }
            Action::RunTask {
                resource,
                input,
                timeout_seconds,
                heartbeat_seconds,
                credentials,
            } => {
                let limits = TaskLimits {
                    timeout_seconds,
                    heartbeat_seconds,
                    credentials,
                };
                self.schedule_task(cx, f, resource, input, limits);
            }
            Action::RunBranches { input } => {
                if let StateKind::Parallel { branches } = &state.kind {
                    self.start_branches(cx, f, branches, input);
                }
            }
            Action::RunIterations {
                items,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
                failure,
            } => {
                let StateKind::Map(m) = &state.kind else {
                    return;
                };
                self.emit(
                    cx,
                    &mut f.last_event,
                    f.quiet,
                    "MapStateStarted",
                    json!({"mapStateStartedEventDetails": {"length": items.len()}}),
                );
                if let Some(e) = failure {
                    // AWS records MapStateStarted before this error.
                    let sc = step_context(cx.context, f, self.seed);
                    let o = step::handle_error(state, &f.input, e, &f.retry_counts, &sc);
                    return self.apply(cx, f, o);
                }
                let tolerated = (tolerated_failure_count, tolerated_failure_percentage);
                self.start_iterations(cx, f, m, items, max_concurrency, tolerated);
            }
        }
    }

    /// Applies an outcome to a frame: records the exit (or failure) events,
    /// applies the variables the state assigned, and moves on.
    pub(super) fn apply(&mut self, cx: &mut Cx<'_>, f: &mut Frame, o: Outcome) {
        /// What a state missing from its machine (never the case once compiled) is recorded as.
        static MISSING: StateKind = StateKind::Pass { result: None };
        let machine = cx.machine;
        let kind = machine_at(machine, &f.path)
            .and_then(|m| m.state(&f.state))
            .map_or(&MISSING, |s| &s.kind);
        let block = matches!(kind, StateKind::Parallel { .. } | StateKind::Map(_));
        // A failed JSONata evaluation is recorded before what follows from it.
        let evaluation_failed = match &o {
            Outcome::Retry { error, .. } | Outcome::Caught { error, .. } | Outcome::Fail(error) => {
                self.evaluation_failed(cx, f, error)
            }
            _ => false,
        };
        // A Parallel or Map state whose children (or whose evaluation) failed
        // records its failure before it is caught or fails the frame.
        if matches!(o, Outcome::Caught { .. } | Outcome::Fail(_))
            && block
            && (std::mem::take(&mut self.children_failed) || evaluation_failed)
        {
            self.emit(
                cx,
                &mut f.last_event,
                f.quiet,
                kind.event_type(StatePhase::Failed),
                json!({}),
            );
        }
        match o {
            Outcome::Next {
                state,
                output,
                assigned,
            } => {
                let rendered = self.exit(cx, f, kind, &output, &assigned);
                assign(&mut f.vars, assigned);
                f.next_state(state, output);
                f.input_text = Cached(rendered);
            }
            Outcome::End { output, assigned } => {
                self.exit(cx, f, kind, &output, &assigned);
                assign(&mut f.vars, assigned);
                f.pending = Pending::Done(Ok(output));
            }
            Outcome::Retry {
                retrier, delay_ms, ..
            } => {
                if f.retry_counts.len() <= retrier {
                    f.retry_counts.resize(retrier + 1, 0);
                }
                f.retry_counts[retrier] += 1;
                let until = cx.now + scale(delay_ms as f64, cx.wait_scale);
                let id = self.next_timer;
                self.next_timer += 1;
                f.pending = Pending::Timer {
                    id,
                    until,
                    then: None,
                };
                cx.requests.push(Request::Timer { at: until });
            }
            Outcome::Caught {
                state,
                output,
                assigned,
                ..
            } => {
                self.exit(cx, f, kind, &output, &assigned);
                assign(&mut f.vars, assigned);
                f.next_state(state, output);
            }
            Outcome::Fail(e) => {
                f.pending = Pending::Done(Err(e));
            }
        }
    }

    /// Records `EvaluationFailed` for an error raised by a JSONata expression.
    pub(super) fn evaluation_failed(
        &mut self,
        cx: &mut Cx<'_>,
        f: &mut Frame,
        error: &StatesError,
    ) -> bool {
        let Some(location) = &error.location else {
            return false;
        };
        let details = json!({"evaluationFailedEventDetails": {
            "error": error.error, "cause": error.cause, "location": location, "state": f.state}});
        self.emit(cx, &mut f.last_event, f.quiet, "EvaluationFailed", details);
        true
    }

    /// Records the state's exit; what it wrote for `output` (see
    /// [`Frame::input_text`]).
    pub(super) fn exit(
        &mut self,
        cx: &mut Cx<'_>,
        f: &mut Frame,
        kind: &StateKind,
        output: &Value,
        assigned: &Variables,
    ) -> Option<Vec<u8>> {
        if matches!(kind, StateKind::Fail(_)) {
            return None;
        }
        let mut rendered = None;
        let name = &f.state;
        self.emit_text(
            cx,
            &mut f.last_event,
            f.quiet,
            kind.event_type(StatePhase::Exited),
            |out| {
                out.extend_from_slice(br#"{"stateExitedEventDetails":{"name":"#);
                json_string(out, name);
                out.extend_from_slice(br#","output":"#);
                let start = out.len();
                json_text_string(out, output);
                rendered = Some(out[start..].to_vec());
                out.extend_from_slice(br#","outputDetails":{"truncated":false}"#);
                if !assigned.is_empty() {
                    out.extend_from_slice(br#","assignedVariables":{"#);
                    for (i, (k, v)) in assigned.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        json_string(out, k);
                        out.push(b':');
                        json_text_string(out, v);
                    }
                    out.extend_from_slice(br#"},"assignedVariablesDetails":{"truncated":false}"#);
                }
                out.extend_from_slice(b"}}");
            },
        );
        rendered
    }

    /// Reports a task's result to its frame.
    pub fn complete_task(
        &mut self,
        cx: &mut Cx<'_>,
        f: &mut Frame,
        result: Result<Value, StatesError>,
    ) {
        let Some(state) = machine_at(cx.machine, &f.path).and_then(|m| m.state(&f.state)) else {
            return;
        };
        self.set_state_context(cx, f, None, true);
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        // The state's raw input, read in place (not copied: it holds every
        // result a chain of tasks added to it); a retry finds it back in `f`.
        let raw = std::mem::take(&mut f.input);
        let sc = step_context(cx.context, f, self.seed);
        let o = step::complete(state, &raw, result, &f.retry_counts, &sc);
        f.input = raw;
        if matches!(o, Outcome::Retry { .. }) {
            // Retries re-enter without a new ...StateEntered event.
        }
        f.pending = Pending::Ready;
        self.apply(cx, f, o);
    }
}
