//! The engine: one task owns every running execution, activity queue and
//! timer. It processes commands in rounds: apply a burst of commands (asking
//! `stepwise_asl` what happens next), commit everything the round changed in
//! one store transaction (group commit), then answer callers and hand out
//! tasks. Nothing a caller sees is ahead of the store.

mod commit;
mod console;
mod map_runs;
mod redrive;
/// The execution runtime: the one interpreter, in `stepwise-asl`.
pub use stepwise_asl::exec as runtime;
mod stored_state;
mod versions;
pub use console::ActivityStatus;
pub use map_runs::execution_of as execution_of_map_run;
pub use redrive::not_redrivable;

use commit::{Commit, Recovery};

use crate::api::ApiError;
use crate::arn::{self, ArnScope};
use crate::integrations::{CallOutcome, Integrations};
use crate::store::{
    ActivityRecord, AliasRecord, Batch, EventRecord, ExecutionRecord, MapRunRecord,
    StateMachineRecord, Store, Write,
};
use crate::time::{Clock, iso8601};
use crate::token::TokenSigner;
use runtime::{ChildMode, Cx, IntegrationCall, NewEvent, Request, Runtime, to_text};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The engine's maps are keyed by ARNs (100 bytes and more) and looked up
/// several times per task: foldhash, randomly seeded per map, hashes them
/// several times faster than the standard SipHash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::Arc;
use std::time::Duration;
use stepwise_asl::compile::{CompileOptions, compile_str};
use stepwise_asl::model::{MachineType, StateMachine};
use stepwise_asl::{DefinitionError, StatesError, Variables, names};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The longest an EXPRESS execution may run.
pub const EXPRESS_MAX_MS: i64 = 5 * 60 * 1000;
/// The longest a STANDARD execution may run (one year).
pub const STANDARD_MAX_MS: i64 = 366 * 24 * 3600 * 1000;
/// Parked pollers per activity; more get an empty answer at once.
pub const MAX_PARKED_POLLERS: usize = 10_000;
/// Recently finished EXPRESS executions kept for `DescribeExecution` (by default).
pub const EXPRESS_KEEP: usize = 1_000;
/// The longest a handed-out task's `ActivityStarted` waits to be written
/// with its execution's next change.
const LAZY_START_MS: i64 = 100;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Region and account of the ARNs.
    pub scope: ArnScope,
    /// Multiplies Wait and Retry delays (1.0 = real time).
    pub wait_scale: f64,
    /// Service calls and mocks for Task states.
    pub integrations: Arc<Integrations>,
}

type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// Running executions to fail at start instead of resuming, and how.
#[derive(Debug, Default)]
pub struct Fail {
    /// Their ARNs.
    pub executions: std::collections::HashSet<String>,
    /// The error they fail with.
    pub error: String,
    /// Its cause.
    pub cause: String,
}

/// A compiled state machine and its record.
#[derive(Debug, Clone)]
pub struct MachineEntry {
    /// As stored.
    pub rec: StateMachineRecord,
    /// Compiled once, shared by its executions.
    pub compiled: Arc<StateMachine>,
    /// The definition text, shared by its executions' records.
    pub definition: Arc<str>,
}

impl MachineEntry {
    fn new(rec: StateMachineRecord, compiled: Arc<StateMachine>) -> Self {
        let definition = Arc::from(rec.definition.as_str());
        MachineEntry {
            rec,
            compiled,
            definition,
        }
    }
}

/// What `StartExecution` / `StartSyncExecution` answer.
#[derive(Debug, Clone)]
pub enum Started {
    /// Started (or the same running execution, for an identical repeated request).
    Running { arn: String, start: i64 },
    /// A sync execution finished.
    Finished(Box<ExecutionRecord>),
}

/// A task handed to a poller.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    /// The task token.
    pub token: String,
    /// The task's input, JSON text.
    pub input: String,
}

/// Commands sent to the engine.
#[allow(missing_docs)]
pub enum Command {
    CreateStateMachine {
        name: String,
        definition: String,
        role_arn: String,
        machine_type: String,
        logging: String,
        tracing: String,
        tags: Vec<(String, String)>,
        /// Publish a version too, with this description.
        publish: Option<String>,
        reply: Reply<(StateMachineRecord, bool, Option<StateMachineRecord>)>,
    },
    UpdateStateMachine {
        arn: String,
        definition: Option<String>,
        role_arn: Option<String>,
        logging: Option<String>,
        tracing: Option<String>,
        /// Publish a version too, with this description.
        publish: Option<String>,
        reply: Reply<(StateMachineRecord, Option<StateMachineRecord>)>,
    },
    PublishVersion {
        arn: String,
        revision_id: Option<String>,
        description: Option<String>,
        reply: Reply<StateMachineRecord>,
    },
    /// Newest first.
    ListVersions {
        arn: String,
        reply: Reply<Vec<StateMachineRecord>>,
    },
    DeleteVersion {
        arn: String,
        reply: Reply<()>,
    },
    CreateAlias {
        name: String,
        description: String,
        routing: Vec<(String, u32)>,
        reply: Reply<AliasRecord>,
    },
    DescribeAlias {
        arn: String,
        reply: Reply<AliasRecord>,
    },
    UpdateAlias {
        arn: String,
        description: Option<String>,
        routing: Option<Vec<(String, u32)>>,
        reply: Reply<AliasRecord>,
    },
    DeleteAlias {
        arn: String,
        reply: Reply<()>,
    },
    ListAliases {
        arn: String,
        reply: Reply<Vec<AliasRecord>>,
    },
    /// Runs a failed, timed-out or aborted execution (as stored) again from
    /// where it stopped; answers the redrive time.
    Redrive {
        rec: Box<ExecutionRecord>,
        reply: Reply<i64>,
    },
    /// The Map Runs of a running execution, with their live counts.
    LiveMapRuns {
        execution: String,
        reply: Reply<Vec<MapRunRecord>>,
    },
    UpdateMapRun {
        arn: String,
        max_concurrency: Option<u64>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
        reply: Reply<()>,
    },
    /// The machine's own ARN behind a machine, version or alias ARN that exists.
    ResolveMachine {
        arn: String,
        reply: Reply<String>,
    },
    DeleteStateMachine {
        arn: String,
        reply: Reply<()>,
    },
    DescribeStateMachine {
        arn: String,
        reply: Reply<StateMachineRecord>,
    },
    ListStateMachines {
        reply: Reply<Vec<StateMachineRecord>>,
    },
    CreateActivity {
        name: String,
        tags: Vec<(String, String)>,
        reply: Reply<ActivityRecord>,
    },
    DeleteActivity {
        arn: String,
        reply: Reply<()>,
    },
    DescribeActivity {
        arn: String,
        reply: Reply<ActivityRecord>,
    },
    ListActivities {
        reply: Reply<Vec<ActivityRecord>>,
    },
    StartExecution {
        machine_arn: String,
        name: Option<String>,
        input: String,
        sync: bool,
        reply: Reply<Started>,
    },
    StopExecution {
        arn: String,
        error: Option<String>,
        cause: Option<String>,
        reply: Reply<i64>,
    },
    /// Answers from memory for running and recent EXPRESS executions; `None`: ask the store.
    DescribeExecution {
        arn: String,
        reply: Reply<Option<ExecutionRecord>>,
    },
    GetActivityTask {
        activity: String,
        worker: String,
        reply: Reply<Option<ActivityTask>>,
    },
    SendTaskSuccess {
        token: String,
        output: String,
        reply: Reply<()>,
    },
    SendTaskFailure {
        token: String,
        error: String,
        cause: String,
        reply: Reply<()>,
    },
    SendTaskHeartbeat {
        token: String,
        reply: Reply<()>,
    },
    /// A task's service call answered (sent by the engine's own call tasks).
    IntegrationDone {
        execution: String,
        call: IntegrationCall,
        outcome: CallOutcome,
    },
    TagResource {
        arn: String,
        tags: Vec<(String, String)>,
        reply: Reply<()>,
    },
    UntagResource {
        arn: String,
        keys: Vec<String>,
        reply: Reply<()>,
    },
    ListTags {
        arn: String,
        reply: Reply<Vec<(String, String)>>,
    },
    /// Answers at once if the engine is serving (the health check).
    Ping {
        reply: Reply<()>,
    },
    /// The console: every activity's queue, parked pollers and workers seen.
    ConsoleActivities {
        reply: Reply<Vec<ActivityStatus>>,
    },
    /// The console: running and recent EXPRESS executions, newest first.
    ConsoleExpress {
        reply: Reply<Vec<ExecutionRecord>>,
    },
    /// The console: an EXPRESS execution's history, if kept.
    ConsoleExpressHistory {
        arn: String,
        reply: Reply<Option<Vec<EventRecord>>>,
    },
}

impl Command {
    /// Answers the command with `error` without deciding anything.
    fn refuse(self, error: ApiError) {
        macro_rules! refuse {
            ($($variant:ident),* $(,)?) => {
                match self {
                    $(Command::$variant { reply, .. } => {
                        let _ = reply.send(Err(error));
                    })*
                    // No caller waits on a service call's answer; `accept`
                    // keeps those for after the reload instead.
                    Command::IntegrationDone { .. } => {}
                }
            };
        }
        refuse!(
            CreateStateMachine,
            UpdateStateMachine,
            PublishVersion,
            ListVersions,
            DeleteVersion,
            CreateAlias,
            DescribeAlias,
            UpdateAlias,
            DeleteAlias,
            ListAliases,
            Redrive,
            LiveMapRuns,
            UpdateMapRun,
            ResolveMachine,
            DeleteStateMachine,
            DescribeStateMachine,
            ListStateMachines,
            CreateActivity,
            DeleteActivity,
            DescribeActivity,
            ListActivities,
            StartExecution,
            StopExecution,
            DescribeExecution,
            GetActivityTask,
            SendTaskSuccess,
            SendTaskFailure,
            SendTaskHeartbeat,
            TagResource,
            UntagResource,
            ListTags,
            Ping,
            ConsoleActivities,
            ConsoleExpress,
            ConsoleExpressHistory,
        );
    }
}

/// A cloneable handle to the engine task.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    store: Arc<dyn Store>,
    scope: ArnScope,
    clock: Arc<dyn Clock>,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl EngineHandle {
    /// Changes whenever a round committed or an EXPRESS execution finished
    /// (the console's live pages wait on it).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.clone()
    }

    /// The region and account in this server's ARNs.
    pub fn scope(&self) -> &ArnScope {
        &self.scope
    }

    /// The engine's clock, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Sends a command and waits for its answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| ApiError::unavailable("The coordinator is shutting down"))?;
        rx.await
            .map_err(|_| ApiError::unavailable("The coordinator is shutting down"))?
    }

    /// Sends a command whose answer the caller awaits itself (long polls).
    pub async fn call_raw(&self, cmd: Command) -> Result<(), ApiError> {
        self.tx
            .send(cmd)
            .await
            .map_err(|_| ApiError::unavailable("The coordinator is shutting down"))
    }

    /// The store, for reads that need no engine state.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

struct Exec {
    rec: ExecutionRecord,
    machine: Arc<StateMachine>,
    rt: Runtime,
    context: Value,
    express: bool,
    waiters: Vec<Reply<Started>>,
    /// The parent execution and the task that waits on this one.
    parent: Option<(String, i64, ChildMode)>,
    /// The row exists in the store: later rounds only update its runtime.
    stored: bool,
    /// Deadlines this execution armed (to disarm them when it finishes).
    timer_at: Vec<i64>,
}

impl Exec {
    /// A STANDARD execution taken up from its stored record (at start, or for
    /// a redrive; `stored`: its row is as the engine left it).
    fn from_store(
        rec: ExecutionRecord,
        machine: Arc<StateMachine>,
        rt: Runtime,
        stored: bool,
    ) -> Self {
        let input = serde_json::from_str(&rec.input).unwrap_or(Value::Null);
        let context = base_context(&rec, &machine_name(&rec.state_machine_arn), input);
        Exec {
            rec,
            machine,
            rt,
            context,
            express: false,
            waiters: Vec::new(),
            parent: None,
            stored,
            timer_at: Vec::new(),
        }
    }
}

impl Exec {
    /// A running STANDARD execution as the store holds it, its runtime state
    /// parsed and its definition shared; `None` (logged) if it cannot run.
    fn taken_up(mut rec: ExecutionRecord, shared: &mut SharedDefinitions) -> Option<Exec> {
        // Parsed here, not kept as text: the engine writes it from `rt`.
        let rt_text = rec.runtime.take()?;
        let rt: Runtime = match stored_state::read_runtime(&rt_text) {
            Ok(rt) => rt,
            Err(err) => {
                tracing::error!(arn = %rec.arn, %err, "stored runtime state is unreadable; execution skipped");
                return None;
            }
        };
        let machine = match shared.resolve(&rec.definition) {
            Ok((text, m)) => {
                rec.definition = text;
                m
            }
            Err(err) => {
                tracing::error!(arn = %rec.arn, %err, "stored definition no longer compiles; execution skipped");
                return None;
            }
        };
        Some(Exec::from_store(rec, machine, rt, true))
    }
}

struct Poller {
    worker: String,
    reply: Reply<Option<ActivityTask>>,
}

#[derive(Default)]
struct Queue {
    /// Scheduled tasks: (execution ARN, scheduled event id, the round that scheduled it).
    tasks: VecDeque<(String, i64, u64)>,
    /// Tasks already recorded as started whose poller went away before it got them.
    handed_back: VecDeque<ActivityTask>,
    pollers: VecDeque<Poller>,
}

type Effect = Box<dyn FnOnce(bool) + Send>;

/// The meta key of the task-token signing key.
const TOKEN_KEY: &str = "token_key";

/// The engine state, owned by its task.
pub struct Engine {
    cfg: EngineConfig,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    signer: TokenSigner,
    /// The signer's key, as stored.
    token_key: String,
    /// State machines and their versions (under `<machine>:<n>`).
    machines: HashMap<String, MachineEntry>,
    aliases: BTreeMap<String, AliasRecord>,
    /// Each machine's highest version number ever published.
    last_version: HashMap<String, u64>,
    activities: BTreeMap<String, ActivityRecord>,
    tags: HashMap<String, BTreeMap<String, String>>,
    execs: HashMap<String, Exec>,
    express_done: VecDeque<String>,
    express_records: HashMap<String, ExecutionRecord>,
    /// How many finished EXPRESS executions are kept (`keep_express`).
    express_keep: usize,
    /// EXPRESS executions record their history in memory (for the console).
    express_history_on: bool,
    /// Those histories, of running EXPRESS executions and those in the ring.
    express_events: HashMap<String, Vec<EventRecord>>,
    /// Events in `express_events` (bounded by `console::EXPRESS_EVENTS_BUDGET`).
    express_events_total: usize,
    /// Workers that polled each activity, and when (for the console).
    workers_seen: HashMap<String, BTreeMap<String, i64>>,
    /// Bumped when something changed (for the console's live pages).
    changes: tokio::sync::watch::Sender<u64>,
    queues: HashMap<String, Queue>,
    /// Armed timers: (deadline ms, execution ARN). Entries of finished executions are removed.
    timers: BTreeSet<(i64, String)>,
    batch: Batch,
    effects: Vec<Effect>,
    dirty: HashSet<String>,
    events: HashMap<String, Vec<EventRecord>>,
    /// Executions whose only change since their last commit is a task handed
    /// to a worker (`ActivityStarted`), by when: written with their next
    /// change (the task's answer, usually a few milliseconds later) or after
    /// [`LAZY_START_MS`], so a busy activity costs one write per task, not two.
    lazy: HashMap<String, i64>,
    /// The same, oldest first (entries whose time no longer matches `lazy` are stale).
    lazy_order: VecDeque<(i64, String)>,
    vars: Variables,
    pending_dispatch: Vec<String>,
    /// Set while the engine reloads after the store refused a round.
    recovery: Option<Recovery>,
    /// The round being built.
    round: u64,
    /// The last round whose commit finished.
    committed_round: u64,
    /// The engine's own command channel, for answers of service calls.
    self_tx: Option<mpsc::WeakSender<Command>>,
    /// Service calls to make once the engine runs (taken up after a restart).
    resumed_calls: Vec<(String, IntegrationCall)>,
    /// `.sync` jobs to wait for once the engine runs (taken up after a restart).
    resumed_waits: Vec<(String, IntegrationCall, Value)>,
    /// Service call answers that arrived while the engine reloaded.
    deferred_answers: Vec<Command>,
}

/// Shares definitions between the executions a restart resumes, as they
/// were shared before it: one text and one compiled form per distinct
/// definition (10,000 running executions of one machine are compiled once,
/// not 10,000 times).
struct SharedDefinitions {
    by_text: HashMap<Arc<str>, Arc<StateMachine>>,
    /// The store hands out one `Arc` per distinct text: those are found by
    /// address, without hashing the text again. Each entry keeps the store's
    /// `Arc` (the first field) alive, so no address is reused meanwhile.
    by_address: HashMap<*const u8, (Arc<str>, Shared)>,
}

/// A definition's shared text and compiled form.
type Shared = (Arc<str>, Arc<StateMachine>);

impl SharedDefinitions {
    /// Starts from the STANDARD machines' current definitions.
    fn seeded<'a>(machines: impl Iterator<Item = &'a MachineEntry>) -> Self {
        SharedDefinitions {
            by_text: machines
                .filter(|m| machine_type(&m.rec.machine_type) == MachineType::Standard)
                .map(|m| (m.definition.clone(), m.compiled.clone()))
                .collect(),
            by_address: HashMap::default(),
        }
    }

    /// The shared text and compiled form of `text`, compiling it if it is new.
    fn resolve(&mut self, text: &Arc<str>) -> Result<Shared, DefinitionError> {
        let address = text.as_ptr();
        if let Some((_, shared)) = self.by_address.get(&address) {
            return Ok(shared.clone());
        }
        let (shared, m) = match self.by_text.get_key_value(text) {
            Some((t, m)) => (t.clone(), m.clone()),
            None => {
                let opts = CompileOptions {
                    machine_type: MachineType::Standard,
                };
                let m = Arc::new(compile_str(text, opts)?);
                self.by_text.insert(text.clone(), m.clone());
                (text.clone(), m)
            }
        };
        self.by_address
            .insert(address, (text.clone(), (shared.clone(), m.clone())));
        Ok((shared, m))
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store failed to load.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The crash-loop marker could not be read or written.
    #[error(transparent)]
    CrashGuard(#[from] crate::crash_guard::GuardError),
}

impl Engine {
    /// Loads the store and resumes every running execution.
    pub fn load(
        cfg: EngineConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        Self::load_failing(cfg, store, clock, |_| Ok(Fail::default()))
    }

    /// [`Engine::load`], failing instead of resuming the running executions
    /// `fail` picks from their ARNs (crash-loop protection).
    pub fn load_failing(
        cfg: EngineConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        fail: impl FnOnce(&[String]) -> Result<Fail, StartError>,
    ) -> Result<Self, StartError> {
        let snap = store.load()?;
        let running: Vec<String> = snap.running.iter().map(|r| r.arn.clone()).collect();
        let fail = fail(&running)?;
        let mut batch = Batch::default();
        let key = match snap.meta.iter().find(|(k, _)| k == TOKEN_KEY) {
            Some((_, v)) => v.clone(),
            None => {
                let k = format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                );
                batch.push(Write::PutMeta {
                    key: TOKEN_KEY.into(),
                    value: k.clone(),
                });
                k
            }
        };
        let mut e = Engine {
            cfg,
            store,
            clock,
            signer: TokenSigner::new(key.clone().into_bytes()),
            token_key: key,
            machines: HashMap::default(),
            aliases: BTreeMap::new(),
            last_version: HashMap::default(),
            activities: BTreeMap::new(),
            tags: HashMap::default(),
            execs: HashMap::default(),
            express_done: VecDeque::new(),
            express_records: HashMap::default(),
            express_keep: EXPRESS_KEEP,
            express_history_on: false,
            express_events: HashMap::default(),
            express_events_total: 0,
            workers_seen: HashMap::default(),
            changes: tokio::sync::watch::Sender::new(0),
            queues: HashMap::default(),
            timers: BTreeSet::new(),
            batch,
            effects: Vec::new(),
            dirty: HashSet::default(),
            events: HashMap::default(),
            lazy: HashMap::default(),
            lazy_order: VecDeque::new(),
            vars: Variables::new(),
            pending_dispatch: Vec::new(),
            recovery: None,
            round: 1,
            committed_round: 0,
            self_tx: None,
            resumed_calls: Vec::new(),
            resumed_waits: Vec::new(),
            deferred_answers: Vec::new(),
        };
        let mut snap = snap;
        e.load_registry(&mut snap);
        let now = e.clock.now_ms();
        let mut shared = SharedDefinitions::seeded(e.machines.values());
        for rec in snap.running {
            if let Some(x) = Exec::taken_up(rec, &mut shared) {
                if fail.executions.contains(&x.rec.arn) {
                    tracing::error!(arn = %x.rec.arn, cause = %fail.cause, "execution failed instead of resumed");
                    let error = StatesError::new(fail.error.clone(), fail.cause.clone());
                    e.finish(x, Finish::Failed(error));
                } else {
                    e.resume(x, now);
                }
            }
        }
        e.link_children();
        Ok(e)
    }

    /// Replaces the machines, versions, aliases, activities and tags with the
    /// snapshot's (taking them out of it).
    fn load_registry(&mut self, snap: &mut crate::store::Snapshot) {
        self.machines.clear();
        self.aliases.clear();
        self.last_version.clear();
        self.activities.clear();
        self.tags.clear();
        for rec in std::mem::take(&mut snap.state_machines) {
            let opts = CompileOptions {
                machine_type: machine_type(&rec.machine_type),
            };
            match compile_str(&rec.definition, opts) {
                Ok(m) => {
                    self.machines
                        .insert(rec.arn.clone(), MachineEntry::new(rec, Arc::new(m)));
                }
                Err(err) => {
                    tracing::error!(arn = %rec.arn, %err, "stored state machine no longer compiles; skipped")
                }
            }
        }
        for a in std::mem::take(&mut snap.activities) {
            self.activities.insert(a.arn.clone(), a);
        }
        for a in std::mem::take(&mut snap.aliases) {
            self.aliases.insert(a.arn.clone(), a);
        }
        self.load_version_counters(&snap.meta);
        for (res, k, v) in std::mem::take(&mut snap.tags) {
            self.tags.entry(res).or_default().insert(k, v);
        }
    }

    /// Links each running child execution that has no link yet to the parent
    /// task waiting on it.
    fn link_children(&mut self) {
        let links: Vec<(String, String, i64)> = self
            .execs
            .values()
            .flat_map(|x| {
                let parent = x.rec.arn.clone();
                x.rt.child_tasks()
                    .into_iter()
                    .map(move |(id, child)| (child, parent.clone(), id))
            })
            .collect();
        for (child, parent, id) in links {
            if let Some(c) = self.execs.get_mut(&child)
                && c.parent.is_none()
            {
                c.parent = Some((parent, id, ChildMode::Sync));
            }
        }
    }

    fn resume(&mut self, mut exec: Exec, _now: i64) {
        if let Some(d) = exec.rt.next_deadline() {
            self.timers.insert((d, exec.rec.arn.clone()));
            exec.timer_at.push(d);
        }
        for mut call in exec.rt.pending_service_calls() {
            if stepwise_asl::resource::parse(&call.resource)
                .is_ok_and(|r| r.pattern() == stepwise_asl::resource::Pattern::WaitForTaskToken)
            {
                call.token = Some(self.signer.sign(&exec.rec.arn, call.scheduled_id));
            }
            self.make_call(exec.rec.arn.clone(), call);
        }
        for (call, job) in exec.rt.pending_sync_jobs() {
            self.wait_job(exec.rec.arn.clone(), call, job);
        }
        for (activity, id) in exec.rt.unstarted_activities() {
            self.queues
                .entry(activity)
                .or_default()
                .tasks
                .push_back((exec.rec.arn.clone(), id, 0));
        }
        self.execs.insert(exec.rec.arn.clone(), exec);
    }

    /// Starts the engine task; it stops when `cancel` fires or every handle is dropped.
    pub fn spawn(
        mut self,
        cancel: CancellationToken,
    ) -> (EngineHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(65_536);
        self.self_tx = Some(tx.downgrade());
        let handle = EngineHandle {
            tx,
            store: self.store.clone(),
            scope: self.cfg.scope.clone(),
            clock: self.clock.clone(),
            changes: self.changes.subscribe(),
        };
        let join = tokio::spawn(self.run(rx, cancel));
        (handle, join)
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>, cancel: CancellationToken) {
        // Service calls whose answers were lost with the last process are made again.
        for (execution, call) in std::mem::take(&mut self.resumed_calls) {
            self.make_call(execution, call);
        }
        for (execution, call, job) in std::mem::take(&mut self.resumed_waits) {
            self.wait_job(execution, call, job);
        }
        // Fire whatever became due while the server was down.
        self.fire_due_timers();
        self.flush().await;
        // At most one round is being committed while the next one is built:
        // commands keep being decided during an fsync, and their round commits
        // as soon as the previous one is durable.
        let mut inflight: Option<Commit> = None;
        loop {
            let next_timer = self.timers.first().map(|(t, _)| *t);
            let next = next_timer
                .into_iter()
                .chain(self.next_lazy_deadline())
                .min()
                .filter(|_| self.recovery.is_none());
            let wait = next.map(|t| (t - self.clock.now_ms()).max(0) as u64);
            let sleep = async {
                match wait {
                    Some(wait) => tokio::time::sleep(Duration::from_millis(wait)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let committed = async {
                match inflight.as_mut() {
                    Some(c) => (&mut c.task).await,
                    None => std::future::pending().await,
                }
            };
            let recovery = self.recovery.as_mut();
            let recovered = async {
                match recovery {
                    Some(r) => Engine::recovery_step(r).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(c) => self.accept(c),
                    None => break,
                },
                done = committed => {
                    if let Some(c) = inflight.take() {
                        self.finish_commit(c, done);
                    }
                }
                done = recovered => self.recovery_progress(done),
                _ = sleep => {}
                _ = cancel.cancelled() => break,
            }
            for _ in 0..4096 {
                match rx.try_recv() {
                    Ok(c) => self.accept(c),
                    Err(_) => break,
                }
            }
            if self.recovery.is_some() {
                continue;
            }
            self.fire_due_timers();
            self.write_due_starts();
            if inflight.is_none() {
                inflight = self.start_commit(rx.is_empty());
            }
        }
        if let Some(mut c) = inflight.take() {
            let done = (&mut c.task).await;
            self.finish_commit(c, done);
        }
        if self.recovery.is_none() {
            self.flush().await;
        }
    }

    /// Handles a command, or refuses it while the engine reloads after a refused round.
    fn accept(&mut self, cmd: Command) {
        if self.recovery.is_some() {
            if let Command::IntegrationDone { .. } = cmd {
                // Applied once the reload is done (a reloaded execution makes
                // its call again; the first answer to arrive is the one kept).
                self.deferred_answers.push(cmd);
                return;
            }
            cmd.refuse(commit::not_stored());
        } else {
            self.handle(cmd);
        }
    }

    fn reply<T: Send + 'static>(&mut self, reply: Reply<T>, value: Result<T, ApiError>) {
        self.effects.push(Box::new(move |ok| {
            let v = if ok { value } else { Err(commit::not_stored()) };
            let _ = reply.send(v);
        }));
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::CreateStateMachine {
                name,
                definition,
                role_arn,
                machine_type: ty,
                logging,
                tracing,
                tags,
                publish,
                reply,
            } => {
                let r = self
                    .create_state_machine(name, definition, role_arn, ty, logging, tracing, tags)
                    .and_then(|(rec, created)| {
                        let version = self.publish_with(&rec, publish)?;
                        Ok((rec, created, version))
                    });
                self.reply(reply, r);
            }
            Command::UpdateStateMachine {
                arn,
                definition,
                role_arn,
                logging,
                tracing,
                publish,
                reply,
            } => {
                let r = self
                    .update_state_machine(arn, definition, role_arn, logging, tracing)
                    .and_then(|rec| {
                        let version = self.publish_with(&rec, publish)?;
                        Ok((rec, version))
                    });
                self.reply(reply, r);
            }
            Command::PublishVersion {
                arn,
                revision_id,
                description,
                reply,
            } => {
                let r = self.publish_version(&arn, revision_id.as_deref(), description);
                self.reply(reply, r);
            }
            Command::ListVersions { arn, reply } => {
                let r = self
                    .unqualified(&arn, "ListStateMachineVersions")
                    .and_then(|m| self.machine(m).map(|_| self.versions_of(m)));
                self.reply(reply, r);
            }
            Command::DeleteVersion { arn, reply } => {
                let r = self.delete_version(&arn);
                self.reply(reply, r);
            }
            Command::CreateAlias {
                name,
                description,
                routing,
                reply,
            } => {
                let r = self.create_alias(name, description, routing);
                self.reply(reply, r);
            }
            Command::DescribeAlias { arn, reply } => {
                let r = self.describe_alias(&arn);
                self.reply(reply, r);
            }
            Command::UpdateAlias {
                arn,
                description,
                routing,
                reply,
            } => {
                let r = self.update_alias(&arn, description, routing);
                self.reply(reply, r);
            }
            Command::DeleteAlias { arn, reply } => {
                let r = self.delete_alias(&arn);
                self.reply(reply, r);
            }
            Command::ListAliases { arn, reply } => {
                let r = self.aliases_of(&arn);
                self.reply(reply, r);
            }
            Command::Redrive { rec, reply } => {
                let r = self.redrive(*rec);
                self.reply(reply, r);
            }
            Command::LiveMapRuns { execution, reply } => {
                let r = self
                    .execs
                    .get(&execution)
                    .map(|x| map_runs::runs(&x.rt, &execution, "RUNNING", None))
                    .unwrap_or_default();
                self.reply(reply, Ok(r));
            }
            Command::UpdateMapRun {
                arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
                reply,
            } => {
                let r = self.update_map_run(
                    &arn,
                    max_concurrency,
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                );
                self.reply(reply, r);
            }
            Command::ResolveMachine { arn, reply } => {
                let r = self.resolve_machine(&arn);
                self.reply(reply, r);
            }
            Command::DeleteStateMachine { arn, reply } => {
                let r = self
                    .unqualified(&arn, "DeleteStateMachine")
                    .and_then(|m| self.machine(m).map(|_| ()));
                if r.is_ok() {
                    self.forget_versions(&arn);
                    self.machines.remove(&arn);
                    self.tags.remove(&arn);
                    self.batch.push(Write::DeleteStateMachine(arn.clone()));
                    self.batch.push(Write::ClearTags(arn));
                }
                self.reply(reply, r);
            }
            Command::DescribeStateMachine { arn, reply } => {
                let r = match arn::split_qualifier(&arn) {
                    Some((_, Some(arn::Qualifier::Alias(_)))) => {
                        Err(ApiError::validation(format!(
                            "DescribeStateMachine takes a state machine or version ARN; for the alias '{arn}' use DescribeStateMachineAlias"
                        )))
                    }
                    _ => self.machine(&arn).map(|m| m.rec.clone()),
                };
                self.reply(reply, r);
            }
            Command::ListStateMachines { reply } => {
                let mut v: Vec<_> = self
                    .machines
                    .iter()
                    .filter(|(arn, _)| matches!(arn::split_qualifier(arn), Some((_, None))))
                    .map(|(_, m)| m.rec.clone())
                    .collect();
                v.sort_by(|a, b| a.name.cmp(&b.name));
                self.reply(reply, Ok(v));
            }
            Command::CreateActivity { name, tags, reply } => {
                let r = self.create_activity(name, tags);
                self.reply(reply, r);
            }
            Command::DeleteActivity { arn, reply } => {
                if self.activities.remove(&arn).is_some() {
                    self.batch.push(Write::DeleteActivity(arn.clone()));
                    self.batch.push(Write::ClearTags(arn.clone()));
                    self.tags.remove(&arn);
                }
                // Parked pollers of a deleted activity get an empty answer.
                if let Some(q) = self.queues.remove(&arn) {
                    for p in q.pollers {
                        let _ = p.reply.send(Ok(None));
                    }
                }
                self.reply(reply, Ok(()));
            }
            Command::DescribeActivity { arn, reply } => {
                let r = self.activities.get(&arn).cloned().ok_or_else(|| {
                    ApiError::activity_does_not_exist(format!("Activity Does Not Exist: '{arn}'"))
                });
                self.reply(reply, r);
            }
            Command::ListActivities { reply } => {
                let v = self.activities.values().cloned().collect();
                self.reply(reply, Ok(v));
            }
            Command::StartExecution {
                machine_arn,
                name,
                input,
                sync,
                reply,
            } => match self.start_execution(machine_arn, name, input, sync, None) {
                Err(e) => self.reply(reply, Err(e)),
                Ok((arn, _)) if sync => {
                    if let Some(x) = self.execs.get_mut(&arn) {
                        x.waiters.push(reply);
                    } else if let Some(rec) = self.express_records.get(&arn).cloned() {
                        self.reply(reply, Ok(Started::Finished(Box::new(rec))));
                    } else {
                        self.reply(
                            reply,
                            Err(ApiError::internal(
                                "The execution ended but its record is gone",
                            )),
                        );
                    }
                }
                Ok((arn, start)) => self.reply(reply, Ok(Started::Running { arn, start })),
            },
            Command::StopExecution {
                arn,
                error,
                cause,
                reply,
            } => {
                let r = self.stop_execution(&arn, error, cause);
                self.reply(reply, r);
            }
            Command::DescribeExecution { arn, reply } => {
                let r = self
                    .execs
                    .get(&arn)
                    .map(|x| x.rec.clone())
                    .or_else(|| self.express_records.get(&arn).cloned());
                self.reply(reply, Ok(r));
            }
            Command::GetActivityTask {
                activity,
                worker,
                reply,
            } => self.poll(activity, worker, reply),
            Command::SendTaskSuccess {
                token,
                output,
                reply,
            } => {
                let r = serde_json::from_str::<Value>(&output)
                    .map_err(|e| {
                        ApiError::invalid_output(format!(
                            "Invalid output: the output is not valid JSON: {e}"
                        ))
                    })
                    .and_then(|v| self.task_answer(&token, Ok(v)));
                self.reply(reply, r);
            }
            Command::SendTaskFailure {
                token,
                error,
                cause,
                reply,
            } => {
                let r = self.task_answer(&token, Err(StatesError::new(error, cause)));
                self.reply(reply, r);
            }
            Command::IntegrationDone {
                execution,
                call,
                outcome,
            } => match outcome {
                CallOutcome::Done(result) => {
                    self.deliver(&execution, call.scheduled_id, result);
                }
                CallOutcome::Submitted(output) => {
                    let Some(exec) = self.execs.remove(&execution) else {
                        return;
                    };
                    let mut found = false;
                    self.step(exec, |rt, cx| {
                        found = rt.task_submitted(cx, call.scheduled_id, &output);
                    });
                    let sync = stepwise_asl::resource::parse(&call.resource).is_ok_and(|r| {
                        matches!(
                            r.pattern(),
                            stepwise_asl::resource::Pattern::Sync
                                | stepwise_asl::resource::Pattern::Sync2
                        )
                    });
                    if found && sync {
                        self.wait_job(execution, call, output);
                    }
                }
            },
            Command::SendTaskHeartbeat { token, reply } => {
                let r = self.heartbeat(&token);
                self.reply(reply, r);
            }
            Command::TagResource { arn, tags, reply } => {
                let r = self.check_taggable(&arn);
                if r.is_ok() {
                    self.put_tags(&arn, tags);
                }
                self.reply(reply, r);
            }
            Command::UntagResource { arn, keys, reply } => {
                let r = self.check_taggable(&arn).map(|_| {
                    if let Some(t) = self.tags.get_mut(&arn) {
                        for k in &keys {
                            t.remove(k);
                        }
                    }
                    self.batch.push(Write::RemoveTags {
                        resource: arn,
                        keys,
                    });
                });
                self.reply(reply, r);
            }
            Command::Ping { reply } => {
                let _ = reply.send(Ok(()));
            }
            Command::ConsoleActivities { reply } => self.console_activities(reply),
            Command::ConsoleExpress { reply } => self.console_express(reply),
            Command::ConsoleExpressHistory { arn, reply } => {
                self.console_express_history(&arn, reply)
            }
            Command::ListTags { arn, reply } => {
                let r = self.check_taggable(&arn).map(|_| {
                    self.tags
                        .get(&arn)
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default()
                });
                self.reply(reply, r);
            }
        }
    }

    /// Adds tags to a resource, in memory and in the round's batch.
    fn put_tags(&mut self, arn: &str, tags: Vec<(String, String)>) {
        if tags.is_empty() {
            return;
        }
        let entry = self.tags.entry(arn.to_owned()).or_default();
        for (k, v) in &tags {
            entry.insert(k.clone(), v.clone());
        }
        self.batch.push(Write::PutTags {
            resource: arn.to_owned(),
            tags,
        });
    }

    fn check_taggable(&self, arn: &str) -> Result<(), ApiError> {
        if self.machines.contains_key(arn) || self.activities.contains_key(arn) {
            Ok(())
        } else if arn::parse(arn).is_none() {
            Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'")))
        } else {
            Err(ApiError::resource_not_found(format!(
                "Resource not found: '{arn}'"
            )))
        }
    }

    fn machine(&self, arn: &str) -> Result<&MachineEntry, ApiError> {
        if !arn::is_state_machine(arn) {
            return Err(ApiError::invalid_arn(format!(
                "Invalid State Machine Arn: '{arn}'"
            )));
        }
        self.machines.get(arn).ok_or_else(|| {
            ApiError::state_machine_does_not_exist(format!("State Machine Does Not Exist: '{arn}'"))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn create_state_machine(
        &mut self,
        name: String,
        definition: String,
        role_arn: String,
        ty: String,
        logging: String,
        tracing: String,
        tags: Vec<(String, String)>,
    ) -> Result<(StateMachineRecord, bool), ApiError> {
        arn::check_name(&name).map_err(ApiError::invalid_name)?;
        let mt = match ty.as_str() {
            "STANDARD" => MachineType::Standard,
            "EXPRESS" => MachineType::Express,
            other => {
                return Err(ApiError::validation(format!(
                    "Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
                )));
            }
        };
        let compiled = compile_str(&definition, CompileOptions { machine_type: mt })
            .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
        let arn = self.cfg.scope.state_machine(&name);
        if let Some(existing) = self.machines.get(&arn) {
            let r = &existing.rec;
            if r.definition == definition && r.role_arn == role_arn && r.machine_type == ty {
                return Ok((r.clone(), false));
            }
            return Err(ApiError::state_machine_already_exists(format!(
                "State Machine Already Exists: '{arn}'"
            )));
        }
        let now = self.clock.now_ms();
        let rec = StateMachineRecord {
            arn: arn.clone(),
            name,
            definition,
            role_arn,
            machine_type: ty,
            created: now,
            updated: now,
            logging,
            tracing,
            revision_id: uuid::Uuid::new_v4().to_string(),
            description: String::new(),
        };
        self.batch.push(Write::PutStateMachine(rec.clone()));
        self.put_tags(&arn, tags);
        self.machines
            .insert(arn, MachineEntry::new(rec.clone(), Arc::new(compiled)));
        Ok((rec, true))
    }

    fn update_state_machine(
        &mut self,
        arn: String,
        definition: Option<String>,
        role_arn: Option<String>,
        logging: Option<String>,
        tracing: Option<String>,
    ) -> Result<StateMachineRecord, ApiError> {
        self.unqualified(&arn, "UpdateStateMachine")?;
        let entry = self.machine(&arn)?.clone();
        let mut rec = entry.rec;
        let mut compiled = entry.compiled;
        let mut text = entry.definition;
        if let Some(d) = definition {
            let m = compile_str(
                &d,
                CompileOptions {
                    machine_type: machine_type(&rec.machine_type),
                },
            )
            .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
            compiled = Arc::new(m);
            text = Arc::from(d.as_str());
            rec.definition = d;
        }
        if let Some(r) = role_arn {
            rec.role_arn = r;
        }
        if let Some(l) = logging {
            rec.logging = l;
        }
        if let Some(t) = tracing {
            rec.tracing = t;
        }
        rec.updated = self.clock.now_ms();
        rec.revision_id = uuid::Uuid::new_v4().to_string();
        self.batch.push(Write::PutStateMachine(rec.clone()));
        self.machines.insert(
            arn,
            MachineEntry {
                rec: rec.clone(),
                compiled,
                definition: text,
            },
        );
        Ok(rec)
    }

    fn create_activity(
        &mut self,
        name: String,
        tags: Vec<(String, String)>,
    ) -> Result<ActivityRecord, ApiError> {
        arn::check_name(&name).map_err(ApiError::invalid_name)?;
        let arn = self.cfg.scope.activity(&name);
        if let Some(a) = self.activities.get(&arn) {
            return Ok(a.clone());
        }
        let rec = ActivityRecord {
            arn: arn.clone(),
            name,
            created: self.clock.now_ms(),
        };
        self.batch.push(Write::PutActivity(rec.clone()));
        self.put_tags(&arn, tags);
        self.activities.insert(arn, rec.clone());
        Ok(rec)
    }

    fn start_execution(
        &mut self,
        machine_arn: String,
        name: Option<String>,
        input: String,
        sync: bool,
        parent: Option<(String, i64, ChildMode)>,
    ) -> Result<(String, i64), ApiError> {
        // `<machine ARN>#<test case>` runs under a test case of the mock config.
        let (machine_arn, mock_case) = match machine_arn.split_once('#') {
            Some((m, case)) => {
                let name = machine_name(m);
                if !self
                    .cfg
                    .integrations
                    .mocks()
                    .is_some_and(|c| c.has_case(&name, case))
                {
                    return Err(ApiError::invalid_arn(format!(
                        "Invalid Arn: '{machine_arn}': no test case '{case}' for state machine '{name}' in the mock config (--mock-config / SFN_MOCK_CONFIG)"
                    )));
                }
                (m.to_owned(), Some(case.to_owned()))
            }
            None => (machine_arn, None),
        };
        let (entry, machine_arn, version_arn, alias_arn, arn, exec_name, input_value) =
            match self.prepare_start(&machine_arn, name, &input, sync)? {
                Prepared::New {
                    entry,
                    machine_arn,
                    version_arn,
                    alias_arn,
                    arn,
                    name,
                    input,
                } => (entry, machine_arn, version_arn, alias_arn, arn, name, input),
                Prepared::Existing { arn, start } => return Ok((arn, start)),
            };
        let now = self.clock.now_ms();
        let express = entry.rec.machine_type == "EXPRESS";
        let rec = ExecutionRecord {
            arn: arn.clone(),
            state_machine_arn: machine_arn.clone(),
            name: exec_name,
            status: "RUNNING".into(),
            input,
            output: None,
            error: None,
            cause: None,
            start: now,
            stop: None,
            definition: entry.definition.clone(),
            role_arn: entry.rec.role_arn.clone(),
            revision_id: entry.rec.revision_id.clone(),
            runtime: None,
            parent: parent.as_ref().map(|p| p.0.clone()),
            version_arn,
            alias_arn,
            redrive_count: 0,
            redrive_date: None,
        };
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        let mut rt = Runtime::new(&entry.compiled, input_value.clone(), now, seed);
        rt.mock_case = mock_case;
        let limit = if express {
            EXPRESS_MAX_MS
        } else {
            STANDARD_MAX_MS
        };
        rt.deadline = Some(rt.deadline.map_or(now + limit, |d| d.min(now + limit)));
        let mut context = base_context(&rec, &entry.rec.name, input_value);
        if express && let Some(x) = context.get_mut("Execution").and_then(Value::as_object_mut) {
            x.remove("RedriveCount");
        }
        let first_timer = rt.deadline;
        if let Some(d) = first_timer {
            self.timers.insert((d, arn.clone()));
        }
        let mut exec = Exec {
            rec,
            machine: entry.compiled.clone(),
            rt,
            context,
            express,
            waiters: Vec::new(),
            parent,
            stored: false,
            timer_at: first_timer.into_iter().collect(),
        };
        let mut started = json!({"executionStartedEventDetails": {
            "input": exec.rec.input, "inputDetails": {"truncated": false}, "roleArn": exec.rec.role_arn}});
        for (key, value) in [
            ("stateMachineVersionArn", &exec.rec.version_arn),
            ("stateMachineAliasArn", &exec.rec.alias_arn),
        ] {
            if let Some(v) = value {
                started["executionStartedEventDetails"][key] = json!(v);
            }
        }
        self.record(
            &mut exec,
            vec![NewEvent {
                id: 1,
                previous_id: 0,
                timestamp: now,
                event_type: "ExecutionStarted",
                details: to_text(&started),
            }],
        );
        self.step(exec, |rt, cx| rt.drive(cx));
        Ok((arn, now))
    }

    fn prepare_start(
        &self,
        machine_arn: &str,
        name: Option<String>,
        input: &str,
        sync: bool,
    ) -> Result<Prepared, ApiError> {
        let versions::Target {
            base,
            entry,
            version_arn,
            alias_arn,
        } = self.target(machine_arn)?;
        let machine_arn = base.as_str();
        if sync && entry.rec.machine_type != "EXPRESS" {
            return Err(ApiError::state_machine_type_not_supported(
                "This operation is only supported by EXPRESS state machines",
            ));
        }
        if input.len() > stepwise_asl::step::MAX_PAYLOAD_BYTES {
            return Err(ApiError::invalid_execution_input(format!(
                "Input exceeds the maximum size of {} bytes",
                stepwise_asl::step::MAX_PAYLOAD_BYTES
            )));
        }
        let input_value: Value = serde_json::from_str(input).map_err(|e| {
            ApiError::invalid_execution_input(format!(
                "Invalid execution input: the input is not valid JSON: {e}"
            ))
        })?;
        let name = match name {
            Some(n) => {
                arn::check_name(&n).map_err(ApiError::invalid_name)?;
                n
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let arn = if entry.rec.machine_type == "EXPRESS" {
            format!(
                "{}:{}",
                arn::express_arn_for(machine_arn, &name),
                uuid::Uuid::new_v4()
            )
        } else {
            arn::execution_arn_for(machine_arn, &name)
        };
        if let Some(x) = self.execs.get(&arn) {
            if x.rec.input == input {
                return Ok(Prepared::Existing {
                    arn,
                    start: x.rec.start,
                });
            }
            return Err(ApiError::execution_already_exists(format!(
                "Execution Already Exists: '{arn}'"
            )));
        }
        Ok(Prepared::New {
            entry,
            machine_arn: base,
            version_arn,
            alias_arn,
            arn,
            name,
            input: input_value,
        })
    }

    /// Runs `op` on an execution's runtime, then records what it produced.
    fn step(&mut self, mut exec: Exec, op: impl FnOnce(&mut Runtime, &mut Cx<'_>)) {
        let now = self.clock.now_ms();
        let arn = exec.rec.arn.clone();
        // A test case of the mock config answers for the states it mocks.
        let mocks = self.cfg.integrations.mocks();
        let mock_case = exec.rt.mock_case.clone().filter(|_| mocks.is_some());
        let mock_machine = mock_case
            .as_ref()
            .map(|_| machine_name(&exec.rec.state_machine_arn));
        let mock_fn = |state: &str, n: u32| match (mocks, &mock_case, &mock_machine) {
            (Some(m), Some(case), Some(machine)) => m.result(machine, case, state, n),
            _ => None,
        };
        let mock: Option<runtime::MockFn<'_>> = mock_case.as_ref().map(|_| &mock_fn as _);
        let integrations = &self.cfg.integrations;
        let serve_lambda =
            |function: &str| integrations.lambda_activity(function).map(str::to_owned);
        let lambda_activity: Option<runtime::LambdaActivityFn<'_>> =
            integrations.serves_lambdas().then_some(&serve_lambda as _);
        let (events, requests) = {
            let activities = &self.activities;
            let exists = |a: &str| activities.contains_key(a);
            let signer = &self.signer;
            let token_for = |id: i64| signer.sign(&arn, id);
            let mut cx = Cx {
                machine: &exec.machine,
                context: &mut exec.context,
                vars: &self.vars,
                now,
                wait_scale: self.cfg.wait_scale,
                history: !exec.express || self.express_history_on,
                events: Vec::new(),
                requests: Vec::new(),
                activity_exists: &exists,
                token_for: &token_for,
                region: &self.cfg.scope.region,
                account: &self.cfg.scope.account,
                execution_arn: &arn,
                mock,
                lambda_activity,
            };
            op(&mut exec.rt, &mut cx);
            (cx.events, cx.requests)
        };
        self.record(&mut exec, events);
        let mut children = Vec::new();
        let mut delivers = Vec::new();
        for r in requests {
            match r {
                Request::Timer { at } => {
                    if self.timers.insert((at, arn.clone())) {
                        exec.timer_at.push(at);
                    }
                }
                Request::Activity {
                    activity,
                    scheduled_id,
                } => {
                    self.queues
                        .entry(activity.clone())
                        .or_default()
                        .tasks
                        .push_back((arn.clone(), scheduled_id, self.round));
                    self.pending_dispatch.push(activity);
                }
                Request::StartChild {
                    scheduled_id,
                    machine_arn,
                    input,
                    name,
                    mode,
                } => {
                    children.push((scheduled_id, machine_arn, input, name, mode));
                }
                Request::MapRun(record) => {
                    if !exec.express {
                        self.batch.push(Write::PutMapRun(record));
                    }
                }
                Request::Integration(call) => self.make_call(arn.clone(), call),
                Request::Deliver {
                    scheduled_id,
                    result,
                } => delivers.push((scheduled_id, result)),
            }
        }
        if let Some(d) = exec.rt.deadline
            && d <= now
            && exec.rt.result().is_none()
        {
            self.finish(exec, Finish::TimedOut);
            return;
        }
        match exec.rt.result().cloned() {
            Some(Ok(output)) => self.finish(exec, Finish::Succeeded(output)),
            Some(Err(e)) => self.finish(exec, Finish::Failed(e)),
            None => {
                if !exec.express {
                    self.dirty.insert(arn.clone());
                }
                self.execs.insert(arn.clone(), exec);
                for (scheduled_id, machine_arn, input, name, mode) in children {
                    self.start_child(&arn, scheduled_id, machine_arn, input, name, mode);
                }
                for (scheduled_id, result) in delivers {
                    self.deliver(&arn, scheduled_id, result);
                }
            }
        }
        self.dispatch_pending();
    }

    fn record(&mut self, exec: &mut Exec, events: Vec<NewEvent>) {
        if events.is_empty() || (exec.express && !self.express_history_on) {
            return;
        }
        let records = events.into_iter().map(|e| EventRecord {
            id: e.id,
            previous_id: e.previous_id,
            timestamp: e.timestamp,
            event_type: e.event_type.to_owned(),
            details: e.details,
        });
        if exec.express {
            let records = records.collect();
            return self.record_express(exec, records);
        }
        self.events
            .entry(exec.rec.arn.clone())
            .or_default()
            .extend(records);
    }

    fn finish(&mut self, mut exec: Exec, how: Finish) {
        let now = self.clock.now_ms();
        for t in exec.timer_at.drain(..) {
            self.timers.remove(&(t, exec.rec.arn.clone()));
        }
        let (status, event_type, details) = match &how {
            Finish::Succeeded(output) => {
                let out = to_text(output);
                // Written directly: the output is most of it.
                let mut details = br#"{"executionSucceededEventDetails":{"output":"#.to_vec();
                runtime::json_string(&mut details, &out);
                details.extend_from_slice(br#","outputDetails":{"truncated":false}}}"#);
                exec.rec.output = Some(out);
                (
                    "SUCCEEDED",
                    "ExecutionSucceeded",
                    String::from_utf8(details).unwrap_or_default(),
                )
            }
            Finish::Failed(e) => {
                exec.rec.error = Some(e.error.clone());
                exec.rec.cause = Some(e.cause.clone());
                (
                    "FAILED",
                    "ExecutionFailed",
                    to_text(
                        &json!({"executionFailedEventDetails": {"error": e.error, "cause": e.cause}}),
                    ),
                )
            }
            Finish::TimedOut => (
                "TIMED_OUT",
                "ExecutionTimedOut",
                to_text(&json!({"executionTimedOutEventDetails": {"error": names::TIMEOUT}})),
            ),
            Finish::Aborted { error, cause } => {
                exec.rec.error = error.clone();
                exec.rec.cause = cause.clone();
                (
                    "ABORTED",
                    "ExecutionAborted",
                    to_text(
                        &json!({"executionAbortedEventDetails": {"error": error, "cause": cause}}),
                    ),
                )
            }
        };
        let id = exec.rt.next_event_id;
        exec.rt.next_event_id += 1;
        let prev = id - 1;
        self.record(
            &mut exec,
            vec![NewEvent {
                id,
                previous_id: prev,
                timestamp: now,
                event_type,
                details,
            }],
        );
        if !exec.express {
            for run in map_runs::runs(&exec.rt, &exec.rec.arn, "ABORTED", Some(now)) {
                self.batch.push(Write::PutMapRun(run));
            }
        }
        exec.rec.status = status.into();
        exec.rec.stop = Some(now);
        // A STANDARD execution that did not succeed keeps its runtime state:
        // a redrive carries on from it.
        exec.rec.runtime = match how {
            Finish::Succeeded(_) => None,
            _ if exec.express => None,
            _ => serde_json::to_string(&exec.rt).ok(),
        };
        let arn = exec.rec.arn.clone();
        self.dirty.remove(&arn);
        self.lazy.remove(&arn);
        self.execs.remove(&arn);
        if exec.express {
            self.ring_express(exec.rec.clone());
        } else {
            self.batch.push(Write::PutExecution(exec.rec.clone()));
        }
        for w in exec.waiters.drain(..) {
            let rec = exec.rec.clone();
            self.reply(w, Ok(Started::Finished(Box::new(rec))));
        }
        // Abort children still running (their parent is gone).
        for (_, child) in exec.rt.child_tasks() {
            if self.execs.contains_key(&child) {
                let _ = self.stop_execution(
                    &child,
                    Some(names::RUNTIME.into()),
                    Some(format!("Parent execution {arn} ended")),
                );
            }
        }
        if let Some((parent, scheduled_id, mode)) = exec.parent.take() {
            let result = child_result(&exec.rec, mode);
            self.deliver(&parent, scheduled_id, result);
        }
    }

    fn deliver(
        &mut self,
        exec_arn: &str,
        scheduled_id: i64,
        result: Result<Value, StatesError>,
    ) -> bool {
        let Some(exec) = self.execs.remove(exec_arn) else {
            return false;
        };
        let mut found = false;
        self.step(exec, |rt, cx| {
            found = rt.task_result(cx, scheduled_id, result)
        });
        found
    }

    /// Makes a task's service call once the round that scheduled it is
    /// durable; its answer comes back as [`Command::IntegrationDone`].
    fn make_call(&mut self, execution: String, call: IntegrationCall) {
        let (Some(tx), integrations, region) = (
            self.self_tx.clone(),
            self.cfg.integrations.clone(),
            self.cfg.scope.region.clone(),
        ) else {
            // Not running yet (loading): made when the engine starts.
            self.resumed_calls.push((execution, call));
            return;
        };
        self.effects.push(Box::new(move |ok| {
            if !ok {
                return;
            }
            tokio::spawn(async move {
                let outcome = integrations.call(&call, &region).await;
                if let Some(tx) = tx.upgrade() {
                    let _ = tx
                        .send(Command::IntegrationDone {
                            execution,
                            call,
                            outcome,
                        })
                        .await;
                }
            });
        }));
    }

    /// Waits (once the round is durable) for the job a `.sync` task
    /// submitted; its end comes back as [`Command::IntegrationDone`].
    fn wait_job(&mut self, execution: String, call: IntegrationCall, job: Value) {
        let (Some(tx), integrations, region) = (
            self.self_tx.clone(),
            self.cfg.integrations.clone(),
            self.cfg.scope.region.clone(),
        ) else {
            self.resumed_waits.push((execution, call, job));
            return;
        };
        self.effects.push(Box::new(move |ok| {
            if !ok {
                return;
            }
            tokio::spawn(async move {
                let result = integrations.wait_job(&call, &job, &region).await;
                if let Some(tx) = tx.upgrade() {
                    let _ = tx
                        .send(Command::IntegrationDone {
                            execution,
                            call,
                            outcome: CallOutcome::Done(result),
                        })
                        .await;
                }
            });
        }));
    }

    fn start_child(
        &mut self,
        parent: &str,
        scheduled_id: i64,
        machine_arn: String,
        input: Value,
        name: Option<String>,
        mode: ChildMode,
    ) {
        let link = matches!(mode, ChildMode::Sync | ChildMode::Sync2)
            .then(|| (parent.to_owned(), scheduled_id, mode));
        match self.start_execution(machine_arn, name, to_text(&input), false, link) {
            Err(e) => {
                let error = StatesError::new(
                    format!(
                        "StepFunctions.{}Exception",
                        e.code.trim_end_matches("Exception")
                    ),
                    e.message,
                );
                self.deliver(parent, scheduled_id, Err(error));
            }
            Ok((arn, start)) => {
                if mode == ChildMode::Fire {
                    self.deliver(
                        parent,
                        scheduled_id,
                        Ok(json!({"ExecutionArn": arn, "StartDate": start})),
                    );
                }
            }
        }
    }

    fn stop_execution(
        &mut self,
        arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<i64, ApiError> {
        if arn::parse(arn).is_none() {
            return Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'")));
        }
        let Some(exec) = self.execs.remove(arn) else {
            return Err(ApiError::execution_does_not_exist(format!(
                "Execution Does Not Exist: '{arn}'"
            )));
        };
        let now = self.clock.now_ms();
        self.finish(exec, Finish::Aborted { error, cause });
        Ok(now)
    }

    fn poll(&mut self, activity: String, worker: String, reply: Reply<Option<ActivityTask>>) {
        if !self.activities.contains_key(&activity) {
            let e = if arn::parse(&activity).is_none() {
                ApiError::invalid_arn(format!("Invalid Arn: '{activity}'"))
            } else {
                ApiError::activity_does_not_exist(format!("Activity Does Not Exist: '{activity}'"))
            };
            return self.reply(reply, Err(e));
        }
        let q = self.queues.entry(activity.clone()).or_default();
        q.pollers.retain(|p| !p.reply.is_closed());
        if q.pollers.len() >= MAX_PARKED_POLLERS {
            return self.reply(reply, Ok(None));
        }
        self.worker_seen(&activity, &worker);
        let q = self.queues.entry(activity.clone()).or_default();
        q.pollers.push_back(Poller { worker, reply });
        self.dispatch(&activity);
    }

    /// When the oldest deferred `ActivityStarted` is due; stale entries at the
    /// front (written since, or handed out again) are dropped first, so the
    /// engine wakes only for a start that is still waiting.
    fn next_lazy_deadline(&mut self) -> Option<i64> {
        while let Some((t, arn)) = self.lazy_order.front() {
            if self.lazy.get(arn) == Some(t) {
                return Some(t + LAZY_START_MS);
            }
            self.lazy_order.pop_front();
        }
        None
    }

    /// Marks for this round the executions whose `ActivityStarted` waited
    /// [`LAZY_START_MS`] for another change.
    fn write_due_starts(&mut self) {
        let now = self.clock.now_ms();
        while let Some(due) = self.next_lazy_deadline() {
            if due > now {
                break;
            }
            if let Some((_, arn)) = self.lazy_order.pop_front() {
                self.lazy.remove(&arn);
                self.dirty.insert(arn);
            }
        }
    }

    fn dispatch_pending(&mut self) {
        for a in std::mem::take(&mut self.pending_dispatch) {
            self.dispatch(&a);
        }
    }

    /// Hands queued tasks of `activity` to parked pollers whose connection is still open.
    ///
    /// A task whose scheduling is already committed goes to its poller at once:
    /// its `ActivityStarted` event is committed with the execution's next
    /// change or within [`LAZY_START_MS`], and if the coordinator stops before
    /// that, the task is queued again on restart under the same token (the
    /// action is repeated, never the decision). A task scheduled in the
    /// current round is handed out after its commit.
    fn dispatch(&mut self, activity: &str) {
        loop {
            let Some(q) = self.queues.get_mut(activity) else {
                return;
            };
            while q.pollers.front().is_some_and(|p| p.reply.is_closed()) {
                q.pollers.pop_front();
            }
            if q.pollers.is_empty() {
                return;
            }
            if let Some(task) = q.handed_back.pop_front() {
                if let Some(poller) = q.pollers.pop_front() {
                    self.hand_out(activity, poller, task);
                }
                continue;
            }
            let Some((exec_arn, id, round)) = q.tasks.pop_front() else {
                return;
            };
            let still_waiting = self
                .execs
                .get_mut(&exec_arn)
                .is_some_and(|x| x.rt.task_waiting(id));
            if !still_waiting {
                continue;
            }
            let Some(q) = self.queues.get_mut(activity) else {
                return;
            };
            let Some(poller) = q.pollers.pop_front() else {
                return;
            };
            let Some(exec) = self.execs.remove(&exec_arn) else {
                continue;
            };
            let mut input = None;
            let worker = poller.worker.clone();
            let changed = self.dirty.contains(&exec_arn) || self.events.contains_key(&exec_arn);
            self.step(exec, |rt, cx| input = rt.task_started(cx, id, &worker));
            if !changed && self.dirty.remove(&exec_arn) {
                let now = self.clock.now_ms();
                self.lazy.insert(exec_arn.clone(), now);
                self.lazy_order.push_back((now, exec_arn.clone()));
            }
            let token = self.signer.sign(&exec_arn, id);
            let task = input.map(|i| ActivityTask {
                token,
                input: to_text(&i),
            });
            match task {
                Some(task) if round <= self.committed_round => {
                    self.hand_out(activity, poller, task);
                }
                task => self.reply(poller.reply, Ok(task)),
            }
        }
    }

    /// Sends a started task to `poller`, or, if it went away, to the next
    /// parked poller still listening; keeps it for a later poll if none is.
    fn hand_out(&mut self, activity: &str, poller: Poller, task: ActivityTask) {
        let mut next = Some(poller);
        let mut task = task;
        while let Some(p) = next {
            match p.reply.send(Ok(Some(task))) {
                Ok(()) => return,
                Err(Ok(Some(t))) => task = t,
                Err(_) => return,
            }
            next = self
                .queues
                .get_mut(activity)
                .and_then(|q| q.pollers.pop_front());
        }
        if let Some(q) = self.queues.get_mut(activity) {
            q.handed_back.push_back(task);
        }
    }

    fn resolve_token(&self, token: &str) -> Result<(String, i64), ApiError> {
        let r = self
            .signer
            .verify(token)
            .map_err(|e| ApiError::invalid_token(e.to_string()))?;
        Ok((r.execution, r.scheduled_id))
    }

    fn task_answer(
        &mut self,
        token: &str,
        result: Result<Value, StatesError>,
    ) -> Result<(), ApiError> {
        let (exec_arn, id) = self.resolve_token(token)?;
        if !self.execs.contains_key(&exec_arn) || self.execs[&exec_arn].rt.timed_out.contains(&id) {
            return Err(task_closed());
        }
        if self.deliver(&exec_arn, id, result) {
            Ok(())
        } else {
            Err(task_closed())
        }
    }

    fn heartbeat(&mut self, token: &str) -> Result<(), ApiError> {
        let (exec_arn, id) = self.resolve_token(token)?;
        let Some(exec) = self.execs.remove(&exec_arn) else {
            return Err(task_closed());
        };
        let timed_out = exec.rt.timed_out.contains(&id);
        let mut found = false;
        self.step(exec, |rt, cx| found = rt.heartbeat(cx, id));
        if found && !timed_out {
            Ok(())
        } else {
            Err(task_closed())
        }
    }

    fn fire_due_timers(&mut self) {
        let now = self.clock.now_ms();
        let mut due = HashSet::default();
        while self.timers.first().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, arn)) = self.timers.pop_first() {
                due.insert(arn);
            }
        }
        for arn in due {
            let Some(mut exec) = self.execs.remove(&arn) else {
                continue;
            };
            exec.timer_at.retain(|t| *t > now);
            self.step(exec, |rt, cx| rt.fire_timers(cx));
        }
    }
}

#[allow(clippy::large_enum_variant)]
enum Prepared {
    New {
        entry: MachineEntry,
        /// The machine's own ARN (the one asked for may name a version or alias).
        machine_arn: String,
        version_arn: Option<String>,
        alias_arn: Option<String>,
        arn: String,
        name: String,
        input: Value,
    },
    Existing {
        arn: String,
        start: i64,
    },
}

enum Finish {
    Succeeded(Value),
    Failed(StatesError),
    TimedOut,
    Aborted {
        error: Option<String>,
        cause: Option<String>,
    },
}

fn machine_type(s: &str) -> MachineType {
    if s == "EXPRESS" {
        MachineType::Express
    } else {
        MachineType::Standard
    }
}

fn machine_name(machine_arn: &str) -> String {
    machine_arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The context object's `Execution` and `StateMachine` parts.
/// The context object of an execution, `input` being its input parsed.
fn base_context(rec: &ExecutionRecord, machine_name: &str, input: Value) -> Value {
    let mut context = json!({
        "Execution": {
            "Id": rec.arn,
            "Input": input,
            "Name": rec.name,
            "RoleArn": rec.role_arn,
            "StartTime": iso8601(rec.start),
            "RedriveCount": rec.redrive_count,
        },
        "StateMachine": {"Id": rec.state_machine_arn, "Name": machine_name},
    });
    if let (Some(t), Some(x)) = (rec.redrive_date, context.get_mut("Execution")) {
        x["RedriveTime"] = json!(iso8601(t));
    }
    context
}

/// What a finished child execution gives its parent's task.
fn child_result(rec: &ExecutionRecord, mode: ChildMode) -> Result<Value, StatesError> {
    let output = rec.output.as_deref().unwrap_or("null");
    let mut describe = json!({
        "ExecutionArn": rec.arn,
        "StateMachineArn": rec.state_machine_arn,
        "Name": rec.name,
        "Status": rec.status,
        "StartDate": rec.start,
        "StopDate": rec.stop,
        "Input": rec.input,
        "InputDetails": {"Included": true},
    });
    if rec.status == "SUCCEEDED" {
        describe["Output"] = if mode == ChildMode::Sync2 {
            serde_json::from_str(output).unwrap_or(Value::Null)
        } else {
            Value::String(output.to_owned())
        };
        describe["OutputDetails"] = json!({"Included": true});
        Ok(describe)
    } else {
        if let Some(e) = &rec.error {
            describe["Error"] = json!(e);
        }
        if let Some(c) = &rec.cause {
            describe["Cause"] = json!(c);
        }
        Err(StatesError::new(names::TASK_FAILED, to_text(&describe)))
    }
}

#[cfg(test)]
mod tests;

/// What AWS answers `SendTaskSuccess`, `SendTaskFailure` and
/// `SendTaskHeartbeat` for a task that is no longer open: answered already,
/// timed out, or its execution ended (stopped, failed, succeeded).
fn task_closed() -> ApiError {
    ApiError::task_timed_out("Task Timed Out: 'Provided task does not exist anymore'")
}
