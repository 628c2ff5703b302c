//! SQLite study storage: one database file that any number of worker processes share.
//!
//! # Durability
//! Every state change is one transaction. The database runs in WAL mode with
//! `synchronous=NORMAL`: a commit has been written to the write-ahead log when it returns, so a
//! process killed at any point (`kill -9` included) loses nothing it committed. Only an
//! operating-system crash or power cut can lose the last few commits (the file stays
//! consistent); `FULL` would close that gap with an `fsync` per commit, which every reported
//! epoch of every worker would pay for.
//!
//! # Concurrency
//! A `busy_timeout` of 10 s makes a writer wait for another process's lock instead of failing.
//! Every change runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock up front,
//! so two workers never act on the same state (allocating the next trial number, claiming a
//! WAITING trial, finishing a RUNNING one). The statements are those of
//! [`SqlStorage`](super::sql_storage::SqlStorage), shared with PostgreSQL; this module only
//! runs them.
//!
//! # Encoding
//! Parameters, values and attributes are JSON text. Floats are written in their shortest
//! round-trip form (`3.0` stays a float, `3` an integer) and read back bit for bit (serde_json
//! with `float_roundtrip`). JSON has no NaN or infinity: objective values, constraint values and
//! float parameters must be finite ([`StorageError::NonFinite`]); intermediate values may be
//! non-finite (a diverged loss) and are stored as the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"`. Trial numbers and steps are SQL BIGINTs; `u64` seeds are stored as the
//! signed 64-bit integer with the same bits.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ToSqlOutput;
use rusqlite::{params_from_iter, Row, ToSql, TransactionBehavior};

use super::rows::Columns;
use super::sql::{Access, Arg, Connection, Dialect, SqlTx};
use super::sql_storage::SqlStorage;
use super::storage::StorageError;

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Database(e.to_string())
    }
}

/// Study storage in an SQLite database, safe to share between threads (one storage each) and
/// processes. See the [module docs](self) for durability and encoding.
pub type SqliteStorage = SqlStorage<SqliteConnection>;

/// A connection to an SQLite database file, as [`SqliteStorage`] runs its transactions on.
pub struct SqliteConnection(rusqlite::Connection);

impl fmt::Debug for SqliteConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SqliteConnection")
            .field(&self.0.path().unwrap_or(":memory:"))
            .finish()
    }
}

impl SqlStorage<SqliteConnection> {
    /// Opens the database file at `path`, creating the file and its schema if needed and
    /// migrating an older schema. The parent directory must exist.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::init(rusqlite::Connection::open(path)?)
    }

    /// A private in-memory database, gone when dropped (tests, dry runs).
    pub fn in_memory() -> Result<Self, StorageError> {
        Self::init(rusqlite::Connection::open_in_memory()?)
    }

    fn init(conn: rusqlite::Connection) -> Result<Self, StorageError> {
        configure(&conn)?;
        SqlStorage::new(SqliteConnection(conn))
    }
}

/// Connection settings: lock waiting, WAL, durability and foreign keys.
fn configure(conn: &rusqlite::Connection) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    enable_wal(conn)?;
    // NORMAL: durable against process crashes in WAL mode (see the module docs).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Room for every statement of the hot paths (asks, tells, reports, loads) at once.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Switches the database to WAL. SQLite does not call the busy handler for this pragma, so
/// when several processes open a new file at once the switch is retried here until
/// [`BUSY_TIMEOUT`].
fn enable_wal(conn: &rusqlite::Connection) -> Result<(), StorageError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        // The pragma answers with the mode in force: `memory` for in-memory databases.
        let switched: rusqlite::Result<String> =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0));
        match switched {
            Ok(_) => return Ok(()),
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether SQLite answered "database is locked" or "busy".
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Connection for SqliteConnection {
    fn run<R>(
        &mut self,
        access: Access,
        body: impl FnOnce(&mut dyn SqlTx) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let behavior = match access {
            Access::Write => TransactionBehavior::Immediate,
            // A deferred transaction: its reads share one snapshot, it takes no write lock.
            Access::Read => TransactionBehavior::Deferred,
            Access::Autocommit => return body(&mut SqliteTx(&self.0)),
        };
        let tx = self.0.transaction_with_behavior(behavior)?;
        let result = body(&mut SqliteTx(&tx))?;
        tx.commit()?;
        Ok(result)
    }
}

/// A transaction on an SQLite connection. Statements go through the connection's statement
/// cache: an ask or a tell runs a handful of statements, and parsing each anew cost more than
/// running it.
struct SqliteTx<'c>(&'c rusqlite::Connection);

/// `sql` with SQLite's numbered placeholders: `$3` becomes `?3` (SQLite reads `$3` as a named
/// parameter, numbered by first appearance). No statement holds a `$` anywhere else: every
/// value is bound.
fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

impl SqlTx for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StorageError> {
        let changed = self
            .0
            .prepare_cached(&numbered(sql))?
            .execute(params_from_iter(args))?;
        Ok(changed as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&dyn Columns) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let mut statement = self.0.prepare_cached(&numbered(sql))?;
        let mut rows = statement.query(params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        Ok(())
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StorageError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Arg::Int(v) => v.to_sql(),
            Arg::OptInt(v) => v.to_sql(),
            Arg::Real(v) => v.to_sql(),
            Arg::OptReal(v) => v.to_sql(),
            Arg::Text(v) => v.to_sql(),
            Arg::OptText(v) => v.to_sql(),
            // Read by `json_each` (see `Dialect::one_of`).
            Arg::Ints(v) => {
                let items: Vec<String> = v.iter().map(i64::to_string).collect();
                Ok(ToSqlOutput::from(format!("[{}]", items.join(","))))
            }
        }
    }
}

impl Columns for Row<'_> {
    fn int(&self, index: usize) -> Result<i64, StorageError> {
        Ok(self.get(index)?)
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, StorageError> {
        Ok(self.get(index)?)
    }
    fn real(&self, index: usize) -> Result<f64, StorageError> {
        Ok(self.get(index)?)
    }
    fn opt_real(&self, index: usize) -> Result<Option<f64>, StorageError> {
        Ok(self.get(index)?)
    }
    fn text(&self, index: usize) -> Result<String, StorageError> {
        Ok(self.get(index)?)
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, StorageError> {
        Ok(self.get(index)?)
    }
}
