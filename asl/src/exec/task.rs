//! Tasks: scheduling a Task state's work (an activity, a callback, a nested
//! execution, a service call, a mocked answer), recording its start, heartbeats
//! and result, and the queries the engine makes after a restart.

use super::frame::{Frame, Pending};
use super::text::to_text;
use super::{ChildMode, Cx, IntegrationCall, QUIET_TASK_IDS, Request, Runtime};
use crate::error::{StatesError, names};
use crate::resource::{self, Pattern, Resource as AslResource};
use crate::step::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a task waits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskKind {
    /// An activity task, handed to a poller of `activity`.
    Activity { activity: String },
    /// A callback: the task waits for `SendTaskSuccess`/`Failure` with its token.
    Callback,
    /// A nested execution on this coordinator (`states:startExecution.sync`).
    ChildExecution { child: String, output_json: bool },
    /// A call to a service (or a Lambda function), made by the engine's
    /// integrations after the round commits.
    Service {
        /// `.waitForTaskToken`: once the call is made, wait for the token.
        wait_token: bool,
        /// The call was made (`TaskSubmitted` recorded).
        submitted: bool,
        /// `.sync`: the submitting call's answer (the job to wait for), kept
        /// so that a restart resumes the wait instead of submitting again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<Value>,
    },
}

/// A task the frame waits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskWait {
    /// The id of the scheduling event; the task token names it.
    pub scheduled_id: i64,
    pub kind: TaskKind,
    pub resource: String,
    pub input: Value,
    /// Absolute deadline (ms) from `TimeoutSeconds`.
    pub timeout_at: Option<i64>,
    pub heartbeat_seconds: Option<u64>,
    /// Absolute deadline (ms) of the next heartbeat, once started.
    pub heartbeat_at: Option<i64>,
    /// Handed to a worker (ActivityStarted recorded).
    pub started: bool,
    /// The event type prefix: `Activity`, `Task` or `LambdaFunction`.
    pub event_prefix: String,
    /// The `resourceType` of `Task...` events (`lambda`, `states`, `aws-sdk:s3`...).
    #[serde(default)]
    pub resource_type: String,
    /// A `lambda:invoke` served by an activity: the worker's answer is
    /// wrapped in Lambda's output shape.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lambda_shape: bool,
    /// `Credentials.RoleArn` of a service call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl TaskWait {
    /// The `resource` of its `Task...` events (`invoke`, `publish.waitForTaskToken`...).
    pub(super) fn resource_name(&self) -> String {
        resource::parse(&self.resource)
            .map(|r| r.resource_name())
            .unwrap_or_default()
    }

    /// The service call this task makes (again, after a restart or a reload).
    pub(super) fn call(&self, state: &str) -> IntegrationCall {
        IntegrationCall {
            scheduled_id: self.scheduled_id,
            state: state.to_owned(),
            resource: self.resource.clone(),
            parameters: self.input.clone(),
            token: None,
            timeout_seconds: None,
            role_arn: self.role_arn.clone(),
        }
    }
}

/// Which family of history events a task records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventPrefix {
    Activity,
    Task,
    LambdaFunction,
}

impl EventPrefix {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EventPrefix::Activity => "Activity",
            EventPrefix::Task => "Task",
            EventPrefix::LambdaFunction => "LambdaFunction",
        }
    }
}

/// How long a task may take, and with whose credentials.
pub(super) struct TaskLimits {
    pub(super) timeout_seconds: Option<u64>,
    pub(super) heartbeat_seconds: Option<u64>,
    pub(super) credentials: Option<Value>,
}

/// The `RoleArn` of resolved `Credentials`.
pub(super) fn role_arn(credentials: Option<&Value>) -> Option<String> {
    credentials?
        .get("RoleArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl Runtime {
    /// The id the next task scheduled by a frame gets: its scheduling event's
    /// id, or for a frame that records no events one of its own.
    pub(super) fn task_id(&self, quiet: bool) -> i64 {
        if quiet {
            QUIET_TASK_IDS + self.next_quiet_task
        } else {
            self.next_event_id
        }
    }

    pub(super) fn schedule_task(
        &mut self,
        cx: &mut Cx<'_>,
        f: &mut Frame,
        resource: String,
        input: Value,
        limits: TaskLimits,
    ) {
        let TaskLimits {
            timeout_seconds,
            heartbeat_seconds,
            credentials,
        } = limits;
        let scheduled_id = self.task_id(f.quiet);
        if f.quiet {
            self.next_quiet_task += 1;
        }
        let Ok(parsed) = resource::parse(&resource) else {
            // Compiled definitions hold only resources `parse` accepts.
            let e = StatesError::new(
                names::TASK_FAILED,
                format!("The resource '{resource}' is not recognized."),
            );
            return self.complete_task(cx, f, Err(e));
        };
        // A test case's mocked response stands in for the task's work.
        let mocked = cx.mock.and_then(|mock| {
            let n = self.mock_calls.get(&f.state).copied().unwrap_or(0);
            let r = mock(&f.state, n)?;
            self.mock_calls.insert(f.state.clone(), n + 1);
            Some(r)
        });
        let pattern = parsed.pattern();
        // A Lambda function the config maps to an activity is handed to its
        // workers (the payload as their input) instead of being called.
        let served = match (&parsed, cx.lambda_activity, &mocked) {
            (AslResource::LambdaFunction { .. }, Some(find), None) => {
                find(&resource).map(|a| (a, input.clone(), false))
            }
            (
                AslResource::Service {
                    service, action, ..
                },
                Some(find),
                None,
            ) if service == "lambda"
                && action == "invoke"
                && pattern == Pattern::RequestResponse =>
            {
                input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .and_then(find)
                    .map(|a| (a, input.get("Payload").cloned().unwrap_or(json!({})), true))
            }
            _ => None,
        };
        if let Some((activity, _, _)) = &served
            && !(cx.activity_exists)(activity)
        {
            let e = StatesError::runtime(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). The activity {} serving the Lambda function does not exist.",
                f.state, f.entered_id, activity
            ));
            return self.apply(cx, f, Outcome::Fail(e));
        }
        let (kind, prefix) = match (&parsed, mocked.is_some()) {
            _ if served.is_some() => (
                TaskKind::Activity {
                    activity: served.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
                },
                if matches!(parsed, AslResource::LambdaFunction { .. }) {
                    EventPrefix::LambdaFunction
                } else {
                    EventPrefix::Task
                },
            ),
            (AslResource::Activity, false) => {
                if !(cx.activity_exists)(&resource) {
                    let e = StatesError::runtime(format!(
                        "An error occurred while executing the state '{}' (entered at the event id #{}). The activity {} does not exist.",
                        f.state, f.entered_id, resource
                    ));
                    return self.apply(cx, f, Outcome::Fail(e));
                }
                (
                    TaskKind::Activity {
                        activity: resource.clone(),
                    },
                    EventPrefix::Activity,
                )
            }
            (AslResource::Activity, true) => (TaskKind::Callback, EventPrefix::Activity),
            (
                AslResource::Service {
                    service, action, ..
                },
                false,
            ) if service == "states" && action == "startExecution" => {
                let mode = match pattern {
                    Pattern::RequestResponse => ChildMode::Fire,
                    Pattern::Sync => ChildMode::Sync,
                    Pattern::Sync2 => ChildMode::Sync2,
                    Pattern::WaitForTaskToken => ChildMode::Token,
                };
                let Some(machine_arn) = input
                    .get("StateMachineArn")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                else {
                    let e = StatesError::new(
                        names::RUNTIME,
                        format!(
                            "An error occurred while executing the state '{}' (entered at the event id #{}). The field 'StateMachineArn' is required for {}",
                            f.state, f.entered_id, resource
                        ),
                    );
                    return self.apply(cx, f, Outcome::Fail(e));
                };
                let child_input = match input.get("Input") {
                    None => json!({}),
                    Some(Value::String(s)) => {
                        serde_json::from_str(s).unwrap_or(Value::String(s.clone()))
                    }
                    Some(v) => v.clone(),
                };
                let name = input.get("Name").and_then(Value::as_str).map(str::to_owned);
                let child =
                    crate::arn::execution_arn_for(&machine_arn, name.as_deref().unwrap_or(""));
                cx.requests.push(Request::StartChild {
                    scheduled_id,
                    machine_arn,
                    input: child_input,
                    name,
                    mode,
                });
                let kind = match mode {
                    ChildMode::Token => TaskKind::Callback,
                    _ => TaskKind::ChildExecution {
                        child,
                        output_json: mode == ChildMode::Sync2,
                    },
                };
                (kind, EventPrefix::Task)
            }
            (AslResource::LambdaFunction { .. }, _) => (
                TaskKind::Service {
                    submitted: false,
                    wait_token: false,
                    job: None,
                },
                EventPrefix::LambdaFunction,
            ),
            (_, _) => (
                TaskKind::Service {
                    submitted: false,
                    wait_token: pattern == Pattern::WaitForTaskToken,
                    job: None,
                },
                EventPrefix::Task,
            ),
        };
        let resource_type = parsed.resource_type();
        let resource_name = parsed.resource_name();
        let text = to_text(&input);
        let (event, details) = match prefix {
            EventPrefix::Activity => {
                let mut d = json!({"resource": resource, "input": text, "inputDetails": {"truncated": false}});
                if let Some(t) = timeout_seconds {
                    d["timeoutInSeconds"] = json!(t);
                }
                if let Some(h) = heartbeat_seconds {
                    d["heartbeatInSeconds"] = json!(h);
                }
                (
                    "ActivityScheduled",
                    json!({"activityScheduledEventDetails": d}),
                )
            }
            EventPrefix::LambdaFunction => {
                let mut d = json!({"resource": resource, "input": text, "inputDetails": {"truncated": false}});
                if let Some(t) = timeout_seconds {
                    d["timeoutInSeconds"] = json!(t);
                }
                (
                    "LambdaFunctionScheduled",
                    json!({"lambdaFunctionScheduledEventDetails": d}),
                )
            }
            EventPrefix::Task => {
                let mut d = json!({"resourceType": resource_type, "resource": resource_name, "region": cx.region, "parameters": text});
                if let Some(t) = timeout_seconds {
                    d["timeoutInSeconds"] = json!(t);
                }
                if let Some(h) = heartbeat_seconds {
                    d["heartbeatInSeconds"] = json!(h);
                }
                ("TaskScheduled", json!({"taskScheduledEventDetails": d}))
            }
        };
        let id = self.emit(cx, &mut f.last_event, f.quiet, event, details);
        debug_assert!(f.quiet || id == scheduled_id);
        let timeout_at = timeout_seconds.map(|s| cx.now + (s as i64) * 1000);
        if let Some(at) = timeout_at {
            cx.requests.push(Request::Timer { at });
        }
        if let TaskKind::Activity { activity } = &kind {
            cx.requests.push(Request::Activity {
                activity: activity.clone(),
                scheduled_id,
            });
        }
        let started_now = !matches!(kind, TaskKind::Activity { .. });
        let service_call = matches!(kind, TaskKind::Service { .. }) && mocked.is_none();
        let (worker_input, lambda_shape) = match served {
            Some((_, payload, wrap)) => (payload, wrap),
            None => (input.clone(), false),
        };
        f.pending = Pending::Task(TaskWait {
            scheduled_id,
            kind,
            resource: resource.clone(),
            input: worker_input,
            lambda_shape,
            role_arn: role_arn(credentials.as_ref()),
            timeout_at,
            heartbeat_seconds,
            heartbeat_at: None,
            started: false,
            event_prefix: prefix.as_str().to_owned(),
            resource_type: resource_type.clone(),
        });
        if started_now {
            // Work that is not handed to a poller starts at once; record
            // its start now so the history reads as AWS's does.
            self.mark_started(cx, f, "");
        }
        if let Some(mut result) = mocked {
            // A function's mocked response is given in `lambda:invoke`'s
            // shape; a Task naming the function's ARN gets its payload.
            if prefix == EventPrefix::LambdaFunction
                && let Ok(Value::Object(o)) = &mut result
                && let Some(payload) = o.remove("Payload")
            {
                result = Ok(payload);
            }
            // A mocked `.sync` or `.waitForTaskToken` task was submitted first.
            if prefix == EventPrefix::Task
                && matches!(
                    pattern,
                    Pattern::Sync | Pattern::Sync2 | Pattern::WaitForTaskToken
                )
            {
                self.emit(cx, &mut f.last_event, f.quiet, "TaskSubmitted", json!({"taskSubmittedEventDetails": {"resourceType": resource_type, "resource": resource_name, "output": "{}", "outputDetails": {"truncated": false}}}));
            }
            cx.requests.push(Request::Deliver {
                scheduled_id,
                result,
            });
        } else if service_call {
            let token =
                (pattern == Pattern::WaitForTaskToken).then(|| (cx.token_for)(scheduled_id));
            cx.requests.push(Request::Integration(IntegrationCall {
                scheduled_id,
                state: f.state.clone(),
                resource,
                parameters: input,
                token,
                timeout_seconds,
                role_arn: role_arn(credentials.as_ref()),
            }));
        }
    }

    /// Records that a task's work started (`...Started`), arming its heartbeat.
    pub(super) fn mark_started(&mut self, cx: &mut Cx<'_>, f: &mut Frame, worker: &str) {
        let Pending::Task(t) = &mut f.pending else {
            return;
        };
        if t.started {
            return;
        }
        t.started = true;
        if let Some(h) = t.heartbeat_seconds {
            let at = cx.now + (h as i64) * 1000;
            t.heartbeat_at = Some(at);
            cx.requests.push(Request::Timer { at });
        }
        let (event, details) = match t.event_prefix.as_str() {
            "Activity" => (
                "ActivityStarted",
                json!({"activityStartedEventDetails": {"workerName": worker}}),
            ),
            "LambdaFunction" => ("LambdaFunctionStarted", json!({})),
            _ => {
                let resource_name = t.resource_name();
                (
                    "TaskStarted",
                    json!({"taskStartedEventDetails": {"resourceType": t.resource_type, "resource": resource_name}}),
                )
            }
        };
        self.emit(cx, &mut f.last_event, f.quiet, event, details);
    }

    /// Records that a service call of a `.sync` or `.waitForTaskToken` task
    /// was made (`TaskSubmitted` with the service's answer); the task now
    /// waits for its job or its token. `false` when there is no such task.
    pub fn task_submitted(&mut self, cx: &mut Cx<'_>, scheduled_id: i64, output: &Value) -> bool {
        self.with_task_frame(scheduled_id, cx, |rt, cx, f| {
            let Pending::Task(t) = &mut f.pending else {
                return;
            };
            let TaskKind::Service { submitted, job, .. } = &mut t.kind else {
                return;
            };
            *submitted = true;
            if resource::parse(&t.resource)
                .is_ok_and(|r| matches!(r.pattern(), Pattern::Sync | Pattern::Sync2))
            {
                *job = Some(output.clone());
            }
            let resource_name = t.resource_name();
            let details = json!({"taskSubmittedEventDetails": {"resourceType": t.resource_type, "resource": resource_name, "output": to_text(output), "outputDetails": {"truncated": false}}});
            rt.emit(cx, &mut f.last_event, f.quiet, "TaskSubmitted", details);
        })
    }

    /// Records that a task was handed to a worker.
    pub fn task_started(
        &mut self,
        cx: &mut Cx<'_>,
        scheduled_id: i64,
        worker: &str,
    ) -> Option<Value> {
        let mut input = None;
        self.with_task_frame(scheduled_id, cx, |rt, cx, f| {
            let Pending::Task(t) = &f.pending else {
                return;
            };
            if t.started {
                return;
            }
            input = Some(t.input.clone());
            rt.mark_started(cx, f, worker);
        });
        input
    }

    /// Reports a task's result (worker answer, child execution end).
    pub fn task_result(
        &mut self,
        cx: &mut Cx<'_>,
        scheduled_id: i64,
        result: Result<Value, StatesError>,
    ) -> bool {
        let found = self.with_task_frame(scheduled_id, cx, |rt, cx, f| {
            let Pending::Task(t) = &f.pending else { return };
            let prefix = t.event_prefix.clone();
            let resource_type = t.resource_type.clone();
            // Only `Task...` events name the resource (not on an activity's path).
            let resource_name = if prefix == "Task" {
                t.resource_name()
            } else {
                String::new()
            };
            // An activity's answer to a `lambda:invoke`, in Lambda's output shape.
            let result = match result {
                Ok(payload) if t.lambda_shape => Ok(json!({
                    "ExecutedVersion": "$LATEST",
                    "Payload": payload,
                    "StatusCode": 200,
                })),
                r => r,
            };
            let (ev, details) = match (&result, prefix.as_str()) {
                (Ok(v), "Activity") => ("ActivitySucceeded", json!({"activitySucceededEventDetails": {"output": to_text(v), "outputDetails": {"truncated": false}}})),
                (Err(e), "Activity") => ("ActivityFailed", json!({"activityFailedEventDetails": {"error": e.error, "cause": e.cause}})),
                (Ok(v), "LambdaFunction") => ("LambdaFunctionSucceeded", json!({"lambdaFunctionSucceededEventDetails": {"output": to_text(v), "outputDetails": {"truncated": false}}})),
                (Err(e), "LambdaFunction") => ("LambdaFunctionFailed", json!({"lambdaFunctionFailedEventDetails": {"error": e.error, "cause": e.cause}})),
                (Ok(v), _) => ("TaskSucceeded", json!({"taskSucceededEventDetails": {"resource": resource_name, "resourceType": resource_type, "output": to_text(v), "outputDetails": {"truncated": false}}})),
                (Err(e), _) => ("TaskFailed", json!({"taskFailedEventDetails": {"resource": resource_name, "resourceType": resource_type, "error": e.error, "cause": e.cause}})),
            };
            rt.emit(cx, &mut f.last_event, f.quiet, ev, details);
            rt.complete_task(cx, f, result);
        });
        if found {
            self.drive(cx);
        }
        found
    }

    /// Extends a started task's heartbeat deadline. Returns false when there is no such task.
    pub fn heartbeat(&mut self, cx: &mut Cx<'_>, scheduled_id: i64) -> bool {
        let Some(f) = self.find_task_frame(scheduled_id) else {
            return false;
        };
        if let Pending::Task(t) = &mut f.pending
            && let Some(h) = t.heartbeat_seconds
        {
            let at = cx.now + (h as i64) * 1000;
            t.heartbeat_at = Some(at);
            cx.requests.push(Request::Timer { at });
        }
        true
    }

    /// `.sync` jobs this runtime waits on: the submitting call and its answer.
    pub fn pending_sync_jobs(&self) -> Vec<(IntegrationCall, Value)> {
        let mut out = Vec::new();
        self.root.walk(&mut |f| {
            if let Pending::Task(t) = &f.pending
                && let TaskKind::Service { job: Some(job), .. } = &t.kind
            {
                out.push((t.call(&f.state), job.clone()));
            }
        });
        out
    }

    /// Service calls this runtime waits on that were not made yet or whose
    /// answer was lost with the process (re-made after a restart).
    pub fn pending_service_calls(&self) -> Vec<IntegrationCall> {
        let mut out = Vec::new();
        self.root.walk(&mut |f| {
            if let Pending::Task(t) = &f.pending
                && let TaskKind::Service {
                    submitted: false, ..
                } = t.kind
            {
                out.push(t.call(&f.state));
            }
        });
        out
    }

    /// Activity tasks waiting for a worker (for re-queueing after a restart).
    pub fn unstarted_activities(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        self.root.walk(&mut |f| {
            if let Pending::Task(t) = &f.pending
                && let (TaskKind::Activity { activity }, false) = (&t.kind, t.started)
            {
                out.push((activity.clone(), t.scheduled_id));
            }
        });
        out
    }

    /// Child executions this runtime waits on: (scheduled id, child ARN).
    pub fn child_tasks(&self) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        self.root.walk(&mut |f| {
            if let Pending::Task(TaskWait {
                scheduled_id,
                kind: TaskKind::ChildExecution { child, .. },
                ..
            }) = &f.pending
            {
                out.push((*scheduled_id, child.clone()));
            }
        });
        out
    }

    /// Whether task `scheduled_id` is still waiting and not yet handed out.
    pub fn task_waiting(&mut self, scheduled_id: i64) -> bool {
        self.find_task_frame(scheduled_id)
            .is_some_and(|f| matches!(&f.pending, Pending::Task(t) if !t.started))
    }
}
