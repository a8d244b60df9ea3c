//! `RedriveExecution`: a STANDARD execution that failed, timed out or was
//! stopped runs again from the state it stopped in, under the same ARN and
//! with its history continued (an `ExecutionRedriven` event, then the state
//! entered again). Its runtime state was kept when it ended for this.

use super::runtime::{NewEvent, Runtime, to_text};
use super::{Engine, Exec, SharedDefinitions};
use crate::api::ApiError;
use crate::arn;
use crate::store::ExecutionRecord;
use serde_json::json;

/// How long after it ended an execution can be redriven (AWS: 14 days).
pub(super) const REDRIVE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;
/// Most redrives of one execution.
pub(super) const MAX_REDRIVES: u32 = 1000;
/// A history this long can't take a redrive (AWS's 25,000-event limit, less room to run).
const MAX_EVENTS_FOR_REDRIVE: i64 = 24_999;

/// Why `rec` can't be redriven at `now`, if it can't (also `DescribeExecution`'s
/// `redriveStatusReason`).
pub fn not_redrivable(rec: &ExecutionRecord, now: i64) -> Option<String> {
    if arn::parse(&rec.arn).is_some_and(|p| p.kind == "express") {
        return Some("EXPRESS executions can't be redriven".into());
    }
    if !matches!(rec.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        return Some(format!(
            "Execution is {} and can't be redriven: only FAILED, TIMED_OUT and ABORTED executions can",
            rec.status
        ));
    }
    if rec.stop.is_some_and(|s| now - s > REDRIVE_WINDOW_MS) {
        return Some("Execution ended more than 14 days ago and can't be redriven".into());
    }
    if rec.redrive_count >= MAX_REDRIVES {
        return Some(format!(
            "Execution was redriven {MAX_REDRIVES} times, the most an execution can be"
        ));
    }
    if rec.runtime.is_none() {
        return Some(
            "Execution ended before this coordinator kept the state a redrive needs".into(),
        );
    }
    None
}

impl Engine {
    pub(super) fn redrive(&mut self, mut rec: ExecutionRecord) -> Result<i64, ApiError> {
        let now = self.clock.now_ms();
        if self.execs.contains_key(&rec.arn) {
            return Err(ApiError::execution_not_redrivable(format!(
                "Execution is RUNNING and can't be redriven: '{}'",
                rec.arn
            )));
        }
        if let Some(why) = not_redrivable(&rec, now) {
            return Err(ApiError::execution_not_redrivable(format!(
                "{why}: '{}'",
                rec.arn
            )));
        }
        let text = rec.runtime.take().unwrap_or_default();
        let mut rt: Runtime = serde_json::from_str(&text).map_err(|e| {
            ApiError::internal(format!(
                "the stored state of {} is unreadable: {e}",
                rec.arn
            ))
        })?;
        if rt.next_event_id >= MAX_EVENTS_FOR_REDRIVE {
            return Err(ApiError::execution_not_redrivable(format!(
                "Execution history has {} events, too many for a redrive: '{}'",
                rt.next_event_id - 1,
                rec.arn
            )));
        }
        let (text, machine) = SharedDefinitions::seeded(self.machines.values())
            .resolve(&rec.definition)
            .map_err(|e| ApiError::internal(format!("the definition of {}: {e}", rec.arn)))?;
        rec.definition = text;
        if !rt.redrive(&machine, now) {
            return Err(ApiError::execution_not_redrivable(format!(
                "Execution has nothing to run again: '{}'",
                rec.arn
            )));
        }
        rec.status = "RUNNING".into();
        rec.stop = None;
        rec.output = None;
        rec.error = None;
        rec.cause = None;
        rec.redrive_count += 1;
        rec.redrive_date = Some(now);
        // Written again as a whole (status, redrive count) with the next round.
        let mut exec = Exec::from_store(rec, machine, rt, false);
        if let Some(d) = exec.rt.deadline {
            self.timers.insert((d, exec.rec.arn.clone()));
            exec.timer_at.push(d);
        }
        let id = exec.rt.next_event_id;
        exec.rt.next_event_id += 1;
        let redriven =
            json!({"executionRedrivenEventDetails": {"redriveCount": exec.rec.redrive_count}});
        self.record(
            &mut exec,
            vec![NewEvent {
                id,
                previous_id: id - 1,
                timestamp: now,
                event_type: "ExecutionRedriven",
                details: to_text(&redriven),
            }],
        );
        exec.rt.root.last_event = id;
        self.step(exec, |rt, cx| rt.drive(cx));
        Ok(now)
    }
}
