//! The SQL interface a database driver gives the shared storage ([`SqlStorage`]): run a
//! statement with [`Arg`]uments, hand each result row over as [`Columns`], and open write and
//! read transactions. Statements are written once, with PostgreSQL's `$1, $2, …`
//! placeholders; what the two dialects spell differently (row locks, list membership, the
//! schema's row ids, the migration lock) is asked of [`Dialect`], the one place where SQLite
//! and PostgreSQL differ.
//!
//! [`SqlStorage`]: super::sql_storage::SqlStorage

use std::borrow::Cow;

use super::rows::Columns;
use super::schema::for_postgres;
use super::storage::StorageError;

/// A value bound to a statement placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// A BIGINT.
    Int(i64),
    /// A BIGINT or NULL.
    OptInt(Option<i64>),
    /// A DOUBLE PRECISION.
    Real(f64),
    /// A DOUBLE PRECISION or NULL.
    OptReal(Option<f64>),
    /// A TEXT.
    Text(&'a str),
    /// A TEXT or NULL.
    OptText(Option<&'a str>),
    /// A list of BIGINTs, for [`Dialect::one_of`] only: a `BIGINT[]` on PostgreSQL, a JSON
    /// array on SQLite.
    Ints(&'a [i64]),
}

/// Which rows a locking read locks (PostgreSQL; SQLite's write transactions hold the whole
/// database from their start, so there it locks nothing more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Every selected row, waiting for other transactions' locks (`FOR UPDATE`).
    Wait,
    /// The selected rows no other transaction holds; the others are left out
    /// (`FOR UPDATE SKIP LOCKED`).
    SkipLocked,
}

/// The SQL dialect of a driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or later (`RETURNING`, `ON CONFLICT`, `json_each`).
    Sqlite,
    /// PostgreSQL 10 or later.
    Postgres,
}

/// Key of PostgreSQL's advisory lock that serialises migrations (the ASCII of `nas_schm`).
const MIGRATION_LOCK: i64 = 0x6e61_735f_7363_686d;

impl Dialect {
    /// The clause that ends a `SELECT` taking `lock` on its rows until the transaction ends.
    pub fn lock(self, lock: Lock) -> &'static str {
        match (self, lock) {
            (Dialect::Sqlite, _) => "",
            (Dialect::Postgres, Lock::Wait) => "FOR UPDATE",
            (Dialect::Postgres, Lock::SkipLocked) => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// The condition "`column` is one of the [`Arg::Ints`] bound to `placeholder`": one SQL
    /// text whatever the list's length, so the statement is prepared once.
    pub fn one_of(self, column: &str, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each({placeholder}))"),
            Dialect::Postgres => format!("{column} = ANY({placeholder})"),
        }
    }

    /// A migration of [`super::schema`] as this dialect takes it.
    pub fn schema(self, sql: &str) -> Cow<'_, str> {
        match self {
            Dialect::Sqlite => Cow::Borrowed(sql),
            Dialect::Postgres => Cow::Owned(for_postgres(sql)),
        }
    }

    /// The statement (and its argument) that makes concurrent migrations of one database run
    /// one after another, if the write transaction does not already: PostgreSQL's advisory
    /// lock; SQLite's write transaction holds the database.
    pub fn migration_lock(self) -> Option<(&'static str, Arg<'static>)> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => {
                Some(("SELECT pg_advisory_xact_lock($1)", Arg::Int(MIGRATION_LOCK)))
            }
        }
    }
}

/// An open transaction of a driver.
pub trait SqlTx {
    /// The driver's dialect.
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StorageError>;

    /// Runs a query, handing each result row to `each` in order.
    fn query(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&dyn Columns) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;

    /// Runs several statements without arguments (a migration).
    fn execute_batch(&mut self, sql: &str) -> Result<(), StorageError>;
}

/// How a body of statements runs against the database ([`Connection::run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// In a transaction that may change the study: one that can lock rows
    /// ([`Dialect::lock`]) on PostgreSQL, one that holds the write lock from its start
    /// (`BEGIN IMMEDIATE`) on SQLite.
    Write,
    /// In a read-only transaction whose queries all see one snapshot.
    Read,
    /// Outside a transaction: each statement is its own (one round trip to a server instead
    /// of three for a lone read).
    Autocommit,
}

/// A database connection the shared storage runs its statements on.
pub trait Connection {
    /// Runs `body` with `access`; a transaction is committed when `body` returns `Ok` and
    /// rolled back otherwise.
    fn run<R>(
        &mut self,
        access: Access,
        body: impl FnOnce(&mut dyn SqlTx) -> Result<R, StorageError>,
    ) -> Result<R, StorageError>;

    /// [`Connection::run`] with [`Access::Write`].
    fn write<R>(
        &mut self,
        body: impl FnOnce(&mut dyn SqlTx) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        self.run(Access::Write, body)
    }

    /// [`Connection::run`] with [`Access::Read`].
    fn read<R>(
        &mut self,
        body: impl FnOnce(&mut dyn SqlTx) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        self.run(Access::Read, body)
    }

    /// [`Connection::run`] with [`Access::Autocommit`].
    fn autocommit<R>(
        &mut self,
        body: impl FnOnce(&mut dyn SqlTx) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        self.run(Access::Autocommit, body)
    }
}

/// The first row of a query mapped by `f`, `None` without rows.
pub fn query_opt<T>(
    tx: &mut dyn SqlTx,
    sql: &str,
    args: &[Arg<'_>],
    f: impl FnOnce(&dyn Columns) -> Result<T, StorageError>,
) -> Result<Option<T>, StorageError> {
    let mut f = Some(f);
    let mut first = None;
    tx.query(sql, args, &mut |row| {
        if let Some(f) = f.take() {
            first = Some(f(row)?);
        }
        Ok(())
    })?;
    Ok(first)
}

/// The first row of a query that always returns one (an aggregate, `RETURNING`), mapped by
/// `f`.
pub fn query_one<T>(
    tx: &mut dyn SqlTx,
    sql: &str,
    args: &[Arg<'_>],
    f: impl FnOnce(&dyn Columns) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    query_opt(tx, sql, args, f)?
        .ok_or_else(|| StorageError::Database(format!("no row returned by `{sql}`")))
}

/// Every row of a query mapped by `f`.
pub fn query_all<T>(
    tx: &mut dyn SqlTx,
    sql: &str,
    args: &[Arg<'_>],
    mut f: impl FnMut(&dyn Columns) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    let mut all = Vec::new();
    tx.query(sql, args, &mut |row| {
        all.push(f(row)?);
        Ok(())
    })?;
    Ok(all)
}
