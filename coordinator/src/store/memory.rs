//! An in-memory [`Store`]: the same semantics as the SQLite store on maps
//! behind one mutex, for tests and EXPRESS-only setups. Nothing survives the
//! process.
//!
//! This module also holds the few rules both stores share (the pagination
//! cursor, the reserved meta key, the meaning of `limit == 0`), so the two
//! cannot drift apart.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use super::{
    ActivityRecord, AliasRecord, Batch, EventRecord, ExecutionQuery, ExecutionRecord, MapRunRecord,
    Millis, Page, Snapshot, StateMachineRecord, Store, StoreError, Write,
};

/// The status of an open execution; [`Store::load`] returns those.
pub(super) const RUNNING: &str = "RUNNING";

/// The meta key under which the SQLite store records its schema version.
/// Both stores refuse to write it and leave it out of [`Snapshot::meta`].
pub(super) const SCHEMA_VERSION_KEY: &str = "schema_version";

/// The cursor of the page after `start`/`arn` in `ListExecutions` order.
pub(super) fn encode_cursor(start: Millis, arn: &str) -> String {
    format!("{start}:{arn}")
}

/// Reads a cursor made by [`encode_cursor`].
pub(super) fn decode_cursor(cursor: &str) -> Result<(Millis, &str), StoreError> {
    cursor
        .split_once(':')
        .and_then(|(start, arn)| Some((start.parse().ok()?, arn)))
        .filter(|(_, arn)| !arn.is_empty())
        .ok_or_else(|| StoreError::Corrupt(format!("invalid pagination cursor {cursor:?}")))
}

/// A page of `limit` executions from a query that read one row more than
/// `limit`: that extra row says another page follows.
pub(super) fn page_of(mut items: Vec<ExecutionRecord>, limit: usize) -> Page<ExecutionRecord> {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|e| encode_cursor(e.start, &e.arn))
    } else {
        None
    };
    Page { items, next }
}

/// A `limit` of 0 means no limit.
pub(super) fn page_limit(limit: usize) -> usize {
    if limit == 0 { usize::MAX } else { limit }
}

/// The first and last ids of events appended to `execution`, whose highest
/// stored id is `stored_last`; fails unless every id is new and above it (the
/// ids of an execution only grow). `None` for no events.
pub(super) fn appended_ids(
    execution: &str,
    events: &[EventRecord],
    stored_last: Option<i64>,
) -> Result<Option<(i64, i64)>, StoreError> {
    let mut ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
        return Ok(None);
    };
    let repeated = ids.windows(2).any(|w| w[0] == w[1]);
    if repeated || stored_last.is_some_and(|l| l >= first) {
        return Err(StoreError::Database(format!(
            "append history events {first}..{last} of {execution}: an id is taken \
             (ids of an execution only grow)"
        )));
    }
    Ok(Some((first, last)))
}

/// Rejects writes that no store accepts, before anything is applied.
pub(super) fn check_batch(batch: &Batch) -> Result<(), StoreError> {
    for w in &batch.writes {
        if let Write::PutMeta { key, .. } = w
            && key == SCHEMA_VERSION_KEY
        {
            return Err(StoreError::Database(format!(
                "meta key {SCHEMA_VERSION_KEY:?} is reserved for the store"
            )));
        }
    }
    Ok(())
}

/// An execution row without its runtime state, as `ListExecutions` returns it.
pub(super) fn summary(e: &ExecutionRecord) -> ExecutionRecord {
    ExecutionRecord {
        arn: e.arn.clone(),
        state_machine_arn: e.state_machine_arn.clone(),
        name: e.name.clone(),
        status: e.status.clone(),
        input: e.input.clone(),
        output: e.output.clone(),
        error: e.error.clone(),
        cause: e.cause.clone(),
        start: e.start,
        stop: e.stop,
        definition: e.definition.clone(),
        role_arn: e.role_arn.clone(),
        revision_id: e.revision_id.clone(),
        runtime: None,
        parent: e.parent.clone(),
        version_arn: e.version_arn.clone(),
        alias_arn: e.alias_arn.clone(),
        redrive_count: e.redrive_count,
        redrive_date: e.redrive_date,
    }
}

/// A [`Store`] that keeps everything in memory.
///
/// ```
/// use stepwise_coordinator::store::memory::MemoryStore;
/// use stepwise_coordinator::store::{ActivityRecord, Batch, Store, Write};
///
/// let store = MemoryStore::new();
/// let mut batch = Batch::default();
/// batch.push(Write::PutActivity(ActivityRecord {
///     arn: "arn:aws:states:us-east-1:123456789012:activity:charge".into(),
///     name: "charge".into(),
///     created: 0,
/// }));
/// store.commit(&batch)?;
/// assert_eq!(store.load()?.activities.len(), 1);
/// # Ok::<(), stepwise_coordinator::store::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    meta: BTreeMap<String, String>,
    aliases: BTreeMap<String, AliasRecord>,
    /// execution → its Map Runs, oldest first.
    map_runs: HashMap<String, Vec<MapRunRecord>>,
    state_machines: BTreeMap<String, StateMachineRecord>,
    activities: BTreeMap<String, ActivityRecord>,
    /// resource → key → value.
    tags: BTreeMap<String, BTreeMap<String, String>>,
    executions: HashMap<String, ExecutionRecord>,
    /// state machine → (start, arn) of its executions, listed in reverse.
    by_machine: HashMap<String, BTreeSet<(Millis, String)>>,
    /// execution → id → event.
    history: HashMap<String, BTreeMap<i64, EventRecord>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        // Batches are checked before they are applied and applying cannot
        // fail, so a poisoned lock means a bug; refuse rather than risk
        // showing half a batch.
        self.tables
            .lock()
            .map_err(|_| StoreError::Database("memory store poisoned by a panic".into()))
    }
}

impl Tables {
    /// Everything that could make `apply` fail, checked first so a batch
    /// applies completely or not at all.
    fn check(&self, batch: &Batch) -> Result<(), StoreError> {
        check_batch(batch)?;
        // The highest id of each execution so far, batch included: ids only grow.
        let mut last: HashMap<&str, i64> = HashMap::new();
        // Executions put earlier in the batch.
        let mut put: HashSet<&str> = HashSet::new();
        for w in &batch.writes {
            match w {
                Write::PutExecution(e) => {
                    put.insert(&e.arn);
                }
                Write::AppendEvents { execution, events } => {
                    if !put.contains(execution.as_str()) && !self.executions.contains_key(execution)
                    {
                        return Err(StoreError::Database(format!(
                            "history events for {execution}, an execution that is not stored"
                        )));
                    }
                    let stored = last.get(execution.as_str()).copied().or_else(|| {
                        self.history
                            .get(execution)
                            .and_then(|h| h.last_key_value().map(|(id, _)| *id))
                    });
                    if let Some((_, high)) = appended_ids(execution, events, stored)? {
                        last.insert(execution, high);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn apply(&mut self, w: &Write) {
        match w {
            Write::PutStateMachine(m) => {
                self.state_machines.insert(m.arn.clone(), m.clone());
            }
            Write::DeleteStateMachine(arn) => {
                self.state_machines.remove(arn);
            }
            Write::PutActivity(a) => {
                self.activities.insert(a.arn.clone(), a.clone());
            }
            Write::DeleteActivity(arn) => {
                self.activities.remove(arn);
            }
            Write::PutTags { resource, tags } => {
                let stored = self.tags.entry(resource.clone()).or_default();
                for (k, v) in tags {
                    stored.insert(k.clone(), v.clone());
                }
            }
            Write::RemoveTags { resource, keys } => {
                if let Some(stored) = self.tags.get_mut(resource) {
                    for k in keys {
                        stored.remove(k);
                    }
                    if stored.is_empty() {
                        self.tags.remove(resource);
                    }
                }
            }
            Write::ClearTags(resource) => {
                self.tags.remove(resource);
            }
            Write::UpdateRuntime { arn, runtime } => {
                if let Some(e) = self.executions.get_mut(arn) {
                    e.runtime = Some(runtime.clone());
                }
            }
            Write::PutExecution(e) => {
                if let Some(old) = self.executions.insert(e.arn.clone(), e.clone())
                    && let Some(set) = self.by_machine.get_mut(&old.state_machine_arn)
                {
                    set.remove(&(old.start, old.arn));
                    if set.is_empty() {
                        self.by_machine.remove(&old.state_machine_arn);
                    }
                }
                self.by_machine
                    .entry(e.state_machine_arn.clone())
                    .or_default()
                    .insert((e.start, e.arn.clone()));
            }
            Write::AppendEvents { execution, events } => {
                let stored = self.history.entry(execution.clone()).or_default();
                for e in events {
                    stored.insert(e.id, e.clone());
                }
            }
            Write::PutAlias(a) => {
                self.aliases.insert(a.arn.clone(), a.clone());
            }
            Write::DeleteAlias(arn) => {
                self.aliases.remove(arn);
            }
            Write::PutMapRun(m) => {
                let runs = self.map_runs.entry(m.execution_arn.clone()).or_default();
                match runs.iter_mut().find(|r| r.arn == m.arn) {
                    Some(r) => *r = m.clone(),
                    None => runs.push(m.clone()),
                }
            }
            Write::PutMeta { key, value } => {
                self.meta.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let t = self.lock()?;
        let mut running: Vec<ExecutionRecord> = t
            .executions
            .values()
            .filter(|e| e.status == RUNNING)
            .cloned()
            .collect();
        running.sort_by(|a, b| (a.start, &a.arn).cmp(&(b.start, &b.arn)));
        Ok(Snapshot {
            state_machines: t.state_machines.values().cloned().collect(),
            activities: t.activities.values().cloned().collect(),
            tags: t
                .tags
                .iter()
                .flat_map(|(r, kv)| kv.iter().map(|(k, v)| (r.clone(), k.clone(), v.clone())))
                .collect(),
            running,
            meta: t.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            aliases: t.aliases.values().cloned().collect(),
        })
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        t.check(batch)?;
        for w in &batch.writes {
            t.apply(w);
        }
        Ok(())
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.lock()?.executions.get(arn).cloned())
    }

    fn map_runs(&self, execution: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        Ok(self
            .lock()?
            .map_runs
            .get(execution)
            .cloned()
            .unwrap_or_default())
    }

    /// Newest first by start time, then by ARN (descending); `limit == 0`
    /// means no limit. The runtime state is left out (`runtime: None`).
    fn list_executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let limit = page_limit(q.limit);
        let after = q.after.as_deref().map(decode_cursor).transpose()?;
        let t = self.lock()?;
        let Some(set) = t.by_machine.get(&q.state_machine_arn) else {
            return Ok(Page::default());
        };
        let positions = match after {
            Some((start, arn)) => set.range(..(start, arn.to_owned())),
            None => set.range(..),
        };
        let mut matching = positions
            .rev()
            .filter_map(|(_, arn)| t.executions.get(arn))
            .filter(|e| q.status.as_deref().is_none_or(|s| e.status == s))
            .filter(|e| {
                q.qualified.as_ref().is_none_or(|a| {
                    e.version_arn.as_ref() == Some(a) || e.alias_arn.as_ref() == Some(a)
                })
            })
            .filter(|e| q.redriven.is_none_or(|r| (e.redrive_count > 0) == r));
        let items: Vec<ExecutionRecord> = matching.by_ref().take(limit).map(summary).collect();
        let next = match matching.next() {
            Some(_) => items.last().map(|e| encode_cursor(e.start, &e.arn)),
            None => None,
        };
        Ok(Page { items, next })
    }

    /// `limit == 0` means no limit.
    fn history(
        &self,
        execution: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let limit = page_limit(limit);
        let t = self.lock()?;
        let Some(events) = t.history.get(execution) else {
            return Ok(Vec::new());
        };
        let page = match (reverse, after) {
            (false, None) => events.values().take(limit).cloned().collect(),
            (false, Some(a)) => events
                .range((Bound::Excluded(a), Bound::Unbounded))
                .map(|(_, e)| e.clone())
                .take(limit)
                .collect(),
            (true, None) => events.values().rev().take(limit).cloned().collect(),
            (true, Some(a)) => events
                .range(..a)
                .rev()
                .map(|(_, e)| e.clone())
                .take(limit)
                .collect(),
        };
        Ok(page)
    }
}

/// The behaviour every [`Store`] must show, run against both implementations.
#[cfg(test)]
pub(super) mod suite {
    #![allow(clippy::unwrap_used)]

    use super::super::*;
    use super::MemoryStore;

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
    const OTHER: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:other";
    const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:charge";

    pub(in crate::store) fn machine(arn: &str, revision: &str) -> StateMachineRecord {
        StateMachineRecord {
            arn: arn.into(),
            name: arn.rsplit(':').next().unwrap().into(),
            definition: r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#.into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            machine_type: "STANDARD".into(),
            created: 1_000,
            updated: 2_000,
            logging: String::new(),
            tracing: r#"{"enabled":false}"#.into(),
            revision_id: revision.into(),
            description: "orders, ünïcode ✓".into(),
        }
    }

    pub(in crate::store) fn execution(
        n: u32,
        machine: &str,
        start: Millis,
        status: &str,
    ) -> ExecutionRecord {
        let name = format!("e{n:03}");
        let running = status == "RUNNING";
        ExecutionRecord {
            arn: format!(
                "{}:{name}",
                machine.replace(":stateMachine:", ":execution:")
            ),
            state_machine_arn: machine.into(),
            name,
            status: status.into(),
            input: r#"{"n":1}"#.into(),
            output: (!running).then(|| "{}".to_string()),
            error: (status == "FAILED").then(|| "States.TaskFailed".to_string()),
            cause: None,
            start,
            stop: (!running).then_some(start + 10),
            definition: "{}".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            revision_id: "r1".into(),
            runtime: running.then(|| format!(r#"{{"state":"A","n":{n}}}"#)),
            parent: None,
            version_arn: None,
            alias_arn: None,
            redrive_count: 0,
            redrive_date: None,
        }
    }

    pub(in crate::store) fn event(id: i64) -> EventRecord {
        EventRecord {
            id,
            previous_id: id - 1,
            timestamp: 1_000 + id,
            event_type: "PassStateEntered".into(),
            details: format!(r#"{{"stateEnteredEventDetails":{{"name":"S{id}"}}}}"#),
        }
    }

    fn commit(store: &dyn Store, writes: Vec<Write>) {
        store.commit(&Batch { writes }).unwrap();
    }

    /// Every page of a listing, following `next`.
    fn list_all(store: &dyn Store, status: Option<&str>, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let q = ExecutionQuery {
                state_machine_arn: MACHINE.into(),
                qualified: None,
                redriven: None,
                status: status.map(str::to_string),
                after: after.take(),
                limit,
            };
            let page = store.list_executions(&q).unwrap();
            assert!(page.items.iter().all(|e| e.runtime.is_none()));
            pages.push(page.items.iter().map(|e| e.name.clone()).collect());
            match page.next {
                Some(next) => after = Some(next),
                None => return pages,
            }
            assert!(pages.len() < 100, "pagination does not end");
        }
    }

    fn ids(events: &[EventRecord]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    /// Writes, reads back, and leaves the state that [`check_final`] expects.
    pub(in crate::store) fn exercise(store: &dyn Store) {
        // An empty store.
        let s = store.load().unwrap();
        assert!(s.state_machines.is_empty() && s.activities.is_empty() && s.tags.is_empty());
        assert!(s.running.is_empty() && s.meta.is_empty());
        assert_eq!(store.execution("nope").unwrap(), None);
        assert!(store.history("nope", None, false, 10).unwrap().is_empty());
        store.commit(&Batch::default()).unwrap();

        // State machines and activities: put, replace, delete.
        commit(
            store,
            vec![
                Write::PutStateMachine(machine(MACHINE, "r1")),
                Write::PutStateMachine(machine(OTHER, "r1")),
                Write::PutActivity(ActivityRecord {
                    arn: ACTIVITY.into(),
                    name: "charge".into(),
                    created: 5,
                }),
                Write::PutActivity(ActivityRecord {
                    arn: format!("{ACTIVITY}2"),
                    name: "charge2".into(),
                    created: 6,
                }),
                Write::PutMeta {
                    key: "token-key".into(),
                    value: "k1".into(),
                },
            ],
        );
        commit(
            store,
            vec![
                Write::PutStateMachine(machine(MACHINE, "r2")),
                Write::DeleteStateMachine(OTHER.into()),
                Write::DeleteActivity(format!("{ACTIVITY}2")),
                Write::DeleteActivity("never-existed".into()),
                Write::PutMeta {
                    key: "token-key".into(),
                    value: "k2".into(),
                },
            ],
        );
        let s = store.load().unwrap();
        assert_eq!(s.state_machines, vec![machine(MACHINE, "r2")]);
        assert_eq!(
            s.activities,
            vec![ActivityRecord {
                arn: ACTIVITY.into(),
                name: "charge".into(),
                created: 5
            }]
        );
        assert_eq!(s.meta, vec![("token-key".to_string(), "k2".to_string())]);

        // Tags: put, replace, remove, clear.
        let t = |k: &str, v: &str| (k.to_string(), v.to_string());
        commit(
            store,
            vec![
                Write::PutTags {
                    resource: MACHINE.into(),
                    tags: vec![t("team", "a"), t("env", "prod")],
                },
                Write::PutTags {
                    resource: ACTIVITY.into(),
                    tags: vec![t("x", "1"), t("y", "2")],
                },
                Write::PutTags {
                    resource: OTHER.into(),
                    tags: vec![t("gone", "soon")],
                },
            ],
        );
        commit(
            store,
            vec![
                Write::PutTags {
                    resource: MACHINE.into(),
                    tags: vec![t("team", "b")],
                },
                Write::RemoveTags {
                    resource: ACTIVITY.into(),
                    keys: vec!["x".into(), "absent".into()],
                },
                Write::ClearTags(OTHER.into()),
            ],
        );
        let tag = |r: &str, k: &str, v: &str| (r.to_string(), k.to_string(), v.to_string());
        assert_eq!(
            store.load().unwrap().tags,
            vec![
                tag(ACTIVITY, "y", "2"),
                tag(MACHINE, "env", "prod"),
                tag(MACHINE, "team", "b")
            ]
        );

        // Executions: 25 of MACHINE (two sharing a start time), 3 of OTHER.
        let mut writes = Vec::new();
        for n in 0..25u32 {
            let status = match n % 3 {
                0 => "RUNNING",
                1 => "SUCCEEDED",
                _ => "FAILED",
            };
            let start = if n == 24 {
                23_000
            } else {
                i64::from(n) * 1_000
            };
            writes.push(Write::PutExecution(execution(n, MACHINE, start, status)));
        }
        for n in 0..3 {
            writes.push(Write::PutExecution(execution(
                100 + n,
                OTHER,
                50_000,
                "RUNNING",
            )));
        }
        commit(store, writes);

        // Upsert: e000 finishes, e001 moves to the newest start.
        let mut done = execution(0, MACHINE, 0, "SUCCEEDED");
        done.cause = Some("because".into());
        let mut moved = execution(1, MACHINE, 99_000, "SUCCEEDED");
        moved.parent = Some("parent-arn".into());
        commit(
            store,
            vec![
                Write::PutExecution(done.clone()),
                Write::PutExecution(moved.clone()),
            ],
        );
        assert_eq!(store.execution(&done.arn).unwrap(), Some(done.clone()));
        assert_eq!(store.execution(&moved.arn).unwrap(), Some(moved.clone()));
        let e3 = execution(3, MACHINE, 3_000, "RUNNING");
        assert_eq!(store.execution(&e3.arn).unwrap(), Some(e3.clone()));

        // Runtime state: replaced by each round, dropped when it ends; an
        // update for an execution not stored changes nothing (e003 is
        // restored at the end).
        commit(
            store,
            vec![
                Write::UpdateRuntime {
                    arn: e3.arn.clone(),
                    runtime: r#"{"state":"B"}"#.into(),
                },
                Write::UpdateRuntime {
                    arn: "not-stored".into(),
                    runtime: "{}".into(),
                },
            ],
        );
        let moved_on = ExecutionRecord {
            runtime: Some(r#"{"state":"B"}"#.into()),
            ..e3.clone()
        };
        assert_eq!(store.execution(&e3.arn).unwrap(), Some(moved_on.clone()));
        assert!(store.load().unwrap().running.contains(&moved_on));
        assert_eq!(store.execution("not-stored").unwrap(), None);
        let ended = ExecutionRecord {
            status: "FAILED".into(),
            runtime: None,
            ..e3.clone()
        };
        commit(store, vec![Write::PutExecution(ended.clone())]);
        assert_eq!(store.execution(&e3.arn).unwrap(), Some(ended));
        commit(store, vec![Write::PutExecution(e3.clone())]);
        assert_eq!(store.execution(&e3.arn).unwrap(), Some(e3.clone()));

        // Listing: newest first, e024 and e023 share a start (ARN descending).
        let all: Vec<String> = list_all(store, None, 0).concat();
        let mut expected: Vec<String> = vec!["e001".into(), "e024".into(), "e023".into()];
        expected.extend((2..=22).rev().map(|n| format!("e{n:03}")));
        expected.push("e000".into());
        assert_eq!(all, expected);
        // Pages of 7: 7, 7, 7, 4; the last has no `next`.
        let pages = list_all(store, None, 7);
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![7, 7, 7, 4]
        );
        assert_eq!(pages.concat(), expected);
        // A page that ends exactly at the last row has no `next`.
        let pages = list_all(store, None, 25);
        assert_eq!(pages.len(), 1);
        // Status filter, paged by 2: RUNNING are n % 3 == 0 except e000.
        let running: Vec<String> = [24, 21, 18, 15, 12, 9, 6, 3]
            .iter()
            .map(|n| format!("e{n:03}"))
            .collect();
        let pages = list_all(store, Some("RUNNING"), 2);
        assert_eq!(pages.len(), 4);
        assert_eq!(pages.concat(), running);
        assert!(list_all(store, Some("ABORTED"), 2).concat().is_empty());
        let page = store
            .list_executions(&ExecutionQuery {
                state_machine_arn: "unknown".into(),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert!(page.items.is_empty() && page.next.is_none());
        let bad = ExecutionQuery {
            state_machine_arn: MACHINE.into(),
            after: Some("garbage".into()),
            limit: 10,
            ..Default::default()
        };
        assert!(store.list_executions(&bad).is_err());
        // A listed row is the stored one without its runtime state.
        let first = store
            .list_executions(&ExecutionQuery {
                state_machine_arn: MACHINE.into(),
                status: Some("RUNNING".into()),
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        let e24 = execution(24, MACHINE, 23_000, "RUNNING");
        assert_eq!(
            first.items,
            vec![ExecutionRecord {
                runtime: None,
                ..e24.clone()
            }]
        );

        // History: appended over several batches, read in pages both ways.
        let exec = e3.arn.clone();
        commit(
            store,
            vec![Write::AppendEvents {
                execution: exec.clone(),
                events: (1..=10).map(event).collect(),
            }],
        );
        commit(
            store,
            vec![
                Write::AppendEvents {
                    execution: exec.clone(),
                    events: (11..=12).map(event).collect(),
                },
                Write::AppendEvents {
                    execution: exec.clone(),
                    events: vec![event(13)],
                },
                Write::AppendEvents {
                    execution: e24.arn.clone(),
                    events: vec![event(1)],
                },
            ],
        );
        assert_eq!(
            store.history(&exec, None, false, 0).unwrap(),
            (1..=13).map(event).collect::<Vec<_>>()
        );
        assert_eq!(
            ids(&store.history(&exec, None, false, 5).unwrap()),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(
            ids(&store.history(&exec, Some(5), false, 5).unwrap()),
            vec![6, 7, 8, 9, 10]
        );
        assert_eq!(
            ids(&store.history(&exec, Some(10), false, 5).unwrap()),
            vec![11, 12, 13]
        );
        assert!(store.history(&exec, Some(13), false, 5).unwrap().is_empty());
        assert_eq!(
            ids(&store.history(&exec, None, true, 4).unwrap()),
            vec![13, 12, 11, 10]
        );
        assert_eq!(
            ids(&store.history(&exec, Some(10), true, 4).unwrap()),
            vec![9, 8, 7, 6]
        );
        assert_eq!(
            ids(&store.history(&exec, Some(3), true, 4).unwrap()),
            vec![2, 1]
        );
        assert!(store.history(&exec, Some(1), true, 4).unwrap().is_empty());
        assert_eq!(
            ids(&store.history(&e24.arn, None, true, 0).unwrap()),
            vec![1]
        );

        // A failing batch changes nothing: a taken event id, an id below the
        // last one, an id repeated within the batch, and the reserved meta key.
        for bad in [
            vec![Write::AppendEvents {
                execution: exec.clone(),
                events: vec![event(13)],
            }],
            vec![Write::AppendEvents {
                execution: exec.clone(),
                events: vec![event(21), event(19)],
            }],
            vec![Write::AppendEvents {
                execution: exec.clone(),
                events: vec![event(14), event(14)],
            }],
            vec![Write::PutMeta {
                key: "schema_version".into(),
                value: "1".into(),
            }],
        ] {
            let mut writes = vec![
                Write::PutActivity(ActivityRecord {
                    arn: "half".into(),
                    name: "half".into(),
                    created: 0,
                }),
                Write::PutExecution(execution(3, MACHINE, 3_000, "ABORTED")),
                Write::AppendEvents {
                    execution: exec.clone(),
                    events: vec![event(20)],
                },
                Write::ClearTags(MACHINE.into()),
            ];
            writes.extend(bad);
            assert!(store.commit(&Batch { writes }).is_err());
        }
        check_final(store);
    }

    /// The state [`exercise`] leaves behind (also checked after a reopen).
    pub(in crate::store) fn check_final(store: &dyn Store) {
        let s = store.load().unwrap();
        assert_eq!(s.state_machines, vec![machine(MACHINE, "r2")]);
        assert_eq!(s.activities.len(), 1);
        assert_eq!(s.tags.len(), 3);
        assert_eq!(s.meta, vec![("token-key".to_string(), "k2".to_string())]);
        // RUNNING only, oldest first, with their runtime state.
        let running: Vec<String> = s.running.iter().map(|e| e.name.clone()).collect();
        assert_eq!(
            running,
            [
                "e003", "e006", "e009", "e012", "e015", "e018", "e021", "e024", "e100", "e101",
                "e102"
            ]
        );
        assert_eq!(s.running[0], execution(3, MACHINE, 3_000, "RUNNING"));
        assert!(
            s.running
                .iter()
                .all(|e| e.status == "RUNNING" && e.runtime.is_some())
        );
        let exec = execution(3, MACHINE, 3_000, "RUNNING").arn;
        assert_eq!(
            ids(&store.history(&exec, None, false, 0).unwrap()),
            (1..=13).collect::<Vec<_>>()
        );
        assert_eq!(list_all(store, None, 10).concat().len(), 25);
    }

    /// One commit of 5,000 history events (a large group commit).
    pub(in crate::store) fn bulk(store: &dyn Store) {
        let put = execution(7, MACHINE, 7, "RUNNING");
        let exec = put.arn.clone();
        let mut batch = Batch::default();
        batch.push(Write::PutExecution(put));
        for chunk in (1..=5_000).collect::<Vec<i64>>().chunks(50) {
            batch.push(Write::AppendEvents {
                execution: exec.clone(),
                events: chunk.iter().copied().map(event).collect(),
            });
        }
        store.commit(&batch).unwrap();
        let all = store.history(&exec, None, false, 0).unwrap();
        assert_eq!(all.len(), 5_000);
        assert_eq!(all[4_999], event(5_000));
        assert_eq!(
            ids(&store.history(&exec, Some(4_990), true, 3).unwrap()),
            vec![4_989, 4_988, 4_987]
        );
    }

    #[test]
    fn memory_store_behaves() {
        exercise(&MemoryStore::new());
    }

    #[test]
    fn memory_store_refuses_history_of_an_unknown_execution() {
        let store = MemoryStore::new();
        let batch = Batch {
            writes: vec![Write::AppendEvents {
                execution: "nowhere".into(),
                events: vec![event(1)],
            }],
        };
        assert!(matches!(store.commit(&batch), Err(StoreError::Database(_))));
        assert!(store.history("nowhere", None, false, 0).unwrap().is_empty());
    }

    #[test]
    fn memory_store_bulk_commit() {
        bulk(&MemoryStore::default());
    }

    #[test]
    fn cursor_round_trips() {
        let arn = "arn:aws:states:us-east-1:1:execution:m:x";
        assert_eq!(
            super::decode_cursor(&super::encode_cursor(-5, arn)).unwrap(),
            (-5, arn)
        );
        assert!(super::decode_cursor("12:").is_err());
        assert!(super::decode_cursor("x:arn").is_err());
        assert!(super::decode_cursor("").is_err());
    }
}
