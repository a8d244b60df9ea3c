//! Durable storage behind narrow traits. The engine batches every change of
//! a round into one [`Batch`] and commits it in one transaction (group
//! commit); reads for the API go straight to the store.
//!
//! Implementations: [`sqlite::SqliteStore`] (the embedded default),
//! [`postgres::PostgresStore`] (a database several coordinators share: one
//! owns the executions, the others wait to take over) and
//! [`memory::MemoryStore`] (tests, and EXPRESS-only setups). One test suite
//! (`memory::suite`) runs against all three.

pub mod memory;
pub mod postgres;
pub mod sqlite;

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A failure of the store itself (I/O, corruption). The API reports it as an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A stored value could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// A state machine as stored (the current revision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub machine_type: String,
    pub created: Millis,
    pub updated: Millis,
    /// Logging configuration as JSON text (may be empty).
    pub logging: String,
    /// Tracing configuration as JSON text (may be empty).
    pub tracing: String,
    pub revision_id: String,
    pub description: String,
}

/// An activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub created: Millis,
}

/// One execution's row: its summary, and while it runs, the engine's
/// serialized runtime state (`runtime`), from which a restart resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start: Millis,
    pub stop: Option<Millis>,
    /// The definition the execution runs (the machine may be updated
    /// meanwhile); one copy shared by every execution of the same definition.
    pub definition: Arc<str>,
    pub role_arn: String,
    pub revision_id: String,
    /// The engine's runtime state, JSON text; `None` once the execution has
    /// succeeded (a failed, timed-out or aborted STANDARD execution keeps it
    /// for a redrive).
    pub runtime: Option<String>,
    /// The parent execution's ARN for nested executions.
    pub parent: Option<String>,
    /// The version the execution was started from (`<machine>:<n>`), if it
    /// was started from a version or an alias.
    #[serde(default)]
    pub version_arn: Option<String>,
    /// The alias the execution was started from (`<machine>:<alias>`).
    #[serde(default)]
    pub alias_arn: Option<String>,
    /// How many times it was redriven.
    #[serde(default)]
    pub redrive_count: u32,
    /// When it was last redriven.
    #[serde(default)]
    pub redrive_date: Option<Millis>,
}

/// A state machine alias: a name routing executions to one or two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// `<machine arn>:<name>`.
    pub arn: String,
    pub machine_arn: String,
    pub name: String,
    pub description: String,
    /// Version ARNs and their weights (percent, summing to 100).
    pub routing: Vec<(String, u32)>,
    pub created: Millis,
    pub updated: Millis,
}

/// A distributed Map state's run and its counts: the runtime makes them, the store keeps them.
pub use stepwise_asl::exec::{MapRunCounts, MapRunRecord};

/// One history event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: i64,
    pub previous_id: i64,
    pub timestamp: Millis,
    /// e.g. `PassStateEntered`.
    pub event_type: String,
    /// The event's details object as JSON text, keyed as AWS keys it
    /// (e.g. `{"stateEnteredEventDetails": {...}}`), possibly `{}`.
    pub details: String,
}

/// One change; a [`Batch`] applies many atomically.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    PutStateMachine(StateMachineRecord),
    DeleteStateMachine(String),
    PutActivity(ActivityRecord),
    DeleteActivity(String),
    /// Add or replace tags of a resource.
    PutTags {
        resource: String,
        tags: Vec<(String, String)>,
    },
    /// Remove tag keys of a resource.
    RemoveTags {
        resource: String,
        keys: Vec<String>,
    },
    /// Remove every tag of a resource (when it is deleted).
    ClearTags(String),
    /// Insert or replace an execution row.
    PutExecution(ExecutionRecord),
    /// Replace the runtime state of an execution already stored (the cheap
    /// per-round update of a running execution).
    UpdateRuntime {
        arn: String,
        runtime: String,
    },
    /// Append history events of an execution stored before or put earlier in
    /// the batch: the ids of an execution only grow, each above every id
    /// stored for it before (else the batch fails).
    AppendEvents {
        execution: String,
        events: Vec<EventRecord>,
    },
    /// Add or replace a state machine alias.
    PutAlias(AliasRecord),
    /// Remove a state machine alias.
    DeleteAlias(String),
    /// Add or replace a Map Run's record.
    PutMapRun(MapRunRecord),
    /// Store a small server setting (e.g. the task-token key).
    PutMeta {
        key: String,
        value: String,
    },
}

/// Changes committed together in one transaction.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    pub writes: Vec<Write>,
}

impl Batch {
    pub fn push(&mut self, w: Write) {
        self.writes.push(w);
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// What the engine loads at start.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub state_machines: Vec<StateMachineRecord>,
    pub activities: Vec<ActivityRecord>,
    pub tags: Vec<(String, String, String)>,
    /// Executions whose status is `RUNNING` (with their runtime state).
    pub running: Vec<ExecutionRecord>,
    pub meta: Vec<(String, String)>,
    pub aliases: Vec<AliasRecord>,
}

/// Filter and page of `ListExecutions`.
#[derive(Debug, Clone, Default)]
pub struct ExecutionQuery {
    pub state_machine_arn: String,
    /// Only executions started from this version or alias ARN.
    pub qualified: Option<String>,
    /// Only executions redriven at least once (`Some(true)`) or never (`Some(false)`).
    pub redriven: Option<bool>,
    pub status: Option<String>,
    /// Return executions strictly after this position (an opaque cursor from a previous page).
    pub after: Option<String>,
    pub limit: usize,
}

/// A page of results and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }
}

/// The storage interface: load at start, commit batches, read for the API.
/// Every method is blocking; the engine calls them from blocking threads.
pub trait Store: Send + Sync + 'static {
    /// Everything the engine needs at start.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Applies a batch in one transaction (durably for SQLite: WAL + synchronous=FULL).
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// One execution row.
    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError>;
    /// Executions of a state machine, newest first.
    fn list_executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>, StoreError>;
    /// The Map Runs of an execution, oldest first.
    fn map_runs(&self, execution: &str) -> Result<Vec<MapRunRecord>, StoreError>;
    /// History events of an execution, by id ascending (or descending when `reverse`),
    /// starting after the event id `after` (exclusive; `None` = from the start/end).
    fn history(
        &self,
        execution: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError>;
}
