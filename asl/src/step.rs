//! The pure stepping API: given a state, its raw input and the context (and,
//! for a Task, Parallel or Map, the result or the error), decide what happens
//! next. No clock, no randomness and no I/O: times come in the context object,
//! randomness as a seed, and the caller performs the actions.
//!
//! ```
//! use serde_json::json;
//! use stepwise_asl::{compile::{compile, CompileOptions}, step::{enter, Action, Outcome, StepContext}};
//!
//! let machine = compile(&json!({"StartAt": "A", "States": {
//!     "A": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, 1)"}, "End": true}}}),
//!     CompileOptions::default()).unwrap();
//! let ctx = json!({});
//! let vars = Default::default();
//! let sc = StepContext { context: &ctx, vars: &vars, entered_event_id: 2, seed: 7, inspect: None, item_reader_data: None };
//! match enter(machine.start().unwrap(), &json!({"a": 41}), &[], &sc) {
//!     Action::Complete(Outcome::End { output, .. }) => assert_eq!(output, json!({"sum": 42})),
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::compile::parse_timestamp;
use crate::env::{Env, Variables};
use crate::error::{StatesError, names};
use crate::jsonata::{Bindings, FieldError, JsonataTemplate};
use crate::model::CredentialsTemplate;
use crate::model::*;
use crate::path::Path;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::cell::RefCell;

/// The largest payload (input, output, result) in bytes: 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// The largest set of variables one `Assign` may write, in bytes of JSON: 256 KiB.
pub const MAX_ASSIGNMENT_BYTES: usize = 262_144;

/// The most variable data an execution may hold in one scope, in bytes of JSON: 10 MiB.
pub const MAX_VARIABLES_BYTES: usize = 10 * 1024 * 1024;

/// What a state evaluation may read besides its input.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The context object `$$` (Execution, StateMachine, State, Task, Map.Item).
    pub context: &'a Value,
    /// Variables in scope.
    pub vars: &'a Variables,
    /// The id of the `...StateEntered` event, quoted in runtime error causes.
    pub entered_event_id: u64,
    /// Seed for `States.UUID`, `States.MathRandom` and Retry jitter.
    pub seed: u64,
    /// Where `TestState` collects the value after each data-flow stage
    /// (`None` when running workflows: nothing is recorded).
    pub inspect: Option<&'a RefCell<Inspection>>,
    /// The items a Map state's `ItemReader` read, where the caller has them
    /// (`TestState`'s `mapItemReaderData`); `None`: a Map state iterates
    /// over its input as selected by `ItemsPath`/`Items`.
    pub item_reader_data: Option<&'a Value>,
}

/// The value after each data-flow stage of one state, as `TestState`
/// reports it (`inspectionData`). A stage a state does not have stays `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspection {
    /// The raw input.
    pub input: Option<Value>,
    /// After `InputPath` (JSONPath).
    pub after_input_path: Option<Value>,
    /// A Map state's items after `ItemsPath` (JSONPath).
    pub after_items_path: Option<Value>,
    /// After `Parameters` (JSONPath).
    pub after_parameters: Option<Value>,
    /// After `Arguments` (JSONata).
    pub after_arguments: Option<Value>,
    /// The result (a Pass state's `Result`, a Task's or a mock's).
    pub result: Option<Value>,
    /// After `ResultSelector` (JSONPath).
    pub after_result_selector: Option<Value>,
    /// After `ResultPath` (JSONPath).
    pub after_result_path: Option<Value>,
}

impl<'a> StepContext<'a> {
    /// Records a stage when inspecting (the closure runs only then).
    fn inspect(&self, record: impl FnOnce(&mut Inspection)) {
        if let Some(i) = self.inspect {
            record(&mut i.borrow_mut());
        }
    }

    fn env(&self) -> Env<'a> {
        Env::new(self.context, self.vars, self.seed)
    }

    /// The JSONata bindings for a state whose raw input is `input`.
    fn bindings<'b>(&'b self, input: &'b Value) -> Bindings<'b> {
        Bindings::new(input, self.context, self.vars, self.seed)
    }

    /// `States.QueryEvaluationError` for a failed JSONata field.
    fn query_error(&self, state: &State, e: FieldError) -> StatesError {
        self.query_error_at(state, &e.field, e.cause)
    }

    /// `States.QueryEvaluationError` located at `field`, with the state prefix.
    fn query_error_at(&self, state: &State, field: &str, cause: impl AsRef<str>) -> StatesError {
        let mut e = self.error_in(state, names::QUERY_EVALUATION_ERROR, cause);
        e.location = Some(field.to_owned());
        e
    }

    /// A `States.Runtime`-style error whose cause names the state and its entered event, as AWS does.
    fn error_in(&self, state: &State, error: &str, cause: impl AsRef<str>) -> StatesError {
        StatesError::new(
            error,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                state.name,
                self.entered_event_id,
                cause.as_ref()
            ),
        )
    }
}

/// When a Wait state ends.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitUntil {
    /// After this many seconds from now.
    Seconds(u64),
    /// At this instant (in the past: at once).
    Timestamp(DateTime<Utc>),
}

/// What the caller must do after entering a state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The state is done.
    Complete(Outcome),
    /// Wait, then apply `then`.
    Wait {
        /// When the wait ends.
        until: WaitUntil,
        /// The outcome once the wait is over.
        then: Outcome,
    },
    /// Run a task; report with [`complete`].
    RunTask {
        /// The `Resource` ARN.
        resource: String,
        /// The effective input (after `InputPath` and `Parameters`).
        input: Value,
        /// `TimeoutSeconds` resolved.
        timeout_seconds: Option<u64>,
        /// `HeartbeatSeconds` resolved.
        heartbeat_seconds: Option<u64>,
        /// `Credentials` resolved (`{"RoleArn": "..."}`): the role the call is made with.
        credentials: Option<Value>,
    },
    /// Run every branch of a Parallel state with `input`; report the outputs in
    /// branch order (or the first error) with [`complete`].
    RunBranches {
        /// The effective input each branch starts with.
        input: Value,
    },
    /// Run the Map processor once per item; report the outputs in item order
    /// (or the error) with [`complete`]. Use [`map_failure_tolerated`] to
    /// decide whether failed iterations fail the state.
    RunIterations {
        /// The input of each iteration (after `ItemSelector`).
        items: Vec<Value>,
        /// How many iterations may run at once (0: no limit).
        max_concurrency: u64,
        /// `ToleratedFailureCount` resolved.
        tolerated_failure_count: Option<u64>,
        /// `ToleratedFailurePercentage` resolved.
        tolerated_failure_percentage: Option<f64>,
        /// An error AWS raises only after `MapStateStarted` (a bad
        /// `ToleratedFailure...Path` value): record the start, then fail the
        /// state with it (through Retry/Catch) instead of running iterations.
        failure: Option<StatesError>,
    },
}

/// Where the execution goes after a state.
///
/// `assigned` holds the variables the state's `Assign` (or the matching
/// Choice rule's or catcher's) wrote: the caller applies them to the scope
/// the state ran in once the state exits, and records them in the
/// `...StateExited` event (`assignedVariables`).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Transition to `state` with `output` as its input.
    Next {
        /// The next state.
        state: String,
        /// The state's output.
        output: Value,
        /// Variables assigned by the state.
        assigned: Variables,
    },
    /// The (sub-)machine ends with `output`.
    End {
        /// The state's output.
        output: Value,
        /// Variables assigned by the state.
        assigned: Variables,
    },
    /// Run the state again after `delay_ms` (Retry). The caller increments
    /// the attempt count of `retrier` and re-enters the state with the same raw input.
    Retry {
        /// Index of the matching retrier.
        retrier: usize,
        /// Delay before the next attempt.
        delay_ms: u64,
        /// The error being retried.
        error: StatesError,
    },
    /// A Catch matched: go to `state` with `output`.
    Caught {
        /// The catcher's `Next`.
        state: String,
        /// The raw input with the error output placed by the catcher's
        /// `ResultPath` (JSONPath), or the catcher's `Output` (JSONata).
        output: Value,
        /// The error that was caught.
        error: StatesError,
        /// Variables assigned by the catcher's `Assign`.
        assigned: Variables,
    },
    /// The state failed and nothing handled it: the (sub-)machine fails.
    Fail(StatesError),
}

/// Enters `state` with its raw input. `retry_counts[i]` is how many times
/// retrier `i` has already been used for this state (empty on first entry).
pub fn enter(
    state: &State,
    raw_input: &Value,
    retry_counts: &[u32],
    sc: &StepContext<'_>,
) -> Action {
    match try_enter(state, raw_input, sc) {
        Ok(a) => a,
        Err(e) => Action::Complete(handle_error(state, raw_input, e, retry_counts, sc)),
    }
}

fn try_enter(state: &State, raw: &Value, sc: &StepContext<'_>) -> Result<Action, StatesError> {
    if state.query_language == QueryLanguage::Jsonata {
        return jsonata_enter(state, raw, sc);
    }
    let env = sc.env();
    let effective = apply_input_path(state, &state.input_path, raw, &env, sc)?;
    sc.inspect(|i| i.after_input_path = Some(effective.clone().into_owned()));
    match &state.kind {
        StateKind::Pass { result } => {
            let result = match result {
                Some(r) => r.clone(),
                None => apply_parameters(state, effective, &env, sc)?,
            };
            sc.inspect(|i| {
                i.result = Some(result.clone());
                // A Pass state has no ResultSelector: AWS reports the result unchanged.
                i.after_result_selector = Some(result.clone());
            });
            let assigned = assign_jsonpath(state, state.assign.as_ref(), &result, &env, sc)?;
            let out = finish_output(state, raw, result, &env, sc)?;
            Ok(Action::Complete(transition(state, out, assigned)))
        }
        StateKind::Succeed => {
            let out = apply_output_path(state, effective.into_owned(), &env, sc)?;
            Ok(Action::Complete(Outcome::End {
                output: out,
                assigned: Variables::new(),
            }))
        }
        StateKind::Fail(f) => {
            let error = resolve_string(f.error.as_ref(), raw, &env, sc, state, "ErrorPath")?;
            let cause = resolve_string(f.cause.as_ref(), raw, &env, sc, state, "CausePath")?;
            Ok(Action::Complete(Outcome::Fail(StatesError::new(
                error, cause,
            ))))
        }
        StateKind::Choice(c) => {
            for b in &c.choices {
                let ChoiceCondition::Rule(rule) = &b.rule else {
                    return Err(sc.error_in(
                        state,
                        names::RUNTIME,
                        "JSONata conditions need the JSONata query language",
                    ));
                };
                if rule
                    .evaluate(&effective, &env)
                    .map_err(|e| prefix(sc, state, e))?
                {
                    let assigned = assign_jsonpath(state, b.assign.as_ref(), &effective, &env, sc)?;
                    let out = apply_output_path(state, effective.into_owned(), &env, sc)?;
                    return Ok(Action::Complete(Outcome::Next {
                        state: b.next.clone(),
                        output: out,
                        assigned,
                    }));
                }
            }
            match &c.default {
                Some(d) => {
                    let assigned =
                        assign_jsonpath(state, state.assign.as_ref(), &effective, &env, sc)?;
                    let out = apply_output_path(state, effective.into_owned(), &env, sc)?;
                    Ok(Action::Complete(Outcome::Next {
                        state: d.clone(),
                        output: out,
                        assigned,
                    }))
                }
                None => Err(StatesError::new(
                    names::NO_CHOICE_MATCHED,
                    format!("No Matches! (state '{}')", state.name),
                )),
            }
        }
        StateKind::Wait(w) => {
            let until = wait_until(w, &effective, &env, sc, state)?;
            let assigned = assign_jsonpath(state, state.assign.as_ref(), &effective, &env, sc)?;
            let out = apply_output_path(state, effective.into_owned(), &env, sc)?;
            Ok(Action::Wait {
                until,
                then: transition(state, out, assigned),
            })
        }
        StateKind::Task(t) => {
            let input = apply_parameters(state, effective, &env, sc)?;
            check_size(&input, state)?;
            let timeout_seconds = resolve_number(
                t.timeout.as_ref(),
                raw,
                &env,
                sc,
                state,
                "TimeoutSecondsPath",
            )?;
            let heartbeat_seconds = resolve_number(
                t.heartbeat.as_ref(),
                raw,
                &env,
                sc,
                state,
                "HeartbeatSecondsPath",
            )?;
            let credentials = match &t.credentials_template {
                Some(CredentialsTemplate::JsonPath(c)) => {
                    Some(c.evaluate(raw, &env).map_err(|e| prefix(sc, state, e))?)
                }
                _ => None,
            };
            Ok(Action::RunTask {
                resource: t.resource.clone(),
                input,
                timeout_seconds,
                heartbeat_seconds,
                credentials,
            })
        }
        StateKind::Parallel { .. } => {
            let input = apply_parameters(state, effective, &env, sc)?;
            Ok(Action::RunBranches { input })
        }
        StateKind::Map(m) => map_items(state, m, effective.into_owned(), &env, sc),
    }
}

fn map_items(
    state: &State,
    m: &MapState,
    effective: Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Action, StatesError> {
    let items_value = match (sc.item_reader_data, &m.items_path) {
        (Some(read), _) if m.item_reader.is_some() => read.clone(),
        (_, None) => effective.clone(),
        (_, Some(p)) => p
            .select(&effective, env)
            .ok_or_else(|| invalid_path(state, p, &effective, env, sc))?,
    };
    sc.inspect(|i| i.after_items_path = Some(items_value.clone()));
    let Value::Array(items) = items_value else {
        let path = m.items_path.as_ref().map_or("$", |p| p.as_str());
        return Err(StatesError::new(
            names::RUNTIME,
            format!(
                "Reference path \"{}\" must point to array.",
                path.strip_prefix('$')
                    .filter(|p| p.starts_with('$'))
                    .unwrap_or(path)
            ),
        ));
    };
    let max_concurrency = match &m.max_concurrency {
        None => 0,
        Some(NumberSource::Literal(n)) => *n,
        Some(NumberSource::Path(p)) => {
            let v = p.select(&effective, env).unwrap_or(Value::Null);
            match as_u64_lenient(&v) {
                Some(n) => n,
                None => {
                    return Err(sc.error_in(
                        state,
                        names::RUNTIME,
                        format!(
                            "The MaxConcurrencyPath field refers to value {} which is not a valid integer: {}",
                            quote_value(&v),
                            p.as_str()
                        ),
                    ));
                }
            }
        }
        Some(NumberSource::Jsonata(_)) => 0,
    };
    let tolerance = (|| -> Result<(Option<u64>, Option<f64>), StatesError> {
        let tolerated_failure_count = match &m.tolerated_failure_count {
            None => None,
            Some(NumberSource::Literal(n)) => Some(*n),
            Some(NumberSource::Path(p)) => {
                let v = p.select(&effective, env).unwrap_or(Value::Null);
                match as_i64_lenient(&v) {
                    Some(n) if n < 0 => {
                        return Err(sc.error_in(
                            state,
                            names::RUNTIME,
                            "ToleratedFailureCount cannot be negative.",
                        ));
                    }
                    Some(n) => Some(n as u64),
                    None => {
                        return Err(sc.error_in(
                        state,
                        names::RUNTIME,
                        format!(
                            "The ToleratedFailureCountPath field refers to value {} which is not a valid integer: {}",
                            quote_value(&v),
                            p.as_str()
                        ),
                    ));
                    }
                }
            }
            Some(NumberSource::Jsonata(_)) => None,
        };
        let tolerated_failure_percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(PercentSource::Literal(p)) => Some(*p),
            Some(PercentSource::Path(p)) => {
                let v = p.select(&effective, env).unwrap_or(Value::Null);
                match as_f64_lenient(&v) {
                    Some(x) if (0.0..=100.0).contains(&x) => Some(x),
                    _ => {
                        return Err(sc.error_in(
                        state,
                        names::RUNTIME,
                        format!(
                            "The ToleratedFailurePercentagePath field refers to value {} which is not a valid percentage: {}",
                            quote_value(&v),
                            p.as_str()
                        ),
                    ));
                    }
                }
            }
            Some(PercentSource::Jsonata(_)) => None,
        };
        Ok((tolerated_failure_count, tolerated_failure_percentage))
    })();
    let (tolerated_failure_count, tolerated_failure_percentage, failure) = match tolerance {
        Ok((c, p)) => (c, p, None),
        Err(e) => (None, None, Some(e)),
    };
    let items = match &m.item_selector {
        None => items,
        Some(t) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let ctx = with_map_item(sc.context, i, &item);
                let item_env = Env::new(&ctx, sc.vars, sc.seed.wrapping_add(i as u64));
                out.push(
                    t.evaluate(&effective, &item_env)
                        .map_err(|e| prefix(sc, state, e))?,
                );
            }
            out
        }
    };
    Ok(Action::RunIterations {
        items,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
        failure,
    })
}

/// The context object with `Map.Item` set, as seen by `ItemSelector` and the iteration.
pub fn with_map_item(context: &Value, index: usize, value: &Value) -> Value {
    let mut ctx = context.clone();
    if let Value::Object(o) = &mut ctx {
        o.insert(
            "Map".to_owned(),
            json!({"Item": {"Index": index, "Value": value}}),
        );
    }
    ctx
}

/// Whether `failed` failed iterations out of `total` stay within the tolerance.
pub fn map_failure_tolerated(
    failed: usize,
    total: usize,
    count: Option<u64>,
    percentage: Option<f64>,
) -> bool {
    if failed == 0 {
        return true;
    }
    let by_count = count.is_some_and(|c| failed as u64 <= c);
    let by_pct =
        percentage.is_some_and(|p| total > 0 && (failed as f64) * 100.0 / (total as f64) <= p);
    by_count || by_pct
}

/// Reports how a Task, Parallel or Map state's work ended and decides what
/// happens next: `ResultSelector`, `ResultPath`, `OutputPath` on success;
/// Retry, then Catch, on failure.
pub fn complete(
    state: &State,
    raw_input: &Value,
    result: Result<Value, StatesError>,
    retry_counts: &[u32],
    sc: &StepContext<'_>,
) -> Outcome {
    let env = sc.env();
    let done = result.and_then(|r| {
        sc.inspect(|i| i.result = Some(r.clone()));
        check_size(&r, state)?;
        if state.query_language == QueryLanguage::Jsonata {
            return jsonata_finish(state, raw_input, r, sc);
        }
        // `$` in a JSONPath `Assign` is the raw result, before `ResultSelector`.
        let assigned = assign_jsonpath(state, state.assign.as_ref(), &r, &env, sc)?;
        let selected = match &state.result_selector {
            Some(t) => {
                let selected = t.evaluate(&r, &env).map_err(|e| prefix(sc, state, e))?;
                sc.inspect(|i| i.after_result_selector = Some(selected.clone()));
                selected
            }
            None => {
                sc.inspect(|i| i.after_result_selector = Some(r.clone()));
                r
            }
        };
        let out = finish_output(state, raw_input, selected, &env, sc)?;
        Ok(transition(state, out, assigned))
    });
    match done {
        Ok(outcome) => outcome,
        Err(e) => handle_error(state, raw_input, e, retry_counts, sc),
    }
}

/// Applies Retry then Catch to an error raised by `state`.
pub fn handle_error(
    state: &State,
    raw_input: &Value,
    error: StatesError,
    retry_counts: &[u32],
    sc: &StepContext<'_>,
) -> Outcome {
    if !error.is_terminal() {
        for (i, r) in state.retry.iter().enumerate() {
            if error_matches(&r.error_equals, &error.error) {
                let attempts = retry_counts.get(i).copied().unwrap_or(0);
                if attempts >= r.max_attempts {
                    break;
                }
                let delay_ms = retry_delay_ms(r, attempts, sc.env().next_f64());
                return Outcome::Retry {
                    retrier: i,
                    delay_ms,
                    error,
                };
            }
        }
        for (i, c) in state.catch.iter().enumerate() {
            if error_matches(&c.error_equals, &error.error) {
                let error_output = json!({"Error": error.error, "Cause": error.cause});
                return match catch_output(state, i, c, raw_input, error_output, sc) {
                    Ok((output, assigned)) => Outcome::Caught {
                        state: c.next.clone(),
                        output,
                        error,
                        assigned,
                    },
                    Err(e) => Outcome::Fail(e),
                };
            }
        }
    }
    Outcome::Fail(error)
}

/// Whether an `ErrorEquals` list matches the error name.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|n| match n.as_str() {
        names::ALL => error != names::RUNTIME && error != names::DATA_LIMIT_EXCEEDED,
        names::TASK_FAILED => {
            error != names::TIMEOUT
                && error != names::RUNTIME
                && error != names::DATA_LIMIT_EXCEEDED
        }
        other => other == error,
    })
}

/// The delay before retry number `attempts + 1`: `IntervalSeconds ×
/// BackoffRate^attempts`, capped by `MaxDelaySeconds`, then jittered
/// (`FULL`: uniformly in `[0, delay]`, using `random` in `[0, 1)`).
pub fn retry_delay_ms(r: &Retrier, attempts: u32, random: f64) -> u64 {
    let base = r.interval_seconds as f64 * r.backoff_rate.powi(attempts.min(1000) as i32) * 1000.0;
    let mut delay = if base.is_finite() { base } else { f64::MAX };
    if let Some(max) = r.max_delay_seconds {
        delay = delay.min(max as f64 * 1000.0);
    }
    // Never more than a year, whatever the definition says.
    delay = delay.min(31_622_400_000.0);
    if r.jitter == Jitter::Full {
        delay *= random.clamp(0.0, 1.0);
    }
    delay.round() as u64
}

/// The output and variables of a matching catcher: JSONPath places the error
/// output with `ResultPath`; JSONata evaluates the catcher's `Output`
/// (default: the error output) with `$states.errorOutput`.
fn catch_output(
    state: &State,
    index: usize,
    c: &Catcher,
    raw_input: &Value,
    error_output: Value,
    sc: &StepContext<'_>,
) -> Result<(Value, Variables), StatesError> {
    if state.query_language == QueryLanguage::Jsonata {
        let b = sc.bindings(raw_input).with_error_output(&error_output);
        let assigned = assign_jsonata(
            state,
            c.assign.as_ref(),
            &format!("Catch[{index}]/Assign"),
            &b,
            sc,
        )?;
        let output = match &c.output {
            Some(t) => t
                .evaluate(&format!("Catch[{index}]/Output"), &b)
                .map_err(|e| sc.query_error(state, e))?,
            None => error_output.clone(),
        };
        return Ok((output, assigned));
    }
    let env = sc.env();
    let assigned = assign_jsonpath(state, c.assign.as_ref(), &error_output, &env, sc)?;
    let output = c.result_path.apply(raw_input.clone(), error_output)?;
    Ok((output, assigned))
}

fn transition(state: &State, output: Value, assigned: Variables) -> Outcome {
    match &state.transition {
        Transition::Next(n) => Outcome::Next {
            state: n.clone(),
            output,
            assigned,
        },
        _ => Outcome::End { output, assigned },
    }
}

/// Evaluates a JSONPath state's `Assign` with `$` = `value` (the state's
/// result; the effective input for Choice and Wait; the error output in a
/// catcher).
fn assign_jsonpath(
    state: &State,
    assign: Option<&Assign>,
    value: &Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Variables, StatesError> {
    let vars = match assign {
        None => return Ok(Variables::new()),
        Some(Assign::JsonPath(t)) => t.evaluate(value, env).map_err(|e| prefix(sc, state, e))?,
        Some(Assign::Jsonata(t)) => {
            let b = sc.bindings(value);
            t.evaluate("Assign", &b)
                .map_err(|e| sc.query_error(state, e))?
        }
    };
    into_assigned(state, vars, sc)
}

/// Evaluates a JSONata `Assign` (named `field` in errors) with `bindings`.
fn assign_jsonata(
    state: &State,
    assign: Option<&Assign>,
    field: &str,
    bindings: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Variables, StatesError> {
    let vars = match assign {
        None => return Ok(Variables::new()),
        Some(Assign::Jsonata(t)) => {
            let b = bindings.with_seed(sc.env().next_u64());
            t.evaluate(field, &b)
                .map_err(|e| sc.query_error(state, e))?
        }
        Some(Assign::JsonPath(t)) => t
            .evaluate(bindings.input, &sc.env())
            .map_err(|e| prefix(sc, state, e))?,
    };
    into_assigned(state, vars, sc)
}

/// Checks an evaluated `Assign` object against the size limits.
fn into_assigned(
    state: &State,
    vars: Value,
    sc: &StepContext<'_>,
) -> Result<Variables, StatesError> {
    let Value::Object(vars) = vars else {
        return Err(sc.error_in(
            state,
            names::RUNTIME,
            "The Assign field must produce an object",
        ));
    };
    if vars.is_empty() {
        return Ok(vars);
    }
    let too_big = |what: &str| {
        StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{}' assigned variables with a size exceeding the maximum number of bytes service limit ({what}).",
                state.name
            ),
        )
    };
    let assigned_size = json_size(&Value::Object(vars.clone()), MAX_ASSIGNMENT_BYTES);
    if assigned_size > MAX_ASSIGNMENT_BYTES {
        return Err(too_big("256 KiB per Assign"));
    }
    let mut total = assigned_size;
    for (k, v) in sc.vars.iter() {
        if !vars.contains_key(k) {
            total += k.len() + json_size(v, MAX_VARIABLES_BYTES);
            if total > MAX_VARIABLES_BYTES {
                return Err(too_big("10 MiB of variables in scope"));
            }
        }
    }
    Ok(vars)
}

fn prefix(sc: &StepContext<'_>, state: &State, e: StatesError) -> StatesError {
    if e.error == names::RUNTIME || e.error == names::INTRINSIC_FAILURE {
        sc.error_in(state, &e.error, &e.cause)
    } else {
        e
    }
}

/// The effective input: borrowed for `InputPath: $`, so that a state that only
/// reads it (`Parameters`, Choice rules) copies nothing.
fn apply_input_path<'a>(
    state: &State,
    field: &PathField,
    raw: &'a Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Cow<'a, Value>, StatesError> {
    match field {
        PathField::Identity => Ok(Cow::Borrowed(raw)),
        PathField::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        PathField::Path(p) => select_or_invalid(state, p, raw, env, sc).map(Cow::Owned),
    }
}

fn apply_output_path(
    state: &State,
    value: Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let out = match &state.output_path {
        PathField::Identity => value,
        PathField::Null => Value::Object(Map::new()),
        PathField::Path(p) => select_or_invalid(state, p, &value, env, sc)?,
    };
    check_size(&out, state)?;
    Ok(out)
}

fn select_or_invalid(
    state: &State,
    p: &Path,
    value: &Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    p.select(value, env)
        .ok_or_else(|| invalid_path(state, p, value, env, sc))
}

/// `States.Runtime` for a path that selects nothing, in AWS's words.
fn invalid_path(
    state: &State,
    p: &Path,
    value: &Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> StatesError {
    sc.error_in(
        state,
        names::RUNTIME,
        format!(
            "Invalid path '{}' : {}",
            p.as_str(),
            p.missing_reason(value, env)
        ),
    )
}

fn apply_parameters(
    state: &State,
    effective: Cow<'_, Value>,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let out = match &state.parameters {
        Some(t) => t
            .evaluate(&effective, env)
            .map_err(|e| prefix(sc, state, e))?,
        None => effective.into_owned(),
    };
    sc.inspect(|i| i.after_parameters = Some(out.clone()));
    Ok(out)
}

fn finish_output(
    state: &State,
    raw: &Value,
    result: Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let combined = state
        .result_path
        .apply_to(raw, result)
        .map_err(|e| prefix(sc, state, e))?;
    sc.inspect(|i| i.after_result_path = Some(combined.clone()));
    apply_output_path(state, combined, env, sc)
}

fn check_size(v: &Value, state: &State) -> Result<(), StatesError> {
    if payload_size(v) > MAX_PAYLOAD_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                state.name
            ),
        ));
    }
    Ok(())
}

/// The size of a value as compact JSON, in bytes, counted without
/// allocating and stopping once it passes the limit.
pub fn payload_size(v: &Value) -> usize {
    json_size(v, MAX_PAYLOAD_BYTES)
}

/// The size of a value as compact JSON, or `limit + 1` once it passes `limit`.
/// A walk over the value (strings scanned for escapes, numbers formatted on
/// the stack), the same count as `serde_json::to_string(v).len()`.
pub fn json_size(v: &Value, limit: usize) -> usize {
    let mut total = 0usize;
    if add_json_size(v, limit, &mut total) {
        total
    } else {
        limit + 1
    }
}

/// Adds the size of `v` to `total`; false once `total` passes `limit`.
fn add_json_size(v: &Value, limit: usize, total: &mut usize) -> bool {
    match v {
        Value::Null => *total += 4,
        Value::Bool(b) => *total += if *b { 4 } else { 5 },
        Value::Number(n) => *total += number_len(n),
        Value::String(s) => *total += string_len(s),
        Value::Array(a) => {
            // Brackets and the commas between items.
            *total += 2 + a.len().saturating_sub(1);
            for x in a {
                if !add_json_size(x, limit, total) {
                    return false;
                }
            }
        }
        Value::Object(m) => {
            // Braces, the commas between members and a colon per member.
            *total += 2 + m.len().saturating_sub(1) + m.len();
            for (k, x) in m {
                *total += string_len(k);
                if !add_json_size(x, limit, total) {
                    return false;
                }
            }
        }
    }
    *total <= limit
}

/// The length of `s` as a JSON string, quotes and escapes included (as serde_json escapes).
fn string_len(s: &str) -> usize {
    let mut n = s.len() + 2;
    for &b in s.as_bytes() {
        if b < 0x20 {
            n += if matches!(b, b'\n' | b'\r' | b'\t' | 0x08 | 0x0c) {
                1
            } else {
                5
            };
        } else if b == b'"' || b == b'\\' {
            n += 1;
        }
    }
    n
}

/// The length of a number as serde_json writes it, formatted into a stack buffer.
fn number_len(n: &serde_json::Number) -> usize {
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    // Integers, the common case, without `core::fmt`.
    if let Some(u) = n.as_u64() {
        return itoa::Buffer::new().format(u).len();
    }
    if let Some(i) = n.as_i64() {
        return itoa::Buffer::new().format(i).len();
    }
    let mut c = Count(0);
    // `Number`'s Display is the same text as its JSON form.
    let _ = std::fmt::write(&mut c, format_args!("{n}"));
    c.0
}

fn resolve_string(
    src: Option<&StringSource>,
    raw: &Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
    state: &State,
    field: &str,
) -> Result<String, StatesError> {
    let v = match src {
        None => return Ok(String::new()),
        Some(StringSource::Literal(s)) => return Ok(s.clone()),
        Some(StringSource::Path(p)) => p.select(raw, env).ok_or_else(|| {
            sc.error_in(
                state,
                names::RUNTIME,
                format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    p.as_str(),
                    compact(raw)
                ),
            )
        })?,
        Some(StringSource::Intrinsic(i)) => {
            i.evaluate(raw, env).map_err(|e| prefix(sc, state, e))?
        }
        Some(StringSource::Jsonata(_)) => {
            return Err(sc.error_in(
                state,
                names::RUNTIME,
                "JSONata fields need the JSONata query language",
            ));
        }
    };
    match v {
        Value::String(s) => Ok(s),
        other => Err(sc.error_in(
            state,
            names::RUNTIME,
            format!(
                "The {field} field must reference a string, but was: {}",
                compact(&other)
            ),
        )),
    }
}

fn resolve_number(
    src: Option<&NumberSource>,
    raw: &Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
    state: &State,
    field: &str,
) -> Result<Option<u64>, StatesError> {
    match src {
        None | Some(NumberSource::Jsonata(_)) => Ok(None),
        Some(NumberSource::Literal(n)) => Ok(Some(*n)),
        Some(NumberSource::Path(p)) => {
            let Some(v) = p.select(raw, env) else {
                return Err(invalid_path(state, p, raw, env, sc));
            };
            let v = Some(v);
            match v.as_ref().and_then(Value::as_u64) {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(sc.error_in(
                    state,
                    names::RUNTIME,
                    format!(
                        "The {field} field must reference a positive integer: {} == {}",
                        p.as_str(),
                        v.as_ref().map(compact).unwrap_or_else(|| "null".to_owned())
                    ),
                )),
            }
        }
    }
}

fn wait_until(
    w: &WaitFor,
    effective: &Value,
    env: &Env<'_>,
    sc: &StepContext<'_>,
    state: &State,
) -> Result<WaitUntil, StatesError> {
    match w {
        WaitFor::Seconds(s) => Ok(WaitUntil::Seconds(*s)),
        WaitFor::Timestamp(t) => Ok(WaitUntil::Timestamp(t.with_timezone(&Utc))),
        WaitFor::SecondsPath(p) => {
            let Some(v) = p.select(effective, env) else {
                return Err(sc.error_in(
                    state,
                    names::RUNTIME,
                    format!(
                        "The SecondsPath parameter does not reference an input value: {}",
                        p.as_str()
                    ),
                ));
            };
            match v.as_i64() {
                Some(n) if n < 0 => Err(sc.error_in(
                    state,
                    names::RUNTIME,
                    format!(
                        "The SecondsPath parameter references a negative value: {} == {}",
                        p.as_str(),
                        compact(&v)
                    ),
                )),
                Some(n) => Ok(WaitUntil::Seconds(n as u64)),
                None => Err(sc.error_in(
                    state,
                    names::RUNTIME,
                    format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        p.as_str(),
                        compact(&v)
                    ),
                )),
            }
        }
        WaitFor::TimestampPath(p) => {
            let Some(v) = p.select(effective, env) else {
                return Err(sc.error_in(
                    state,
                    names::RUNTIME,
                    format!(
                        "The TimestampPath parameter does not reference an input value: {}",
                        p.as_str()
                    ),
                ));
            };
            match v.as_str().and_then(parse_timestamp) {
                Some(t) => Ok(WaitUntil::Timestamp(t.with_timezone(&Utc))),
                None => Err(sc.error_in(
                    state,
                    names::RUNTIME,
                    format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        p.as_str(),
                        v.as_str().map(str::to_owned).unwrap_or_else(|| compact(&v))
                    ),
                )),
            }
        }
        WaitFor::SecondsJsonata(_) | WaitFor::TimestampJsonata(_) => Err(sc.error_in(
            state,
            names::RUNTIME,
            "JSONata fields need the JSONata query language",
        )),
    }
}

// ---------------------------------------------------------------------------
// JSONata states
// ---------------------------------------------------------------------------

/// Enters a JSONata state: `Arguments`, `Output`, `Assign`, `Condition`,
/// `Items`, `ItemSelector`, `Seconds`/`Timestamp`, `Error`/`Cause` and the
/// numeric fields, each evaluated with `$states.input` = the raw input.
fn jsonata_enter(state: &State, raw: &Value, sc: &StepContext<'_>) -> Result<Action, StatesError> {
    let b = sc.bindings(raw);
    match &state.kind {
        StateKind::Pass { .. } => {
            let out = jsonata_output(state, state.output.as_ref(), "Output", raw, &b, sc)?;
            let assigned = assign_jsonata(state, state.assign.as_ref(), "Assign", &b, sc)?;
            Ok(Action::Complete(transition(state, out, assigned)))
        }
        StateKind::Succeed => {
            let out = jsonata_output(state, state.output.as_ref(), "Output", raw, &b, sc)?;
            Ok(Action::Complete(Outcome::End {
                output: out,
                assigned: Variables::new(),
            }))
        }
        StateKind::Fail(f) => {
            let error = jsonata_string(state, f.error.as_ref(), "Error", &b, sc)?;
            let cause = jsonata_string(state, f.cause.as_ref(), "Cause", &b, sc)?;
            Ok(Action::Complete(Outcome::Fail(StatesError::new(
                error, cause,
            ))))
        }
        StateKind::Choice(c) => {
            for (i, branch) in c.choices.iter().enumerate() {
                let ChoiceCondition::Jsonata(cond) = &branch.rule else {
                    return Err(sc.error_in(
                        state,
                        names::RUNTIME,
                        "JSONPath Choice rules need the JSONPath query language",
                    ));
                };
                let field = format!("Choices[{i}]/Condition");
                let v = eval_field(state, cond, &field, &b, sc)?;
                let Value::Bool(matched) = v else {
                    return Err(unexpected_type(state, cond, &field, "boolean", &v, sc));
                };
                if matched {
                    let out = jsonata_output(
                        state,
                        branch.output.as_ref(),
                        &format!("Choices[{i}]/Output"),
                        raw,
                        &b,
                        sc,
                    )?;
                    let assigned = assign_jsonata(
                        state,
                        branch.assign.as_ref(),
                        &format!("Choices[{i}]/Assign"),
                        &b,
                        sc,
                    )?;
                    return Ok(Action::Complete(Outcome::Next {
                        state: branch.next.clone(),
                        output: out,
                        assigned,
                    }));
                }
            }
            match &c.default {
                Some(d) => {
                    let out = jsonata_output(state, state.output.as_ref(), "Output", raw, &b, sc)?;
                    let assigned = assign_jsonata(state, state.assign.as_ref(), "Assign", &b, sc)?;
                    Ok(Action::Complete(Outcome::Next {
                        state: d.clone(),
                        output: out,
                        assigned,
                    }))
                }
                None => Err(StatesError::new(
                    names::NO_CHOICE_MATCHED,
                    format!("No Matches! (state '{}')", state.name),
                )),
            }
        }
        StateKind::Wait(w) => {
            let until = jsonata_wait(state, w, raw, &b, sc)?;
            let out = jsonata_output(state, state.output.as_ref(), "Output", raw, &b, sc)?;
            let assigned = assign_jsonata(state, state.assign.as_ref(), "Assign", &b, sc)?;
            Ok(Action::Wait {
                until,
                then: transition(state, out, assigned),
            })
        }
        StateKind::Task(t) => {
            let input = jsonata_arguments(state, raw, &b, sc)?;
            check_size(&input, state)?;
            let timeout_seconds =
                jsonata_number(state, t.timeout.as_ref(), "TimeoutSeconds", 1, &b, sc)?;
            let heartbeat_seconds =
                jsonata_number(state, t.heartbeat.as_ref(), "HeartbeatSeconds", 1, &b, sc)?;
            let credentials = match &t.credentials_template {
                Some(CredentialsTemplate::Jsonata(c)) => {
                    Some(eval_field(state, c, "Credentials", &b, sc)?)
                }
                _ => None,
            };
            Ok(Action::RunTask {
                resource: t.resource.clone(),
                input,
                timeout_seconds,
                heartbeat_seconds,
                credentials,
            })
        }
        StateKind::Parallel { .. } => {
            let input = jsonata_arguments(state, raw, &b, sc)?;
            Ok(Action::RunBranches { input })
        }
        StateKind::Map(m) => jsonata_map(state, m, raw, &b, sc),
    }
}

/// Finishes a JSONata Task, Parallel or Map state: `Output` (default: the
/// result) and `Assign`, with `$states.result` set.
fn jsonata_finish(
    state: &State,
    raw: &Value,
    result: Value,
    sc: &StepContext<'_>,
) -> Result<Outcome, StatesError> {
    let b = sc.bindings(raw).with_result(&result);
    let assigned = assign_jsonata(state, state.assign.as_ref(), "Assign", &b, sc)?;
    let out = match &state.output {
        Some(t) => {
            let out = eval_field(state, t, "Output", &b, sc)?;
            check_size(&out, state)?;
            out
        }
        None => result.clone(),
    };
    Ok(transition(state, out, assigned))
}

/// Evaluates a JSONata field with a fresh seed.
fn eval_field(
    state: &State,
    t: &JsonataTemplate,
    field: &str,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let b = b.with_seed(sc.env().next_u64());
    t.evaluate(field, &b).map_err(|e| sc.query_error(state, e))
}

/// `Output` (or a rule's/catcher's): evaluated, or `default` when absent.
fn jsonata_output(
    state: &State,
    output: Option<&JsonataTemplate>,
    field: &str,
    default: &Value,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let out = match output {
        Some(t) => eval_field(state, t, field, b, sc)?,
        None => default.clone(),
    };
    check_size(&out, state)?;
    Ok(out)
}

/// `Arguments`: evaluated, or the raw input when absent.
fn jsonata_arguments(
    state: &State,
    raw: &Value,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let out = match &state.arguments {
        Some(t) => eval_field(state, t, "Arguments", b, sc)?,
        None => raw.clone(),
    };
    sc.inspect(|i| i.after_arguments = Some(out.clone()));
    Ok(out)
}

/// The AWS cause for a field whose value has the wrong type.
fn unexpected_type(
    state: &State,
    t: &JsonataTemplate,
    field: &str,
    expected: &str,
    v: &Value,
    sc: &StepContext<'_>,
) -> StatesError {
    let what = match t.as_expression() {
        Some(e) => format!(
            "The JSONata expression '{}' specified for the field '{field}'",
            e.source()
        ),
        None => format!("The value of the field '{field}'"),
    };
    sc.query_error_at(
        state,
        field,
        format!(
            "{what} returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
            crate::jsonata::type_name(v),
            compact(v)
        ),
    )
}

fn expression_error(
    state: &State,
    e: &crate::jsonata::Expression,
    field: &str,
    expected: &str,
    v: &Value,
    sc: &StepContext<'_>,
) -> StatesError {
    unexpected_type(
        state,
        &JsonataTemplate::Expr(Box::new(e.clone())),
        field,
        expected,
        v,
        sc,
    )
}

fn eval_expression(
    state: &State,
    e: &crate::jsonata::Expression,
    field: &str,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Value, StatesError> {
    let b = b.with_seed(sc.env().next_u64());
    e.evaluate(&b)
        .map_err(|err| sc.query_error_at(state, field, e.describe(field, &err)))
}

/// `Error` / `Cause` of a JSONata Fail state.
fn jsonata_string(
    state: &State,
    src: Option<&StringSource>,
    field: &str,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<String, StatesError> {
    match src {
        None => Ok(String::new()),
        Some(StringSource::Literal(s)) => Ok(s.clone()),
        Some(StringSource::Jsonata(e)) => match eval_expression(state, e, field, b, sc)? {
            Value::String(s) => Ok(s),
            other => Err(expression_error(state, e, field, "string", &other, sc)),
        },
        Some(StringSource::Path(_) | StringSource::Intrinsic(_)) => Err(sc.error_in(
            state,
            names::RUNTIME,
            format!("The field '{field}Path' needs the JSONPath query language"),
        )),
    }
}

/// A whole number of at least `min` from a literal or an expression.
fn jsonata_number(
    state: &State,
    src: Option<&NumberSource>,
    field: &str,
    min: u64,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Option<u64>, StatesError> {
    match src {
        None => Ok(None),
        Some(NumberSource::Literal(n)) => Ok(Some(*n)),
        Some(NumberSource::Jsonata(e)) => {
            let v = eval_expression(state, e, field, b, sc)?;
            match v.as_f64() {
                Some(x) if x.fract() == 0.0 && x >= min as f64 && x <= 99_999_999.0 => {
                    Ok(Some(x as u64))
                }
                Some(_) => Err(sc.query_error_at(
                    state,
                    field,
                    format!(
                        "The JSONata expression '{}' specified for the field '{field}' returned an invalid value: {}. Expected an integer between {min} and 99999999.",
                        e.source(),
                        compact(&v)
                    ),
                )),
                None => Err(expression_error(state, e, field, "number", &v, sc)),
            }
        }
        Some(NumberSource::Path(_)) => Err(sc.error_in(
            state,
            names::RUNTIME,
            format!("The field '{field}Path' needs the JSONPath query language"),
        )),
    }
}

fn jsonata_wait(
    state: &State,
    w: &WaitFor,
    raw: &Value,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<WaitUntil, StatesError> {
    match w {
        WaitFor::SecondsJsonata(e) => {
            let v = eval_expression(state, e, "Seconds", b, sc)?;
            match v.as_f64() {
                Some(x) if x.fract() == 0.0 && (0.0..=99_999_999.0).contains(&x) => {
                    Ok(WaitUntil::Seconds(x as u64))
                }
                Some(_) => Err(sc.query_error_at(
                    state,
                    "Seconds",
                    format!(
                        "The JSONata expression '{}' specified for the field 'Seconds' returned an invalid value: {}. Expected a non-negative integer.",
                        e.source(),
                        compact(&v)
                    ),
                )),
                None => Err(expression_error(state, e, "Seconds", "number", &v, sc)),
            }
        }
        WaitFor::TimestampJsonata(e) => {
            let v = eval_expression(state, e, "Timestamp", b, sc)?;
            match v.as_str().and_then(parse_timestamp) {
                Some(t) => Ok(WaitUntil::Timestamp(t.with_timezone(&Utc))),
                None => Err(sc.query_error_at(
                    state,
                    "Timestamp",
                    format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                        v.as_str().map(str::to_owned).unwrap_or_else(|| compact(&v))
                    ),
                )),
            }
        }
        other => wait_until(other, raw, &sc.env(), sc, state),
    }
}

fn jsonata_map(
    state: &State,
    m: &MapState,
    raw: &Value,
    b: &Bindings<'_>,
    sc: &StepContext<'_>,
) -> Result<Action, StatesError> {
    let items_value = match (sc.item_reader_data, &m.items) {
        (Some(read), _) if m.item_reader.is_some() => read.clone(),
        (_, Some(t)) => {
            let v = eval_field(state, t, "Items", b, sc)?;
            if !v.is_array() {
                return Err(unexpected_type(state, t, "Items", "array", &v, sc));
            }
            v
        }
        (_, None) => raw.clone(),
    };
    let Value::Array(items) = items_value else {
        return Err(sc.query_error_at(
            state,
            "Items",
            format!(
                "Map state input must be an array but was: {}",
                compact(&items_value)
            ),
        ));
    };
    let max_concurrency = jsonata_number(
        state,
        m.max_concurrency.as_ref(),
        "MaxConcurrency",
        0,
        b,
        sc,
    )?
    .unwrap_or(0);
    let tolerated_failure_count = jsonata_number(
        state,
        m.tolerated_failure_count.as_ref(),
        "ToleratedFailureCount",
        0,
        b,
        sc,
    )?;
    let tolerated_failure_percentage = match &m.tolerated_failure_percentage {
        None => None,
        Some(PercentSource::Literal(p)) => Some(*p),
        Some(PercentSource::Jsonata(e)) => {
            let field = "ToleratedFailurePercentage";
            let v = eval_expression(state, e, field, b, sc)?;
            match v.as_f64() {
                Some(x) if (0.0..=100.0).contains(&x) => Some(x),
                Some(_) => {
                    return Err(sc.query_error_at(
                        state,
                        field,
                        format!(
                            "The JSONata expression '{}' specified for the field '{field}' returned an invalid value: {}. Expected a number between 0 and 100.",
                            e.source(),
                            compact(&v)
                        ),
                    ));
                }
                None => return Err(expression_error(state, e, field, "number", &v, sc)),
            }
        }
        Some(PercentSource::Path(_)) => None,
    };
    let items = match &m.item_selector_jsonata {
        None => items,
        Some(t) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let ctx = with_map_item(sc.context, i, &item);
                let ib = Bindings {
                    context: &ctx,
                    ..*b
                };
                out.push(eval_field(state, t, "ItemSelector", &ib, sc)?);
            }
            out
        }
    };
    Ok(Action::RunIterations {
        items,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
        failure: None,
    })
}

/// A number, or a string holding one: `...Path` fields accept `"1"` as AWS does.
fn as_f64_lenient(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        other => other.as_f64(),
    }
}

fn as_i64_lenient(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        other => other.as_i64(),
    }
}

fn as_u64_lenient(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        other => other.as_u64(),
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// AWS quotes the offending value as a JSON string in some messages: `"NoNumber"`, `"{}"`.
fn quote_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => format!("\"{}\"", compact(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileOptions, compile};

    fn machine(states: Value) -> StateMachine {
        let first = states
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap();
        compile(
            &json!({"StartAt": first, "States": states}),
            CompileOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn json_size_is_the_length_of_compact_json() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-17),
            json!(9),
            json!(10),
            json!(-10),
            json!(99_999),
            json!(100_000),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.1),
            json!(-0.0),
            json!(1e300),
            json!(1.5e-7),
            json!(123456789.125),
            json!(""),
            json!("plain"),
            json!("quote \" backslash \\ slash /"),
            json!("\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}"),
            json!("unicode é 漢 🎉"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {}]], {"a": null}]),
            json!({"k\"ey": {"nested": [1.25, "x", false]}, "e": []}),
        ];
        for v in values {
            let text = serde_json::to_string(&v).unwrap();
            assert_eq!(json_size(&v, usize::MAX), text.len(), "{text}");
            assert_eq!(json_size(&v, text.len()), text.len(), "{text}");
            if !text.is_empty() {
                assert_eq!(json_size(&v, text.len() - 1), text.len(), "{text}");
            }
        }
    }

    fn ctx() -> (Value, Variables) {
        (
            json!({"Execution": {"Id": "arn:x", "Input": {}}, "State": {"Name": "A", "EnteredTime": "2024-01-01T00:00:00Z", "RetryCount": 0}}),
            Variables::new(),
        )
    }

    fn run_enter(m: &StateMachine, name: &str, input: Value) -> Action {
        let (c, v) = ctx();
        let sc = StepContext {
            context: &c,
            vars: &v,
            entered_event_id: 2,
            seed: 1,
            inspect: None,
            item_reader_data: None,
        };
        enter(m.state(name).unwrap(), &input, &[], &sc)
    }

    #[test]
    fn pass_data_flow() {
        let m = machine(
            json!({"A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"x.$": "$.v", "lit": 1},
            "ResultPath": "$.res", "OutputPath": "$.res", "Next": "B"}, "B": {"Type": "Succeed"}}),
        );
        let a = run_enter(&m, "A", json!({"in": {"v": 5}}));
        assert_eq!(
            a,
            Action::Complete(Outcome::Next {
                state: "B".into(),
                output: json!({"x": 5, "lit": 1}),
                assigned: Variables::new()
            })
        );
    }

    #[test]
    fn a_dot_before_a_bracket_works_in_every_path_field() {
        // As CDK writes paths: InputPath, a `.$` key, ItemsPath, a Choice Variable.
        let m = machine(json!({
            "A": {"Type": "Pass", "InputPath": "$.['in']", "Parameters": {"x.$": "$.v.[0]"},
                  "ResultPath": "$.r", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.r.['x']", "NumericEquals": 5, "Next": "M"}], "Default": "D"},
            "D": {"Type": "Succeed"},
            "M": {"Type": "Map", "ItemsPath": "$.a.['xs']",
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                  "End": true}}));
        let Action::Complete(Outcome::Next { output, .. }) =
            run_enter(&m, "A", json!({"in": {"v": [5]}}))
        else {
            panic!()
        };
        assert_eq!(output, json!({"in": {"v": [5]}, "r": {"x": 5}}));
        let Action::Complete(Outcome::Next { state, .. }) = run_enter(&m, "C", output) else {
            panic!()
        };
        assert_eq!(state, "M");
        match run_enter(&m, "M", json!({"a": {"xs": [1, 2]}})) {
            Action::RunIterations { items, .. } => assert_eq!(items, vec![json!(1), json!(2)]),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn pass_result_and_result_path_null() {
        let m = machine(
            json!({"A": {"Type": "Pass", "Result": {"r": 1}, "ResultPath": null, "End": true}}),
        );
        assert_eq!(
            run_enter(&m, "A", json!({"k": 1})),
            Action::Complete(Outcome::End {
                output: json!({"k": 1}),
                assigned: Variables::new()
            })
        );
        let m = machine(
            json!({"A": {"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.a.b", "End": true}}),
        );
        assert_eq!(
            run_enter(&m, "A", json!({"k": 1})),
            Action::Complete(Outcome::End {
                output: json!({"k": 1, "a": {"b": {"r": 1}}}),
                assigned: Variables::new()
            })
        );
    }

    #[test]
    fn input_path_null_gives_empty_object() {
        let m = machine(json!({"A": {"Type": "Pass", "InputPath": null, "End": true}}));
        assert_eq!(
            run_enter(&m, "A", json!({"k": 1})),
            Action::Complete(Outcome::End {
                output: json!({}),
                assigned: Variables::new()
            })
        );
    }

    #[test]
    fn invalid_input_path_is_a_runtime_error_with_aws_message() {
        let m =
            machine(json!({"A": {"Type": "Pass", "InputPath": "$.NoSuchInputPath", "End": true}}));
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "A", json!({})) else {
            panic!()
        };
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "An error occurred while executing the state 'A' (entered at the event id #2). Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
        );
    }

    #[test]
    fn choice_default_and_no_match() {
        let m = machine(
            json!({"C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
            "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}),
        );
        assert!(
            matches!(run_enter(&m, "C", json!({"n": 2})), Action::Complete(Outcome::Next { state, .. }) if state == "Big")
        );
        assert!(
            matches!(run_enter(&m, "C", json!({"n": 0})), Action::Complete(Outcome::Next { state, .. }) if state == "Small")
        );
        let m = machine(
            json!({"C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}]}, "Big": {"Type": "Succeed"}}),
        );
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "C", json!({"n": 0})) else {
            panic!()
        };
        assert_eq!(e.error, names::NO_CHOICE_MATCHED);
    }

    #[test]
    fn fail_state_with_paths() {
        let m = machine(
            json!({"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('c {}', $.c)"}}),
        );
        assert_eq!(
            run_enter(&m, "F", json!({"e": "E", "c": 1})),
            Action::Complete(Outcome::Fail(StatesError::new("E", "c 1")))
        );
        // A path that selects nothing: AWS's words.
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "F", json!({"c": 1})) else {
            panic!()
        };
        assert_eq!(e.error, names::RUNTIME);
        assert_eq!(
            e.cause,
            "An error occurred while executing the state 'F' (entered at the event id #2). The JSONPath '$.e' specified for the field 'ErrorPath' could not be found in the input '{\"c\":1}'"
        );
    }

    #[test]
    fn wait_paths_and_errors() {
        let m = machine(json!({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}));
        assert!(matches!(
            run_enter(&m, "W", json!({"s": 3})),
            Action::Wait {
                until: WaitUntil::Seconds(3),
                ..
            }
        ));
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "W", json!({"s": 1.5})) else {
            panic!()
        };
        assert!(
            e.cause.ends_with(
                "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"
            ),
            "{}",
            e.cause
        );
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "W", json!({"s": -1})) else {
            panic!()
        };
        assert!(e.cause.ends_with("references a negative value: $.s == -1"));
        let m = machine(json!({"W": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}));
        let Action::Complete(Outcome::Fail(e)) =
            run_enter(&m, "W", json!({"t": "2016-12-05 21:29:29Z"}))
        else {
            panic!()
        };
        assert!(
            e.cause
                .ends_with("format string: $.t == 2016-12-05 21:29:29Z"),
            "{}",
            e.cause
        );
    }

    #[test]
    fn task_enter_and_complete_with_selector() {
        let m = machine(
            json!({"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
            "TimeoutSecondsPath": "$.t", "HeartbeatSeconds": 2, "ResultSelector": {"v.$": "$.value"}, "ResultPath": "$.r", "End": true}}),
        );
        let input = json!({"t": 10});
        let a = run_enter(&m, "T", input.clone());
        assert_eq!(
            a,
            Action::RunTask {
                resource: "arn:aws:states:us-east-1:123456789012:activity:a".into(),
                input: input.clone(),
                timeout_seconds: Some(10),
                heartbeat_seconds: Some(2),
                credentials: None,
            }
        );
        let (c, v) = ctx();
        let sc = StepContext {
            context: &c,
            vars: &v,
            entered_event_id: 2,
            seed: 1,
            inspect: None,
            item_reader_data: None,
        };
        let out = complete(
            m.state("T").unwrap(),
            &input,
            Ok(json!({"value": 7})),
            &[],
            &sc,
        );
        assert_eq!(
            out,
            Outcome::End {
                output: json!({"t": 10, "r": {"v": 7}}),
                assigned: Variables::new()
            }
        );
    }

    #[test]
    fn retry_then_catch() {
        let m = machine(
            json!({"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "Next": "Done",
            "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3.0}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handler"}]},
            "Done": {"Type": "Succeed"}, "Handler": {"Type": "Succeed"}}),
        );
        let (c, v) = ctx();
        let sc = StepContext {
            context: &c,
            vars: &v,
            entered_event_id: 2,
            seed: 1,
            inspect: None,
            item_reader_data: None,
        };
        let t = m.state("T").unwrap();
        let err = || Err(StatesError::new("Transient", "boom"));
        assert!(matches!(
            complete(t, &json!({}), err(), &[], &sc),
            Outcome::Retry {
                retrier: 0,
                delay_ms: 2000,
                ..
            }
        ));
        assert!(matches!(
            complete(t, &json!({}), err(), &[1], &sc),
            Outcome::Retry {
                retrier: 0,
                delay_ms: 6000,
                ..
            }
        ));
        match complete(t, &json!({"a": 1}), err(), &[2], &sc) {
            Outcome::Caught { state, output, .. } => {
                assert_eq!(state, "Handler");
                assert_eq!(
                    output,
                    json!({"a": 1, "err": {"Error": "Transient", "Cause": "boom"}})
                );
            }
            o => panic!("{o:?}"),
        }
        // States.Runtime is never caught by States.ALL.
        assert!(matches!(
            complete(t, &json!({}), Err(StatesError::runtime("x")), &[], &sc),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn error_matching_rules() {
        let all = vec!["States.ALL".to_owned()];
        let tf = vec!["States.TaskFailed".to_owned()];
        assert!(error_matches(&all, "Custom"));
        assert!(!error_matches(&all, "States.Runtime"));
        assert!(!error_matches(&all, "States.DataLimitExceeded"));
        assert!(error_matches(&tf, "Custom"));
        assert!(error_matches(&tf, "States.HeartbeatTimeout"));
        assert!(!error_matches(&tf, "States.Timeout"));
        assert!(error_matches(&["A".to_owned(), "B".to_owned()], "B"));
    }

    #[test]
    fn retry_delay_backoff_cap_and_jitter() {
        let mut r = Retrier {
            error_equals: vec![],
            interval_seconds: 1,
            max_attempts: 10,
            backoff_rate: 2.0,
            max_delay_seconds: Some(5),
            jitter: Jitter::None,
        };
        assert_eq!(retry_delay_ms(&r, 0, 0.5), 1000);
        assert_eq!(retry_delay_ms(&r, 2, 0.5), 4000);
        assert_eq!(retry_delay_ms(&r, 3, 0.5), 5000);
        r.jitter = Jitter::Full;
        assert_eq!(retry_delay_ms(&r, 3, 0.5), 2500);
        r.max_delay_seconds = None;
        r.backoff_rate = 1e300;
        assert!(retry_delay_ms(&r, 999, 1.0) <= 31_622_400_000);
    }

    #[test]
    fn max_attempts_zero_never_retries() {
        let m = machine(
            json!({"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]}}),
        );
        let (c, v) = ctx();
        let sc = StepContext {
            context: &c,
            vars: &v,
            entered_event_id: 2,
            seed: 1,
            inspect: None,
            item_reader_data: None,
        };
        assert!(matches!(
            complete(
                m.state("T").unwrap(),
                &json!({}),
                Err(StatesError::new("X", "")),
                &[],
                &sc
            ),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn map_items_selector_and_errors() {
        let m = machine(
            json!({"M": {"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 2,
            "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}),
        );
        match run_enter(&m, "M", json!({"xs": ["a", "b"], "k": 1})) {
            Action::RunIterations {
                items,
                max_concurrency,
                ..
            } => {
                assert_eq!(
                    items,
                    vec![
                        json!({"i": 0, "v": "a", "k": 1}),
                        json!({"i": 1, "v": "b", "k": 1})
                    ]
                );
                assert_eq!(max_concurrency, 2);
            }
            o => panic!("{o:?}"),
        }
        // AWS's words (TestState recordings): the path, `$$` written with one `$`.
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "M", json!({"xs": true})) else {
            panic!()
        };
        assert_eq!(e.error, names::RUNTIME);
        assert_eq!(e.cause, "Reference path \"$.xs\" must point to array.");
        let m = machine(
            json!({"M": {"Type": "Map", "ItemsPath": "$$.Execution.Input",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}),
        );
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "M", json!([])) else {
            panic!()
        };
        assert_eq!(
            e.cause,
            "Reference path \"$.Execution.Input\" must point to array."
        );
    }

    #[test]
    fn bad_tolerance_paths_fail_after_the_map_starts() {
        let m = machine(
            json!({"M": {"Type": "Map", "ToleratedFailureCountPath": "$.t",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}),
        );
        match run_enter(&m, "M", json!([1, 2])) {
            Action::RunIterations { failure: None, .. } => {
                panic!("no tolerance path value should fail")
            }
            Action::RunIterations {
                failure: Some(e), ..
            } => {
                assert_eq!(e.error, names::RUNTIME);
                assert!(e.cause.contains("ToleratedFailureCountPath"), "{}", e.cause);
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn map_tolerance() {
        assert!(map_failure_tolerated(0, 10, None, None));
        assert!(!map_failure_tolerated(1, 10, None, None));
        assert!(map_failure_tolerated(2, 10, Some(2), None));
        assert!(map_failure_tolerated(2, 10, None, Some(20.0)));
        assert!(!map_failure_tolerated(3, 10, Some(2), Some(20.0)));
    }

    #[test]
    fn oversized_output_is_data_limit_exceeded() {
        let m = machine(json!({"A": {"Type": "Pass", "End": true}}));
        let big = json!({"s": "x".repeat(MAX_PAYLOAD_BYTES)});
        let Action::Complete(Outcome::Fail(e)) = run_enter(&m, "A", big) else {
            panic!()
        };
        assert_eq!(e.error, names::DATA_LIMIT_EXCEEDED);
    }

    // ----- JSONata states and variables -----

    fn jsonata(states: Value) -> StateMachine {
        let first = states
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap();
        compile(
            &json!({"QueryLanguage": "JSONata", "StartAt": first, "States": states}),
            CompileOptions::default(),
        )
        .unwrap()
    }

    fn vars(v: Value) -> Variables {
        match v {
            Value::Object(m) => m,
            _ => Variables::new(),
        }
    }

    fn enter_with(m: &StateMachine, name: &str, input: Value, v: &Variables) -> Action {
        let (c, _) = ctx();
        let sc = StepContext {
            context: &c,
            vars: v,
            entered_event_id: 2,
            seed: 1,
            inspect: None,
            item_reader_data: None,
        };
        enter(m.state(name).unwrap(), &input, &[], &sc)
    }

    fn complete_with(
        m: &StateMachine,
        name: &str,
        input: Value,
        result: Result<Value, StatesError>,
        v: &Variables,
    ) -> Outcome {
        let (c, _) = ctx();
        let sc = StepContext {
            context: &c,
            vars: v,
            entered_event_id: 2,
            seed: 1,
            inspect: None,
            item_reader_data: None,
        };
        complete(m.state(name).unwrap(), &input, result, &[], &sc)
    }

    fn failed(a: Action) -> StatesError {
        match a {
            Action::Complete(Outcome::Fail(e)) => e,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn jsonata_pass_output_and_assign_read_the_old_variables() {
        let m = jsonata(json!({"A": {"Type": "Pass", "End": true,
            "Output": {"x": "{% $states.input.x %}", "v": "{% $v %}", "lit": [1, "{% $v * 2 %}"]},
            "Assign": {"v": "{% $v + $states.input.x %}", "c": "constant"}}}));
        let a = enter_with(&m, "A", json!({"x": 1}), &vars(json!({"v": 5})));
        assert_eq!(
            a,
            Action::Complete(Outcome::End {
                output: json!({"x": 1, "v": 5, "lit": [1, 10]}),
                assigned: vars(json!({"v": 6, "c": "constant"}))
            })
        );
        // Without Output, the output is the input.
        let m = jsonata(json!({"A": {"Type": "Pass", "End": true}}));
        assert!(
            matches!(enter_with(&m, "A", json!({"k": 1}), &Variables::new()),
            Action::Complete(Outcome::End { output, .. }) if output == json!({"k": 1}))
        );
    }

    #[test]
    fn jsonata_undefined_is_a_query_evaluation_error_naming_the_field() {
        let m = jsonata(
            json!({"A": {"Type": "Pass", "Output": {"result": "{% $doesNotExist %}"}, "End": true}}),
        );
        let e = failed(enter_with(&m, "A", json!({}), &Variables::new()));
        assert_eq!(e.error, names::QUERY_EVALUATION_ERROR);
        assert_eq!(
            e.cause,
            "An error occurred while executing the state 'A' (entered at the event id #2). The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        );
        assert_eq!(e.location.as_deref(), Some("Output/result"));
        let m = jsonata(
            json!({"A": {"Type": "Pass", "Assign": {"x": "{% $states.input.a + 'b' %}"}, "End": true}}),
        );
        let e = failed(enter_with(&m, "A", json!({"a": 1}), &Variables::new()));
        assert!(
            e.cause.contains(
                "specified for the field 'Assign/x' threw an error during evaluation. T2002: The right side"
            ),
            "{}",
            e.cause
        );
    }

    #[test]
    fn jsonata_choice_rules_and_default() {
        let m = jsonata(json!({"C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.n > 10 %}", "Next": "Big",
                 "Output": {"size": "big"}, "Assign": {"seen": "{% $states.input.n %}"}},
                {"Condition": true, "Next": "Always"}],
                "Default": "Small", "Output": {"size": "default"}, "Assign": {"seen": "none"}},
            "Big": {"Type": "Succeed"}, "Always": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}));
        let v = Variables::new();
        assert_eq!(
            enter_with(&m, "C", json!({"n": 11}), &v),
            Action::Complete(Outcome::Next {
                state: "Big".into(),
                output: json!({"size": "big"}),
                assigned: vars(json!({"seen": 11}))
            })
        );
        // The literal `true` rule matches; the state's Output/Assign are for Default only.
        assert_eq!(
            enter_with(&m, "C", json!({"n": 1}), &v),
            Action::Complete(Outcome::Next {
                state: "Always".into(),
                output: json!({"n": 1}),
                assigned: Variables::new()
            })
        );
        let m = jsonata(json!({"C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.n %}", "Next": "X"}],
                "Default": "Y", "Output": {"size": "default"}, "Assign": {"seen": "none"}},
            "X": {"Type": "Succeed"}, "Y": {"Type": "Succeed"}}));
        let e = failed(enter_with(&m, "C", json!({"n": 1}), &v));
        assert!(e.cause.ends_with("The JSONata expression '$states.input.n' specified for the field 'Choices[0]/Condition' returned an unexpected result type. Expected 'boolean', but was 'number' for value: 1"), "{}", e.cause);
        let m = jsonata(json!({"C": {"Type": "Choice", "Choices": [
                {"Condition": false, "Next": "X"}],
                "Default": "Y", "Output": {"size": "default"}, "Assign": {"seen": "none"}},
            "X": {"Type": "Succeed"}, "Y": {"Type": "Succeed"}}));
        assert_eq!(
            enter_with(&m, "C", json!({}), &v),
            Action::Complete(Outcome::Next {
                state: "Y".into(),
                output: json!({"size": "default"}),
                assigned: vars(json!({"seen": "none"}))
            })
        );
    }

    #[test]
    fn jsonata_wait_seconds_and_timestamp() {
        let m = jsonata(
            json!({"W": {"Type": "Wait", "Seconds": "{% $states.input.s * 2 %}",
            "Assign": {"waited": true}, "End": true}}),
        );
        match enter_with(&m, "W", json!({"s": 3}), &Variables::new()) {
            Action::Wait { until, then } => {
                assert_eq!(until, WaitUntil::Seconds(6));
                assert_eq!(
                    then,
                    Outcome::End {
                        output: json!({"s": 3}),
                        assigned: vars(json!({"waited": true}))
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        let m = jsonata(
            json!({"W": {"Type": "Wait", "Timestamp": "{% $states.input.t %}", "End": true}}),
        );
        assert!(matches!(
            enter_with(
                &m,
                "W",
                json!({"t": "2016-03-05T21:29:29.243167252Z"}),
                &Variables::new()
            ),
            Action::Wait {
                until: WaitUntil::Timestamp(_),
                ..
            }
        ));
        let e = failed(enter_with(
            &m,
            "W",
            json!({"t": "2016-12-05 21:29:29Z"}),
            &Variables::new(),
        ));
        assert_eq!(e.error, names::QUERY_EVALUATION_ERROR);
        assert!(e.cause.ends_with("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: 2016-12-05 21:29:29Z"));
        assert_eq!(e.location.as_deref(), Some("Timestamp"));
    }

    #[test]
    fn jsonata_task_arguments_timeouts_output_and_assign() {
        let m = jsonata(json!({"T": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
            "Arguments": {"id": "{% $states.input.id %}", "ctx": "{% $states.context.Execution.Id %}"},
            "TimeoutSeconds": "{% $t %}", "HeartbeatSeconds": 2,
            "Output": {"r": "{% $states.result.value %}", "in": "{% $states.input.id %}"},
            "Assign": {"last": "{% $states.result.value %}"}, "End": true}}));
        let v = vars(json!({"t": 30}));
        assert_eq!(
            enter_with(&m, "T", json!({"id": 7}), &v),
            Action::RunTask {
                resource: "arn:aws:states:us-east-1:123456789012:activity:a".into(),
                input: json!({"id": 7, "ctx": "arn:x"}),
                timeout_seconds: Some(30),
                heartbeat_seconds: Some(2),
                credentials: None,
            }
        );
        assert_eq!(
            complete_with(&m, "T", json!({"id": 7}), Ok(json!({"value": "v"})), &v),
            Outcome::End {
                output: json!({"r": "v", "in": 7}),
                assigned: vars(json!({"last": "v"}))
            }
        );
        let e = failed(enter_with(
            &m,
            "T",
            json!({"id": 7}),
            &vars(json!({"t": 0})),
        ));
        assert_eq!(e.location.as_deref(), Some("TimeoutSeconds"));
        // Without Output a JSONata task's output is its result; without Arguments its input is the state input.
        let m = jsonata(json!({"T": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true}}));
        assert!(
            matches!(enter_with(&m, "T", json!({"k": 1}), &Variables::new()),
            Action::RunTask { input, .. } if input == json!({"k": 1}))
        );
        assert!(matches!(
            complete_with(&m, "T", json!({"k": 1}), Ok(json!([1])), &Variables::new()),
            Outcome::End { output, .. } if output == json!([1])
        ));
    }

    #[test]
    fn jsonata_catch_output_and_assign_see_the_error_output() {
        let m = jsonata(json!({"T": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true,
            "Assign": {"never": 1},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H",
                "Output": {"err": "{% $states.errorOutput.Error %}", "in": "{% $states.input.k %}"},
                "Assign": {"cause": "{% $states.errorOutput.Cause %}"}}]},
            "H": {"Type": "Succeed"}}));
        match complete_with(
            &m,
            "T",
            json!({"k": 1}),
            Err(StatesError::new("Boom", "why")),
            &Variables::new(),
        ) {
            Outcome::Caught {
                state,
                output,
                assigned,
                ..
            } => {
                assert_eq!(state, "H");
                assert_eq!(output, json!({"err": "Boom", "in": 1}));
                assert_eq!(assigned, vars(json!({"cause": "why"})));
            }
            o => panic!("{o:?}"),
        }
        let m = jsonata(json!({"T": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
            "H": {"Type": "Succeed"}}));
        assert!(matches!(
            complete_with(&m, "T", json!({"k": 1}), Err(StatesError::new("Boom", "why")), &Variables::new()),
            Outcome::Caught { output, .. } if output == json!({"Error": "Boom", "Cause": "why"})
        ));
        // A failed Output evaluation is caught like any other error.
        let m = jsonata(json!({"T": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true,
            "Output": "{% $states.result.missing %}",
            "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "H"}]},
            "H": {"Type": "Succeed"}}));
        match complete_with(&m, "T", json!({}), Ok(json!({})), &Variables::new()) {
            Outcome::Caught { error, .. } => assert_eq!(error.location.as_deref(), Some("Output")),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn jsonata_fail_error_and_cause() {
        let m = jsonata(
            json!({"F": {"Type": "Fail", "Error": "{% $states.input.e %}", "Cause": "{% 'c' & $n %}"}}),
        );
        assert_eq!(
            enter_with(&m, "F", json!({"e": "E"}), &vars(json!({"n": 1}))),
            Action::Complete(Outcome::Fail(StatesError::new("E", "c1")))
        );
        let e = failed(enter_with(&m, "F", json!({"e": 1}), &vars(json!({"n": 1}))));
        assert_eq!(e.location.as_deref(), Some("Error"));
    }

    #[test]
    fn jsonata_map_items_selector_and_numbers() {
        let m = jsonata(json!({"M": {"Type": "Map", "End": true,
            "Items": [1, "{% $number('2') %}", "{% $states.input.x %}"],
            "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}", "k": "{% $k %}"},
            "MaxConcurrency": "{% $k %}", "ToleratedFailureCount": "{% 1 %}", "ToleratedFailurePercentage": "{% 12.5 %}",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}));
        match enter_with(&m, "M", json!({"x": 3}), &vars(json!({"k": 2}))) {
            Action::RunIterations {
                items,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
                ..
            } => {
                assert_eq!(
                    items,
                    vec![
                        json!({"v": 1, "i": 0, "k": 2}),
                        json!({"v": 2, "i": 1, "k": 2}),
                        json!({"v": 3, "i": 2, "k": 2})
                    ]
                );
                assert_eq!(max_concurrency, 2);
                assert_eq!(tolerated_failure_count, Some(1));
                assert_eq!(tolerated_failure_percentage, Some(12.5));
            }
            o => panic!("{o:?}"),
        }
        let m = jsonata(
            json!({"M": {"Type": "Map", "End": true, "Items": "{% $states.input.xs %}",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}),
        );
        let e = failed(enter_with(
            &m,
            "M",
            json!({"xs": {"foo": "bar"}}),
            &Variables::new(),
        ));
        assert!(e.cause.ends_with("The JSONata expression '$states.input.xs' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"), "{}", e.cause);
        let m = jsonata(json!({"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}));
        let e = failed(enter_with(&m, "M", json!(true), &Variables::new()));
        assert_eq!(e.error, names::QUERY_EVALUATION_ERROR);
        assert!(
            e.cause
                .ends_with("Map state input must be an array but was: true")
        );
    }

    #[test]
    fn jsonata_parallel_arguments_and_result() {
        let m = jsonata(json!({"P": {"Type": "Parallel", "End": true,
            "Arguments": {"a": "{% $states.input.a %}"},
            "Output": "{% $states.result[1] %}",
            "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}},
                         {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "End": true}}}]}}));
        assert_eq!(
            enter_with(&m, "P", json!({"a": 1, "b": 2}), &Variables::new()),
            Action::RunBranches {
                input: json!({"a": 1})
            }
        );
        assert!(matches!(
            complete_with(&m, "P", json!({}), Ok(json!([{"x": 1}, {"y": 2}])), &Variables::new()),
            Outcome::End { output, .. } if output == json!({"y": 2})
        ));
    }

    #[test]
    fn jsonpath_assign_reads_the_result_effective_input_or_error_output() {
        // Pass: `$` is the result (Parameters or Result), not the raw input.
        let m = machine(
            json!({"A": {"Type": "Pass", "Parameters": {"input": "PENDING"},
            "Assign": {"r.$": "$.input", "lit": "{% not evaluated %}", "ctx.$": "$$.Execution.Id", "old.$": "$v"}, "End": true}}),
        );
        assert_eq!(
            enter_with(&m, "A", json!({}), &vars(json!({"v": 1}))),
            Action::Complete(Outcome::End {
                output: json!({"input": "PENDING"}),
                assigned: vars(
                    json!({"r": "PENDING", "lit": "{% not evaluated %}", "ctx": "arn:x", "old": 1})
                )
            })
        );
        // Choice: a matching rule's Assign, or the state's with Default.
        let m = machine(json!({"C": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericEquals": 42, "Assign": {"status": "CORRECT"}, "Next": "F"}],
                "Assign": {"status": "INCORRECT", "guess.$": "$.n"}, "Default": "F"},
            "F": {"Type": "Succeed"}}));
        assert!(
            matches!(enter_with(&m, "C", json!({"n": 42}), &Variables::new()),
            Action::Complete(Outcome::Next { assigned, .. }) if assigned == vars(json!({"status": "CORRECT"})))
        );
        assert!(
            matches!(enter_with(&m, "C", json!({"n": "42"}), &Variables::new()),
            Action::Complete(Outcome::Next { assigned, .. }) if assigned == vars(json!({"status": "INCORRECT", "guess": "42"})))
        );
        // Task: `$` is the raw result, before ResultSelector.
        let m = machine(
            json!({"T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
            "ResultSelector": {"v.$": "$.value"}, "Assign": {"raw.$": "$"}, "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "ResultPath": "$.e", "Next": "H"}]},
            "H": {"Type": "Succeed"}}),
        );
        assert_eq!(
            complete_with(
                &m,
                "T",
                json!({}),
                Ok(json!({"value": 1, "x": 2})),
                &Variables::new()
            ),
            Outcome::End {
                output: json!({"v": 1}),
                assigned: vars(json!({"raw": {"value": 1, "x": 2}}))
            }
        );
        match complete_with(
            &m,
            "T",
            json!({"k": 1}),
            Err(StatesError::new("E", "c")),
            &Variables::new(),
        ) {
            Outcome::Caught {
                output, assigned, ..
            } => {
                assert_eq!(output, json!({"k": 1, "e": {"Error": "E", "Cause": "c"}}));
                assert_eq!(assigned, vars(json!({"err": "E"})));
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn jsonpath_output_path_reads_variables_before_the_assignment() {
        let m = machine(
            json!({"A": {"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer",
            "OutputPath": "$answer", "Assign": {"answer": "<omitted>"}, "End": true}}),
        );
        assert_eq!(
            enter_with(&m, "A", json!({}), &vars(json!({"answer": 42}))),
            Action::Complete(Outcome::End {
                output: json!(42),
                assigned: vars(json!({"answer": "<omitted>"}))
            })
        );
    }

    #[test]
    fn assignments_are_size_limited() {
        let big = "x".repeat(MAX_ASSIGNMENT_BYTES);
        let m = jsonata(
            json!({"A": {"Type": "Pass", "Assign": {"big": "{% $states.input.s %}"}, "End": true}}),
        );
        let e = failed(enter_with(&m, "A", json!({"s": big}), &Variables::new()));
        assert_eq!(e.error, names::DATA_LIMIT_EXCEEDED);
        // Many variables in scope: the total is bounded too.
        let chunk = "y".repeat(200_000);
        let scope: Variables = (0..60).map(|i| (format!("v{i}"), json!(chunk))).collect();
        let m = jsonata(
            json!({"A": {"Type": "Pass", "Assign": {"one": "{% $states.input.s %}"}, "End": true}}),
        );
        let e = failed(enter_with(&m, "A", json!({"s": chunk}), &scope));
        assert_eq!(e.error, names::DATA_LIMIT_EXCEEDED);
        // Overwriting a variable does not count it twice.
        let scope: Variables = (0..50).map(|i| (format!("v{i}"), json!(chunk))).collect();
        let m = jsonata(
            json!({"A": {"Type": "Pass", "Assign": {"v0": "{% $states.input.s %}"}, "End": true}}),
        );
        assert!(matches!(
            enter_with(&m, "A", json!({"s": chunk}), &scope),
            Action::Complete(Outcome::End { .. })
        ));
    }
}
