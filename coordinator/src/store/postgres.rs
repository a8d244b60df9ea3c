//! A [`Store`] on PostgreSQL, for several coordinators sharing one database.
//!
//! One [`Batch`] is one transaction, sent as a handful of statements whatever
//! its size: the execution rows of a round go in one `INSERT ... SELECT FROM
//! UNNEST(...)` of arrays, their runtime updates in one `UPDATE ... FROM
//! UNNEST`, their history chunks in one more (no round trip per transition).
//!
//! Schema migrations are versioned and forward only; they run at start under
//! a transaction-scoped advisory lock, so coordinators started together
//! migrate once.
//!
//! One coordinator at a time drives the executions: the owner holds a
//! session advisory lock on a connection of its own (released by the server
//! when that connection dies, e.g. when the process is killed) and a fencing
//! epoch in the `lease` row, bumped by each new owner. Every commit first
//! checks, in its own transaction, that the epoch is still the one it
//! started with, and takes a share lock on the row: a node that lost the
//! database cannot commit, and a new owner's bump waits for commits in flight.
//!
//! The trait is blocking; the driver is async. The store runs its own small
//! tokio runtime and each call waits on a channel for its answer, so it can
//! be called from any thread (a blocking thread, or the engine's own task).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::memory::{
    RUNNING, SCHEMA_VERSION_KEY, appended_ids, check_batch, decode_cursor, page_limit, page_of,
};
use super::sqlite::{ChunkEvent, chunk_events, encode_events};
use super::{
    ActivityRecord, Batch, EventRecord, ExecutionQuery, ExecutionRecord, MapRunRecord, Page,
    Snapshot, StateMachineRecord, Store, StoreError, Write,
};

/// The advisory lock key migrations run under (any fixed number; "stepwise" in ASCII).
const MIGRATION_LOCK: i64 = 0x7374_6570_7769_7365;
/// The advisory lock key the owner of the executions holds.
const OWNER_LOCK: i64 = MIGRATION_LOCK + 1;
/// Connections in the pool (commits are serialized by the engine; reads share the rest).
const POOL_SIZE: u32 = 8;
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the owner checks that its lock connection is alive.
const OWNER_PING: Duration = Duration::from_secs(2);

/// The schema, one entry per version: `MIGRATIONS[n]` brings version `n` to
/// `n + 1`. Append new versions; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE state_machines (
        arn TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        machine_type TEXT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        logging TEXT NOT NULL,
        tracing TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        description TEXT NOT NULL
    );
    CREATE TABLE activities (arn TEXT PRIMARY KEY, name TEXT NOT NULL, created BIGINT NOT NULL);
    CREATE TABLE tags (
        resource TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (resource, key)
    );
    -- Each distinct definition text once, named by its SHA-256 (hex).
    CREATE TABLE definitions (hash TEXT PRIMARY KEY, text TEXT NOT NULL);
    CREATE TABLE executions (
        arn TEXT PRIMARY KEY,
        state_machine_arn TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        start BIGINT NOT NULL,
        stop BIGINT,
        definition TEXT NOT NULL REFERENCES definitions (hash),
        role_arn TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        parent TEXT,
        runtime TEXT,
        version_arn TEXT,
        alias_arn TEXT,
        redrive_count BIGINT NOT NULL,
        redrive_date BIGINT
    );
    CREATE INDEX executions_by_machine ON executions (state_machine_arn, start, arn);
    CREATE INDEX executions_by_machine_status ON executions (state_machine_arn, status, start, arn);
    CREATE INDEX executions_running ON executions (start, arn) WHERE status = 'RUNNING';
    -- History events in chunks of contiguous ids (the SQLite store's text format).
    CREATE TABLE history_chunks (
        execution TEXT NOT NULL,
        first_id BIGINT NOT NULL,
        last_id BIGINT NOT NULL,
        events TEXT NOT NULL,
        PRIMARY KEY (execution, first_id)
    );
    CREATE TABLE aliases (arn TEXT PRIMARY KEY, machine_arn TEXT NOT NULL, record TEXT NOT NULL);
    CREATE TABLE map_runs (
        arn TEXT PRIMARY KEY,
        execution TEXT NOT NULL,
        start BIGINT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX map_runs_by_execution ON map_runs (execution, start);
    -- The fencing epoch of the coordinator that drives the executions.
    CREATE TABLE lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch BIGINT NOT NULL,
        node TEXT NOT NULL,
        since BIGINT NOT NULL
    );
    INSERT INTO lease (id, epoch, node, since) VALUES (1, 0, '', 0);",
];

/// A [`Store`] in a PostgreSQL database.
pub struct PostgresStore {
    /// The store's own runtime, on which every query runs (`None` once dropped).
    rt: Option<tokio::runtime::Runtime>,
    pool: PgPool,
    options: PgConnectOptions,
    /// The fencing epoch this store commits under (-1: not the owner, commits fail).
    epoch: Arc<AtomicI64>,
    /// Definition hashes known to be stored (their text is not sent again).
    definitions: Arc<Mutex<HashSet<String>>>,
    /// The task keeping the owner connection (whose session holds
    /// [`OWNER_LOCK`]) open, once this store owns the executions.
    owner: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Dropping a runtime waits for its tasks, which may not be done
            // from an async context: leave them to end in the background
            // (the owner connection closes, and the lock goes with it).
            rt.shutdown_background();
        }
    }
}

fn db_err<C: std::fmt::Display>(context: C) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

fn corrupt<C: std::fmt::Display>(context: C) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt(format!("{context}: {e}"))
}

/// Waits, from any thread outside `rt`, for `fut` run on `rt`.
fn run_on<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        // The caller is gone only if its thread died; nothing to tell then.
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| {
        StoreError::Database("a PostgreSQL query task ended without an answer".into())
    })?
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`),
    /// brings the schema up to date, and becomes the owner of the executions:
    /// if another coordinator owns them, waits until it stops or dies.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let store = Self::connect(url)?;
        store.run(store.own())?;
        Ok(store)
    }

    /// Connects and brings the schema up to date, without owning the
    /// executions: reads work, commits fail until [`PostgresStore::own`] is done.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stepwise-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("start the PostgreSQL runtime: {e}")))?;
        let options: PgConnectOptions = url.parse().map_err(|e| {
            StoreError::Database(format!(
                "database URL {}: {e} (expected postgres://user@host:port/database)",
                redact(url)
            ))
        })?;
        let shown = redact(url);
        let opts = options.clone();
        let pool = run_on(&rt, async move {
            PgPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(opts)
                .await
                .map_err(db_err(format_args!("connect to {shown}")))
        })?;
        let p = pool.clone();
        run_on(&rt, async move { migrate(&p).await })?;
        Ok(PostgresStore {
            rt: Some(rt),
            pool,
            options,
            epoch: Arc::new(AtomicI64::new(-1)),
            definitions: Arc::default(),
            owner: Arc::default(),
        })
    }

    /// Becomes the owner of the executions, waiting while another
    /// coordinator is (the future can be awaited on any runtime, and dropped
    /// to stop waiting).
    pub fn own(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Some(rt) = &self.rt {
            let take = take_ownership(self.options.clone(), self.pool.clone());
            let epoch = self.epoch.clone();
            let owner = self.owner.clone();
            rt.spawn(async move {
                let r = take.await.map(|(e, task)| {
                    epoch.store(e, Ordering::SeqCst);
                    *lock(&owner) = Some(task);
                });
                let _ = tx.send(r);
            });
        }
        async move {
            rx.await.map_err(|_| {
                StoreError::Database("the store closed while waiting to own the executions".into())
            })?
        }
    }

    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.rt {
            Some(rt) => run_on(rt, fut),
            None => Err(StoreError::Database("the store is closed".into())),
        }
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &url[s + 3..at];
            match user.split_once(':') {
                Some((name, _)) => format!("{}{name}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Applies the migrations not applied yet, under an advisory lock.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(db_err("begin migration"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err("lock for migration"))?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_err("create schema_migrations"))?;
    let version: i32 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(db_err("read the schema version"))?;
    let known = MIGRATIONS.len() as i32;
    if version > known {
        return Err(StoreError::Database(format!(
            "the database's schema is version {version}, newer than this coordinator knows ({known}): \
             run a newer coordinator"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let to = i as i32 + 1;
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(db_err(format_args!("migrate the schema to version {to}")))?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(db_err("record the schema version"))?;
    }
    tx.commit().await.map_err(db_err("commit migration"))
}

/// Takes the owner lock (waiting while another coordinator holds it) on a
/// connection of its own, bumps the fencing epoch, and keeps the connection
/// alive in a task. Returns the epoch and that task.
async fn take_ownership(
    options: PgConnectOptions,
    pool: PgPool,
) -> Result<(i64, tokio::task::JoinHandle<()>), StoreError> {
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(db_err("open the owner connection"))?;
    // The server notices a dead peer within about 20 s (keepalive probes),
    // and then drops the lock; a killed process's socket closes at once.
    sqlx::raw_sql(
        "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 2",
    )
    .execute(&mut conn)
    .await
    .map_err(db_err("set keepalives on the owner connection"))?;
    let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
        .bind(OWNER_LOCK)
        .fetch_one(&mut conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(db_err("take the owner lock"))?;
    if !got {
        let holder: String = sqlx::query("SELECT node FROM lease WHERE id = 1")
            .fetch_one(&pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_err("read the lease"))?;
        tracing::warn!(
            owner = %holder,
            "another coordinator owns this database's executions; waiting to take over when it stops"
        );
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(OWNER_LOCK)
            .execute(&mut conn)
            .await
            .map_err(db_err("wait for the owner lock"))?;
    }
    let node = format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()),
        std::process::id()
    );
    // Waits for the commits of a previous owner still in flight (they hold
    // a share lock on the row); every later one of theirs is refused.
    let epoch: i64 = sqlx::query(
        "UPDATE lease SET epoch = epoch + 1, node = $1,
             since = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
         WHERE id = 1 RETURNING epoch",
    )
    .bind(&node)
    .fetch_one(&mut conn)
    .await
    .and_then(|r| r.try_get(0))
    .map_err(db_err("take the lease"))?;
    tracing::info!(epoch, %node, "this coordinator owns the database's executions");
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(OWNER_PING).await;
            if let Err(e) = conn.ping().await {
                // The server has dropped the lock with the session: another
                // node may own the executions now. Commits check the epoch,
                // so this node cannot write over it; it must be restarted.
                tracing::error!(error = %e, "lost the connection holding the owner lock; this coordinator's commits will be refused; restart it");
                return;
            }
        }
    });
    Ok((epoch, task))
}

/// SHA-256 of a definition text, in hex.
fn definition_hash(text: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// The execution columns of every read, `d.text` for the definition.
const EXECUTION_COLUMNS: &str = "e.arn, e.state_machine_arn, e.name, e.status, e.input, e.output, e.error, e.cause, \
     e.start, e.stop, d.text, e.role_arn, e.revision_id, e.parent";
const V6_COLUMNS: &str = "e.version_arn, e.alias_arn, e.redrive_count, e.redrive_date";

/// Reads a row selected as `EXECUTION_COLUMNS, runtime, V6_COLUMNS`.
fn execution_row(
    r: &PgRow,
    definitions: &mut HashMap<String, Arc<str>>,
) -> Result<ExecutionRecord, sqlx::Error> {
    let text: String = r.try_get(10)?;
    let definition = match definitions.get(&text) {
        Some(d) => d.clone(),
        None => {
            let d: Arc<str> = Arc::from(text.as_str());
            definitions.insert(text, d.clone());
            d
        }
    };
    let redrive_count: i64 = r.try_get(17)?;
    Ok(ExecutionRecord {
        arn: r.try_get(0)?,
        state_machine_arn: r.try_get(1)?,
        name: r.try_get(2)?,
        status: r.try_get(3)?,
        input: r.try_get(4)?,
        output: r.try_get(5)?,
        error: r.try_get(6)?,
        cause: r.try_get(7)?,
        start: r.try_get(8)?,
        stop: r.try_get(9)?,
        definition,
        role_arn: r.try_get(11)?,
        revision_id: r.try_get(12)?,
        parent: r.try_get(13)?,
        runtime: r.try_get(14)?,
        version_arn: r.try_get(15)?,
        alias_arn: r.try_get(16)?,
        redrive_count: u32::try_from(redrive_count).unwrap_or(u32::MAX),
        redrive_date: r.try_get(18)?,
    })
}

/// A batch turned into the statements of its transaction, owning its data
/// (it runs on the store's runtime).
#[derive(Default)]
struct Plan {
    /// Machines, activities, tags, aliases, meta: few, applied in order.
    registry: Vec<Write>,
    /// Definition texts not known to be stored, by hash.
    definitions: Vec<(String, String)>,
    /// Execution rows put (each ARN once, its last state in the batch).
    puts: Vec<(ExecutionRecord, String)>,
    /// Runtime updates of executions not put in the batch (ARN, runtime).
    runtimes: Vec<(String, String)>,
    map_runs: Vec<(String, String, i64, String)>,
    /// Appended history, by execution in batch order (each execution once).
    appends: Vec<(String, Vec<EventRecord>)>,
}

impl Plan {
    fn of(batch: &Batch, known: &HashSet<String>) -> Result<Plan, StoreError> {
        let mut plan = Plan::default();
        let mut put_at: HashMap<&str, usize> = HashMap::new();
        let mut runtime_at: HashMap<&str, usize> = HashMap::new();
        let mut append_at: HashMap<&str, usize> = HashMap::new();
        let mut new_definitions: HashMap<String, String> = HashMap::new();
        for w in &batch.writes {
            match w {
                Write::PutExecution(e) => {
                    let hash = definition_hash(&e.definition);
                    if !known.contains(&hash) {
                        new_definitions
                            .entry(hash.clone())
                            .or_insert_with(|| e.definition.to_string());
                    }
                    // A put replaces the whole row, earlier runtime updates included.
                    if let Some(i) = runtime_at.remove(e.arn.as_str()) {
                        plan.runtimes[i].0.clear();
                    }
                    match put_at.get(e.arn.as_str()) {
                        Some(&i) => plan.puts[i] = (e.clone(), hash),
                        None => {
                            put_at.insert(&e.arn, plan.puts.len());
                            plan.puts.push((e.clone(), hash));
                        }
                    }
                }
                Write::UpdateRuntime { arn, runtime } => {
                    if let Some(&i) = put_at.get(arn.as_str()) {
                        plan.puts[i].0.runtime = Some(runtime.clone());
                    } else if let Some(&i) = runtime_at.get(arn.as_str()) {
                        plan.runtimes[i].1 = runtime.clone();
                    } else {
                        runtime_at.insert(arn, plan.runtimes.len());
                        plan.runtimes.push((arn.clone(), runtime.clone()));
                    }
                }
                Write::AppendEvents { execution, events } => {
                    if events.is_empty() {
                        continue;
                    }
                    match append_at.get(execution.as_str()) {
                        Some(&i) => plan.appends[i].1.extend(events.iter().cloned()),
                        None => {
                            // The ids of each append must be above those before it.
                            append_at.insert(execution, plan.appends.len());
                            plan.appends.push((execution.clone(), events.clone()));
                        }
                    }
                }
                Write::PutMapRun(m) => {
                    let record = serde_json::to_string(m).map_err(|e| {
                        StoreError::Database(format!("encode map run {}: {e}", m.arn))
                    })?;
                    plan.map_runs
                        .push((m.arn.clone(), m.execution_arn.clone(), m.start, record));
                }
                other => plan.registry.push(other.clone()),
            }
        }
        plan.runtimes.retain(|(arn, _)| !arn.is_empty());
        // The last record of a map run wins, as it would applied one by one.
        let mut seen = HashSet::new();
        plan.map_runs.reverse();
        plan.map_runs.retain(|(arn, ..)| seen.insert(arn.clone()));
        plan.map_runs.reverse();
        plan.definitions = new_definitions.into_iter().collect();
        check_appends(batch)?;
        Ok(plan)
    }
}

/// Within the batch, each execution's appended ids are distinct and grow
/// from one append to the next (the stored ones are checked in the transaction).
fn check_appends(batch: &Batch) -> Result<(), StoreError> {
    let mut last: HashMap<&str, i64> = HashMap::new();
    for w in &batch.writes {
        if let Write::AppendEvents { execution, events } = w
            && let Some((_, high)) =
                appended_ids(execution, events, last.get(execution.as_str()).copied())?
        {
            last.insert(execution, high);
        }
    }
    Ok(())
}

/// Applies one registry write.
async fn apply_registry(conn: &mut PgConnection, w: &Write) -> Result<(), StoreError> {
    match w {
        Write::PutStateMachine(m) => {
            sqlx::query(
                "INSERT INTO state_machines (arn, name, definition, role_arn, machine_type, created, updated,
                     logging, tracing, revision_id, description)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (arn) DO UPDATE SET name = excluded.name, definition = excluded.definition,
                     role_arn = excluded.role_arn, machine_type = excluded.machine_type,
                     created = excluded.created, updated = excluded.updated, logging = excluded.logging,
                     tracing = excluded.tracing, revision_id = excluded.revision_id,
                     description = excluded.description",
            )
            .bind(&m.arn)
            .bind(&m.name)
            .bind(&m.definition)
            .bind(&m.role_arn)
            .bind(&m.machine_type)
            .bind(m.created)
            .bind(m.updated)
            .bind(&m.logging)
            .bind(&m.tracing)
            .bind(&m.revision_id)
            .bind(&m.description)
            .execute(conn)
            .await
            .map_err(db_err(format_args!("put state machine {}", m.arn)))?;
        }
        Write::DeleteStateMachine(arn) => {
            sqlx::query("DELETE FROM state_machines WHERE arn = $1")
                .bind(arn)
                .execute(conn)
                .await
                .map_err(db_err(format_args!("delete state machine {arn}")))?;
        }
        Write::PutActivity(a) => {
            sqlx::query(
                "INSERT INTO activities (arn, name, created) VALUES ($1, $2, $3)
                 ON CONFLICT (arn) DO UPDATE SET name = excluded.name, created = excluded.created",
            )
            .bind(&a.arn)
            .bind(&a.name)
            .bind(a.created)
            .execute(conn)
            .await
            .map_err(db_err(format_args!("put activity {}", a.arn)))?;
        }
        Write::DeleteActivity(arn) => {
            sqlx::query("DELETE FROM activities WHERE arn = $1")
                .bind(arn)
                .execute(conn)
                .await
                .map_err(db_err(format_args!("delete activity {arn}")))?;
        }
        Write::PutTags { resource, tags } => {
            let (keys, values): (Vec<&str>, Vec<&str>) =
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).unzip();
            // Later values of a key repeated in one call win, as one by one.
            sqlx::query(
                "INSERT INTO tags (resource, key, value)
                 SELECT DISTINCT ON (k) $1, k, v FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS t(k, v, n)
                 ORDER BY k, n DESC
                 ON CONFLICT (resource, key) DO UPDATE SET value = excluded.value",
            )
            .bind(resource)
            .bind(keys)
            .bind(values)
            .execute(conn)
            .await
            .map_err(db_err(format_args!("tag {resource}")))?;
        }
        Write::RemoveTags { resource, keys } => {
            sqlx::query("DELETE FROM tags WHERE resource = $1 AND key = ANY($2)")
                .bind(resource)
                .bind(keys)
                .execute(conn)
                .await
                .map_err(db_err(format_args!("untag {resource}")))?;
        }
        Write::ClearTags(resource) => {
            sqlx::query("DELETE FROM tags WHERE resource = $1")
                .bind(resource)
                .execute(conn)
                .await
                .map_err(db_err(format_args!("clear tags of {resource}")))?;
        }
        Write::PutAlias(a) => {
            let record = serde_json::to_string(a)
                .map_err(|e| StoreError::Database(format!("encode alias {}: {e}", a.arn)))?;
            sqlx::query(
                "INSERT INTO aliases (arn, machine_arn, record) VALUES ($1, $2, $3)
                 ON CONFLICT (arn) DO UPDATE SET machine_arn = excluded.machine_arn, record = excluded.record",
            )
            .bind(&a.arn)
            .bind(&a.machine_arn)
            .bind(record)
            .execute(conn)
            .await
            .map_err(db_err(format_args!("put alias {}", a.arn)))?;
        }
        Write::DeleteAlias(arn) => {
            sqlx::query("DELETE FROM aliases WHERE arn = $1")
                .bind(arn)
                .execute(conn)
                .await
                .map_err(db_err(format_args!("delete alias {arn}")))?;
        }
        Write::PutMeta { key, value } => {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(conn)
            .await
            .map_err(db_err(format_args!("put meta {key}")))?;
        }
        Write::PutExecution(_)
        | Write::UpdateRuntime { .. }
        | Write::AppendEvents { .. }
        | Write::PutMapRun(_) => {}
    }
    Ok(())
}

/// Applies a plan in one transaction under the fencing epoch.
async fn commit_plan(pool: PgPool, epoch: i64, plan: Plan) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(db_err("begin batch"))?;
    let current: Option<i64> = sqlx::query("SELECT epoch FROM lease WHERE id = 1 FOR SHARE")
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("check the lease"))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(db_err("check the lease"))?;
    if current != Some(epoch) {
        return Err(StoreError::Database(format!(
            "this coordinator no longer owns the database's executions (its lease epoch is {epoch}, \
             the database's {}): another coordinator took over; restart this one",
            current.map_or("missing".to_string(), |c| c.to_string())
        )));
    }
    for w in &plan.registry {
        apply_registry(&mut tx, w).await?;
    }
    if !plan.definitions.is_empty() {
        let (hashes, texts): (Vec<&str>, Vec<&str>) = plan
            .definitions
            .iter()
            .map(|(h, t)| (h.as_str(), t.as_str()))
            .unzip();
        sqlx::query(
            "INSERT INTO definitions (hash, text) SELECT * FROM UNNEST($1::text[], $2::text[])
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hashes)
        .bind(texts)
        .execute(&mut *tx)
        .await
        .map_err(db_err("store definitions"))?;
    }
    if !plan.puts.is_empty() {
        put_executions(&mut tx, &plan.puts).await?;
    }
    if !plan.runtimes.is_empty() {
        let (arns, runtimes): (Vec<&str>, Vec<&str>) = plan
            .runtimes
            .iter()
            .map(|(a, r)| (a.as_str(), r.as_str()))
            .unzip();
        sqlx::query(
            "UPDATE executions e SET runtime = u.runtime
             FROM UNNEST($1::text[], $2::text[]) AS u(arn, runtime) WHERE e.arn = u.arn",
        )
        .bind(arns)
        .bind(runtimes)
        .execute(&mut *tx)
        .await
        .map_err(db_err("update runtime states"))?;
    }
    if !plan.map_runs.is_empty() {
        let mut arns = Vec::new();
        let mut execs = Vec::new();
        let mut starts = Vec::new();
        let mut records = Vec::new();
        for (a, e, s, r) in &plan.map_runs {
            arns.push(a.as_str());
            execs.push(e.as_str());
            starts.push(*s);
            records.push(r.as_str());
        }
        sqlx::query(
            "INSERT INTO map_runs (arn, execution, start, record)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[])
             ON CONFLICT (arn) DO UPDATE SET record = excluded.record",
        )
        .bind(arns)
        .bind(execs)
        .bind(starts)
        .bind(records)
        .execute(&mut *tx)
        .await
        .map_err(db_err("put map runs"))?;
    }
    if !plan.appends.is_empty() {
        append_history(&mut tx, &plan.appends).await?;
    }
    tx.commit().await.map_err(db_err("commit batch"))
}

async fn put_executions(
    conn: &mut PgConnection,
    puts: &[(ExecutionRecord, String)],
) -> Result<(), StoreError> {
    let n = puts.len();
    let mut arn = Vec::with_capacity(n);
    let mut machine = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut input = Vec::with_capacity(n);
    let mut output = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    let mut cause = Vec::with_capacity(n);
    let mut start = Vec::with_capacity(n);
    let mut stop = Vec::with_capacity(n);
    let mut definition = Vec::with_capacity(n);
    let mut role = Vec::with_capacity(n);
    let mut revision = Vec::with_capacity(n);
    let mut parent = Vec::with_capacity(n);
    let mut runtime = Vec::with_capacity(n);
    let mut version = Vec::with_capacity(n);
    let mut alias = Vec::with_capacity(n);
    let mut redrive_count = Vec::with_capacity(n);
    let mut redrive_date = Vec::with_capacity(n);
    for (e, hash) in puts {
        arn.push(e.arn.as_str());
        machine.push(e.state_machine_arn.as_str());
        name.push(e.name.as_str());
        status.push(e.status.as_str());
        input.push(e.input.as_str());
        output.push(e.output.as_deref());
        error.push(e.error.as_deref());
        cause.push(e.cause.as_deref());
        start.push(e.start);
        stop.push(e.stop);
        definition.push(hash.as_str());
        role.push(e.role_arn.as_str());
        revision.push(e.revision_id.as_str());
        parent.push(e.parent.as_deref());
        runtime.push(e.runtime.as_deref());
        version.push(e.version_arn.as_deref());
        alias.push(e.alias_arn.as_deref());
        redrive_count.push(i64::from(e.redrive_count));
        redrive_date.push(e.redrive_date);
    }
    sqlx::query(
        "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause,
             start, stop, definition, role_arn, revision_id, parent, runtime, version_arn, alias_arn,
             redrive_count, redrive_date)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::text[],
             $14::text[], $15::text[], $16::text[], $17::text[], $18::int8[], $19::int8[])
         ON CONFLICT (arn) DO UPDATE SET state_machine_arn = excluded.state_machine_arn,
             name = excluded.name, status = excluded.status, input = excluded.input,
             output = excluded.output, error = excluded.error, cause = excluded.cause,
             start = excluded.start, stop = excluded.stop, definition = excluded.definition,
             role_arn = excluded.role_arn, revision_id = excluded.revision_id,
             parent = excluded.parent, runtime = excluded.runtime,
             version_arn = excluded.version_arn, alias_arn = excluded.alias_arn,
             redrive_count = excluded.redrive_count, redrive_date = excluded.redrive_date",
    )
    .bind(arn)
    .bind(machine)
    .bind(name)
    .bind(status)
    .bind(input)
    .bind(output)
    .bind(error)
    .bind(cause)
    .bind(start)
    .bind(stop)
    .bind(definition)
    .bind(role)
    .bind(revision)
    .bind(parent)
    .bind(runtime)
    .bind(version)
    .bind(alias)
    .bind(redrive_count)
    .bind(redrive_date)
    .execute(conn)
    .await
    .map_err(db_err(format_args!("put {n} executions")))?;
    Ok(())
}

/// Checks that each execution is stored and its new ids are above its
/// stored ones (one query for all), then writes one chunk per execution.
async fn append_history(
    conn: &mut PgConnection,
    appends: &[(String, Vec<EventRecord>)],
) -> Result<(), StoreError> {
    let execs: Vec<&str> = appends.iter().map(|(e, _)| e.as_str()).collect();
    let rows = sqlx::query(
        "SELECT u.arn, EXISTS (SELECT 1 FROM executions e WHERE e.arn = u.arn),
             (SELECT MAX(h.last_id) FROM history_chunks h WHERE h.execution = u.arn)
         FROM UNNEST($1::text[]) AS u(arn)",
    )
    .bind(&execs)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err("read the last history events"))?;
    let mut stored: HashMap<String, (bool, Option<i64>)> = HashMap::new();
    for r in rows {
        let arn: String = r.try_get(0).map_err(corrupt("history check"))?;
        let exists: bool = r.try_get(1).map_err(corrupt("history check"))?;
        let last: Option<i64> = r.try_get(2).map_err(corrupt("history check"))?;
        stored.insert(arn, (exists, last));
    }
    let mut chunk_execs = Vec::with_capacity(appends.len());
    let mut firsts = Vec::with_capacity(appends.len());
    let mut lasts = Vec::with_capacity(appends.len());
    let mut texts = Vec::with_capacity(appends.len());
    for (execution, events) in appends {
        let (exists, last) = stored.get(execution).copied().unwrap_or((false, None));
        if !exists {
            return Err(StoreError::Database(format!(
                "history events for {execution}, an execution that is not stored"
            )));
        }
        let Some((first, high)) = appended_ids(execution, events, last)? else {
            continue;
        };
        chunk_execs.push(execution.as_str());
        firsts.push(first);
        lasts.push(high);
        texts.push(encode_events(events));
    }
    sqlx::query(
        "INSERT INTO history_chunks (execution, first_id, last_id, events)
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[])",
    )
    .bind(chunk_execs)
    .bind(firsts)
    .bind(lasts)
    .bind(texts)
    .execute(conn)
    .await
    .map_err(db_err("append history events"))?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store for PostgresStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let pool = self.pool.clone();
        self.run(async move {
            // One snapshot of every table.
            let mut tx = pool.begin().await.map_err(db_err("begin load"))?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await
                .map_err(db_err("begin load"))?;
            let state_machines = sqlx::query(
                "SELECT arn, name, definition, role_arn, machine_type, created, updated, logging, tracing,
                     revision_id, description
                 FROM state_machines ORDER BY arn",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err("load state machines"))?
            .iter()
            .map(|r| {
                Ok(StateMachineRecord {
                    arn: r.try_get(0)?,
                    name: r.try_get(1)?,
                    definition: r.try_get(2)?,
                    role_arn: r.try_get(3)?,
                    machine_type: r.try_get(4)?,
                    created: r.try_get(5)?,
                    updated: r.try_get(6)?,
                    logging: r.try_get(7)?,
                    tracing: r.try_get(8)?,
                    revision_id: r.try_get(9)?,
                    description: r.try_get(10)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(corrupt("state machine"))?;
            let activities = sqlx::query("SELECT arn, name, created FROM activities ORDER BY arn")
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err("load activities"))?
                .iter()
                .map(|r| {
                    Ok(ActivityRecord {
                        arn: r.try_get(0)?,
                        name: r.try_get(1)?,
                        created: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(corrupt("activity"))?;
            let tags = sqlx::query("SELECT resource, key, value FROM tags ORDER BY resource, key")
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err("load tags"))?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(corrupt("tag"))?;
            let mut definitions = HashMap::new();
            let running = sqlx::query(AssertSqlSafe(format!(
                "SELECT {EXECUTION_COLUMNS}, e.runtime, {V6_COLUMNS}
                 FROM executions e JOIN definitions d ON d.hash = e.definition
                 WHERE e.status = '{RUNNING}' ORDER BY e.start, e.arn"
            )))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err("load running executions"))?
            .iter()
            .map(|r| execution_row(r, &mut definitions))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(corrupt("execution"))?;
            let meta = sqlx::query("SELECT key, value FROM meta WHERE key <> $1 ORDER BY key")
                .bind(SCHEMA_VERSION_KEY)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err("load meta"))?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(corrupt("meta"))?;
            let aliases = sqlx::query("SELECT arn, record FROM aliases ORDER BY arn")
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err("load aliases"))?
                .iter()
                .map(|r| {
                    let arn: String = r.try_get(0).map_err(corrupt("alias"))?;
                    let record: String = r.try_get(1).map_err(corrupt("alias"))?;
                    serde_json::from_str(&record)
                        .map_err(|e| StoreError::Corrupt(format!("alias {arn}: {e}")))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit().await.map_err(db_err("end load"))?;
            Ok(Snapshot {
                state_machines,
                activities,
                tags,
                running,
                meta,
                aliases,
            })
        })
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        check_batch(batch)?;
        let plan = Plan::of(batch, &lock(&self.definitions))?;
        let hashes: Vec<String> = plan.definitions.iter().map(|(h, _)| h.clone()).collect();
        let pool = self.pool.clone();
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.run(commit_plan(pool, epoch, plan))?;
        if !hashes.is_empty() {
            lock(&self.definitions).extend(hashes);
        }
        Ok(())
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let pool = self.pool.clone();
        let arn = arn.to_owned();
        self.run(async move {
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {EXECUTION_COLUMNS}, e.runtime, {V6_COLUMNS}
                 FROM executions e JOIN definitions d ON d.hash = e.definition WHERE e.arn = $1"
            )))
            .bind(&arn)
            .fetch_optional(&pool)
            .await
            .map_err(db_err(format_args!("read execution {arn}")))?;
            row.map(|r| execution_row(&r, &mut HashMap::new()))
                .transpose()
                .map_err(corrupt(format_args!("execution {arn}")))
        })
    }

    fn map_runs(&self, execution: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        let pool = self.pool.clone();
        let execution = execution.to_owned();
        self.run(async move {
            let rows = sqlx::query(
                "SELECT arn, record FROM map_runs WHERE execution = $1 ORDER BY start, arn",
            )
            .bind(&execution)
            .fetch_all(&pool)
            .await
            .map_err(db_err(format_args!("read the map runs of {execution}")))?;
            rows.iter()
                .map(|r| {
                    let arn: String = r.try_get(0).map_err(corrupt("map run"))?;
                    let record: String = r.try_get(1).map_err(corrupt("map run"))?;
                    serde_json::from_str(&record)
                        .map_err(|e| StoreError::Corrupt(format!("map run {arn}: {e}")))
                })
                .collect()
        })
    }

    /// Newest first by start time, then by ARN (descending); `limit == 0`
    /// means no limit. The runtime state is left out (`runtime: None`).
    fn list_executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let limit = page_limit(q.limit);
        let after = q
            .after
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .map(|(s, a)| (s, a.to_owned()));
        let mut sql = format!(
            "SELECT {EXECUTION_COLUMNS}, NULL::text, {V6_COLUMNS}
             FROM executions e JOIN definitions d ON d.hash = e.definition
             WHERE e.state_machine_arn = $1
               AND ($6::text IS NULL OR e.version_arn = $6 OR e.alias_arn = $6)
               AND ($7::bool IS NULL OR (e.redrive_count > 0) = $7)"
        );
        if q.status.is_some() {
            sql.push_str(" AND e.status = $2");
        } else {
            sql.push_str(" AND $2::text IS NULL");
        }
        if after.is_some() {
            sql.push_str(" AND (e.start, e.arn) < ($3, $4)");
        } else {
            sql.push_str(" AND $3::int8 IS NULL AND $4::text IS NULL");
        }
        sql.push_str(" ORDER BY e.start DESC, e.arn DESC LIMIT $5");
        let (after_start, after_arn) = after.unzip();
        let q = q.clone();
        let pool = self.pool.clone();
        let items = self.run(async move {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(&q.state_machine_arn)
                .bind(&q.status)
                .bind(after_start)
                .bind(after_arn)
                .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
                .bind(&q.qualified)
                .bind(q.redriven)
                .fetch_all(&pool)
                .await
                .map_err(db_err(format_args!(
                    "list executions of {}",
                    q.state_machine_arn
                )))?;
            let mut definitions = HashMap::new();
            rows.iter()
                .map(|r| execution_row(r, &mut definitions))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(corrupt("execution"))
        })?;
        Ok(page_of(items, limit))
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
        // Chunks hold ascending, contiguous ids; the chunk holding `after + 1`
        // starts at the largest `first_id` not above it.
        let (sql, from) = match (reverse, after) {
            (false, None) => (
                "SELECT events FROM history_chunks WHERE execution = $1 AND $2::int8 IS NULL
                 ORDER BY first_id",
                None,
            ),
            (false, Some(a)) => (
                "SELECT events FROM history_chunks WHERE execution = $1 AND first_id >=
                     (SELECT COALESCE(MAX(first_id), 0) FROM history_chunks
                      WHERE execution = $1 AND first_id <= $2)
                 ORDER BY first_id",
                Some(a.saturating_add(1)),
            ),
            (true, None) => (
                "SELECT events FROM history_chunks WHERE execution = $1 AND $2::int8 IS NULL
                 ORDER BY first_id DESC",
                None,
            ),
            (true, Some(a)) => (
                "SELECT events FROM history_chunks WHERE execution = $1 AND first_id < $2
                 ORDER BY first_id DESC",
                Some(a),
            ),
        };
        let pool = self.pool.clone();
        let execution = execution.to_owned();
        self.run(async move {
            let context = format!("read history of {execution}");
            let rows = sqlx::query(sql)
                .bind(&execution)
                .bind(from)
                .fetch_all(&pool)
                .await
                .map_err(db_err(&context))?;
            let mut out = Vec::new();
            for row in rows {
                if out.len() >= limit {
                    break;
                }
                let text: String = row.try_get(0).map_err(corrupt(&context))?;
                let mut chunk = Vec::new();
                chunk_events(&text, &mut chunk)
                    .map_err(|e| StoreError::Corrupt(format!("{context}: {e}")))?;
                let wanted = |e: &&ChunkEvent<'_>| match (reverse, after) {
                    (_, None) => true,
                    (false, Some(a)) => e.id > a,
                    (true, Some(a)) => e.id < a,
                };
                if reverse {
                    chunk.reverse();
                }
                let left = limit - out.len();
                out.extend(
                    chunk
                        .iter()
                        .filter(wanted)
                        .take(left)
                        .map(ChunkEvent::to_record),
                );
            }
            Ok(out)
        })
    }
}

/// A scratch database for tests: created fresh, dropped when this is dropped.
/// The server comes from `STEPWISE_TEST_POSTGRES`
/// (default `postgres://postgres@127.0.0.1:5432/postgres`).
#[doc(hidden)]
pub mod scratch {
    use super::*;

    /// The admin URL tests create their databases with.
    pub fn admin_url() -> String {
        std::env::var("STEPWISE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// A fresh database; dropped (with its connections) on drop.
    pub struct Database {
        pub url: String,
        name: String,
        admin: String,
    }

    fn admin_exec(admin: &str, sql: String) -> Result<(), StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let admin = admin.to_owned();
        // Its own thread: the caller may be inside a runtime.
        std::thread::spawn(move || {
            rt.block_on(async move {
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .map_err(db_err(format_args!("connect to {}", redact(&admin))))?;
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map_err(db_err("create or drop a test database"))?;
                Ok(())
            })
        })
        .join()
        .map_err(|_| StoreError::Database("the admin thread panicked".into()))?
    }

    impl Database {
        /// Creates a new database on the test server. `Ok(None)`: no server
        /// reachable and `CI` unset (the caller skips, saying so); under `CI`
        /// an unreachable server is an error.
        pub fn create(tag: &str) -> Result<Option<Database>, StoreError> {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let admin = admin_url();
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("stepwise_test_{tag}_{}_{n}", std::process::id());
            match admin_exec(&admin, format!("CREATE DATABASE {name}")) {
                Ok(()) => {}
                Err(e) if std::env::var_os("CI").is_none() => {
                    eprintln!(
                        "skipped: no PostgreSQL for tests at {} ({e})",
                        redact(&admin)
                    );
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            // The admin URL with the new database's name as its path.
            let (base, query) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
            let server = match base.rfind('/') {
                Some(i) if base[..i].ends_with(['/', ':']) || !base[..i].contains("://") => base,
                Some(i) => &base[..i],
                None => base,
            };
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            let url = format!("{server}/{name}{query}");
            Ok(Some(Database { url, name, admin }))
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            if let Err(e) = admin_exec(
                &self.admin,
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ) {
                eprintln!("could not drop test database {}: {e}", self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::memory::suite;
    use super::*;

    fn database(tag: &str) -> Option<scratch::Database> {
        scratch::Database::create(tag).unwrap()
    }

    #[test]
    fn postgres_store_behaves_and_survives_reopen() {
        let Some(db) = database("suite") else { return };
        let store = PostgresStore::open(&db.url).unwrap();
        suite::exercise(&store);
        drop(store);
        let store = PostgresStore::open(&db.url).unwrap();
        suite::check_final(&store);
    }

    #[test]
    fn postgres_store_bulk_commit() {
        let Some(db) = database("bulk") else { return };
        suite::bulk(&PostgresStore::open(&db.url).unwrap());
    }

    #[test]
    fn postgres_store_refuses_history_of_an_unknown_execution() {
        let Some(db) = database("unknown") else {
            return;
        };
        let store = PostgresStore::open(&db.url).unwrap();
        let batch = Batch {
            writes: vec![Write::AppendEvents {
                execution: "nowhere".into(),
                events: vec![suite::event(1)],
            }],
        };
        assert!(matches!(store.commit(&batch), Err(StoreError::Database(_))));
        assert!(store.history("nowhere", None, false, 0).unwrap().is_empty());
    }

    #[test]
    fn two_stores_opened_at_once_migrate_once() {
        let Some(db) = database("migrate") else {
            return;
        };
        let urls = [db.url.clone(), db.url.clone(), db.url.clone()];
        let opened: Vec<_> = urls
            .into_iter()
            .map(|u| std::thread::spawn(move || PostgresStore::connect(&u).map(|_| ())))
            .collect();
        for t in opened {
            t.join().unwrap().unwrap();
        }
        let store = PostgresStore::connect(&db.url).unwrap();
        let pool = store.pool.clone();
        let versions: Vec<i32> = store
            .run(async move {
                sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
                    .fetch_all(&pool)
                    .await
                    .map_err(db_err("read"))?
                    .iter()
                    .map(|r| r.try_get(0).map_err(db_err("read")))
                    .collect()
            })
            .unwrap();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
    }

    #[test]
    fn a_store_that_lost_the_lease_cannot_commit() {
        let Some(db) = database("fence") else { return };
        let first = PostgresStore::open(&db.url).unwrap();
        let meta = |v: &str| Batch {
            writes: vec![Write::PutMeta {
                key: "k".into(),
                value: v.into(),
            }],
        };
        first.commit(&meta("1")).unwrap();
        // The second waits for the owner lock; the first's lock connection
        // dies with its runtime.
        let url = db.url.clone();
        let second = std::thread::spawn(move || PostgresStore::open(&url).unwrap());
        // Simulate the first node losing its session (as a kill would): end its
        // runtime, which closes the owner connection and its lock with it;
        // its pool is gone too, so reopen a reader under its old epoch.
        let stale_epoch = first.epoch.load(Ordering::SeqCst);
        drop(first);
        let second = second.join().unwrap();
        assert!(second.epoch.load(Ordering::SeqCst) > stale_epoch);
        second.commit(&meta("2")).unwrap();
        let stale = PostgresStore::connect(&db.url).unwrap();
        stale.epoch.store(stale_epoch, Ordering::SeqCst);
        let e = stale.commit(&meta("3")).unwrap_err().to_string();
        assert!(e.contains("no longer owns"), "{e}");
        assert_eq!(
            second.load().unwrap().meta,
            vec![("k".to_string(), "2".to_string())]
        );
    }

    #[test]
    fn a_url_with_a_password_is_shown_without_it() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
