//! A round the store refuses: nothing of it is answered as success or handed
//! out, callers get `ServiceUnavailable`, and the engine takes up what the
//! store holds by itself once the store works again.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// A [`MemoryStore`] whose commits (and, separately, reads) fail while told to.
struct FailingStore {
    inner: Arc<MemoryStore>,
    commits_fail: AtomicBool,
    reads_fail: AtomicBool,
}

impl FailingStore {
    fn new() -> Arc<Self> {
        Arc::new(FailingStore {
            inner: Arc::new(MemoryStore::new()),
            commits_fail: AtomicBool::new(false),
            reads_fail: AtomicBool::new(false),
        })
    }

    fn fail(&self, commits: bool, reads: bool) {
        self.commits_fail.store(commits, Ordering::SeqCst);
        self.reads_fail.store(reads, Ordering::SeqCst);
    }

    fn read(&self) -> Result<(), StoreError> {
        if self.reads_fail.load(Ordering::SeqCst) {
            return Err(StoreError::Database("disk I/O error (reads)".into()));
        }
        Ok(())
    }
}

impl Store for FailingStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.read()?;
        self.inner.load()
    }
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if self.commits_fail.load(Ordering::SeqCst) {
            return Err(StoreError::Database("database or disk is full".into()));
        }
        self.inner.commit(batch)
    }
    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.read()?;
        self.inner.execution(arn)
    }
    fn list_executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        self.read()?;
        self.inner.list_executions(q)
    }
    fn map_runs(&self, execution: &str) -> Result<Vec<crate::store::MapRunRecord>, StoreError> {
        self.read()?;
        self.inner.map_runs(execution)
    }
    fn history(
        &self,
        execution: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.read()?;
        self.inner.history(execution, after, reverse, limit)
    }
}

fn ten_passes() -> String {
    let mut states = serde_json::Map::new();
    for i in 0..10 {
        let mut s = json!({"Type": "Pass"});
        if i == 9 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("P{}", i + 1));
        }
        states.insert(format!("P{i}"), s);
    }
    json!({"StartAt": "P0", "States": states}).to_string()
}

async fn try_start(
    h: &EngineHandle,
    machine_arn: &str,
    name: &str,
    input: &str,
) -> Result<Started, ApiError> {
    h.call(|reply| Command::StartExecution {
        machine_arn: machine_arn.into(),
        name: Some(name.into()),
        input: input.into(),
        sync: false,
        reply,
    })
    .await
}

async fn ping(h: &EngineHandle) -> Result<(), ApiError> {
    h.call(|reply| Command::Ping { reply }).await
}

/// Asserts that `exec`'s stored history is whole: ids 1..=n, each event
/// linked to an earlier one, starting with `ExecutionStarted` and ending with `last`.
fn assert_whole(store: &MemoryStore, exec: &str, last: &str) {
    let events = store.history(exec, None, false, 1000).unwrap();
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(ids, expected, "history ids of {exec}");
    assert!(events.iter().all(|e| e.previous_id < e.id));
    assert_eq!(events.first().unwrap().event_type, "ExecutionStarted");
    assert_eq!(events.last().unwrap().event_type, last);
}

/// Waits until the engine serves again (it reloads on its own).
async fn until_serving(h: &EngineHandle) {
    let t0 = std::time::Instant::now();
    while ping(h).await.is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the engine did not recover"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_start_answers_503_runs_nothing_and_its_name_stays_free() {
    let store = FailingStore::new();
    let (h, cancel) = engine(store.clone());
    let machine = create_machine(&h, "passes", ten_passes()).await;

    store.fail(true, false);
    for _ in 0..3 {
        let e = try_start(&h, &machine.arn, "once", "{\"n\":1}")
            .await
            .unwrap_err();
        assert_eq!(e.code, "ServiceUnavailable", "{e:?}");
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
    let arn = arn::execution_arn_for(&machine.arn, "once");
    assert!(store.inner.execution(&arn).unwrap().is_none());
    until_serving(&h).await;
    let described = h
        .call(|reply| Command::DescribeExecution {
            arn: arn.clone(),
            reply,
        })
        .await
        .unwrap();
    assert!(described.is_none(), "an unstored start is not in memory");

    // The store works again: the retried start runs, once, with its whole history.
    store.fail(false, false);
    try_start(&h, &machine.arn, "once", "{\"n\":1}")
        .await
        .unwrap();
    let rec = store.inner.execution(&arn).unwrap().unwrap();
    assert_eq!(rec.status, "SUCCEEDED");
    assert_whole(&store.inner, &arn, "ExecutionSucceeded");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_scheduled_in_a_refused_round_is_never_handed_out() {
    let store = FailingStore::new();
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "")).await;

    store.fail(true, false);
    let e = try_start(&h, &machine.arn, "refused", "{\"n\":1}")
        .await
        .unwrap_err();
    assert_eq!(e.code, "ServiceUnavailable");
    until_serving(&h).await;
    store.fail(false, false);

    // The only task a worker ever gets is the one of the stored start.
    let exec = start(&h, &machine.arn, "stored", "{\"n\":2}").await;
    let task = poll(&h, &act).await.expect("a task");
    assert_eq!(task.input, "{\"n\":2}");
    succeed(&h, &task.token, "{}").await;
    assert_whole(&store.inner, &exec, "ExecutionSucceeded");
    let (tx, rx) = oneshot::channel();
    h.call_raw(Command::GetActivityTask {
        activity: act.clone(),
        worker: "w".into(),
        reply: tx,
    })
    .await
    .unwrap();
    // Nothing else is queued: the poll stays parked.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx)
            .await
            .is_err(),
        "a task of the refused start was handed out"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_task_answer_is_taken_again_once_the_store_works() {
    let store = FailingStore::new();
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "m", one_task(&act, "")).await;
    let exec = start(&h, &machine.arn, "e", "{}").await;
    let task = poll(&h, &act).await.expect("a task");
    // Its ActivityStarted is written within LAZY_START_MS.
    let t0 = std::time::Instant::now();
    while started_count(&store.inner, &exec) < 1 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    store.fail(true, false);
    let e = h
        .call(|reply| Command::SendTaskSuccess {
            token: task.token.clone(),
            output: "{\"r\":1}".into(),
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, "ServiceUnavailable");
    until_serving(&h).await;
    // Still running in memory, as stored.
    let rec = h
        .call(|reply| Command::DescribeExecution {
            arn: exec.clone(),
            reply,
        })
        .await
        .unwrap()
        .expect("still running");
    assert_eq!(rec.status, "RUNNING");

    store.fail(false, false);
    succeed(&h, &task.token, "{\"r\":1}").await;
    let rec = store.inner.execution(&exec).unwrap().unwrap();
    assert_eq!(rec.status, "SUCCEEDED");
    assert_eq!(rec.output.as_deref(), Some("{\"r\":1}"));
    assert_whole(&store.inner, &exec, "ExecutionSucceeded");
    assert_eq!(started_count(&store.inner, &exec), 1);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registry_change_is_undone() {
    let store = FailingStore::new();
    let (h, cancel) = engine(store.clone());
    let act = create_activity(&h, "work").await;
    let machine = create_machine(&h, "kept", one_task(&act, "")).await;
    let exec = start(&h, &machine.arn, "e", "{}").await;

    store.fail(true, false);
    let e = h
        .call(|reply| Command::CreateStateMachine {
            name: "lost".into(),
            definition: ten_passes(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            machine_type: "STANDARD".into(),
            logging: "{}".into(),
            tracing: "{}".into(),
            tags: vec![],
            publish: None,
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, "ServiceUnavailable");
    let e = h
        .call(|reply| Command::DeleteActivity {
            arn: act.clone(),
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, "ServiceUnavailable");
    until_serving(&h).await;
    store.fail(false, false);

    let lost = h
        .call(|reply| Command::DescribeStateMachine {
            arn: machine.arn.replace(":kept", ":lost"),
            reply,
        })
        .await
        .unwrap_err();
    assert_eq!(lost.code, "StateMachineDoesNotExist");
    // The activity is back, with the task of the running execution queued.
    let task = poll(&h, &act).await.expect("the task");
    succeed(&h, &task.token, "{}").await;
    assert_whole(&store.inner, &exec, "ExecutionSucceeded");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_store_cannot_be_read_every_command_is_refused_until_it_can() {
    let store = FailingStore::new();
    let (h, cancel) = engine(store.clone());
    let machine = create_machine(&h, "passes", ten_passes()).await;

    store.fail(true, true);
    let e = try_start(&h, &machine.arn, "a", "{}").await.unwrap_err();
    assert_eq!(e.code, "ServiceUnavailable");
    // The reload cannot read the store: even the health ping is refused.
    for _ in 0..3 {
        assert_eq!(ping(&h).await.unwrap_err().code, "ServiceUnavailable");
        let e = h
            .call(|reply| Command::ListStateMachines { reply })
            .await
            .unwrap_err();
        assert_eq!(e.code, "ServiceUnavailable");
    }

    store.fail(false, false);
    until_serving(&h).await;
    try_start(&h, &machine.arn, "a", "{}").await.unwrap();
    let arn = arn::execution_arn_for(&machine.arn, "a");
    assert_whole(&store.inner, &arn, "ExecutionSucceeded");
    cancel.cancel();
}
