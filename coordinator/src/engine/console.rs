//! What the web console reads from the engine's memory: activity queues and
//! their workers, recent EXPRESS executions with their histories (kept in a
//! bounded ring, since EXPRESS executions are never stored), and a signal
//! that something changed (for live pages).

use super::{Engine, Exec, Reply};
use crate::store::{EventRecord, ExecutionRecord};

/// One activity's queue as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityStatus {
    /// The activity ARN.
    pub arn: String,
    /// Tasks scheduled and not yet handed to a worker.
    pub waiting: usize,
    /// Workers (their `workerName`) whose `GetActivityTask` is parked now.
    pub parked: Vec<String>,
    /// Workers that polled this activity, with when they last did (ms).
    pub seen: Vec<(String, i64)>,
}

/// The most workers remembered per activity (the oldest are forgotten).
const WORKERS_KEPT: usize = 100;
/// The most EXPRESS history events kept in memory, all executions together:
/// the oldest finished executions' histories are dropped first (their
/// records stay); past it with only running ones, new events are not kept.
pub(super) const EXPRESS_EVENTS_BUDGET: usize = 200_000;

impl Engine {
    /// Keeps the `n` most recent EXPRESS executions, with their histories when
    /// `history` (what the console shows; off, EXPRESS executions record no
    /// history events at all, as before).
    pub fn keep_express(mut self, n: usize, history: bool) -> Self {
        self.express_keep = n;
        self.express_history_on = history && n > 0;
        self
    }

    pub(super) fn console_activities(&mut self, reply: Reply<Vec<ActivityStatus>>) {
        let v = self
            .activities
            .keys()
            .map(|arn| {
                let q = self.queues.get(arn);
                let mut seen: Vec<(String, i64)> = self
                    .workers_seen
                    .get(arn)
                    .map(|m| m.iter().map(|(w, t)| (w.clone(), *t)).collect())
                    .unwrap_or_default();
                seen.sort_by_key(|s| std::cmp::Reverse(s.1));
                ActivityStatus {
                    arn: arn.clone(),
                    waiting: q.map(|q| q.tasks.len()).unwrap_or(0),
                    parked: q
                        .map(|q| {
                            q.pollers
                                .iter()
                                .filter(|p| !p.reply.is_closed())
                                .map(|p| p.worker.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                    seen,
                }
            })
            .collect();
        self.reply(reply, Ok(v));
    }

    /// Remembers that `worker` polled `activity` now.
    pub(super) fn worker_seen(&mut self, activity: &str, worker: &str) {
        let now = self.clock.now_ms();
        let m = self.workers_seen.entry(activity.to_owned()).or_default();
        m.insert(worker.to_owned(), now);
        if m.len() > WORKERS_KEPT
            && let Some(oldest) = m.iter().min_by_key(|(_, t)| **t).map(|(w, _)| w.clone())
        {
            m.remove(&oldest);
        }
    }

    /// Running and recent EXPRESS executions, newest first.
    pub(super) fn console_express(&mut self, reply: Reply<Vec<ExecutionRecord>>) {
        let mut v: Vec<ExecutionRecord> = self
            .execs
            .values()
            .filter(|x| x.express)
            .map(|x| x.rec.clone())
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.start));
        v.extend(
            self.express_done
                .iter()
                .rev()
                .filter_map(|a| self.express_records.get(a).cloned()),
        );
        self.reply(reply, Ok(v));
    }

    /// An EXPRESS execution's history, if it is running or in the ring.
    pub(super) fn console_express_history(
        &mut self,
        arn: &str,
        reply: Reply<Option<Vec<EventRecord>>>,
    ) {
        let v = self.express_events.get(arn).cloned();
        self.reply(reply, Ok(v));
    }

    /// Keeps an EXPRESS execution's events when the console wants them.
    pub(super) fn record_express(&mut self, exec: &Exec, events: Vec<EventRecord>) {
        if !self.express_history_on {
            return;
        }
        let mut i = 0;
        while self.express_events_total + events.len() > EXPRESS_EVENTS_BUDGET
            && i < self.express_done.len()
        {
            if let Some(old) = self.express_events.remove(&self.express_done[i]) {
                self.express_events_total -= old.len();
            }
            i += 1;
        }
        if self.express_events_total + events.len() > EXPRESS_EVENTS_BUDGET {
            return;
        }
        self.express_events_total += events.len();
        self.express_events
            .entry(exec.rec.arn.clone())
            .or_default()
            .extend(events);
    }

    /// Puts a finished EXPRESS execution in the ring, dropping the oldest.
    pub(super) fn ring_express(&mut self, rec: ExecutionRecord) {
        let arn = rec.arn.clone();
        self.express_records.insert(arn.clone(), rec);
        self.express_done.push_back(arn);
        while self.express_done.len() > self.express_keep {
            if let Some(old) = self.express_done.pop_front() {
                self.express_records.remove(&old);
                if let Some(ev) = self.express_events.remove(&old) {
                    self.express_events_total -= ev.len();
                }
            }
        }
        self.changed();
    }

    /// Tells the console's live pages that something changed.
    pub(super) fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}
