//! Timers: Wait ends, Retry delays, task timeouts and heartbeats, and the
//! next deadline the engine arms.

use super::frame::{Frame, Pending, StoredOutcome};
use super::{Cx, Runtime};
use crate::error::{StatesError, names};
use crate::step::Outcome;
use serde_json::{Value, json};

impl Runtime {
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
                rt.complete_task(cx, f, Err(StatesError::new(error, "")));
            });
        }
        self.drive(cx);
    }

    pub(super) fn fire_frame_timers(&mut self, cx: &mut Cx<'_>, f: &mut Frame) {
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
}
