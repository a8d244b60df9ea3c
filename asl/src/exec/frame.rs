//! Frames: one running (sub-)machine each, where it stands (`Pending`), and how a
//! nested machine is found from the top-level one.

use super::children::Children;
use super::task::TaskWait;
use super::{Cx, Runtime};
use crate::env::Variables;
use crate::error::StatesError;
use crate::model::{StateKind, StateMachine};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// How to find a nested machine from the top-level one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nest {
    /// Branch `index` of the Parallel state `state`.
    Branch { state: String, index: usize },
    /// The processor of the Map state `state`.
    Processor { state: String },
}

/// Applies the variables a state assigned to its frame's scope.
pub(super) fn assign(vars: &mut Arc<Variables>, assigned: Variables) {
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
    pub(super) input_text: Cached<Option<Vec<u8>>>,
}

/// Something kept to save work: not state, so what holds it compares and
/// persists without it.
#[derive(Debug, Clone, Default)]
pub(super) struct Cached<T>(pub(super) T);

impl<T> PartialEq for Cached<T> {
    fn eq(&self, _: &Self) -> bool {
        true
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
    pub(super) fn next_state(&mut self, state: String, input: Value) {
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

pub(super) fn find_task(f: &mut Frame, id: i64) -> Option<&mut Frame> {
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

impl Runtime {
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
}
