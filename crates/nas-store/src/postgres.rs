//! PostgreSQL study storage: one database that worker processes on many hosts share.
//!
//! The tables, columns, JSON text and statements are those of the SQLite storage (see its
//! module docs for the encoding, and [`SqlStorage`] for the locking that makes the
//! read-then-write steps safe across connections), so a study holds byte-for-byte the same
//! data in either backend. This module only connects and runs statements: each prepared once
//! per connection, in READ COMMITTED transactions that change the study and REPEATABLE READ,
//! read-only ones that read it.
//!
//! Only unencrypted connections (`NoTls`) are supported.

use std::collections::HashMap;
use std::fmt;

use postgres::types::{FromSql, ToSql};
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row, Statement};

use super::rows::Columns;
use super::sql::{Access, Arg, Connection, Dialect, SqlTx};
use super::sql_storage::SqlStorage;
use super::storage::StorageError;

impl From<postgres::Error> for StorageError {
    fn from(e: postgres::Error) -> Self {
        StorageError::Database(error_chain(&e))
    }
}

/// An error and its causes (the server's message included), joined by `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `url` with the password of its user part (`user:secret@`) or a `password=` setting
/// replaced by `***`, for error messages.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some((user_info, host)) = authority.rsplit_once('@') {
            if let Some((user, _)) = user_info.split_once(':') {
                return format!("{scheme}://{user}:***@{host}{tail}");
            }
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|part| match part.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Study storage in a PostgreSQL database, one connection per storage; safe to share a study
/// between threads (one storage each), processes and hosts. See [`SqlStorage`] for the
/// locking.
pub type PostgresStorage = SqlStorage<PostgresConnection>;

/// A connection to a PostgreSQL server, as [`PostgresStorage`] runs its transactions on.
pub struct PostgresConnection {
    client: Client,
    /// This connection's prepared statements, by SQL text (see [`PgTx`]).
    statements: HashMap<String, Statement>,
    /// The connection URL without its password.
    url: String,
}

impl fmt::Debug for PostgresConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConnection")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SqlStorage<PostgresConnection> {
    /// Connects (without TLS) to the database at `url`, e.g.
    /// `postgres://nas:secret@db-host:5432/nas`, creating the schema if needed and migrating an
    /// older one. Errors name the URL without its password.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        let redacted = redact_url(url);
        let client = Client::connect(url, NoTls).map_err(|e| {
            StorageError::Database(format!("cannot connect to {redacted}: {}", error_chain(&e)))
        })?;
        SqlStorage::new(PostgresConnection {
            client,
            statements: HashMap::new(),
            url: redacted,
        })
    }
}

impl Connection for PostgresConnection {
    fn run<R>(
        &mut self,
        access: Access,
        body: impl FnOnce(&mut dyn SqlTx) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let mut tx = match access {
            Access::Write => self.client.transaction()?,
            Access::Read => self
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?,
            Access::Autocommit => {
                return body(&mut PgTx {
                    client: &mut self.client,
                    statements: &mut self.statements,
                })
            }
        };
        let result = body(&mut PgTx {
            client: &mut tx,
            statements: &mut self.statements,
        })?;
        tx.commit()?;
        Ok(result)
    }
}

/// A transaction (or the bare connection, [`Access::Autocommit`]) whose statements are
/// prepared once per connection and reused: a statement then costs one round trip to the
/// server instead of two (prepare, then run).
struct PgTx<'a, C> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
}

impl<C: GenericClient> PgTx<'_, C> {
    /// The prepared form of `sql`, preparing it on first use. Prepared statements outlive the
    /// transaction (they belong to the session, and a rollback keeps them).
    fn prepared(&mut self, sql: &str) -> Result<Statement, StorageError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// `args` as the driver binds them.
fn bound<'a>(args: &'a [Arg<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| -> &(dyn ToSql + Sync) {
            match arg {
                Arg::Int(v) => v,
                Arg::OptInt(v) => v,
                Arg::Real(v) => v,
                Arg::OptReal(v) => v,
                Arg::Text(v) => v,
                Arg::OptText(v) => v,
                Arg::Ints(v) => v,
            }
        })
        .collect()
}

impl<C: GenericClient> SqlTx for PgTx<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StorageError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.execute(&statement, &bound(args))?)
    }

    fn query(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        each: &mut dyn FnMut(&dyn Columns) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let statement = self.prepared(sql)?;
        for row in self.client.query(&statement, &bound(args))? {
            each(&row)?;
        }
        Ok(())
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StorageError> {
        Ok(self.client.batch_execute(sql)?)
    }
}

/// Column `index` of `row`, a [`StorageError`] if it has another type.
fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StorageError> {
    Ok(row.try_get(index)?)
}

impl Columns for Row {
    fn int(&self, index: usize) -> Result<i64, StorageError> {
        get(self, index)
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, StorageError> {
        get(self, index)
    }
    fn real(&self, index: usize) -> Result<f64, StorageError> {
        get(self, index)
    }
    fn opt_real(&self, index: usize) -> Result<Option<f64>, StorageError> {
        get(self, index)
    }
    fn text(&self, index: usize) -> Result<String, StorageError> {
        get(self, index)
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, StorageError> {
        get(self, index)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_left_out_of_urls() {
        assert_eq!(
            redact_url("postgres://nas:secret@db:5432/nas?sslmode=disable"),
            "postgres://nas:***@db:5432/nas?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://nas@db/nas"), "postgres://nas@db/nas");
        assert_eq!(
            redact_url("host=db user=nas password=secret dbname=nas"),
            "host=db user=nas password=*** dbname=nas"
        );
    }
}
