//! Study storage of nas, burn-free: the [`Storage`] trait over a named set of trials with their
//! objective directions, an SQLite file by default or a PostgreSQL database that many workers
//! share ([`open_storage`] opens either from a URL), [`MemoryStorage`] for a study that keeps
//! nothing, and [`copy_study`] between them.
//!
//! The two databases are one implementation, [`SqlStorage`]: its statements are written once,
//! and the two drivers (`sqlite.rs`, `postgres.rs`) only open connections and transactions and
//! run them; where the dialects differ (row locks, list membership, row ids) the SQL asks
//! `Dialect`.
//!
//! The trial types ([`Trial`], [`TrialState`], [`Direction`], [`WorkerId`]) live here, at the
//! bottom: samplers, schedulers and the `Study` handle of `nas-core` build on them.

#![warn(missing_docs)]

mod codec;
mod copy;
mod memory;
mod postgres;
mod rows;
mod schema;
mod sql;
mod sql_storage;
mod sqlite;
mod storage;
mod trial;
mod url;
mod worker;

pub use copy::copy_study;
pub use memory::MemoryStorage;
pub use postgres::{redact_url, PostgresConnection, PostgresStorage};
pub use sql_storage::SqlStorage;
pub use sqlite::{SqliteConnection, SqliteStorage};
pub use storage::{Creation, Storage, StorageError, StudyInfo, TrialEnd};
pub use trial::{unix_now, Direction, Trial, TrialState};
pub use url::open_storage;
pub use worker::WorkerId;
