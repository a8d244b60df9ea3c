//! The embedded default [`Store`]: one SQLite file in WAL mode with
//! `synchronous=FULL`, so a committed batch survives a crash and a batch
//! interrupted by one leaves no trace.
//!
//! One writer connection applies each [`Batch`] in one `BEGIN IMMEDIATE`
//! transaction (one fsync for thousands of writes); reads use a small pool
//! of other connections, which WAL lets run while the writer commits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::memory::{
    RUNNING, SCHEMA_VERSION_KEY, appended_ids, check_batch, decode_cursor, page_limit, page_of,
};
use super::{
    ActivityRecord, Batch, EventRecord, ExecutionQuery, ExecutionRecord, MapRunRecord, Page,
    Snapshot, StateMachineRecord, Store, StoreError, Write,
};

/// The database file inside the data directory.
const DB_FILE: &str = "stepwise.db";
/// Held locked while a store is open, so two coordinators never share a directory.
const LOCK_FILE: &str = "stepwise.lock";
/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// WAL pages between automatic checkpoints (~40 MiB with 4 KiB pages).
const WAL_CHECKPOINT_PAGES: i64 = 10_000;
/// The size, in bytes, the WAL file is truncated to after a checkpoint when it grew past it.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Idle reader connections kept open.
const READERS: usize = 4;

/// The schema, one entry per version: `MIGRATIONS[n]` brings version `n` to
/// `n + 1`. Append new versions; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE state_machines (
        arn TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        machine_type TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        logging TEXT NOT NULL,
        tracing TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        description TEXT NOT NULL
    );
    CREATE TABLE activities (
        arn TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE tags (
        resource TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (resource, key)
    ) WITHOUT ROWID;
    CREATE TABLE executions (
        arn TEXT PRIMARY KEY NOT NULL,
        state_machine_arn TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        start INTEGER NOT NULL,
        stop INTEGER,
        definition TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        parent TEXT,
        runtime TEXT
    );
    CREATE INDEX executions_by_machine
        ON executions (state_machine_arn, start DESC, arn DESC);
    CREATE INDEX executions_by_machine_status
        ON executions (state_machine_arn, status, start DESC, arn DESC);
    CREATE INDEX executions_running ON executions (start, arn) WHERE status = 'RUNNING';
    CREATE TABLE history (
        execution TEXT NOT NULL,
        id INTEGER NOT NULL,
        previous_id INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE UNIQUE INDEX history_by_execution ON history (execution, id);",
    // Version 2: history in chunks, one row per execution and commit (see
    // `encode_events`) instead of one row per event: a 10-state execution
    // committed at once is one row, not 23 rows and 23 index entries.
    // Ids only grow, so chunks never overlap (`apply` checks it).
    "CREATE TABLE history_chunks (
        execution TEXT NOT NULL,
        first_id INTEGER NOT NULL,
        last_id INTEGER NOT NULL,
        events TEXT NOT NULL
    );
    CREATE INDEX history_chunks_by_execution ON history_chunks (execution, first_id, last_id);
    INSERT INTO history_chunks (execution, first_id, last_id, events)
        SELECT execution, id, id,
               id || ' ' || previous_id || ' ' || timestamp || ' ' || length(CAST(event_type AS BLOB))
               || ' ' || length(CAST(details AS BLOB)) || char(10) || event_type || details
        FROM history ORDER BY execution, id;
    DROP TABLE history;",
    // Version 3: executions get a stable integer id (numbered in start
    // order), and history chunks name their execution by it. The chunk index
    // was keyed by ARN, so each commit wrote one scattered leaf page per
    // execution it touched (half the WAL frames of a busy server); ids of the
    // executions running at a time are close together, so their index
    // entries share a few pages.
    "CREATE TABLE executions_v3 (
        id INTEGER PRIMARY KEY,
        arn TEXT UNIQUE NOT NULL,
        state_machine_arn TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        start INTEGER NOT NULL,
        stop INTEGER,
        definition TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        parent TEXT,
        runtime TEXT
    );
    INSERT INTO executions_v3 (arn, state_machine_arn, name, status, input, output, error, cause,
            start, stop, definition, role_arn, revision_id, parent, runtime)
        SELECT arn, state_machine_arn, name, status, input, output, error, cause,
            start, stop, definition, role_arn, revision_id, parent, runtime
        FROM executions ORDER BY start, arn;
    CREATE TABLE history_v3 (
        execution INTEGER NOT NULL,
        first_id INTEGER NOT NULL,
        last_id INTEGER NOT NULL,
        events TEXT NOT NULL
    );
    INSERT INTO history_v3 (execution, first_id, last_id, events)
        SELECT e.id, h.first_id, h.last_id, h.events
        FROM history_chunks h JOIN executions_v3 e ON e.arn = h.execution
        ORDER BY e.id, h.first_id;
    DROP TABLE history_chunks;
    DROP TABLE executions;
    ALTER TABLE executions_v3 RENAME TO executions;
    ALTER TABLE history_v3 RENAME TO history_chunks;
    CREATE INDEX executions_by_machine
        ON executions (state_machine_arn, start DESC, arn DESC);
    CREATE INDEX executions_by_machine_status
        ON executions (state_machine_arn, status, start DESC, arn DESC);
    CREATE INDEX executions_running ON executions (start, arn) WHERE status = 'RUNNING';
    CREATE INDEX history_chunks_by_execution ON history_chunks (execution, first_id, last_id);",
    // Version 4: an execution names its definition by id; each distinct
    // definition text is stored once. Every execution row carried its whole
    // definition, written again when the execution ended: most of the row,
    // and most of the database for a machine with a large definition.
    "CREATE TABLE definitions (
        id INTEGER PRIMARY KEY,
        text TEXT UNIQUE NOT NULL
    );
    INSERT OR IGNORE INTO definitions (text) SELECT definition FROM executions ORDER BY id;
    -- The column keeps its name and becomes the id (the default only lets
    -- ALTER TABLE add a NOT NULL column; every write sets it).
    ALTER TABLE executions ADD COLUMN definition_id INTEGER NOT NULL DEFAULT 0;
    UPDATE executions SET definition_id = (SELECT id FROM definitions WHERE text = executions.definition);
    ALTER TABLE executions DROP COLUMN definition;
    ALTER TABLE executions RENAME COLUMN definition_id TO definition;",
    // Version 5: cheaper appends. The listing indexes were in descending
    // start order, so each new execution went to the front of its
    // machine's range, splitting pages there; ascending, it goes to the
    // end, and a listing reads the index backwards. (History chunks stay a
    // rowid table: as a WITHOUT ROWID table, keyed by (execution,
    // first_id), rows of a kilobyte or more made the activities workload
    // write 12% more WAL pages.)
    "DROP INDEX executions_by_machine;
    DROP INDEX executions_by_machine_status;
    CREATE INDEX executions_by_machine ON executions (state_machine_arn, start, arn);
    CREATE INDEX executions_by_machine_status ON executions (state_machine_arn, status, start, arn);",
    // Version 6: versions, aliases and redrives. A version is a
    // `state_machines` row with a qualified ARN (`<machine>:<n>`); an alias
    // is a row of its own; an execution remembers the version and alias it
    // was started from, and how often and when it was last redriven.
    "ALTER TABLE executions ADD COLUMN version_arn TEXT;
    ALTER TABLE executions ADD COLUMN alias_arn TEXT;
    ALTER TABLE executions ADD COLUMN redrive_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE executions ADD COLUMN redrive_date INTEGER;
    CREATE TABLE aliases (
        arn TEXT PRIMARY KEY NOT NULL,
        machine_arn TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE map_runs (
        arn TEXT PRIMARY KEY NOT NULL,
        execution TEXT NOT NULL,
        start INTEGER NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX map_runs_by_execution ON map_runs (execution, start);",
];

/// The columns [`execution_row`] reads, in its order (the definition's text
/// in place of its id).
const EXECUTION_COLUMNS: &str = "arn, state_machine_arn, name, status, input, output, error, cause, start, stop, \
                                 (SELECT d.text FROM definitions d WHERE d.id = executions.definition), role_arn, \
                                 revision_id, parent";

/// [`EXECUTION_COLUMNS`] with the definition's id in place of its text.
const EXECUTION_ROW_COLUMNS: &str = "arn, state_machine_arn, name, status, input, output, error, cause, start, \
                                     stop, definition, role_arn, revision_id, parent";

/// A [`Store`] in `<dir>/stepwise.db`.
///
/// ```
/// use stepwise_coordinator::store::sqlite::SqliteStore;
/// use stepwise_coordinator::store::{Batch, Store, Write};
///
/// # let dir = std::env::temp_dir().join(format!("stepwise-doc-{}", std::process::id()));
/// let store = SqliteStore::open(&dir)?;
/// let mut batch = Batch::default();
/// batch.push(Write::PutMeta { key: "token-key".into(), value: "k".into() });
/// store.commit(&batch)?; // durable once this returns
/// assert_eq!(store.load()?.meta, vec![("token-key".to_string(), "k".to_string())]);
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), stepwise_coordinator::store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Locked for the store's lifetime; the kernel releases it if the process dies.
    _lock: File,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`: creates the directory
    /// and `stepwise.db`, brings the schema up to date, and locks the
    /// directory against a second coordinator.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        fs::create_dir_all(dir).map_err(|e| {
            StoreError::Database(format!("create data directory {}: {e}", dir.display()))
        })?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Database(format!("open {}: {e}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Database(format!(
                    "{} is in use by another coordinator (or another store in this process)",
                    dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::Database(format!(
                    "lock {}: {e}",
                    lock_path.display()
                )));
            }
        }

        let path = dir.join(DB_FILE);
        // SQLite would take an empty file for a new database, silently
        // starting over on a store that was truncated or never written.
        if fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
            return Err(StoreError::Database(format!(
                "{} is empty (0 bytes): the database was truncated or never written. If this data directory is new, delete the file; otherwise restore it from a backup",
                path.display()
            )));
        }
        let mut writer = open_connection(&path)?;
        // One plan per statement, whatever values are bound. Without this
        // SQLite compiled the history lookup of every commit again on each
        // bind (a fifth of a busy server's CPU). Readers keep value-aware
        // plans: they need them to use the partial index of running
        // executions.
        writer
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(db_err("enable the query planner stability guarantee"))?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(db_err("enable WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "{} cannot use write-ahead logging (journal mode stays {mode:?})",
                path.display()
            )));
        }
        writer
            .pragma_update(None, "synchronous", "FULL")
            .map_err(db_err("set synchronous=FULL"))?;
        writer
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err("enable foreign keys"))?;
        // Checkpoint every WAL_CHECKPOINT_PAGES (SQLite's default of 1,000
        // checkpoints a busy server ~20 times a second, each with an fsync of
        // the database file); keep the WAL file within WAL_SIZE_LIMIT after one.
        writer
            .pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .map_err(db_err("set wal_autocheckpoint"))?;
        writer
            .pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(db_err("set journal_size_limit"))?;
        writer.set_prepared_statement_cache_capacity(64);
        migrate(&mut writer)?;

        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            _lock: lock,
        })
    }

    /// Runs `f` on an idle reader connection (opening one if none is idle).
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = lock(&self.readers).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let result = f(&mut conn);
        let mut pool = lock(&self.readers);
        if pool.len() < READERS {
            pool.push(conn);
        }
        result
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = open_connection(&self.path)?;
        conn.pragma_update(None, "query_only", "ON")
            .map_err(db_err("make a reader read-only"))?;
        Ok(conn)
    }
}

/// Opens a connection to the database at `path` with the settings every
/// connection shares.
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(db_err(format_args!("open {}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db_err("set busy timeout"))?;
    Ok(conn)
}

/// Locks a mutex whose data stays consistent across a panic: a panic in a
/// transaction rolls it back when the `Transaction` drops.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Maps a rusqlite error to [`StoreError::Corrupt`] when a stored value
/// cannot be decoded, else to [`StoreError::Database`].
/// The context is formatted only for an error: `format_args!` costs nothing
/// on success, where `&format!` formatted every commit's messages.
fn db_err<C: std::fmt::Display>(context: C) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(format!("{context}: {e}")),
        e => StoreError::Database(format!("{context}: {e}")),
    }
}

/// Creates the schema or brings it up to [`MIGRATIONS`]`.len()`, in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err("begin migration"))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    )
    .map_err(db_err("create the meta table"))?;
    let stored: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [SCHEMA_VERSION_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err("read the schema version"))?;
    let version: usize = match stored {
        None => 0,
        Some(v) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("schema version {v:?} is not a number")))?,
    };
    let latest = MIGRATIONS.len();
    if version > latest {
        return Err(StoreError::Database(format!(
            "the database has schema version {version}, newer than this coordinator knows ({latest}); \
             run a newer coordinator"
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql).map_err(db_err(format_args!(
            "migrate schema version {from} to {}",
            from + 1
        )))?;
    }
    if version < latest {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION_KEY, latest.to_string()],
        )
        .map_err(db_err("record the schema version"))?;
    }
    tx.commit().map_err(db_err("commit migration"))
}

/// Applies one write inside the batch's transaction.
fn apply(tx: &Transaction<'_>, w: &Write) -> Result<(), StoreError> {
    match w {
        Write::PutStateMachine(m) => {
            tx.prepare_cached(
                "INSERT INTO state_machines (arn, name, definition, role_arn, machine_type, created, updated,
                     logging, tracing, revision_id, description)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (arn) DO UPDATE SET name = excluded.name, definition = excluded.definition,
                     role_arn = excluded.role_arn, machine_type = excluded.machine_type,
                     created = excluded.created, updated = excluded.updated, logging = excluded.logging,
                     tracing = excluded.tracing, revision_id = excluded.revision_id,
                     description = excluded.description",
            )
            .and_then(|mut s| {
                s.execute(params![
                    m.arn,
                    m.name,
                    m.definition,
                    m.role_arn,
                    m.machine_type,
                    m.created,
                    m.updated,
                    m.logging,
                    m.tracing,
                    m.revision_id,
                    m.description
                ])
            })
            .map_err(db_err(format_args!("put state machine {}", m.arn)))?;
        }
        Write::DeleteStateMachine(arn) => {
            tx.prepare_cached("DELETE FROM state_machines WHERE arn = ?1")
                .and_then(|mut s| s.execute([arn]))
                .map_err(db_err(format_args!("delete state machine {arn}")))?;
        }
        Write::PutActivity(a) => {
            tx.prepare_cached(
                "INSERT INTO activities (arn, name, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT (arn) DO UPDATE SET name = excluded.name, created = excluded.created",
            )
            .and_then(|mut s| s.execute(params![a.arn, a.name, a.created]))
            .map_err(db_err(format_args!("put activity {}", a.arn)))?;
        }
        Write::DeleteActivity(arn) => {
            tx.prepare_cached("DELETE FROM activities WHERE arn = ?1")
                .and_then(|mut s| s.execute([arn]))
                .map_err(db_err(format_args!("delete activity {arn}")))?;
        }
        Write::PutTags { resource, tags } => {
            let mut s = tx
                .prepare_cached(
                    "INSERT INTO tags (resource, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (resource, key) DO UPDATE SET value = excluded.value",
                )
                .map_err(db_err("prepare put tags"))?;
            for (k, v) in tags {
                s.execute(params![resource, k, v])
                    .map_err(db_err(format_args!("tag {resource}")))?;
            }
        }
        Write::RemoveTags { resource, keys } => {
            let mut s = tx
                .prepare_cached("DELETE FROM tags WHERE resource = ?1 AND key = ?2")
                .map_err(db_err("prepare remove tags"))?;
            for k in keys {
                s.execute(params![resource, k])
                    .map_err(db_err(format_args!("untag {resource}")))?;
            }
        }
        Write::ClearTags(resource) => {
            tx.prepare_cached("DELETE FROM tags WHERE resource = ?1")
                .and_then(|mut s| s.execute([resource]))
                .map_err(db_err(format_args!("clear tags of {resource}")))?;
        }
        Write::UpdateRuntime { arn, runtime } => {
            tx.prepare_cached("UPDATE executions SET runtime = ?2 WHERE arn = ?1")
                .and_then(|mut s| s.execute(params![arn, runtime]))
                .map_err(db_err(format_args!("update runtime of {arn}")))?;
        }
        Write::PutExecution(e) => {
            let definition = definition_id(tx, &e.definition)?;
            let extra: [&(dyn rusqlite::ToSql + Send + Sync); 4] = [
                &e.version_arn,
                &e.alias_arn,
                &e.redrive_count,
                &e.redrive_date,
            ];
            tx.prepare_cached(
                "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause,
                     start, stop, definition, role_arn, revision_id, parent, runtime, version_arn, alias_arn,
                     redrive_count, redrive_date)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
                 ON CONFLICT (arn) DO UPDATE SET state_machine_arn = excluded.state_machine_arn,
                     name = excluded.name, status = excluded.status, input = excluded.input,
                     output = excluded.output, error = excluded.error, cause = excluded.cause,
                     start = excluded.start, stop = excluded.stop, definition = excluded.definition,
                     role_arn = excluded.role_arn, revision_id = excluded.revision_id,
                     parent = excluded.parent, runtime = excluded.runtime,
                     version_arn = excluded.version_arn, alias_arn = excluded.alias_arn,
                     redrive_count = excluded.redrive_count, redrive_date = excluded.redrive_date",
            )
            .and_then(|mut s| {
                s.execute(rusqlite::params_from_iter(
                    execution_params(e, &definition).into_iter().chain(extra),
                ))
            })
            .map_err(db_err(format_args!("put execution {}", e.arn)))?;
        }
        Write::AppendEvents { execution, events } => {
            if events.is_empty() {
                return Ok(());
            }
            let found: Option<(i64, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT id, (SELECT last_id FROM history_chunks WHERE execution = id
                                 ORDER BY first_id DESC LIMIT 1)
                     FROM executions WHERE arn = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([execution], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(db_err(format_args!(
                    "read the last history event of {execution}"
                )))?;
            let Some((execution_id, stored_last)) = found else {
                return Err(StoreError::Database(format!(
                    "history events for {execution}, an execution that is not stored"
                )));
            };
            let Some((first, last)) = appended_ids(execution, events, stored_last)? else {
                return Ok(());
            };
            tx.prepare_cached(
                "INSERT INTO history_chunks (execution, first_id, last_id, events)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![execution_id, first, last, chunk_value(events)]))
            .map_err(db_err(format_args!(
                "append history events {first}..{last} of {execution}"
            )))?;
        }
        Write::PutAlias(a) => {
            let record = serde_json::to_string(a)
                .map_err(|e| StoreError::Database(format!("encode alias {}: {e}", a.arn)))?;
            tx.prepare_cached(
                "INSERT INTO aliases (arn, machine_arn, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (arn) DO UPDATE SET machine_arn = excluded.machine_arn, record = excluded.record",
            )
            .and_then(|mut s| s.execute(params![a.arn, a.machine_arn, record]))
            .map_err(db_err(format_args!("put alias {}", a.arn)))?;
        }
        Write::PutMapRun(m) => {
            let record = serde_json::to_string(m)
                .map_err(|e| StoreError::Database(format!("encode map run {}: {e}", m.arn)))?;
            tx.prepare_cached(
                "INSERT INTO map_runs (arn, execution, start, record) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (arn) DO UPDATE SET record = excluded.record",
            )
            .and_then(|mut s| s.execute(params![m.arn, m.execution_arn, m.start, record]))
            .map_err(db_err(format_args!("put map run {}", m.arn)))?;
        }
        Write::DeleteAlias(arn) => {
            tx.prepare_cached("DELETE FROM aliases WHERE arn = ?1")
                .and_then(|mut s| s.execute([arn]))
                .map_err(db_err(format_args!("delete alias {arn}")))?;
        }
        Write::PutMeta { key, value } => {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute(params![key, value]))
            .map_err(db_err(format_args!("put meta {key}")))?;
        }
    }
    Ok(())
}

/// The id of the stored definition `text`, storing it if it is new.
fn definition_id(tx: &Transaction<'_>, text: &str) -> Result<i64, StoreError> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM definitions WHERE text = ?1")
        .and_then(|mut s| s.query_row([text], |r| r.get(0)).optional())
        .map_err(db_err("look up a definition"))?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO definitions (text) VALUES (?1)")
        .and_then(|mut s| s.execute([text]))
        .map_err(db_err("store a definition"))?;
    Ok(tx.last_insert_rowid())
}

/// An execution row as parameters ?1..?15: [`EXECUTION_ROW_COLUMNS`], then `runtime`,
/// with `definition` (the id of its text; the text itself in a schema
/// before version 4) for the definition.
fn execution_params<'a>(
    e: &'a ExecutionRecord,
    definition: &'a (dyn rusqlite::ToSql + Send + Sync),
) -> [&'a (dyn rusqlite::ToSql + Send + Sync); 15] {
    [
        &e.arn,
        &e.state_machine_arn,
        &e.name,
        &e.status,
        &e.input,
        &e.output,
        &e.error,
        &e.cause,
        &e.start,
        &e.stop,
        definition,
        &e.role_arn,
        &e.revision_id,
        &e.parent,
        &e.runtime,
    ]
}

/// What follows `runtime` in every execution read (schema version 6).
const V6_COLUMNS: &str = "version_arn, alias_arn, redrive_count, redrive_date";

/// Reads a row selected with [`EXECUTION_COLUMNS`], then `runtime` (or `NULL`),
/// then [`V6_COLUMNS`].
fn execution_row(r: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    execution_fields(r, r.get(10)?)
}

/// Reads a row selected with [`EXECUTION_COLUMNS`] or [`EXECUTION_ROW_COLUMNS`],
/// then `runtime` and [`V6_COLUMNS`], with `definition` for column 10.
fn execution_fields(r: &Row<'_>, definition: Arc<str>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        arn: r.get(0)?,
        state_machine_arn: r.get(1)?,
        name: r.get(2)?,
        status: r.get(3)?,
        input: r.get(4)?,
        output: r.get(5)?,
        error: r.get(6)?,
        cause: r.get(7)?,
        start: r.get(8)?,
        stop: r.get(9)?,
        definition,
        role_arn: r.get(11)?,
        revision_id: r.get(12)?,
        parent: r.get(13)?,
        runtime: r.get(14)?,
        version_arn: r.get(15)?,
        alias_arn: r.get(16)?,
        redrive_count: r.get(17)?,
        redrive_date: r.get(18)?,
    })
}

/// A row count for `LIMIT`; -1 is SQLite's "no limit".
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(-1)
}

impl Store for SqliteStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.read(|conn| {
            // One read transaction: every table as of the same commit.
            let tx = conn.transaction().map_err(db_err("begin load"))?;
            let state_machines = tx
                .prepare(
                    "SELECT arn, name, definition, role_arn, machine_type, created, updated, logging, tracing,
                         revision_id, description
                     FROM state_machines ORDER BY arn",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(StateMachineRecord {
                            arn: r.get(0)?,
                            name: r.get(1)?,
                            definition: r.get(2)?,
                            role_arn: r.get(3)?,
                            machine_type: r.get(4)?,
                            created: r.get(5)?,
                            updated: r.get(6)?,
                            logging: r.get(7)?,
                            tracing: r.get(8)?,
                            revision_id: r.get(9)?,
                            description: r.get(10)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err("load state machines"))?;
            let activities = tx
                .prepare("SELECT arn, name, created FROM activities ORDER BY arn")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok(ActivityRecord { arn: r.get(0)?, name: r.get(1)?, created: r.get(2)? }))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err("load activities"))?;
            let tags = tx
                .prepare("SELECT resource, key, value FROM tags ORDER BY resource, key")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err("load tags"))?;
            // Each distinct definition is read once and shared by the
            // records (10,000 running executions of one machine would
            // otherwise each bring their own copy of its text).
            let mut texts: HashMap<i64, Arc<str>> = HashMap::new();
            let running = tx
                .prepare("SELECT text FROM definitions WHERE id = ?1")
                .and_then(|mut text_of| {
                    let mut s = tx.prepare(&format!(
                        "SELECT {EXECUTION_ROW_COLUMNS}, runtime, {V6_COLUMNS} FROM executions
                         WHERE status = '{RUNNING}' ORDER BY start, arn"
                    ))?;
                    s.query_map([], |r| {
                        let id: i64 = r.get(10)?;
                        let text = match texts.get(&id) {
                            Some(t) => t.clone(),
                            None => {
                                let t: Arc<str> = text_of.query_row([id], |d| d.get(0))?;
                                texts.insert(id, t.clone());
                                t
                            }
                        };
                        execution_fields(r, text)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err("load running executions"))?;
            let meta = tx
                .prepare("SELECT key, value FROM meta WHERE key <> ?1 ORDER BY key")
                .and_then(|mut s| {
                    s.query_map([SCHEMA_VERSION_KEY], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err("load meta"))?;
            let aliases = tx
                .prepare("SELECT arn, record FROM aliases ORDER BY arn")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err("load aliases"))?
                .into_iter()
                .map(|(arn, record)| {
                    serde_json::from_str(&record)
                        .map_err(|e| StoreError::Corrupt(format!("alias {arn}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            tx.finish().map_err(db_err("end load"))?;
            Ok(Snapshot { state_machines, activities, tags, running, meta, aliases })
        })
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        check_batch(batch)?;
        let mut conn = lock(&self.writer);
        // Dropping `tx` on an early return rolls the whole batch back.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("begin batch"))?;
        for w in &batch.writes {
            apply(&tx, w)?;
        }
        tx.commit().map_err(db_err("commit batch"))
    }

    fn map_runs(&self, execution: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        let rows: Vec<(String, String)> = self.read(|conn| {
            conn.prepare_cached(
                "SELECT arn, record FROM map_runs WHERE execution = ?1 ORDER BY start, arn",
            )
            .and_then(|mut s| {
                s.query_map([execution], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db_err(format_args!("read the map runs of {execution}")))
        })?;
        rows.into_iter()
            .map(|(arn, record)| {
                serde_json::from_str(&record)
                    .map_err(|e| StoreError::Corrupt(format!("map run {arn}: {e}")))
            })
            .collect()
    }

    fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {EXECUTION_COLUMNS}, runtime, {V6_COLUMNS} FROM executions WHERE arn = ?1"
            ))
            .and_then(|mut s| s.query_row([arn], execution_row).optional())
            .map_err(db_err(format_args!("read execution {arn}")))
        })
    }

    /// Newest first by start time, then by ARN (descending); `limit == 0`
    /// means no limit. The runtime state is left out (`runtime: None`).
    fn list_executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let limit = page_limit(q.limit);
        let after = q.after.as_deref().map(decode_cursor).transpose()?;
        let mut sql = format!(
            "SELECT {EXECUTION_COLUMNS}, NULL, {V6_COLUMNS} FROM executions WHERE state_machine_arn = ?1"
        );
        // ?6 is always bound (a statement takes as many parameters as its highest index).
        sql.push_str(" AND (?6 IS NULL OR version_arn = ?6 OR alias_arn = ?6)");
        sql.push_str(" AND (?7 IS NULL OR (redrive_count > 0) = ?7)");
        if q.status.is_some() {
            sql.push_str(" AND status = ?2");
        }
        if after.is_some() {
            sql.push_str(" AND (start, arn) < (?3, ?4)");
        }
        sql.push_str(" ORDER BY start DESC, arn DESC LIMIT ?5");
        let (after_start, after_arn) = after.unzip();
        let items = self.read(|conn| {
            conn.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            q.state_machine_arn,
                            q.status,
                            after_start,
                            after_arn,
                            sql_limit(limit.saturating_add(1)),
                            q.qualified,
                            q.redriven
                        ],
                        execution_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err(format_args!(
                    "list executions of {}",
                    q.state_machine_arn
                )))
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
                "SELECT events FROM history_chunks WHERE execution = ?1 AND ?2 IS NULL
                 ORDER BY first_id",
                None,
            ),
            (false, Some(a)) => (
                "SELECT events FROM history_chunks WHERE execution = ?1 AND first_id >=
                     (SELECT COALESCE(MAX(first_id), 0) FROM history_chunks
                      WHERE execution = ?1 AND first_id <= ?2)
                 ORDER BY first_id",
                Some(a.saturating_add(1)),
            ),
            (true, None) => (
                "SELECT events FROM history_chunks WHERE execution = ?1 AND ?2 IS NULL
                 ORDER BY first_id DESC",
                None,
            ),
            (true, Some(a)) => (
                "SELECT events FROM history_chunks WHERE execution = ?1 AND first_id < ?2
                 ORDER BY first_id DESC",
                Some(a),
            ),
        };
        let context = format!("read history of {execution}");
        self.read(|conn| {
            // Chunks name their execution by its id, which never changes.
            let id: Option<i64> = conn
                .prepare_cached("SELECT id FROM executions WHERE arn = ?1")
                .and_then(|mut s| s.query_row([execution], |r| r.get(0)).optional())
                .map_err(db_err(&context))?;
            let Some(id) = id else {
                return Ok(Vec::new());
            };
            let mut stmt = conn.prepare_cached(sql).map_err(db_err(&context))?;
            let mut rows = stmt.query(params![id, from]).map_err(db_err(&context))?;
            let mut out = Vec::new();
            while out.len() < limit {
                let Some(row) = rows.next().map_err(db_err(&context))? else {
                    break;
                };
                let value = row.get_ref(0).map_err(db_err(&context))?;
                let text = chunk_text(value)
                    .map_err(|e| StoreError::Corrupt(format!("{context}: {e}")))?;
                // Only the events of the page are copied out of the chunk.
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

/// The text of one history chunk: every event as a header line
/// `id previous_id timestamp type_bytes details_bytes\n` followed by the
/// event type and the details JSON, both exactly that many bytes long.
pub(super) fn encode_events(events: &[EventRecord]) -> String {
    let mut sorted: Vec<&EventRecord> = events.iter().collect();
    sorted.sort_by_key(|e| e.id);
    let size = events
        .iter()
        .map(|e| 48 + e.event_type.len() + e.details.len())
        .sum();
    let mut text = String::with_capacity(size);
    for e in sorted {
        push_int(&mut text, e.id);
        text.push(' ');
        push_int(&mut text, e.previous_id);
        text.push(' ');
        push_int(&mut text, e.timestamp);
        text.push(' ');
        push_int(&mut text, e.event_type.len() as i64);
        text.push(' ');
        push_int(&mut text, e.details.len() as i64);
        text.push('\n');
        text.push_str(&e.event_type);
        text.push_str(&e.details);
    }
    text
}

/// Appends `n` in decimal (what `write!` does, without `core::fmt`'s
/// machinery: five numbers per event, every commit).
fn push_int(text: &mut String, n: i64) {
    text.push_str(itoa::Buffer::new().format(n));
}

/// A chunk as stored: the text of [`encode_events`] compressed (LZ4 block
/// format, its length first) as a BLOB, or the text itself where that is no
/// smaller. A history repeats itself (every state's input is the previous
/// one's output, every event names its keys): a 10-state execution's 4 KB
/// chunk takes about 1 KB, and the WAL, the checkpoint and the database write
/// a quarter as many pages.
fn chunk_value(events: &[EventRecord]) -> rusqlite::types::Value {
    let text = encode_events(events);
    // Below this, compressing costs more than the bytes it saves (the
    // compressor clears an 8 KB table per call; a short chunk shares its
    // pages with others anyway): an activity task's chunk stays text.
    if text.len() < COMPRESS_FROM {
        return rusqlite::types::Value::Text(text);
    }
    let packed = lz4_flex::compress_prepend_size(text.as_bytes());
    if packed.len() < text.len() {
        rusqlite::types::Value::Blob(packed)
    } else {
        rusqlite::types::Value::Text(text)
    }
}

/// The smallest chunk [`chunk_value`] compresses, in bytes.
const COMPRESS_FROM: usize = 2048;

/// The text of a stored chunk (see [`chunk_value`]); chunks written before
/// compression are TEXT.
fn chunk_text(value: rusqlite::types::ValueRef<'_>) -> Result<Cow<'_, str>, String> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(Cow::Borrowed)
            .map_err(|e| format!("a history chunk is not UTF-8: {e}")),
        ValueRef::Blob(b) => {
            // The length comes first (little-endian u32). LZ4 expands at most
            // 255 times: a larger length is damage, not a reason to allocate it.
            let (size, packed) = b
                .split_first_chunk::<4>()
                .map(|(n, rest)| (u32::from_le_bytes(*n) as usize, rest))
                .ok_or("a compressed history chunk has no length")?;
            if size > packed.len().saturating_mul(255) {
                return Err(format!(
                    "a compressed history chunk of {} bytes claims {size} bytes",
                    b.len()
                ));
            }
            let bytes = lz4_flex::decompress(packed, size)
                .map_err(|e| format!("a compressed history chunk does not decompress: {e}"))?;
            String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|e| format!("a history chunk is not UTF-8: {e}"))
        }
        other => Err(format!(
            "a history chunk is a {:?}, not text",
            other.data_type()
        )),
    }
}

/// One event of a chunk, borrowed from its text.
pub(super) struct ChunkEvent<'a> {
    pub(super) id: i64,
    previous_id: i64,
    timestamp: i64,
    event_type: &'a str,
    details: &'a str,
}

impl ChunkEvent<'_> {
    pub(super) fn to_record(&self) -> EventRecord {
        EventRecord {
            id: self.id,
            previous_id: self.previous_id,
            timestamp: self.timestamp,
            event_type: self.event_type.to_owned(),
            details: self.details.to_owned(),
        }
    }
}

/// Splits a chunk written by [`encode_events`] into its events, copying nothing.
pub(super) fn chunk_events<'a>(
    mut rest: &'a str,
    out: &mut Vec<ChunkEvent<'a>>,
) -> Result<(), String> {
    while !rest.is_empty() {
        let (header, tail) = rest
            .split_once('\n')
            .ok_or("a history event header has no end")?;
        let bad = || format!("bad history event header {header:?}");
        let mut fields = header.split(' ');
        let mut int = || -> Result<i64, String> {
            fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)
        };
        let (id, previous_id, timestamp) = (int()?, int()?, int()?);
        let type_len = usize::try_from(int()?).map_err(|_| bad())?;
        let details_len = usize::try_from(int()?).map_err(|_| bad())?;
        let end = type_len.checked_add(details_len).ok_or_else(bad)?;
        let (Some(event_type), Some(details)) = (tail.get(..type_len), tail.get(type_len..end))
        else {
            return Err(format!("history event {id} is cut short"));
        };
        out.push(ChunkEvent {
            id,
            previous_id,
            timestamp,
            event_type,
            details,
        });
        rest = &tail[end..];
    }
    Ok(())
}

/// Appends the events of a chunk written by [`encode_events`] to `out`.
#[cfg(test)]
fn decode_events(text: &str, out: &mut Vec<EventRecord>) -> Result<(), String> {
    let mut events = Vec::new();
    chunk_events(text, &mut events)?;
    out.extend(events.iter().map(ChunkEvent::to_record));
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::memory::suite;
    use super::*;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    /// The single value `sql` selects.
    fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn sqlite_store_behaves_and_survives_reopen() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        suite::exercise(&store);
        // Dropped without any shutdown step, as a killed process would leave it.
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        suite::check_final(&store);
    }

    #[test]
    fn an_empty_database_file_is_refused() {
        let dir = temp();
        // A new directory starts a new store...
        drop(SqliteStore::open(&dir.path().join("new")).unwrap());
        // ...but an existing, empty database file is not taken for one.
        std::fs::write(dir.path().join(DB_FILE), b"").unwrap();
        let e = SqliteStore::open(dir.path()).err().unwrap().to_string();
        assert!(
            e.contains("is empty (0 bytes)") && e.contains("delete the file"),
            "{e}"
        );
        assert_eq!(
            std::fs::metadata(dir.path().join(DB_FILE)).unwrap().len(),
            0
        );
    }

    #[test]
    fn the_writer_plans_each_statement_once() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let qpsg = |c: &Connection| c.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG).unwrap();
        assert!(qpsg(&lock(&store.writer)));
        assert!(!qpsg(&store.open_reader().unwrap()));
    }

    #[test]
    fn history_chunks_round_trip() {
        let events = vec![
            EventRecord {
                id: 7,
                previous_id: 6,
                timestamp: -5,
                event_type: "TaskStateEntered".into(),
                details: r#"{"input":"line\nbreak é 漢 🎉 \" \\ 1 2 3"}"#.into(),
            },
            EventRecord {
                id: 8,
                previous_id: 7,
                timestamp: 1_700_000_000_000,
                event_type: String::new(),
                details: String::new(),
            },
            suite::event(9),
        ];
        // Written out of order, read back in id order.
        let text = encode_events(&[events[2].clone(), events[0].clone(), events[1].clone()]);
        let mut back = Vec::new();
        decode_events(&text, &mut back).unwrap();
        assert_eq!(back, events);
        for bad in [
            "1 0 0 4 2\nPass",
            "1 0 0 4\nPass{}",
            "1 0 x 4 2\nPass{}",
            "1 0 0 -4 2\nPass{}",
            "1 0 0 4 2",
            "1 0 0 18446744073709551615 2\nPass{}",
        ] {
            assert!(decode_events(bad, &mut Vec::new()).is_err(), "{bad}");
        }
        // Cut inside a multi-byte character.
        assert!(decode_events("1 0 0 1 0\né", &mut Vec::new()).is_err());
    }

    #[test]
    fn integers_are_written_as_write_would() {
        for n in [0, 1, -1, 9, 10, 42, -1_700_000_000_000, i64::MAX, i64::MIN] {
            let mut text = String::from("x");
            push_int(&mut text, n);
            assert_eq!(text, format!("x{n}"));
        }
    }

    #[test]
    fn sqlite_store_reports_a_corrupt_history_chunk() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let x = suite::execution(1, "m", 1, "RUNNING");
        store
            .commit(&Batch {
                writes: vec![Write::PutExecution(x.clone())],
            })
            .unwrap();
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let packed = lz4_flex::compress_prepend_size(b"1 0 0 4 2\nPass{}");
        let mut cut = packed.clone();
        cut.truncate(packed.len() - 2);
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let not_utf8 = lz4_flex::compress_prepend_size(b"1 0 0 4 2\nPa\xffs{}");
        let bad: [rusqlite::types::Value; 7] = [
            "1 0 0 99 2\nPass{}".to_string().into(),
            cut.into(),
            huge.into(),
            not_utf8.into(),
            vec![1u8, 0].into(),
            b"\xff\xfe".to_vec().into(),
            7i64.into(),
        ];
        for value in bad {
            raw.execute("DELETE FROM history_chunks", []).unwrap();
            raw.execute(
                "INSERT INTO history_chunks (execution, first_id, last_id, events)
                 SELECT id, 1, 1, ?2 FROM executions WHERE arn = ?1",
                params![x.arn, value],
            )
            .unwrap();
            let got = store.history(&x.arn, None, false, 0);
            assert!(
                matches!(got, Err(StoreError::Corrupt(_))),
                "{value:?}: {got:?}"
            );
        }
    }

    /// A history that repeats itself is stored compressed; a short one as text.
    #[test]
    fn sqlite_store_compresses_history_chunks() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let x = suite::execution(1, "m", 1, "RUNNING");
        let long: Vec<EventRecord> = (1..=40)
            .map(|id| EventRecord {
                details: format!(r#"{{"stateEnteredEventDetails":{{"name":"S{id}","input":"{{\"a\":[1,2,3]}}"}}}}"#),
                ..suite::event(id)
            })
            .collect();
        let short = vec![EventRecord {
            details: "x".repeat(COMPRESS_FROM / 2),
            ..suite::event(41)
        }];
        store
            .commit(&Batch {
                writes: vec![
                    Write::PutExecution(x.clone()),
                    Write::AppendEvents {
                        execution: x.arn.clone(),
                        events: long.clone(),
                    },
                    Write::AppendEvents {
                        execution: x.arn.clone(),
                        events: short.clone(),
                    },
                ],
            })
            .unwrap();
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let stored: String = one(
            &raw,
            "SELECT group_concat(typeof(events) || ' ' || length(events), ', ')
             FROM (SELECT events FROM history_chunks ORDER BY first_id)",
        );
        let text = encode_events(&long).len();
        assert!(text >= COMPRESS_FROM);
        let (first, second) = stored.split_once(", ").unwrap();
        let packed: usize = first.strip_prefix("blob ").unwrap().parse().unwrap();
        assert!(packed * 3 < text, "{stored}: {text} bytes of text");
        assert!(second.starts_with("text "), "{stored}");
        let all: Vec<EventRecord> = long.into_iter().chain(short).collect();
        assert_eq!(store.history(&x.arn, None, false, 0).unwrap(), all);
        assert_eq!(
            store.history(&x.arn, Some(39), false, 0).unwrap(),
            all[39..].to_vec()
        );
    }

    /// A version 1 database (one history row per event) is migrated to chunks.
    #[test]
    fn sqlite_store_migrates_version_1_history() {
        let dir = temp();
        {
            let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
            raw.execute_batch(MIGRATIONS[0]).unwrap();
            raw.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                 INSERT INTO meta (key, value) VALUES ('schema_version', '1');",
            )
            .unwrap();
            let mut events: Vec<EventRecord> = (1..=5).map(suite::event).collect();
            events[2].details = r#"{"output":"é 漢 🎉 \n"}"#.into();
            for (exec, start) in [("a", 2), ("b", 1)] {
                raw.execute(
                    "INSERT INTO executions (arn, state_machine_arn, name, status, input, start,
                         definition, role_arn, revision_id)
                     VALUES (?1, 'm', ?1, 'RUNNING', '{}', ?2, '{}', 'r', 'v')",
                    params![exec, start],
                )
                .unwrap();
            }
            for (exec, evs) in [("a", &events[..]), ("b", &events[..2])] {
                for e in evs {
                    raw.execute(
                        "INSERT INTO history (execution, id, previous_id, timestamp, event_type, details)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![exec, e.id, e.previous_id, e.timestamp, e.event_type, e.details],
                    )
                    .unwrap();
                }
            }
            let store = SqliteStore::open(dir.path()).unwrap();
            assert_eq!(store.history("a", None, false, 0).unwrap(), events);
            assert_eq!(
                store.history("b", None, true, 0).unwrap(),
                vec![events[1].clone(), events[0].clone()]
            );
            assert_eq!(
                store.history("a", Some(2), false, 2).unwrap(),
                events[2..4].to_vec()
            );
        }
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let version: String = one(&raw, "SELECT value FROM meta WHERE key = 'schema_version'");
        assert_eq!(version, MIGRATIONS.len().to_string());
        let old: i64 = one(
            &raw,
            "SELECT count(*) FROM sqlite_master WHERE name = 'history'",
        );
        assert_eq!(old, 0);
        // Version 3 numbered the executions in start order.
        let ids: String = one(
            &raw,
            "SELECT group_concat(x, ' ') FROM (SELECT arn || id AS x FROM executions ORDER BY id)",
        );
        assert_eq!(ids, "b1 a2");
    }

    /// A version 2 database (history chunks keyed by ARN) keeps its
    /// executions and history, which now names executions by id.
    #[test]
    fn sqlite_store_migrates_version_2_chunks() {
        let dir = temp();
        let events: Vec<EventRecord> = (1..=4).map(suite::event).collect();
        let e = suite::execution(7, "m", 7, "RUNNING");
        {
            let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
            raw.execute_batch(MIGRATIONS[0]).unwrap();
            raw.execute_batch(MIGRATIONS[1]).unwrap();
            raw.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                 INSERT INTO meta (key, value) VALUES ('schema_version', '2');",
            )
            .unwrap();
            raw.execute(
                &format!(
                    "INSERT INTO executions ({EXECUTION_ROW_COLUMNS}, runtime)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                ),
                execution_params(&e, &e.definition),
            )
            .unwrap();
            for (first, last) in [(1, 3), (4, 4)] {
                raw.execute(
                    "INSERT INTO history_chunks (execution, first_id, last_id, events)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        e.arn,
                        first,
                        last,
                        encode_events(&events[first as usize - 1..last as usize])
                    ],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.execution(&e.arn).unwrap(), Some(e.clone()));
        assert_eq!(store.load().unwrap().running, vec![e.clone()]);
        assert_eq!(store.history(&e.arn, None, false, 0).unwrap(), events);
        assert_eq!(
            store.history(&e.arn, Some(2), false, 0).unwrap(),
            events[2..].to_vec()
        );
        // Appending goes on from the migrated chunks.
        store
            .commit(&Batch {
                writes: vec![Write::AppendEvents {
                    execution: e.arn.clone(),
                    events: vec![suite::event(5)],
                }],
            })
            .unwrap();
        assert_eq!(
            store.history(&e.arn, None, true, 1).unwrap(),
            vec![suite::event(5)]
        );
        let bad = Batch {
            writes: vec![Write::AppendEvents {
                execution: e.arn.clone(),
                events: vec![suite::event(4)],
            }],
        };
        assert!(store.commit(&bad).is_err());
    }

    /// A version 3 database (each execution row with its definition's text)
    /// keeps its executions; each distinct text is stored once.
    #[test]
    fn sqlite_store_migrates_version_3_definitions() {
        let dir = temp();
        let mut execs: Vec<ExecutionRecord> = (1..=3)
            .map(|i| suite::execution(i, "m", i as i64, "RUNNING"))
            .collect();
        execs[2].definition = r#"{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}"#.into();
        assert_eq!(execs[0].definition, execs[1].definition);
        {
            let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
            for m in &MIGRATIONS[..3] {
                raw.execute_batch(m).unwrap();
            }
            raw.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                 INSERT INTO meta (key, value) VALUES ('schema_version', '3');",
            )
            .unwrap();
            for e in &execs {
                raw.execute(
                    &format!(
                        "INSERT INTO executions ({EXECUTION_ROW_COLUMNS}, runtime)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                    ),
                    execution_params(e, &e.definition),
                )
                .unwrap();
            }
            raw.execute(
                "INSERT INTO history_chunks (execution, first_id, last_id, events)
                 SELECT id, 1, 1, ?1 FROM executions WHERE arn = ?2",
                params![encode_events(&[suite::event(1)]), execs[1].arn],
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        for e in &execs {
            assert_eq!(store.execution(&e.arn).unwrap().as_ref(), Some(e));
        }
        let running = store.load().unwrap().running;
        assert_eq!(running, execs);
        // Loaded once, shared by the records.
        assert!(Arc::ptr_eq(&running[0].definition, &running[1].definition));
        assert_eq!(
            store.history(&execs[1].arn, None, false, 0).unwrap(),
            vec![suite::event(1)]
        );
        // New executions of a stored definition add no text.
        let mut more = suite::execution(4, "m", 4, "RUNNING");
        more.definition = execs[2].definition.clone();
        store
            .commit(&Batch {
                writes: vec![Write::PutExecution(more.clone())],
            })
            .unwrap();
        assert_eq!(store.execution(&more.arn).unwrap(), Some(more));
        drop(store);
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let texts: i64 = one(&raw, "SELECT count(*) FROM definitions");
        assert_eq!(texts, 2);
        let ids: String = one(
            &raw,
            "SELECT group_concat(x, ' ') FROM (SELECT id || ':' || definition AS x FROM executions ORDER BY id)",
        );
        assert_eq!(ids, "1:1 2:1 3:2 4:2");
    }

    /// Every execution row names its definition; the text is stored once.
    #[test]
    fn sqlite_store_keeps_one_copy_of_a_definition() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut batch = Batch::default();
        for i in 1..=20 {
            batch.push(Write::PutExecution(suite::execution(
                i, "m", i as i64, "RUNNING",
            )));
        }
        store.commit(&batch).unwrap();
        // Ending them writes the rows again with the same definition.
        let mut batch = Batch::default();
        for i in 1..=20 {
            batch.push(Write::PutExecution(suite::execution(
                i,
                "m",
                i as i64,
                "SUCCEEDED",
            )));
        }
        store.commit(&batch).unwrap();
        assert_eq!(
            store
                .execution(&suite::execution(7, "m", 7, "SUCCEEDED").arn)
                .unwrap(),
            Some(suite::execution(7, "m", 7, "SUCCEEDED"))
        );
        drop(store);
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let texts: i64 = one(&raw, "SELECT count(*) FROM definitions");
        assert_eq!(texts, 1);
    }

    #[test]
    fn sqlite_store_refuses_history_of_an_unknown_execution() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
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
    fn sqlite_store_bulk_commit() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        suite::bulk(&store);
    }

    #[test]
    fn sqlite_writer_checkpoints_less_often_than_the_default() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let w = lock(&store.writer);
        let pages: i64 = one(&w, "PRAGMA wal_autocheckpoint");
        assert_eq!(pages, WAL_CHECKPOINT_PAGES);
        let limit: i64 = one(&w, "PRAGMA journal_size_limit");
        assert_eq!(limit, WAL_SIZE_LIMIT);
    }

    #[test]
    fn sqlite_store_creates_nested_directories() {
        let dir = temp();
        let nested = dir.path().join("a/b");
        SqliteStore::open(&nested).unwrap();
        assert!(nested.join(DB_FILE).is_file());
    }

    #[test]
    fn sqlite_store_refuses_a_second_opener() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
        drop(store);
        SqliteStore::open(dir.path()).unwrap();
    }

    #[test]
    fn sqlite_store_refuses_a_newer_schema() {
        let dir = temp();
        drop(SqliteStore::open(dir.path()).unwrap());
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        raw.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(raw);
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn sqlite_store_reports_corrupt_rows() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        raw.execute(
            "INSERT INTO activities (arn, name, created) VALUES ('a', 'a', 'not a number')",
            [],
        )
        .unwrap();
        assert!(matches!(store.load(), Err(StoreError::Corrupt(_))));
    }

    /// Reads do not wait for an open write transaction and never see it.
    #[test]
    fn sqlite_reads_run_beside_an_open_write() {
        let dir = temp();
        let store = SqliteStore::open(dir.path()).unwrap();
        let committed = suite::execution(1, "m", 1, "RUNNING");
        store
            .commit(&Batch {
                writes: vec![Write::PutExecution(committed.clone())],
            })
            .unwrap();

        let mut raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let tx = raw
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        tx.execute("UPDATE executions SET status = 'ABORTED'", [])
            .unwrap();
        tx.execute(
            "INSERT INTO history_chunks (execution, first_id, last_id, events)
             SELECT id, 1, 1, ?1 FROM executions",
            [encode_events(&[suite::event(1)])],
        )
        .unwrap();
        assert_eq!(
            store.execution(&committed.arn).unwrap(),
            Some(committed.clone())
        );
        assert_eq!(store.load().unwrap().running, vec![committed.clone()]);
        assert!(
            store
                .history(&committed.arn, None, false, 0)
                .unwrap()
                .is_empty()
        );
        drop(tx); // rolled back
        assert_eq!(store.execution(&committed.arn).unwrap(), Some(committed));
    }

    #[test]
    fn sqlite_listing_uses_the_indexes() {
        let dir = temp();
        drop(SqliteStore::open(dir.path()).unwrap());
        let raw = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let plan = |sql: &str| -> String {
            let mut s = raw.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = s.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join("; ")
        };
        let list = plan(
            "SELECT arn FROM executions WHERE state_machine_arn = 'm' AND (start, arn) < (5, 'x')
             ORDER BY start DESC, arn DESC LIMIT 10",
        );
        assert!(
            list.contains("executions_by_machine") && !list.contains("TEMP B-TREE"),
            "{list}"
        );
        let by_status = plan(
            "SELECT arn FROM executions WHERE state_machine_arn = 'm' AND status = 'RUNNING'
             AND (start, arn) < (5, 'x') ORDER BY start DESC, arn DESC LIMIT 10",
        );
        assert!(
            by_status.contains("executions_by_machine_status")
                && !by_status.contains("TEMP B-TREE"),
            "{by_status}"
        );
        let history = plan(
            "SELECT events FROM history_chunks WHERE execution = 1 AND first_id < 5 ORDER BY first_id DESC",
        );
        assert!(
            history.contains("history_chunks_by_execution") && !history.contains("TEMP B-TREE"),
            "{history}"
        );
        let from = plan(
            "SELECT events FROM history_chunks WHERE execution = 1 AND first_id >=
                 (SELECT COALESCE(MAX(first_id), 0) FROM history_chunks WHERE execution = 1 AND first_id <= 5)
             ORDER BY first_id",
        );
        assert!(
            from.contains("history_chunks_by_execution") && !from.contains("TEMP B-TREE"),
            "{from}"
        );
    }
}
