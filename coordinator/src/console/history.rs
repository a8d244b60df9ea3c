//! What an execution's history says about each state: entered, left, failed,
//! caught, retried, running; its input, output and error; and the spans of
//! the timeline. One pass over the events, linked by `previousEventId`.

use super::graph::{Outcome, Paint};
use crate::store::EventRecord;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// One visit of a state (a state in a loop, or in a Map, has several).
#[derive(Debug, Clone, Serialize)]
pub struct Span {
    /// The state.
    pub state: String,
    /// When it was entered (ms).
    pub start: i64,
    /// When it was left, `None` while it runs.
    pub end: Option<i64>,
    /// What happened.
    pub outcome: &'static str,
}

/// What the page shows for a state when it is clicked (its last visit).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateInfo {
    /// `succeeded`, `failed`, `caught`, `running`.
    pub status: &'static str,
    /// Attempts of its last visit's task.
    pub attempts: u32,
    /// Visits.
    pub visits: u32,
    /// Its last input (JSON text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Its last output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The last error it raised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Ids of the events that belong to it.
    pub events: Vec<i64>,
}

#[derive(Debug, Default)]
struct Visit {
    exited: bool,
    failed: bool,
    caught: bool,
    attempts: u32,
    span: usize,
}

/// The analysis of a history.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Per state.
    pub states: HashMap<String, StateInfo>,
    /// Per event id, the state it belongs to (if any).
    pub state_of: HashMap<i64, String>,
    /// Visits in the order they started.
    pub spans: Vec<Span>,
    /// The execution's own error, when it failed.
    pub error: Option<(String, String)>,
}

impl Analysis {
    /// How to colour the graph.
    pub fn paint(&self) -> HashMap<String, Paint> {
        self.states
            .iter()
            .map(|(name, s)| {
                let outcome = match s.status {
                    "succeeded" => Outcome::Succeeded,
                    "failed" => Outcome::Failed,
                    "caught" => Outcome::Caught,
                    _ => Outcome::Running,
                };
                (
                    name.clone(),
                    Paint {
                        outcome,
                        attempts: s.attempts.max(1),
                    },
                )
            })
            .collect()
    }
}

fn details(e: &EventRecord) -> Value {
    serde_json::from_str(&e.details).unwrap_or(Value::Null)
}

/// The one member of the details object (`{"xEventDetails": {...}}`).
fn inner(d: &Value) -> &Value {
    d.as_object()
        .and_then(|o| o.values().next())
        .unwrap_or(&Value::Null)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn is_failure(t: &str) -> bool {
    (t.ends_with("Failed") || t.ends_with("TimedOut") || t.ends_with("StartFailed"))
        && !t.starts_with("Execution")
        && !t.starts_with("MapIteration")
        && !t.starts_with("MapRun")
}

fn is_scheduled(t: &str) -> bool {
    t.ends_with("Scheduled")
}

/// Reads a history (ids ascending); `running`: the execution has not finished.
pub fn analyse(events: &[EventRecord], running: bool) -> Analysis {
    let mut a = Analysis::default();
    let mut visits: HashMap<String, Visit> = HashMap::new();
    for e in events {
        let t = e.event_type.as_str();
        if t.ends_with("StateEntered") {
            let d = details(e);
            let d = inner(&d);
            let name = d["name"].as_str().unwrap_or_default().to_owned();
            // The state before it in the same frame was left by a Catch if it never exited.
            if let Some(prev) = a.state_of.get(&e.previous_id).cloned()
                && let Some(v) = visits.get_mut(&prev)
                && !v.exited
                && v.failed
            {
                v.caught = true;
                a.spans[v.span].outcome = "caught";
                a.spans[v.span].end = Some(e.timestamp);
            }
            a.spans.push(Span {
                state: name.clone(),
                start: e.timestamp,
                end: None,
                outcome: "running",
            });
            visits.insert(
                name.clone(),
                Visit {
                    span: a.spans.len() - 1,
                    ..Visit::default()
                },
            );
            let info = a.states.entry(name.clone()).or_default();
            info.visits += 1;
            info.input = text(&d["input"]);
            info.output = None;
            info.error = None;
            info.cause = None;
            info.events.push(e.id);
            a.state_of.insert(e.id, name);
            continue;
        }
        let owner = if t.ends_with("StateExited") {
            let d = details(e);
            let name = inner(&d)["name"].as_str().unwrap_or_default().to_owned();
            let info = a.states.entry(name.clone()).or_default();
            info.output = text(&inner(&d)["output"]);
            if let Some(v) = visits.get_mut(&name) {
                v.exited = true;
                a.spans[v.span].end = Some(e.timestamp);
                a.spans[v.span].outcome = "succeeded";
            }
            Some(name)
        } else {
            a.state_of.get(&e.previous_id).cloned()
        };
        if t == "ExecutionFailed" || t == "ExecutionTimedOut" || t == "ExecutionAborted" {
            let d = details(e);
            let d = inner(&d);
            a.error = Some((
                text(&d["error"]).unwrap_or_default(),
                text(&d["cause"]).unwrap_or_default(),
            ));
        }
        let Some(owner) = owner else { continue };
        a.state_of.insert(e.id, owner.clone());
        let info = a.states.entry(owner.clone()).or_default();
        info.events.push(e.id);
        if let Some(v) = visits.get_mut(&owner) {
            if is_scheduled(t) {
                v.attempts += 1;
            }
            if is_failure(t) {
                v.failed = true;
                let d = details(e);
                let d = inner(&d);
                info.error = text(&d["error"]);
                info.cause = text(&d["cause"]);
            }
        }
    }
    let end = events.last().map(|e| e.timestamp);
    for (name, v) in &visits {
        let info = a.states.entry(name.clone()).or_default();
        info.attempts = v.attempts;
        info.status = if v.exited {
            "succeeded"
        } else if v.caught {
            "caught"
        } else if running && !v.failed {
            "running"
        } else {
            "failed"
        };
        if !v.exited && !v.caught {
            let span = &mut a.spans[v.span];
            span.outcome = info.status;
            if !running {
                span.end = end;
            }
        }
        if info.status == "failed"
            && info.error.is_none()
            && let Some((e, c)) = &a.error
        {
            info.error = Some(e.clone());
            info.cause = Some(c.clone());
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, prev: i64, t: &str, details: &str) -> EventRecord {
        EventRecord {
            id,
            previous_id: prev,
            timestamp: id * 10,
            event_type: t.into(),
            details: details.into(),
        }
    }

    #[test]
    fn retried_then_caught_then_failed() {
        let h = vec![
            ev(1, 0, "ExecutionStarted", "{}"),
            ev(
                2,
                1,
                "TaskStateEntered",
                r#"{"stateEnteredEventDetails":{"name":"Call","input":"{}"}}"#,
            ),
            ev(3, 2, "ActivityScheduled", "{}"),
            ev(
                4,
                3,
                "ActivityFailed",
                r#"{"activityFailedEventDetails":{"error":"E","cause":"c1"}}"#,
            ),
            ev(5, 4, "ActivityScheduled", "{}"),
            ev(
                6,
                5,
                "ActivityFailed",
                r#"{"activityFailedEventDetails":{"error":"Bad","cause":"c2"}}"#,
            ),
            ev(
                7,
                6,
                "PassStateEntered",
                r#"{"stateEnteredEventDetails":{"name":"Record","input":"{}"}}"#,
            ),
            ev(
                8,
                7,
                "PassStateExited",
                r#"{"stateExitedEventDetails":{"name":"Record","output":"{\"x\":1}"}}"#,
            ),
            ev(
                9,
                8,
                "FailStateEntered",
                r#"{"stateEnteredEventDetails":{"name":"Boom","input":"{}"}}"#,
            ),
            ev(
                10,
                9,
                "ExecutionFailed",
                r#"{"executionFailedEventDetails":{"error":"Oops","cause":"why"}}"#,
            ),
        ];
        let a = analyse(&h, false);
        let call = &a.states["Call"];
        assert_eq!((call.status, call.attempts), ("caught", 2));
        assert_eq!(call.error.as_deref(), Some("Bad"));
        assert_eq!(a.states["Record"].status, "succeeded");
        assert_eq!(a.states["Record"].output.as_deref(), Some("{\"x\":1}"));
        let boom = &a.states["Boom"];
        assert_eq!(boom.status, "failed");
        assert_eq!(boom.cause.as_deref(), Some("why"));
        assert_eq!(a.spans.len(), 3);
        assert_eq!(a.spans[0].end, Some(70));
    }

    #[test]
    fn a_state_waiting_is_running() {
        let h = vec![
            ev(1, 0, "ExecutionStarted", "{}"),
            ev(
                2,
                1,
                "TaskStateEntered",
                r#"{"stateEnteredEventDetails":{"name":"Wait","input":"{}"}}"#,
            ),
            ev(3, 2, "ActivityScheduled", "{}"),
        ];
        let a = analyse(&h, true);
        assert_eq!(a.states["Wait"].status, "running");
        assert_eq!(a.spans[0].end, None);
        assert_eq!(a.state_of[&3], "Wait");
    }
}
