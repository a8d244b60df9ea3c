//! The runtime state of one execution — a tree of frames, one per running
//! (sub-)machine: the top level, each Parallel branch, each Map iteration —
//! and the code that drives it by asking [`crate::step`] what happens next.
//! Everything here is serializable: the engine persists it with every commit,
//! and a restart resumes from it.
//!
//! This is the one runtime of the language: the coordinator's engine, the
//! in-process runner ([`crate::local`]), the benchmarks and the conformance
//! example all drive it. Like the rest of the crate it does no I/O and reads
//! no clock: time, seeds and what exists around it come in through [`Cx`].

use crate::env::{Variables, iso8601};
use crate::error::{StatesError, names};
use crate::model::{MapMode, StateKind, StateMachine, StatePhase};
use crate::resource::{self, Pattern, Resource as AslResource};
use crate::step::{self, Action, Outcome, StepContext, WaitUntil};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The most events an execution's history may hold, as on AWS.
pub const MAX_HISTORY_EVENTS: i64 = 25_000;

/// How to find a nested machine from the top-level one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nest {
    /// Branch `index` of the Parallel state `state`.
    Branch { state: String, index: usize },
    /// The processor of the Map state `state`.
    Processor { state: String },
}

/// Applies the variables a state assigned to its frame's scope.
fn assign(vars: &mut Arc<Variables>, assigned: Variables) {
    if !assigned.is_empty() {
        Arc::make_mut(vars).extend(assigned);
    }
}

/// (De)serializes a frame's shared variable scope as a plain JSON object.
mod shared_vars {
    use crate::env::Variables;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub(super) fn serialize<S: Serializer>(v: &Arc<Variables>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Variables>, D::Error> {
        Variables::deserialize(d).map(Arc::new)
    }
}

/// Finds the machine a frame runs.
pub fn machine_at<'a>(root: &'a StateMachine, path: &[Nest]) -> Option<&'a StateMachine> {
    let mut m = root;
    for n in path {
        m = match n {
            Nest::Branch { state, index } => match &m.state(state)?.kind {
                StateKind::Parallel { branches } => branches.get(*index)?,
                _ => return None,
            },
            Nest::Processor { state } => match &m.state(state)?.kind {
                StateKind::Map(map) => &map.processor,
                _ => return None,
            },
        };
    }
    Some(m)
}

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
    fn resource_name(&self) -> String {
        resource::parse(&self.resource)
            .map(|r| r.resource_name())
            .unwrap_or_default()
    }

    /// The service call this task makes (again, after a restart or a reload).
    fn call(&self, state: &str) -> IntegrationCall {
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
enum EventPrefix {
    Activity,
    Task,
    LambdaFunction,
}

impl EventPrefix {
    fn as_str(self) -> &'static str {
        match self {
            EventPrefix::Activity => "Activity",
            EventPrefix::Task => "Task",
            EventPrefix::LambdaFunction => "LambdaFunction",
        }
    }
}

/// What a frame does after its state was entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pending {
    /// The state must be entered (or re-entered for a retry).
    Ready,
    /// A Wait state or a Retry delay.
    Timer {
        id: i64,
        until: i64,
        /// `None`: re-enter (retry); `Some`: apply this outcome (Wait).
        then: Option<StoredOutcome>,
    },
    /// Waiting for a task.
    Task(TaskWait),
    /// Waiting for branches or iterations.
    Children(Box<Children>),
    /// The frame finished.
    Done(Result<Value, StatesError>),
}

/// An [`Outcome`] in a serializable form (only Next/End come out of a Wait).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredOutcome {
    Next {
        state: String,
        output: Value,
        #[serde(default)]
        assigned: Variables,
    },
    End {
        output: Value,
        #[serde(default)]
        assigned: Variables,
    },
}

/// Branches of a Parallel state or iterations of a Map state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Children {
    pub is_map: bool,
    /// Distributed map: iteration events are not recorded in this history.
    pub quiet: bool,
    /// Running or finished children, by index.
    pub frames: Vec<Option<Frame>>,
    /// Map: items not yet started.
    pub waiting: VecDeque<(usize, Value)>,
    pub results: Vec<Option<Value>>,
    pub max_concurrency: u64,
    pub running: usize,
    pub failed: usize,
    pub tolerated_count: Option<u64>,
    pub tolerated_percentage: Option<f64>,
    pub total: usize,
    pub error: Option<StatesError>,
    /// A distributed Map's run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<MapRun>,
    /// The event `...StateSucceeded` links to (`previousEventId`), as AWS
    /// links it: a Parallel's to the last event of its last branch, a Map's
    /// to the last iteration's `MapIterationSucceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_event: Option<i64>,
}

/// The identity of a distributed Map state's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRun {
    pub arn: String,
    /// `<machine ARN>/<label>`.
    pub state_machine_arn: String,
    pub start: i64,
}

/// What a distributed Map state's run did with its items, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRunCounts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub aborted: u64,
    pub total: u64,
}

/// A distributed Map state's run (its iterations run inline in the execution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunRecord {
    pub arn: String,
    pub execution_arn: String,
    /// `<machine ARN>/<Map state label>`.
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`.
    pub status: String,
    pub start: i64,
    pub stop: Option<i64>,
    /// 0: no limit.
    pub max_concurrency: u64,
    pub tolerated_failure_count: Option<u64>,
    pub tolerated_failure_percentage: Option<f64>,
    pub counts: MapRunCounts,
}

impl Children {
    /// The record of this distributed Map's run, as it stands (`None` for other children).
    pub fn map_run(
        &self,
        execution_arn: &str,
        status: &str,
        stop: Option<i64>,
    ) -> Option<MapRunRecord> {
        let run = self.run.as_ref()?;
        let succeeded = self.results.iter().filter(|r| r.is_some()).count();
        let ended = status != "RUNNING";
        // Once the run ended, what had not finished was aborted.
        let (running, pending, aborted) = if ended {
            (0, 0, self.total.saturating_sub(succeeded + self.failed))
        } else {
            (self.running, self.waiting.len(), 0)
        };
        Some(MapRunRecord {
            arn: run.arn.clone(),
            execution_arn: execution_arn.to_owned(),
            state_machine_arn: run.state_machine_arn.clone(),
            status: status.to_owned(),
            start: run.start,
            stop,
            max_concurrency: self.max_concurrency,
            tolerated_failure_count: self.tolerated_count,
            tolerated_failure_percentage: self.tolerated_percentage,
            counts: MapRunCounts {
                pending: pending as u64,
                running: running as u64,
                succeeded: succeeded as u64,
                failed: self.failed as u64,
                aborted: aborted as u64,
                total: self.total as u64,
            },
        })
    }
}

/// One running (sub-)machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub path: Vec<Nest>,
    /// The current state.
    pub state: String,
    /// Its raw input.
    pub input: Value,
    /// Whether `...StateEntered` was recorded for the current state.
    pub entered: bool,
    pub entered_id: i64,
    pub entered_time: i64,
    pub retry_counts: Vec<u32>,
    /// The last event of this frame (`previousEventId` of the next one).
    pub last_event: i64,
    pub pending: Pending,
    /// Events of this frame are not recorded (distributed map iterations).
    pub quiet: bool,
    /// The variables this frame's states read and assign. A Parallel branch or
    /// Map iteration starts with its parent's (shared until it assigns, then
    /// copied): it reads the outer variables, and what it assigns stays in
    /// its own copy.
    #[serde(default, with = "shared_vars")]
    pub vars: Arc<Variables>,
    /// A Parallel or Map state that failed: the result of each branch or
    /// iteration that succeeded (`None` for the others). A redrive runs only
    /// the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redo: Option<Vec<Option<Value>>>,
    /// `input` as the JSON string an event shows it as, when the previous
    /// state's exit event already wrote it (a Pass chain renders each value
    /// once, not twice). Not part of the frame's state.
    #[serde(skip)]
    input_text: Cached<Option<Vec<u8>>>,
}

/// Something kept to save work: not state, so what holds it compares and
/// persists without it.
#[derive(Debug, Clone, Default)]
struct Cached<T>(T);

impl<T> PartialEq for Cached<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Sets `key` to the string `value`, reusing the string already there.
fn set_text(o: &mut serde_json::Map<String, Value>, key: &str, value: &str) {
    match o.get_mut(key) {
        Some(Value::String(s)) => {
            s.clear();
            s.push_str(value);
        }
        _ => {
            o.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
}

impl Frame {
    /// A frame about to enter `state` with `input`.
    pub fn new(path: Vec<Nest>, state: String, input: Value, last_event: i64, quiet: bool) -> Self {
        Self {
            path,
            state,
            input,
            entered: false,
            entered_id: 0,
            entered_time: 0,
            retry_counts: Vec::new(),
            last_event,
            pending: Pending::Ready,
            quiet,
            vars: Arc::default(),
            redo: None,
            input_text: Cached::default(),
        }
    }

    /// Moves the frame on to `state` with `input`, keeping its path and variables.
    fn next_state(&mut self, state: String, input: Value) {
        let vars = std::mem::take(&mut self.vars);
        let last = self.last_event;
        *self = Frame::new(
            std::mem::take(&mut self.path),
            state,
            input,
            last,
            self.quiet,
        );
        self.vars = vars;
    }

    /// Visits this frame and every descendant.
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Frame)) {
        f(self);
        if let Pending::Children(c) = &mut self.pending {
            for ch in c.frames.iter_mut().flatten() {
                ch.walk_mut(f);
            }
        }
    }

    /// Visits this frame and every descendant.
    pub fn walk(&self, f: &mut dyn FnMut(&Frame)) {
        f(self);
        if let Pending::Children(c) = &self.pending {
            for ch in c.frames.iter().flatten() {
                ch.walk(f);
            }
        }
    }
}

/// Where the ids of tasks in frames that record no events start: far above
/// any event id (a history holds at most 25,000 events).
const QUIET_TASK_IDS: i64 = 1 << 40;

/// An execution's whole runtime state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub next_event_id: i64,
    pub root: Frame,
    /// Execution deadline (ms) from the machine's `TimeoutSeconds`.
    pub deadline: Option<i64>,
    /// Next timer id.
    pub next_timer: i64,
    /// Seed for intrinsics and jitter; advanced per step.
    pub seed: u64,
    /// Task ids that timed out (so late answers get `TaskTimedOut`).
    pub timed_out: Vec<i64>,
    /// Tasks of frames that record no events (distributed Map iterations)
    /// take their ids from here, above every event id, so that each task
    /// of the execution has its own id and token.
    #[serde(default)]
    pub next_quiet_task: i64,
    /// The mock test case this execution runs under (`<machine ARN>#<case>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_case: Option<String>,
    /// How often each mocked state was invoked (its next mocked response).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mock_calls: BTreeMap<String, u32>,
    /// Set while a Parallel/Map failure from its children is being applied.
    #[serde(skip)]
    pub children_failed: bool,
    /// The last `EnteredTime` written to the context, and its time: the
    /// states of one step mostly share it.
    #[serde(skip)]
    entered_text: Cached<(Option<i64>, String)>,
}

/// A history event produced while driving.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: i64,
    pub previous_id: i64,
    pub timestamp: i64,
    pub event_type: &'static str,
    /// The event's details as JSON text.
    pub details: String,
}

/// Requests the driver makes of the engine; carried out after the round commits.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Arm a timer at `at` (ms).
    Timer { at: i64 },
    /// Queue an activity task for pollers.
    Activity { activity: String, scheduled_id: i64 },
    /// Store a distributed Map's run record.
    MapRun(MapRunRecord),
    /// Call a service for a task (after the round commits).
    Integration(IntegrationCall),
    /// Report a task's result at once (a mocked response): the engine
    /// delivers it once this step is recorded.
    Deliver {
        scheduled_id: i64,
        result: Result<Value, StatesError>,
    },
    /// Start a nested execution.
    StartChild {
        scheduled_id: i64,
        machine_arn: String,
        input: Value,
        name: Option<String>,
        mode: ChildMode,
    },
}

/// A service call a task makes.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationCall {
    pub scheduled_id: i64,
    /// The Task state's name.
    pub state: String,
    /// The `Resource` ARN.
    pub resource: String,
    /// The effective parameters (after `Parameters`/`Arguments`).
    pub parameters: Value,
    /// The task token, for `.waitForTaskToken`.
    pub token: Option<String>,
    pub timeout_seconds: Option<u64>,
    /// `Credentials.RoleArn`: the role to assume for this call.
    pub role_arn: Option<String>,
}

/// How long a task may take, and with whose credentials.
struct TaskLimits {
    timeout_seconds: Option<u64>,
    heartbeat_seconds: Option<u64>,
    credentials: Option<Value>,
}

/// The `RoleArn` of resolved `Credentials`.
fn role_arn(credentials: Option<&Value>) -> Option<String> {
    credentials?
        .get("RoleArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// How a parent waits on a nested execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildMode {
    /// `states:startExecution`: returns once started.
    Fire,
    /// `.sync`: output as a JSON string.
    Sync,
    /// `.sync:2`: output as JSON.
    Sync2,
    /// `.waitForTaskToken`.
    Token,
}

/// What the driver needs from its surroundings.
pub struct Cx<'a> {
    pub machine: &'a StateMachine,
    /// The context object; the driver sets `State` (and `Task`) in place before each step.
    pub context: &'a mut Value,
    /// Not read any more: every frame carries its own variable scope
    /// ([`Frame::vars`]). Left in place until the engine stops passing it.
    pub vars: &'a Variables,
    pub now: i64,
    /// Wait and retry delays are multiplied by this (`--wait-time-scale`).
    pub wait_scale: f64,
    /// Whether events are recorded (not for EXPRESS executions): without it
    /// event ids still advance, but no details are written.
    pub history: bool,
    pub events: Vec<NewEvent>,
    pub requests: Vec<Request>,
    /// Whether an activity ARN exists.
    pub activity_exists: &'a dyn Fn(&str) -> bool,
    /// Makes the task token for a scheduling event id.
    pub token_for: &'a dyn Fn(i64) -> String,
    /// Region and account for resources.
    pub region: &'a str,
    pub account: &'a str,
    /// Execution ARN, for child execution names.
    pub execution_arn: &'a str,
    /// The execution's mock test case: the mocked response of a state's
    /// `n`th invocation (`None`: the state is not mocked).
    pub mock: Option<MockFn<'a>>,
    /// The activity that serves a Lambda function on-premise, if the
    /// coordinator's config maps the function to one.
    pub lambda_activity: Option<LambdaActivityFn<'a>>,
}

/// Answers the activity that serves a Lambda function (name or ARN), if any.
pub type LambdaActivityFn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Answers the mocked response of a state's `n`th invocation.
pub type MockFn<'a> = &'a dyn Fn(&str, u32) -> Option<Result<Value, StatesError>>;

impl Runtime {
    /// A new runtime starting at the machine's `StartAt` with `input`.
    pub fn new(machine: &StateMachine, input: Value, now: i64, seed: u64) -> Self {
        Self {
            next_event_id: 2,
            // As on AWS, the first state's `...StateEntered` links to 0, not to `ExecutionStarted`.
            root: Frame::new(Vec::new(), machine.start_at.clone(), input, 0, false),
            deadline: machine.timeout_seconds.map(|s| now + (s as i64) * 1000),
            next_timer: 1,
            seed,
            timed_out: Vec::new(),
            next_quiet_task: 0,
            mock_case: None,
            mock_calls: BTreeMap::new(),
            children_failed: false,
            entered_text: Cached::default(),
        }
    }

    /// Readies a failed, timed-out or aborted execution to run again from
    /// where it stopped (a redrive): the top-level state that failed, or was
    /// running when the execution stopped, is entered again with the raw
    /// input it had and its retries reset; the states before it are not run
    /// again and the variables they assigned stay. A Parallel or Map state
    /// runs again only the branches or iterations that did not succeed (each
    /// from its start). The execution's timeout starts over. `false` when the
    /// execution had succeeded.
    pub fn redrive(&mut self, machine: &StateMachine, now: i64) -> bool {
        let f = &mut self.root;
        match &mut f.pending {
            Pending::Done(Ok(_)) => return false,
            // Stopped while its branches or iterations ran: those that succeeded stay done.
            Pending::Children(ch) => f.redo = Some(std::mem::take(&mut ch.results)),
            _ => {}
        }
        f.pending = Pending::Ready;
        f.entered = false;
        f.retry_counts.clear();
        f.input_text = Cached::default();
        self.deadline = machine.timeout_seconds.map(|s| now + (s as i64) * 1000);
        true
    }

    fn emit(
        &mut self,
        cx: &mut Cx<'_>,
        frame_last: &mut i64,
        quiet: bool,
        event_type: &'static str,
        details: Value,
    ) -> i64 {
        self.emit_text(cx, frame_last, quiet, event_type, |out| {
            serde_json::to_writer(out, &details).ok();
        })
    }

    /// [`Self::emit`] with the details written by `write` as JSON text, and
    /// only if the history is kept.
    fn emit_text(
        &mut self,
        cx: &mut Cx<'_>,
        frame_last: &mut i64,
        quiet: bool,
        event_type: &'static str,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> i64 {
        if quiet {
            return *frame_last;
        }
        let id = self.next_event_id;
        self.next_event_id += 1;
        if cx.history {
            let mut out = Vec::with_capacity(256);
            write(&mut out);
            cx.events.push(NewEvent {
                id,
                previous_id: *frame_last,
                timestamp: cx.now,
                event_type,
                details: String::from_utf8(out).unwrap_or_default(),
            });
        }
        *frame_last = id;
        id
    }

    /// Drives the whole tree until every frame is blocked or the root is done.
    pub fn drive(&mut self, cx: &mut Cx<'_>) {
        let mut root = std::mem::replace(
            &mut self.root,
            Frame::new(Vec::new(), String::new(), Value::Null, 0, true),
        );
        self.drive_frame(cx, &mut root);
        self.root = root;
    }

    fn drive_frame(&mut self, cx: &mut Cx<'_>, f: &mut Frame) {
        // Bound the work of one drive so a cycle of Pass states cannot spin forever:
        // the history limit stops it.
        loop {
            if self.next_event_id > MAX_HISTORY_EVENTS + 1 {
                if !matches!(f.pending, Pending::Done(_)) {
                    f.pending = Pending::Done(Err(StatesError::new(
                        names::RUNTIME,
                        format!(
                            "The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
                        ),
                    )));
                }
                return;
            }
            match &mut f.pending {
                Pending::Ready => self.enter(cx, f),
                Pending::Children(_) => {
                    if !self.drive_children(cx, f) {
                        return;
                    }
                }
                Pending::Timer { .. } | Pending::Task(_) | Pending::Done(_) => return,
            }
        }
    }

    fn set_state_context(
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

    fn enter(&mut self, cx: &mut Cx<'_>, f: &mut Frame) {
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
        let sc = StepContext {
            context: cx.context,
            vars: f.vars.as_ref(),
            entered_event_id: f.entered_id as u64,
            seed: self.seed,
            inspect: None,
            item_reader_data: None,
        };
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
                let StateKind::Parallel { branches } = &state.kind else {
                    return;
                };
                let id = self.emit(
                    cx,
                    &mut f.last_event,
                    f.quiet,
                    "ParallelStateStarted",
                    json!({}),
                );
                let done = f.redo.take().filter(|d| d.len() == branches.len());
                let frames = branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        if done.as_ref().is_some_and(|d| d[i].is_some()) {
                            return None;
                        }
                        let mut path = f.path.clone();
                        path.push(Nest::Branch {
                            state: f.state.clone(),
                            index: i,
                        });
                        let mut child =
                            Frame::new(path, b.start_at.clone(), input.clone(), id, f.quiet);
                        child.vars = f.vars.clone();
                        Some(child)
                    })
                    .collect::<Vec<_>>();
                let n = frames.len();
                let running = frames.iter().flatten().count();
                f.pending = Pending::Children(Box::new(Children {
                    join_event: None,
                    is_map: false,
                    quiet: f.quiet,
                    frames,
                    waiting: VecDeque::new(),
                    results: done.unwrap_or_else(|| vec![None; n]),
                    max_concurrency: 0,
                    running,
                    failed: 0,
                    tolerated_count: None,
                    tolerated_percentage: None,
                    total: n,
                    error: None,
                    run: None,
                }));
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
                let distributed = m.mode == MapMode::Distributed;
                let n = items.len();
                self.emit(
                    cx,
                    &mut f.last_event,
                    f.quiet,
                    "MapStateStarted",
                    json!({"mapStateStartedEventDetails": {"length": n}}),
                );
                if let Some(e) = failure {
                    // AWS records MapStateStarted before this error.
                    let sc = StepContext {
                        context: cx.context,
                        vars: f.vars.as_ref(),
                        entered_event_id: f.entered_id as u64,
                        seed: self.seed,
                        inspect: None,
                        item_reader_data: None,
                    };
                    let o = step::handle_error(state, &f.input, e, &f.retry_counts, &sc);
                    return self.apply(cx, f, o);
                }
                let mut run = None;
                if distributed {
                    let label = m.label.as_deref().unwrap_or(&f.state);
                    let run_arn = format!(
                        "{}/{}:{}",
                        cx.execution_arn.replacen(":execution:", ":mapRun:", 1),
                        label,
                        self.next_event_id
                    );
                    let machine =
                        crate::arn::machine_of_execution(cx.execution_arn).unwrap_or_default();
                    run = Some(MapRun {
                        arn: run_arn.clone(),
                        state_machine_arn: format!("{machine}/{label}"),
                        start: cx.now,
                    });
                    self.emit(
                        cx,
                        &mut f.last_event,
                        f.quiet,
                        "MapRunStarted",
                        json!({"mapRunStartedEventDetails": {"mapRunArn": run_arn}}),
                    );
                }
                let done = f.redo.take().filter(|d| d.len() == n);
                let waiting = items
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| done.as_ref().is_none_or(|d| d[*i].is_none()))
                    .collect();
                let ch = Box::new(Children {
                    join_event: None,
                    is_map: true,
                    quiet: f.quiet || distributed,
                    frames: (0..n).map(|_| None).collect(),
                    waiting,
                    results: done.unwrap_or_else(|| vec![None; n]),
                    max_concurrency,
                    running: 0,
                    failed: 0,
                    tolerated_count: tolerated_failure_count,
                    tolerated_percentage: tolerated_failure_percentage,
                    total: n,
                    error: None,
                    run,
                });
                if let Some(r) = ch.map_run(cx.execution_arn, "RUNNING", None) {
                    cx.requests.push(Request::MapRun(r));
                }
                f.pending = Pending::Children(ch);
            }
        }
    }

    /// The id the next task scheduled by a frame gets: its scheduling event's
    /// id, or for a frame that records no events one of its own.
    fn task_id(&self, quiet: bool) -> i64 {
        if quiet {
            QUIET_TASK_IDS + self.next_quiet_task
        } else {
            self.next_event_id
        }
    }

    fn schedule_task(
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
            let raw = f.input.clone();
            return self.complete_task(cx, f, &raw, Err(e));
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
    fn mark_started(&mut self, cx: &mut Cx<'_>, f: &mut Frame, worker: &str) {
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

    /// Applies an outcome to a frame: records the exit (or failure) events,
    /// applies the variables the state assigned, and moves on.
    fn apply(&mut self, cx: &mut Cx<'_>, f: &mut Frame, o: Outcome) {
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
                if block && (std::mem::take(&mut self.children_failed) || evaluation_failed) {
                    self.emit(
                        cx,
                        &mut f.last_event,
                        f.quiet,
                        kind.event_type(StatePhase::Failed),
                        json!({}),
                    );
                }
                self.exit(cx, f, kind, &output, &assigned);
                assign(&mut f.vars, assigned);
                f.next_state(state, output);
            }
            Outcome::Fail(e) => {
                if block && (std::mem::take(&mut self.children_failed) || evaluation_failed) {
                    self.emit(
                        cx,
                        &mut f.last_event,
                        f.quiet,
                        kind.event_type(StatePhase::Failed),
                        json!({}),
                    );
                }
                f.pending = Pending::Done(Err(e));
            }
        }
    }

    /// Records `EvaluationFailed` for an error raised by a JSONata expression.
    fn evaluation_failed(&mut self, cx: &mut Cx<'_>, f: &mut Frame, error: &StatesError) -> bool {
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
    fn exit(
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
        raw: &Value,
        result: Result<Value, StatesError>,
    ) {
        let Some(state) = machine_at(cx.machine, &f.path).and_then(|m| m.state(&f.state)) else {
            return;
        };
        self.set_state_context(cx, f, None, true);
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let sc = StepContext {
            context: cx.context,
            vars: f.vars.as_ref(),
            entered_event_id: f.entered_id as u64,
            seed: self.seed,
            inspect: None,
            item_reader_data: None,
        };
        let o = step::complete(state, raw, result, &f.retry_counts, &sc);
        if matches!(o, Outcome::Retry { .. }) {
            // Retries re-enter without a new ...StateEntered event.
        }
        f.pending = Pending::Ready;
        self.apply(cx, f, o);
    }

    /// Drives children; returns true when the parent frame moved on.
    fn drive_children(&mut self, cx: &mut Cx<'_>, f: &mut Frame) -> bool {
        let Pending::Children(mut ch) = std::mem::replace(&mut f.pending, Pending::Ready) else {
            return false;
        };
        // Start Map iterations up to the concurrency limit.
        loop {
            let can_start = ch.error.is_none()
                && !ch.waiting.is_empty()
                && (ch.max_concurrency == 0 || (ch.running as u64) < ch.max_concurrency);
            if !can_start {
                break;
            }
            let Some((i, item)) = ch.waiting.pop_front() else {
                break;
            };
            let Some(machine) = machine_at(cx.machine, &f.path)
                .and_then(|m| m.state(&f.state))
                .and_then(|s| match &s.kind {
                    StateKind::Map(m) => Some(&m.processor),
                    _ => None,
                })
            else {
                break;
            };
            let mut path = f.path.clone();
            path.push(Nest::Processor {
                state: f.state.clone(),
            });
            let mut last = f.last_event;
            self.emit(
                cx,
                &mut last,
                ch.quiet,
                "MapIterationStarted",
                json!({"mapIterationStartedEventDetails": {"name": f.state, "index": i}}),
            );
            let mut child = Frame::new(path, machine.start_at.clone(), item, last, ch.quiet);
            child.vars = f.vars.clone();
            ch.frames[i] = Some(child);
            ch.running += 1;
        }
        // Drive every running child.
        let mut newly_done = Vec::new();
        for (i, slot) in ch.frames.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            // A child may have finished outside this drive (a task result
            // delivered to it); finished children are still in `frames`
            // until recorded here.
            if !matches!(child.pending, Pending::Done(_)) {
                self.drive_frame(cx, child);
            }
            if matches!(child.pending, Pending::Done(_)) {
                newly_done.push(i);
            }
        }
        let mut progressed = false;
        for i in newly_done {
            let Some(Some(child)) = ch.frames.get_mut(i) else {
                continue;
            };
            let Pending::Done(r) =
                std::mem::replace(&mut child.pending, Pending::Done(Ok(Value::Null)))
            else {
                continue;
            };
            let mut last = child.last_event;
            ch.running = ch.running.saturating_sub(1);
            progressed = true;
            match r {
                Ok(v) => {
                    if ch.is_map {
                        self.emit(cx, &mut last, ch.quiet, "MapIterationSucceeded", json!({"mapIterationSucceededEventDetails": {"name": f.state, "index": i}}));
                    }
                    if ch.is_map || i + 1 == ch.results.len() {
                        ch.join_event = Some(last);
                    }
                    ch.results[i] = Some(v);
                    // Free the finished child's memory.
                    ch.frames[i] = None;
                }
                Err(e) => {
                    if ch.is_map {
                        self.emit(cx, &mut last, ch.quiet, "MapIterationFailed", json!({"mapIterationFailedEventDetails": {"name": f.state, "index": i}}));
                    }
                    ch.failed += 1;
                    ch.results[i] = None;
                    ch.frames[i] = None;
                    let tolerated = ch.is_map
                        && step::map_failure_tolerated(
                            ch.failed,
                            ch.total,
                            ch.tolerated_count,
                            ch.tolerated_percentage,
                        );
                    if !tolerated && ch.error.is_none() {
                        ch.error = Some(e);
                    }
                }
            }
        }
        let finished = ch.error.is_some() || (ch.running == 0 && ch.waiting.is_empty());
        if !finished {
            f.pending = Pending::Children(ch);
            return progressed;
        }
        // Abort what still runs.
        let mut aborted = Vec::new();
        for (i, slot) in ch.frames.iter_mut().enumerate() {
            if let Some(child) = slot.take() {
                if ch.is_map {
                    aborted.push(i);
                }
                drop(child);
            }
        }
        for i in aborted {
            let mut last = f.last_event;
            self.emit(
                cx,
                &mut last,
                ch.quiet,
                "MapIterationAborted",
                json!({"mapIterationAbortedEventDetails": {"name": f.state, "index": i}}),
            );
        }
        let distributed = ch.is_map && ch.quiet && !f.quiet;
        let raw = f.input.clone();
        let status = if ch.error.is_some() {
            "FAILED"
        } else {
            "SUCCEEDED"
        };
        if let Some(r) = ch.map_run(cx.execution_arn, status, Some(cx.now)) {
            cx.requests.push(Request::MapRun(r));
        }
        match ch.error.take() {
            Some(e) => {
                if distributed {
                    self.emit(cx, &mut f.last_event, f.quiet, "MapRunFailed", json!({}));
                }
                self.children_failed = true;
                self.complete_task(cx, f, &raw, Err(e));
                self.children_failed = false;
                // Neither retried nor caught: a redrive runs only what did not succeed.
                if matches!(f.pending, Pending::Done(Err(_))) {
                    f.redo = Some(std::mem::take(&mut ch.results));
                }
            }
            None => {
                let results: Vec<Value> = ch
                    .results
                    .into_iter()
                    .map(|r| r.unwrap_or(Value::Null))
                    .collect();
                if distributed {
                    self.emit(cx, &mut f.last_event, f.quiet, "MapRunSucceeded", json!({}));
                }
                let ev = if ch.is_map {
                    "MapStateSucceeded"
                } else {
                    "ParallelStateSucceeded"
                };
                if let Some(id) = ch.join_event.filter(|_| !ch.quiet && !f.quiet) {
                    f.last_event = id;
                }
                self.emit(cx, &mut f.last_event, f.quiet, ev, json!({}));
                self.complete_task(cx, f, &raw, Ok(Value::Array(results)));
            }
        }
        true
    }

    /// Finds the frame waiting on task `scheduled_id`.
    pub fn find_task_frame(&mut self, scheduled_id: i64) -> Option<&mut Frame> {
        find_task(&mut self.root, scheduled_id)
    }

    /// Takes the frame path to task `scheduled_id` out of the tree, calls `op`, and puts it back.
    pub fn with_task_frame(
        &mut self,
        scheduled_id: i64,
        cx: &mut Cx<'_>,
        op: impl FnOnce(&mut Runtime, &mut Cx<'_>, &mut Frame),
    ) -> bool {
        let mut root = std::mem::replace(
            &mut self.root,
            Frame::new(Vec::new(), String::new(), Value::Null, 0, true),
        );
        let found = find_task(&mut root, scheduled_id);
        let ok = match found {
            Some(frame) => {
                op(self, cx, frame);
                true
            }
            None => false,
        };
        self.root = root;
        ok
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
            let raw = f.input.clone();
            rt.complete_task(cx, f, &raw, result);
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

    /// Fires every timer due at `cx.now`: Wait ends, retry delays, task timeouts and heartbeats.
    pub fn fire_timers(&mut self, cx: &mut Cx<'_>) {
        let now = cx.now;
        let mut due_tasks: Vec<(i64, &'static str)> = Vec::new();
        let mut any_timer = false;
        self.root.walk_mut(&mut |f| match &mut f.pending {
            Pending::Timer { until, then, .. } if *until <= now => {
                any_timer = true;
                let _ = then;
            }
            Pending::Task(t) => {
                if t.timeout_at.is_some_and(|at| at <= now) {
                    due_tasks.push((t.scheduled_id, names::TIMEOUT));
                } else if t.started && t.heartbeat_at.is_some_and(|at| at <= now) {
                    due_tasks.push((t.scheduled_id, names::HEARTBEAT_TIMEOUT));
                }
            }
            _ => {}
        });
        if any_timer {
            let mut root = std::mem::replace(
                &mut self.root,
                Frame::new(Vec::new(), String::new(), Value::Null, 0, true),
            );
            self.fire_frame_timers(cx, &mut root);
            self.root = root;
        }
        for (id, error) in due_tasks {
            self.timed_out.push(id);
            if self.timed_out.len() > 64 {
                self.timed_out.remove(0);
            }
            self.with_task_frame(id, cx, |rt, cx, f| {
                let Pending::Task(t) = &f.pending else { return };
                let prefix = t.event_prefix.clone();
                let (ev, key) = match prefix.as_str() {
                    "Activity" => ("ActivityTimedOut", "activityTimedOutEventDetails"),
                    "LambdaFunction" => (
                        "LambdaFunctionTimedOut",
                        "lambdaFunctionTimedOutEventDetails",
                    ),
                    _ => ("TaskTimedOut", "taskTimedOutEventDetails"),
                };
                rt.emit(
                    cx,
                    &mut f.last_event,
                    f.quiet,
                    ev,
                    json!({ key: {"error": error} }),
                );
                let raw = f.input.clone();
                rt.complete_task(cx, f, &raw, Err(StatesError::new(error, "")));
            });
        }
        self.drive(cx);
    }

    fn fire_frame_timers(&mut self, cx: &mut Cx<'_>, f: &mut Frame) {
        match &mut f.pending {
            Pending::Timer { until, then, .. } if *until <= cx.now => match then.take() {
                None => f.pending = Pending::Ready,
                Some(StoredOutcome::Next {
                    state,
                    output,
                    assigned,
                }) => self.apply(
                    cx,
                    f,
                    Outcome::Next {
                        state,
                        output,
                        assigned,
                    },
                ),
                Some(StoredOutcome::End { output, assigned }) => {
                    self.apply(cx, f, Outcome::End { output, assigned })
                }
            },
            Pending::Children(c) => {
                for ch in c.frames.iter_mut().flatten() {
                    self.fire_frame_timers(cx, ch);
                }
            }
            _ => {}
        }
    }

    /// The earliest deadline of any timer in the tree (and the execution deadline).
    pub fn next_deadline(&self) -> Option<i64> {
        let mut best = self.deadline;
        let mut consider = |t: i64| best = Some(best.map_or(t, |b: i64| b.min(t)));
        let mut all = Vec::new();
        self.root.walk(&mut |f| match &f.pending {
            Pending::Timer { until, .. } => all.push(*until),
            Pending::Task(t) => {
                if let Some(a) = t.timeout_at {
                    all.push(a);
                }
                if t.started
                    && let Some(h) = t.heartbeat_at
                {
                    all.push(h);
                }
            }
            _ => {}
        });
        for t in all {
            consider(t);
        }
        best
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

    /// The root's result once finished.
    pub fn result(&self) -> Option<&Result<Value, StatesError>> {
        match &self.root.pending {
            Pending::Done(r) => Some(r),
            _ => None,
        }
    }
}

fn find_task(f: &mut Frame, id: i64) -> Option<&mut Frame> {
    if matches!(&f.pending, Pending::Task(t) if t.scheduled_id == id) {
        return Some(f);
    }
    match &mut f.pending {
        Pending::Children(c) => c
            .frames
            .iter_mut()
            .flatten()
            .find_map(|ch| find_task(ch, id)),
        _ => None,
    }
}

fn scale(ms: f64, factor: f64) -> i64 {
    let v = ms * factor;
    if v.is_finite() && v > 0.0 {
        v.round().min(i64::MAX as f64 / 2.0) as i64
    } else {
        0
    }
}

/// Compact JSON text of a value.
pub fn to_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Appends `s` as a JSON string.
pub fn json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).ok();
}

/// Appends the compact JSON text of `v` as a JSON string (how events show
/// inputs and outputs): the same bytes as `json_string(out, &to_text(v))`,
/// without the intermediate string. The text is written in place, then
/// spread out from the back to make room for the escapes.
fn json_text_string(out: &mut Vec<u8>, v: &Value) {
    // Compact JSON text holds control characters only escaped: quotes and
    // backslashes are all a JSON string needs escaped in it.
    let escaped = |b: u8| b == b'"' || b == b'\\';
    out.push(b'"');
    let start = out.len();
    serde_json::to_writer(&mut *out, v).ok();
    let extra = out[start..].iter().filter(|&&b| escaped(b)).count();
    if extra > 0 {
        let mut read = out.len();
        out.resize(read + extra, 0);
        let mut write = out.len();
        while read > start {
            read -= 1;
            let b = out[read];
            write -= 1;
            out[write] = b;
            if escaped(b) {
                write -= 1;
                out[write] = b'\\';
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileOptions, compile};

    /// Runs a machine made only of Pass, Choice, Map and Parallel states to its end.
    /// An event's details, parsed.
    fn details(e: &NewEvent) -> Value {
        serde_json::from_str(&e.details).unwrap()
    }

    /// Inputs and outputs are written into the details in one pass, and a
    /// state's input is the text its predecessor's exit wrote: the same
    /// bytes as serializing each value to text and that text as a string.
    #[test]
    fn event_details_show_inputs_and_outputs_as_json_text() {
        let tricky = json!({"q": "say \"hi\"", "b": "back\\slash", "c": "tab\tnew\nline\u{1}", "u": "é 漢 🎉 \u{2028} </script>",
            "n": [1, 2.5, -0.0, 1e300, null, true], "e": {}, "a": []});
        for v in [
            tricky.clone(),
            json!("plain"),
            json!("\"\\"),
            json!(null),
            json!(7),
        ] {
            let mut out = Vec::new();
            json_text_string(&mut out, &v);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&to_text(&v)).unwrap()
            );
        }
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"k.$": "$.q"}, "Assign": {"x.$": "$.k"}, "Next": "C"},
            "C": {"Type": "Pass", "End": true}}});
        let (_, events) = run(def, tricky.clone());
        let text = |e: &NewEvent, key: &str, field: &str| {
            details(e)[key][field].as_str().unwrap().to_owned()
        };
        let parsed = |s: String| serde_json::from_str::<Value>(&s).unwrap();
        assert_eq!(
            types(&events),
            [
                "PassStateEntered",
                "PassStateExited",
                "PassStateEntered",
                "PassStateExited",
                "PassStateEntered",
                "PassStateExited"
            ]
        );
        assert_eq!(
            parsed(text(&events[0], "stateEnteredEventDetails", "input")),
            tricky
        );
        assert_eq!(
            parsed(text(&events[1], "stateExitedEventDetails", "output")),
            tricky
        );
        assert_eq!(
            parsed(text(&events[2], "stateEnteredEventDetails", "input")),
            tricky
        );
        assert_eq!(
            parsed(text(&events[3], "stateExitedEventDetails", "output")),
            json!({"k": "say \"hi\""})
        );
        assert_eq!(
            parsed(text(&events[4], "stateEnteredEventDetails", "input")),
            json!({"k": "say \"hi\""})
        );
        assert_eq!(
            details(&events[3])["stateExitedEventDetails"]["assignedVariables"],
            json!({"x": to_text(&json!("say \"hi\""))})
        );
        // Byte for byte what a `json!` rendering of the same details gives.
        let expected = json!({"stateEnteredEventDetails": {"name": "B", "input": to_text(&tricky), "inputDetails": {"truncated": false}}});
        assert_eq!(events[2].details, to_text(&expected));
        let expected = json!({"stateExitedEventDetails": {"name": "B", "output": to_text(&json!({"k": "say \"hi\""})),
            "outputDetails": {"truncated": false}, "assignedVariables": {"x": to_text(&json!("say \"hi\""))},
            "assignedVariablesDetails": {"truncated": false}}});
        assert_eq!(events[3].details, to_text(&expected));
    }

    fn run(def: Value, input: Value) -> (Runtime, Vec<NewEvent>) {
        let m = compile(&def, CompileOptions::default()).unwrap();
        let mut rt = Runtime::new(&m, input, 0, 1);
        let mut context = json!({"Execution": {"Id": "arn:x"}});
        let vars = Variables::new();
        let exists = |_: &str| true;
        let token = |id: i64| format!("token-{id}");
        let mut cx = Cx {
            machine: &m,
            context: &mut context,
            vars: &vars,
            now: 0,
            wait_scale: 1.0,
            history: true,
            events: Vec::new(),
            requests: Vec::new(),
            activity_exists: &exists,
            token_for: &token,
            region: "us-east-1",
            account: "123456789012",
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e",
            mock: None,
            lambda_activity: None,
        };
        rt.drive(&mut cx);
        let events = std::mem::take(&mut cx.events);
        (rt, events)
    }

    fn types(events: &[NewEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event_type).collect()
    }

    #[test]
    fn map_iterations_read_outer_variables_and_keep_their_writes() {
        let (rt, events) = run(
            json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
                "Init": {"Type": "Pass", "Assign": {"x": 42}, "Next": "M"},
                "M": {"Type": "Map", "Items": [1, 2], "MaxConcurrency": 1, "Next": "Final",
                    "ItemProcessor": {"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Pass",
                            "Output": {"x": "{% $x %}", "leak": "{% $exists($seen) %}"},
                            "Assign": {"x": "{% $x + $states.input %}", "seen": true}, "End": true}}}},
                "Final": {"Type": "Pass", "Output": {"x": "{% $x %}", "results": "{% $states.input %}",
                    "seen": "{% $exists($seen) %}"}, "End": true}}}),
            json!({}),
        );
        assert_eq!(
            rt.result(),
            Some(&Ok(json!({"x": 42, "seen": false,
                "results": [{"x": 42, "leak": false}, {"x": 42, "leak": false}]})))
        );
        let exited = events
            .iter()
            .find(|e| e.event_type == "PassStateExited")
            .unwrap();
        assert_eq!(
            details(exited)["stateExitedEventDetails"]["assignedVariables"],
            json!({"x": "42"})
        );
    }

    #[test]
    fn parallel_branches_do_not_see_each_others_variables() {
        let (rt, _) = run(
            json!({"StartAt": "Init", "States": {
                "Init": {"Type": "Pass", "Assign": {"x": 1}, "Next": "P"},
                "P": {"Type": "Parallel", "Next": "Final", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"a": "A"}, "Next": "A2"},
                        "A2": {"Type": "Pass", "Parameters": {"x.$": "$x", "a.$": "$a"}, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"x": 2}, "Next": "B2"},
                        "B2": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": true}}}]},
                "Final": {"Type": "Pass", "Parameters": {"x.$": "$x", "branches.$": "$"}, "End": true}}}),
            json!({}),
        );
        assert_eq!(
            rt.result(),
            Some(&Ok(
                json!({"x": 1, "branches": [{"x": 1, "a": "A"}, {"x": 2}]})
            ))
        );
    }

    #[test]
    fn jsonata_failures_record_evaluation_failed() {
        let (rt, events) = run(
            json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
                "M": {"Type": "Map", "Items": "{% 'string' %}", "End": true,
                    "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
            json!({}),
        );
        assert_eq!(
            types(&events),
            ["MapStateEntered", "EvaluationFailed", "MapStateFailed"]
        );
        let details = &details(&events[1])["evaluationFailedEventDetails"];
        assert_eq!(details["location"], json!("Items"));
        assert_eq!(details["state"], json!("M"));
        assert_eq!(details["error"], json!("States.QueryEvaluationError"));
        let Some(Err(e)) = rt.result() else { panic!() };
        assert_eq!(e.error, "States.QueryEvaluationError");
    }

    fn drive_with(
        m: &StateMachine,
        rt: &mut Runtime,
        now: i64,
        mock: Option<MockFn<'_>>,
        op: impl FnOnce(&mut Runtime, &mut Cx<'_>),
    ) -> (Vec<NewEvent>, Vec<Request>) {
        let mut context = json!({"Execution": {"Id": "arn:x"}});
        let vars = Variables::new();
        let exists = |_: &str| true;
        let token = |id: i64| format!("token-{id}");
        let mut cx = Cx {
            machine: m,
            context: &mut context,
            vars: &vars,
            now: 0,
            wait_scale: 1.0,
            history: true,
            events: Vec::new(),
            requests: Vec::new(),
            activity_exists: &exists,
            token_for: &token,
            region: "us-east-1",
            account: "123456789012",
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e",
            mock,
            lambda_activity: None,
        };
        cx.now = now;
        op(rt, &mut cx);
        (cx.events, cx.requests)
    }

    #[test]
    fn a_service_task_records_its_start_and_asks_for_the_call() {
        let m = compile(
            &json!({"StartAt": "Q", "States": {"Q": {"Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}, "End": true}}}),
            CompileOptions::default(),
        )
        .unwrap();
        let mut rt = Runtime::new(&m, json!({}), 0, 1);
        let (events, requests) = drive_with(&m, &mut rt, 0, None, |rt, cx| rt.drive(cx));
        let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(types, ["TaskStateEntered", "TaskScheduled", "TaskStarted"]);
        let scheduled: Value = serde_json::from_str(&events[1].details).unwrap();
        assert_eq!(
            scheduled["taskScheduledEventDetails"]["resourceType"],
            "sqs"
        );
        assert_eq!(
            scheduled["taskScheduledEventDetails"]["resource"],
            "sendMessage.waitForTaskToken"
        );
        let call = requests
            .iter()
            .find_map(|r| match r {
                Request::Integration(c) => Some(c.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(call.token.as_deref(), Some("token-3"));
        assert_eq!(call.parameters["MessageBody"]["t"], "token-3");
        // The call was made: TaskSubmitted, then the token's answer ends it.
        let (events, _) = drive_with(&m, &mut rt, 0, None, |rt, cx| {
            assert!(rt.task_submitted(cx, 3, &json!({"MessageId": "m"})));
            assert!(rt.task_result(cx, 3, Ok(json!({"ok": true}))));
        });
        let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(types, ["TaskSubmitted", "TaskSucceeded", "TaskStateExited"]);
        assert_eq!(rt.result(), Some(&Ok(json!({"ok": true}))));
        assert!(rt.pending_service_calls().is_empty());
    }

    #[test]
    fn a_mocked_function_answers_its_payload_by_invocation() {
        let m = compile(
            &json!({"StartAt": "L", "States": {"L": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}], "End": true}}}),
            CompileOptions::default(),
        )
        .unwrap();
        let mut rt = Runtime::new(&m, json!({}), 0, 1);
        let mock = |state: &str, n: u32| {
            assert_eq!(state, "L");
            Some(if n < 2 {
                Err(StatesError::new("Boom", "c"))
            } else {
                Ok(json!({"StatusCode": 200, "Payload": {"n": n}}))
            })
        };
        let mut all = Vec::new();
        let (events, mut requests) = drive_with(&m, &mut rt, 0, Some(&mock), |rt, cx| rt.drive(cx));
        all.extend(events);
        // Deliver mocked answers as the engine does, firing retry timers.
        for step in 1..10 {
            let now = step * 1000;
            let Some(Request::Deliver {
                scheduled_id,
                result,
            }) = requests
                .iter()
                .find(|r| matches!(r, Request::Deliver { .. }))
                .cloned()
            else {
                let (events, next) =
                    drive_with(&m, &mut rt, now, Some(&mock), |rt, cx| rt.fire_timers(cx));
                all.extend(events);
                requests = next;
                if rt.result().is_some() {
                    break;
                }
                continue;
            };
            let (events, next) = drive_with(&m, &mut rt, now, Some(&mock), |rt, cx| {
                rt.task_result(cx, scheduled_id, result);
            });
            all.extend(events);
            requests = next;
        }
        assert_eq!(rt.result(), Some(&Ok(json!({"n": 2}))));
        let failed = all
            .iter()
            .filter(|e| e.event_type == "LambdaFunctionFailed")
            .count();
        assert_eq!(failed, 2);
        assert_eq!(rt.mock_calls.get("L"), Some(&3));
    }
}
