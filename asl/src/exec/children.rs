//! Children of a Parallel or Map state: starting branches and iterations,
//! driving them, tolerated failures, and a distributed Map's run record.

use super::frame::{Frame, Nest, Pending, machine_at};
use super::{Cx, Request, Runtime};
use crate::error::StatesError;
use crate::model::{MapMode, MapState, StateKind, StateMachine};
use crate::step;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::VecDeque;

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

impl Runtime {
    /// Starts the branches of a Parallel state (after a redrive, only those
    /// that did not succeed).
    pub(super) fn start_branches(
        &mut self,
        cx: &mut Cx<'_>,
        f: &mut Frame,
        branches: &[StateMachine],
        input: Value,
    ) {
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
                let mut child = Frame::new(path, b.start_at.clone(), input.clone(), id, f.quiet);
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

    /// Starts a Map state's iterations, up to its concurrency (after a
    /// redrive, only those that did not succeed); a distributed Map records
    /// its run.
    pub(super) fn start_iterations(
        &mut self,
        cx: &mut Cx<'_>,
        f: &mut Frame,
        m: &MapState,
        items: Vec<Value>,
        max_concurrency: u64,
        (tolerated_failure_count, tolerated_failure_percentage): (Option<u64>, Option<f64>),
    ) {
        let distributed = m.mode == MapMode::Distributed;
        let n = items.len();
        let mut run = None;
        if distributed {
            let label = m.label.as_deref().unwrap_or(&f.state);
            let run_arn = format!(
                "{}/{}:{}",
                cx.execution_arn.replacen(":execution:", ":mapRun:", 1),
                label,
                self.next_event_id
            );
            let machine = crate::arn::machine_of_execution(cx.execution_arn).unwrap_or_default();
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

    /// Drives children; returns true when the parent frame moved on.
    pub(super) fn drive_children(&mut self, cx: &mut Cx<'_>, f: &mut Frame) -> bool {
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
                self.complete_task(cx, f, Err(e));
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
                self.complete_task(cx, f, Ok(Value::Array(results)));
            }
        }
        true
    }
}
