//! A round's commit: what it writes, what becomes visible only once it is
//! durable, and what happens when the store refuses it.
//!
//! A round is decided in memory, written in one store transaction, and only
//! then acted on (replies sent, tasks handed out). If the store refuses the
//! round (an I/O error, a full disk), nothing of it is acted on: every caller
//! waiting on it, and on the round built meanwhile on top of it, gets
//! [`not_stored`] (`ServiceUnavailable`); the executions those rounds touched
//! are dropped from memory and taken up again from the store as it last
//! committed them (an execution whose start was never stored is gone), and
//! if the rounds changed machines, activities, aliases or tags, those are
//! loaded again too. While that reload runs (and is retried with a growing
//! delay if the store cannot even be read) the engine answers every command
//! with `ServiceUnavailable`. No restart is needed once the store works again.

use super::{Effect, Engine, Exec, HashSet, SharedDefinitions};
use crate::api::ApiError;
use crate::store::{Batch, ExecutionRecord, Snapshot, StoreError, Write};
use std::time::Duration;

/// The first delay before reading the store again after a failed reload.
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest delay between two attempts to reload.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The answer to every caller of a round the store refused (and to commands
/// arriving while the engine reloads): a 503 the AWS SDKs retry by themselves.
pub(crate) fn not_stored() -> ApiError {
    ApiError::unavailable(
        "The change could not be stored (the store failed); nothing of it took effect; try again",
    )
}

/// What a commit task gives back: nothing once durable, else the error and
/// the batch (to learn what it touched, only then).
pub(super) type CommitResult = Result<(), (StoreError, Batch)>;

/// A round being committed: the store transaction and what to do once it is durable.
pub(super) struct Commit {
    pub(super) task: tokio::task::JoinHandle<CommitResult>,
    effects: Vec<Effect>,
    round: u64,
}

/// What a round changes in the store: the executions it writes, and whether it
/// changes anything else (machines, versions, aliases, activities, tags, meta).
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Touched {
    pub(super) execs: HashSet<String>,
    pub(super) registry: bool,
}

impl Touched {
    /// What `batch` writes.
    pub(super) fn of(batch: &Batch) -> Self {
        let mut t = Touched::default();
        t.add(batch);
        t
    }

    fn add(&mut self, batch: &Batch) {
        for w in &batch.writes {
            match w {
                Write::PutExecution(r) => {
                    self.execs.insert(r.arn.clone());
                }
                Write::UpdateRuntime { arn, .. } => {
                    self.execs.insert(arn.clone());
                }
                Write::AppendEvents { execution, .. } => {
                    self.execs.insert(execution.clone());
                }
                Write::PutMapRun(r) => {
                    self.execs.insert(r.execution_arn.clone());
                }
                _ => self.registry = true,
            }
        }
    }
}

/// Writes a batch in one store transaction.
fn commit_batch(store: &dyn crate::store::Store, batch: Batch) -> CommitResult {
    let t0 = std::time::Instant::now();
    let r = store.commit(&batch);
    tracing::debug!(
        writes = batch.writes.len(),
        micros = t0.elapsed().as_micros() as u64,
        "committed a round"
    );
    r.map_err(|e| (e, batch))
}

/// A reload after a refused round.
pub(super) struct Recovery {
    /// What must be read again.
    touched: Touched,
    /// The read under way; `None` while waiting to try again.
    pub(super) task: Option<tokio::task::JoinHandle<Result<Reloaded, StoreError>>>,
    /// When to try again after a failed read.
    pub(super) retry_at: Option<tokio::time::Instant>,
    delay: Duration,
}

/// What the store holds for the touched executions (and everything else if
/// the registry was touched).
pub(super) struct Reloaded {
    registry: Option<Snapshot>,
    execs: Vec<(String, Option<ExecutionRecord>)>,
}

impl Engine {
    /// Commits the round, deferred `ActivityStarted` events included, and performs its effects.
    pub(super) async fn flush(&mut self) {
        self.lazy_order.clear();
        for (arn, _) in std::mem::take(&mut self.lazy) {
            self.dirty.insert(arn);
        }
        if let Some(mut c) = self.start_commit(false) {
            let done = (&mut c.task).await;
            self.finish_commit(c, done);
        }
    }

    /// Takes the round built so far and starts committing it in one store
    /// transaction. A round with nothing to write performs its effects at once
    /// (call this only when no other commit is in flight, and not while recovering).
    ///
    /// `inline`: nothing else waits to be decided, so there is nothing to
    /// decide during the commit either: the engine commits on its own thread
    /// and performs the effects before it returns (`None`). A round handed to
    /// a blocking thread costs two thread wake-ups, which at one execution at
    /// a time was the largest part of the server's CPU per execution.
    pub(super) fn start_commit(&mut self, inline: bool) -> Option<Commit> {
        if !self.lazy.is_empty() {
            for arn in &self.dirty {
                self.lazy.remove(arn);
            }
        }
        for arn in std::mem::take(&mut self.dirty) {
            if let Some(x) = self.execs.get_mut(&arn) {
                if x.express {
                    continue;
                }
                let runtime = match serde_json::to_string(&x.rt) {
                    Ok(r) => r,
                    Err(e) => {
                        // Cannot happen for a tree of plain values; if it did,
                        // writing an empty state would lose the execution.
                        tracing::error!(%arn, error = %e, "runtime state not serializable; not written");
                        continue;
                    }
                };
                if x.stored {
                    self.batch
                        .push(super::Write::UpdateRuntime { arn, runtime });
                } else {
                    let mut rec = x.rec.clone();
                    rec.runtime = Some(runtime);
                    self.batch.push(super::Write::PutExecution(rec));
                    // Later rounds only update it; if this round fails the
                    // execution is dropped from memory, so the mark never
                    // outlives a refused write.
                    x.stored = true;
                }
            }
        }
        for (execution, events) in std::mem::take(&mut self.events) {
            if self.lazy.contains_key(&execution) {
                self.events.insert(execution, events);
            } else {
                self.batch
                    .push(super::Write::AppendEvents { execution, events });
            }
        }
        let round = self.round;
        self.round += 1;
        let effects = std::mem::take(&mut self.effects);
        if self.batch.is_empty() {
            self.committed_round = round;
            for eff in effects {
                eff(true);
            }
            return None;
        }
        let batch = std::mem::take(&mut self.batch);
        let store = self.store.clone();
        if inline {
            let done = commit_batch(&*store, batch);
            self.finish_round(effects, round, Ok(done));
            return None;
        }
        Some(Commit {
            task: tokio::task::spawn_blocking(move || commit_batch(&*store, batch)),
            effects,
            round,
        })
    }

    /// Performs the effects of a finished commit; if it failed, fails them and
    /// the round built since, and starts taking up again what they touched.
    pub(super) fn finish_commit(
        &mut self,
        c: Commit,
        done: Result<CommitResult, tokio::task::JoinError>,
    ) {
        self.finish_round(c.effects, c.round, done);
    }

    fn finish_round(
        &mut self,
        effects: Vec<Effect>,
        round: u64,
        done: Result<CommitResult, tokio::task::JoinError>,
    ) {
        let (error, mut touched) = match done {
            Ok(Ok(())) => {
                self.committed_round = round;
                for eff in effects {
                    eff(true);
                }
                self.changed();
                return;
            }
            Ok(Err((e, batch))) => (e.to_string(), Touched::of(&batch)),
            // The batch is lost with the task: take up everything stored.
            Err(e) => (
                format!("the commit task failed: {e}"),
                Touched {
                    execs: self
                        .execs
                        .iter()
                        .filter(|(_, x)| !x.express)
                        .map(|(arn, _)| arn.clone())
                        .collect(),
                    registry: true,
                },
            ),
        };
        tracing::error!(%error, round, "commit failed; its changes are dropped and reloaded from the store");
        for eff in effects {
            eff(false);
        }
        self.discard_round(&mut touched);
        self.begin_recovery(touched);
    }

    /// Drops the round being built (it was decided on top of a refused one):
    /// its callers are failed and what it touched is added to `touched`.
    fn discard_round(&mut self, touched: &mut Touched) {
        let batch = std::mem::take(&mut self.batch);
        touched.add(&batch);
        touched.execs.extend(self.dirty.drain());
        touched.execs.extend(
            self.events
                .keys()
                .filter(|arn| !self.lazy.contains_key(*arn))
                .cloned(),
        );
        for eff in std::mem::take(&mut self.effects) {
            eff(false);
        }
        self.pending_dispatch.clear();
    }

    /// Forgets the in-memory state of what `touched` names and starts reading it again.
    pub(super) fn begin_recovery(&mut self, touched: Touched) {
        for arn in &touched.execs {
            self.forget(arn);
        }
        // Queued tasks of forgotten executions may come from a refused round:
        // the executions taken up again queue the ones the store holds.
        let signer = &self.signer;
        let gone = |arn: &str| touched.execs.contains(arn);
        for q in self.queues.values_mut() {
            q.tasks.retain(|(arn, _, _)| !gone(arn));
            q.handed_back
                .retain(|t| signer.verify(&t.token).is_ok_and(|r| !gone(&r.execution)));
        }
        let mut r = Recovery {
            touched,
            task: None,
            retry_at: None,
            delay: RETRY_FIRST,
        };
        r.task = Some(self.spawn_reload(&r.touched));
        self.recovery = Some(r);
    }

    /// Drops an execution's in-memory state (not its parked callers: only
    /// EXPRESS executions have those, and they are never stored).
    fn forget(&mut self, arn: &str) {
        self.dirty.remove(arn);
        self.events.remove(arn);
        self.lazy.remove(arn);
        let Some(x) = self.execs.get(arn) else {
            return;
        };
        if x.express {
            return;
        }
        if let Some(mut x) = self.execs.remove(arn) {
            for t in x.timer_at.drain(..) {
                self.timers.remove(&(t, arn.to_owned()));
            }
        }
    }

    fn spawn_reload(
        &self,
        touched: &Touched,
    ) -> tokio::task::JoinHandle<Result<Reloaded, StoreError>> {
        let store = self.store.clone();
        let registry = touched.registry;
        let arns: Vec<String> = touched.execs.iter().cloned().collect();
        tokio::task::spawn_blocking(move || {
            let registry = if registry { Some(store.load()?) } else { None };
            let mut execs = Vec::with_capacity(arns.len());
            for arn in arns {
                let rec = store.execution(&arn)?;
                execs.push((arn, rec));
            }
            Ok(Reloaded { registry, execs })
        })
    }

    /// Waits for what the recovery waits on: the read, or the time to try again.
    pub(super) async fn recovery_step(
        r: &mut Recovery,
    ) -> Option<Result<Result<Reloaded, StoreError>, tokio::task::JoinError>> {
        match (r.task.as_mut(), r.retry_at) {
            (Some(t), _) => Some(t.await),
            (None, Some(at)) => {
                tokio::time::sleep_until(at).await;
                None
            }
            (None, None) => std::future::pending().await,
        }
    }

    /// Handles what [`Engine::recovery_step`] returned.
    pub(super) fn recovery_progress(
        &mut self,
        done: Option<Result<Result<Reloaded, StoreError>, tokio::task::JoinError>>,
    ) {
        let Some(mut r) = self.recovery.take() else {
            return;
        };
        let error = match done {
            None => {
                r.retry_at = None;
                r.task = Some(self.spawn_reload(&r.touched));
                self.recovery = Some(r);
                return;
            }
            Some(Ok(Ok(reloaded))) => {
                self.take_up(reloaded);
                for cmd in std::mem::take(&mut self.deferred_answers) {
                    self.handle(cmd);
                }
                tracing::info!(
                    executions = r.touched.execs.len(),
                    registry = r.touched.registry,
                    "reloaded from the store after a failed commit"
                );
                return;
            }
            Some(Ok(Err(e))) => e.to_string(),
            Some(Err(e)) => format!("the reload task failed: {e}"),
        };
        tracing::error!(%error, retry_in_ms = r.delay.as_millis() as u64, "reading the store after a failed commit failed; trying again");
        r.task = None;
        r.retry_at = Some(tokio::time::Instant::now() + r.delay);
        r.delay = (r.delay * 2).min(RETRY_MAX);
        self.recovery = Some(r);
    }

    /// Takes up what the store holds after a refused round.
    fn take_up(&mut self, reloaded: Reloaded) {
        let now = self.clock.now_ms();
        if let Some(mut snap) = reloaded.registry {
            self.load_registry(&mut snap);
            if !snap.meta.iter().any(|(k, _)| k == super::TOKEN_KEY) {
                self.batch.push(Write::PutMeta {
                    key: super::TOKEN_KEY.into(),
                    value: self.token_key.clone(),
                });
            }
            // A refused DeleteActivity dropped its queue: queue again every
            // task still waiting for a worker.
            for q in self.queues.values_mut() {
                q.tasks.clear();
            }
            let waiting: Vec<(String, String, i64)> = self
                .execs
                .values()
                .flat_map(|x| {
                    let arn = x.rec.arn.clone();
                    x.rt.unstarted_activities()
                        .into_iter()
                        .map(move |(a, id)| (a, arn.clone(), id))
                })
                .collect();
            for (activity, arn, id) in waiting {
                self.queues
                    .entry(activity)
                    .or_default()
                    .tasks
                    .push_back((arn, id, 0));
            }
        }
        let mut shared = SharedDefinitions::seeded(self.machines.values());
        for (arn, rec) in reloaded.execs {
            match rec {
                Some(rec) if rec.status == "RUNNING" => {
                    if let Some(x) = Exec::taken_up(rec, &mut shared) {
                        self.resume(x, now);
                    }
                }
                _ => {
                    tracing::info!(%arn, "execution not running in the store; dropped from memory")
                }
            }
        }
        self.link_children();
        let activities: Vec<String> = self.queues.keys().cloned().collect();
        for a in activities {
            self.dispatch(&a);
        }
    }
}
