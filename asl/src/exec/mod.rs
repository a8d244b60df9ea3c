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

use crate::env::Variables;
use crate::error::{StatesError, names};
use crate::model::StateMachine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

mod children;
mod frame;
mod state;
mod task;
#[cfg(test)]
mod tests;
mod text;
mod timers;

pub use children::{Children, MapRun, MapRunCounts, MapRunRecord};
use frame::Cached;
pub use frame::{Frame, Nest, Pending, StoredOutcome, machine_at};
pub use task::{TaskKind, TaskWait};
pub use text::{json_string, to_text};

/// The most events an execution's history may hold, as on AWS.
pub const MAX_HISTORY_EVENTS: i64 = 25_000;

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

impl<'a> Cx<'a> {
    /// A context for an execution with nothing around it (the in-process
    /// runner, tests): history kept, no wait scaling, every activity exists,
    /// a task's token is `token-<id>`, no mocks, no Lambda function served by
    /// an activity, region `us-east-1`, account `123456789012`. Set a field
    /// to change it.
    pub fn detached(
        machine: &'a StateMachine,
        context: &'a mut Value,
        execution_arn: &'a str,
        now: i64,
    ) -> Self {
        static NO_VARIABLES: LazyLock<Variables> = LazyLock::new(Variables::new);
        Self {
            machine,
            context,
            vars: &NO_VARIABLES,
            now,
            wait_scale: 1.0,
            history: true,
            events: Vec::new(),
            requests: Vec::new(),
            activity_exists: &every_activity_exists,
            token_for: &plain_token,
            region: "us-east-1",
            account: "123456789012",
            execution_arn,
            mock: None,
            lambda_activity: None,
        }
    }
}

fn every_activity_exists(_: &str) -> bool {
    true
}

fn plain_token(scheduled_id: i64) -> String {
    format!("token-{scheduled_id}")
}

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

    /// The root's result once finished.
    pub fn result(&self) -> Option<&Result<Value, StatesError>> {
        match &self.root.pending {
            Pending::Done(r) => Some(r),
            _ => None,
        }
    }
}
