//! The engine with a store whose commits can be held and are recorded:
//! pipelined rounds, immediate hand-out of durable tasks, a stop before
//! `ActivityStarted` is durable, and `ActivityStarted` written with the answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::store::memory::MemoryStore;
use crate::store::{ExecutionQuery, Page, Snapshot, StoreError};
use crate::time::SystemClock;
use std::sync::{Condvar, Mutex};

mod commit_failure;

/// Delegates to a [`MemoryStore`] and keeps, for each commit, the event
/// types it wrote; while `held`, commits wait (and, once the store is
/// `abandoned`, fail without writing, as if the process had died).
struct GatedStore {
    inner: Arc<MemoryStore>,
    gate: Mutex<(bool, bool)>,
    changed: Condvar,
    commits: Mutex<Vec<Vec<String>>>,
}

impl GatedStore {
    fn new(inner: Arc<MemoryStore>) -> Self {
        GatedStore {
            inner,
            gate: Mutex::new((false, false)),
            changed: Condvar::new(),
            commits: Mutex::new(Vec::new()),
        }
    }

    fn set(&self, held: bool, abandoned: bool) {
        *self.gate.lock().unwrap() = (held, abandoned);
        self.changed.notify_all();
    }
}

impl Store for GatedStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.load()
    }
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut g = self.gate.lock().unwrap();
        while g.0 && !g.1 {
            g = self.changed.wait(g).unwrap();
        }
        if g.1 {
            return Err(StoreError::Database("abandoned".into()));
        }
        let types = batch
            .writes
            .iter()
            .flat_map(|w| match w {
                Write::AppendEvents { events, .. } => {
                    events.iter().map(|e| e.event_type.clone()).collect()
                }
                _ => Vec::new(),
            })
            .collect();
        self.commits.lock().unwrap().push(types);
        self.inner.commit(batch)
    }
    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner.execution(arn)
    }
    fn list_executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        self.inner.list_executions(q)
    }
    fn map_runs(&self, execution: &str) -> Result<Vec<crate::store::MapRunRecord>, StoreError> {
        self.inner.map_runs(execution)
    }
    fn history(
        &self,
        execution: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.inner.history(execution, after, reverse, limit)
    }
}

fn engine(store: Arc<dyn Store>) -> (EngineHandle, CancellationToken) {
    let e = Engine::load(config(), store, Arc::new(SystemClock)).unwrap();
    let cancel = CancellationToken::new();
    let (h, _join) = e.spawn(cancel.clone());
    (h, cancel)
}

async fn poll(h: &EngineHandle, activity: &str) -> Option<ActivityTask> {
    let (tx, rx) = oneshot::channel();
    h.call_raw(Command::GetActivityTask {
        activity: activity.into(),
        worker: "w".into(),
        reply: tx,
    })
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("the poll was answered")
        .unwrap()
        .unwrap()
}

async fn create_activity(h: &EngineHandle, name: &str) -> String {
    h.call(|reply| Command::CreateActivity {
        name: name.into(),
        tags: vec![],
        reply,
    })
    .await
    .unwrap()
    .arn
}

/// A STANDARD machine with a single Task state on `activity`.
fn one_task(activity: &str, comment: &str) -> String {
    json!({"Comment": comment, "StartAt": "T",
           "States": {"T": {"Type": "Task", "Resource": activity, "End": true}}})
    .to_string()
}

async fn create_machine(h: &EngineHandle, name: &str, definition: String) -> StateMachineRecord {
    h.call(|reply| Command::CreateStateMachine {
        name: name.into(),
        definition,
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        machine_type: "STANDARD".into(),
        logging: "{}".into(),
        tracing: "{}".into(),
        tags: vec![],
        publish: None,
        reply,
    })
    .await
    .unwrap()
    .0
}

/// Starts an execution that keeps running; its ARN.
async fn start(h: &EngineHandle, machine_arn: &str, name: &str, input: &str) -> String {
    match h
        .call(|reply| Command::StartExecution {
            machine_arn: machine_arn.into(),
            name: Some(name.into()),
            input: input.into(),
            sync: false,
            reply,
        })
        .await
        .unwrap()
    {
        Started::Running { arn, .. } => arn,
        _ => panic!("{name} is not running"),
    }
}

/// Answers the task with `token` successfully.
async fn succeed(h: &EngineHandle, token: &str, output: &str) {
    h.call(|reply| Command::SendTaskSuccess {
        token: token.into(),
        output: output.into(),
        reply,
    })
    .await
    .unwrap();
}

/// The types of the stored history events of `exec`, in order.
fn event_types(store: &MemoryStore, exec: &str) -> Vec<String> {
    store
        .history(exec, None, false, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// How many stored `ActivityStarted` events `exec` has.
fn started_count(store: &MemoryStore, exec: &str) -> usize {
    event_types(store, exec)
        .iter()
        .filter(|t| *t == "ActivityStarted")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_task_is_handed_out_during_a_commit_and_again_after_a_stop() {
    let inner = Arc::new(MemoryStore::new());
    let gated = Arc::new(GatedStore::new(inner.clone()));
    let (h, cancel) = engine(gated.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "")).await;
    let exec = start(&h, &machine.arn, "e1", "{\"n\":1}").await;

    // Commits now hang: the scheduling is durable, so the task still comes at once.
    gated.set(true, false);
    let first = poll(&h, &act).await.expect("a task");
    assert_eq!(first.input, "{\"n\":1}");
    // The round that records ActivityStarted never becomes durable: the
    // coordinator "dies" (its pending commit fails, nothing more is written).
    gated.set(true, true);
    cancel.cancel();
    assert_eq!(started_count(&inner, &exec), 0);

    // Restart on what was committed: the task is queued again under the same token.
    let (h2, cancel2) = engine(inner.clone());
    let again = poll(&h2, &act).await.expect("the task again");
    assert_eq!(again.token, first.token);
    succeed(&h2, &first.token, "{\"ok\":true}").await;
    let rec = inner.execution(&exec).unwrap().unwrap();
    assert_eq!(rec.status, "SUCCEEDED");
    let t = event_types(&inner, &exec);
    assert_eq!(started_count(&inner, &exec), 1);
    assert_eq!(t.iter().filter(|e| *e == "TaskStateEntered").count(), 1);
    cancel2.cancel();
}

fn config() -> EngineConfig {
    EngineConfig {
        scope: ArnScope {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        },
        wait_scale: 1.0,
        integrations: std::sync::Arc::new(
            crate::integrations::Integrations::from_env().expect("integrations"),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_compiles_each_definition_once_and_shares_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(crate::store::sqlite::SqliteStore::open(dir.path()).unwrap());
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "first")).await;
    let old = [
        start(&h, &machine.arn, "a", "{}").await,
        start(&h, &machine.arn, "b", "{}").await,
    ];
    h.call(|reply| Command::UpdateStateMachine {
        arn: machine.arn.clone(),
        definition: Some(one_task(&act, "second")),
        role_arn: None,
        logging: None,
        tracing: None,
        publish: None,
        reply,
    })
    .await
    .unwrap();
    let new = [
        start(&h, &machine.arn, "c", "{}").await,
        start(&h, &machine.arn, "d", "{}").await,
    ];
    // Every answer above came after its commit: all of it is stored.
    cancel.cancel();

    // Each row read from SQLite has its own copy of the definition; the
    // engine keeps one per distinct definition.
    let e = Engine::load(config(), store, Arc::new(SystemClock)).unwrap();
    let x = |arn: &String| e.execs.get(arn).expect("resumed");
    let entry = e.machines.get(&machine.arn).unwrap();
    assert!(Arc::ptr_eq(&x(&old[0]).machine, &x(&old[1]).machine));
    assert!(Arc::ptr_eq(
        &x(&old[0]).rec.definition,
        &x(&old[1]).rec.definition
    ));
    assert!(!Arc::ptr_eq(&x(&old[0]).machine, &entry.compiled));
    assert!(x(&old[0]).rec.definition.contains("first"));
    for n in &new {
        assert!(Arc::ptr_eq(&x(n).machine, &entry.compiled));
        assert!(Arc::ptr_eq(&x(n).rec.definition, &entry.definition));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_answered_at_once_costs_one_write_and_an_unanswered_one_is_written_soon() {
    let store = Arc::new(GatedStore::new(Arc::new(MemoryStore::new())));
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let two = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": act, "Next": "B"},
        "B": {"Type": "Task", "Resource": act, "End": true}}})
    .to_string();
    let machine = create_machine(&h, "m", two).await;
    let exec = start(&h, &machine.arn, "e1", "{}").await;

    // Answered at once: ActivityStarted is written in the same commit as the answer.
    let first = poll(&h, &act).await.expect("a task");
    succeed(&h, &first.token, "{}").await;
    let commits = store.commits.lock().unwrap().clone();
    let with_started: Vec<_> = commits
        .iter()
        .filter(|c| c.iter().any(|t| t == "ActivityStarted"))
        .collect();
    assert_eq!(with_started.len(), 1, "{commits:?}");
    assert!(
        with_started[0].contains(&"ActivitySucceeded".to_string()),
        "{commits:?}"
    );

    // Not answered: its ActivityStarted is still written, within LAZY_START_MS.
    let second = poll(&h, &act).await.expect("the second task");
    let started_at = std::time::Instant::now();
    while started_count(&store.inner, &exec) < 2 {
        assert!(
            started_at.elapsed() < Duration::from_secs(5),
            "the second ActivityStarted was never written"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The answer to the task whose start was written on its own still lands.
    succeed(&h, &second.token, "{}").await;
    assert_eq!(
        store.inner.execution(&exec).unwrap().unwrap().status,
        "SUCCEEDED"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_writes_the_started_tasks_it_deferred() {
    let store = Arc::new(MemoryStore::new());
    let e = Engine::load(config(), store.clone(), Arc::new(SystemClock)).unwrap();
    let cancel = CancellationToken::new();
    let (h, join) = e.spawn(cancel.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "")).await;
    let exec = start(&h, &machine.arn, "e1", "{}").await;
    let _task = poll(&h, &act).await.expect("a task");
    cancel.cancel();
    join.await.unwrap();
    let types = event_types(&store, &exec);
    assert!(types.contains(&"ActivityStarted".to_string()), "{types:?}");
}

#[test]
fn the_engine_wakes_only_for_deferred_starts_still_waiting() {
    let mut e = Engine::load(
        config(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    // "a" was written since (no longer deferred), "b" was handed out again at 20.
    e.lazy.insert("b".into(), 20);
    e.lazy_order.extend([
        (5, "a".to_string()),
        (10, "b".to_string()),
        (20, "b".to_string()),
    ]);
    assert_eq!(e.next_lazy_deadline(), Some(20 + LAZY_START_MS));
    assert_eq!(e.lazy_order.len(), 1);
    e.write_due_starts();
    assert!(e.lazy.is_empty() && e.lazy_order.is_empty());
    assert!(e.dirty.contains("b"));
    assert_eq!(e.next_lazy_deadline(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_aliases_survive_a_restart_and_numbers_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(crate::store::sqlite::SqliteStore::open(dir.path()).unwrap());
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "first")).await;
    let publish = |description: &str| {
        let (arn, description) = (machine.arn.clone(), Some(description.to_string()));
        h.call(|reply| Command::PublishVersion {
            arn,
            revision_id: None,
            description,
            reply,
        })
    };
    let v1 = publish("one").await.unwrap();
    assert_eq!(v1.arn, format!("{}:1", machine.arn));
    // The same revision again: the same version.
    assert_eq!(publish("one").await.unwrap().arn, v1.arn);
    h.call(|reply| Command::UpdateStateMachine {
        arn: machine.arn.clone(),
        definition: Some(one_task(&act, "second")),
        role_arn: None,
        logging: None,
        tracing: None,
        publish: Some("two".into()),
        reply,
    })
    .await
    .unwrap();
    let v2 = format!("{}:2", machine.arn);
    let alias = h
        .call(|reply| Command::CreateAlias {
            name: "live".into(),
            description: String::new(),
            routing: vec![(v1.arn.clone(), 100)],
            reply,
        })
        .await
        .unwrap();
    let exec = start(&h, &alias.arn, "via-alias", "{}").await;
    assert!(exec.ends_with(":execution:m:via-alias"), "{exec}");
    // A version an alias routes to can't go; v2 can.
    let arn = v1.arn.clone();
    let e = h.call(|reply| Command::DeleteVersion { arn, reply }).await;
    assert_eq!(e.unwrap_err().code, "ConflictException");
    let arn = v2.clone();
    h.call(|reply| Command::DeleteVersion { arn, reply })
        .await
        .unwrap();
    cancel.cancel();

    let (h, cancel) = engine(store.clone());
    let arn = machine.arn.clone();
    let versions = h
        .call(|reply| Command::ListVersions { arn, reply })
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].arn, v1.arn);
    assert!(versions[0].definition.contains("first"));
    let arn = alias.arn.clone();
    let a = h
        .call(|reply| Command::DescribeAlias { arn, reply })
        .await
        .unwrap();
    assert_eq!(a.routing, vec![(v1.arn.clone(), 100)]);
    let d = h
        .call(|reply| Command::DescribeExecution {
            arn: exec.clone(),
            reply,
        })
        .await
        .unwrap()
        .expect("running");
    assert_eq!(d.version_arn.as_deref(), Some(v1.arn.as_str()));
    assert_eq!(d.alias_arn.as_deref(), Some(alias.arn.as_str()));
    let q = ExecutionQuery {
        state_machine_arn: machine.arn.clone(),
        qualified: Some(alias.arn.clone()),
        limit: 10,
        ..ExecutionQuery::default()
    };
    let listed = store.list_executions(&q).unwrap();
    assert_eq!(listed.items.len(), 1);
    // Version 2 was deleted: the next one is 3.
    let arn = machine.arn.clone();
    let v3 = h
        .call(|reply| Command::PublishVersion {
            arn,
            revision_id: None,
            description: None,
            reply,
        })
        .await;
    // The machine is at the revision v2 had, so publishing makes version 3.
    assert_eq!(v3.unwrap().arn, format!("{}:3", machine.arn));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_is_redriven_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(crate::store::sqlite::SqliteStore::open(dir.path()).unwrap());
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "x")).await;
    let exec = start(&h, &machine.arn, "e", r#"{"n":1}"#).await;
    let task = poll(&h, &act).await.expect("a task");
    let token = task.token.clone();
    h.call(|reply| Command::SendTaskFailure {
        token,
        error: "Boom".into(),
        cause: String::new(),
        reply,
    })
    .await
    .unwrap();
    cancel.cancel();

    // Stored as failed, with the state a redrive needs.
    let rec = store.execution(&exec).unwrap().unwrap();
    assert_eq!(rec.status, "FAILED");
    assert!(rec.runtime.is_some());
    assert_eq!(not_redrivable(&rec, rec.stop.unwrap()), None);
    let (h, cancel) = engine(store.clone());
    h.call(|reply| Command::Redrive {
        rec: Box::new(rec),
        reply,
    })
    .await
    .unwrap();
    let again = poll(&h, &act).await.expect("the task again");
    assert_eq!(again.input, task.input);
    assert_ne!(again.token, task.token);
    succeed(&h, &again.token, r#"{"ok":true}"#).await;
    cancel.cancel();
    let rec = store.execution(&exec).unwrap().unwrap();
    assert_eq!(rec.status, "SUCCEEDED");
    assert_eq!(rec.redrive_count, 1);
    assert!(rec.runtime.is_none());
    assert!(not_redrivable(&rec, 0).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_runs_only_the_parallel_branches_that_did_not_succeed() {
    let store = Arc::new(MemoryStore::new());
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let def = json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true,
        "Branches": [
            {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "Result": "quick", "End": true}}},
            {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": act, "End": true}}}]}}})
    .to_string();
    let machine = create_machine(&h, "p", def).await;
    let exec = start(&h, &machine.arn, "e", "{}").await;
    let task = poll(&h, &act).await.expect("a task");
    let token = task.token.clone();
    h.call(|reply| Command::SendTaskFailure {
        token,
        error: "Boom".into(),
        cause: String::new(),
        reply,
    })
    .await
    .unwrap();
    let rec = store.execution(&exec).unwrap().unwrap();
    assert_eq!(rec.status, "FAILED");
    h.call(|reply| Command::Redrive {
        rec: Box::new(rec),
        reply,
    })
    .await
    .unwrap();
    let again = poll(&h, &act).await.expect("the failed branch's task");
    succeed(&h, &again.token, r#""slow""#).await;
    let rec = store.execution(&exec).unwrap().unwrap();
    assert_eq!(rec.status, "SUCCEEDED", "{:?}", rec.cause);
    assert_eq!(rec.output.as_deref(), Some(r#"["quick","slow"]"#));
    let types = event_types(&store, &exec);
    let quick_runs = types.iter().filter(|t| *t == "PassStateEntered").count();
    assert_eq!(quick_runs, 1, "{types:?}");
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "ParallelStateEntered")
            .count(),
        2
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_link_as_aws_s_and_closed_tasks_answer_task_timed_out() {
    let store = Arc::new(MemoryStore::new());
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "one")).await;
    let exec = start(&h, &machine.arn, "e1", r#"{"a":1}"#).await;
    let task = poll(&h, &act).await.expect("a task");
    succeed(&h, &task.token, "{}").await;
    let events = store.history(&exec, None, false, 100).unwrap();
    let links: Vec<(i64, i64, &str)> = events
        .iter()
        .map(|e| (e.id, e.previous_id, e.event_type.as_str()))
        .collect();
    // AWS: the first state's entry links to 0; every later event to the one before it.
    assert_eq!(links[0], (1, 0, "ExecutionStarted"));
    assert_eq!(links[1], (2, 0, "TaskStateEntered"));
    assert!(
        links[2..].iter().all(|(id, prev, _)| *prev == id - 1),
        "{links:?}"
    );
    let started: Value = serde_json::from_str(&events[0].details).unwrap();
    let details = started["executionStartedEventDetails"].as_object().unwrap();
    let mut keys: Vec<&str> = details.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["input", "inputDetails", "roleArn"]);

    // The task is closed (answered, and its execution ended): AWS answers TaskTimedOut to all three calls.
    let closed = "Task Timed Out: 'Provided task does not exist anymore'";
    let e = h
        .call(|reply| Command::SendTaskSuccess {
            token: task.token.clone(),
            output: "{}".into(),
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("TaskTimedOut", closed));
    let e = h
        .call(|reply| Command::SendTaskFailure {
            token: task.token.clone(),
            error: String::new(),
            cause: String::new(),
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("TaskTimedOut", closed));
    let e = h
        .call(|reply| Command::SendTaskHeartbeat {
            token: task.token.clone(),
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("TaskTimedOut", closed));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_and_map_ends_link_as_aws_s() {
    let store = Arc::new(MemoryStore::new());
    let (h, cancel) = engine(store.clone());
    let pass =
        |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Pass", "End": true}}});
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [pass("A"), pass("B")], "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": pass("C"), "End": true}}})
    .to_string();
    let machine = create_machine(&h, "joins", definition).await;
    let exec = start(&h, &machine.arn, "e1", "{}").await;
    let mut events = Vec::new();
    for _ in 0..500 {
        events = store.history(&exec, None, false, 100).unwrap();
        if events
            .last()
            .is_some_and(|e| e.event_type == "ExecutionSucceeded")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let prev = |ty: &str| {
        events
            .iter()
            .find(|e| e.event_type == ty)
            .map(|e| e.previous_id)
            .unwrap()
    };
    let id_of = |ty: &str, nth: usize| {
        events
            .iter()
            .filter(|e| e.event_type == ty)
            .nth(nth)
            .map(|e| e.id)
            .unwrap()
    };
    // A Parallel's end links to the last event of its last branch (AWS's histories).
    assert_eq!(prev("ParallelStateSucceeded"), id_of("PassStateExited", 1));
    // A Map's to the last iteration's end.
    assert_eq!(prev("MapStateSucceeded"), id_of("MapIterationSucceeded", 1));
    // Branches and iterations start from the state's start.
    assert_eq!(prev("MapIterationStarted"), id_of("MapStateStarted", 0));
    cancel.cancel();
}
