//! Studies: a named set of trials over one search space, with their objective directions,
//! kept in a [`Storage`] (SQLite by default).

mod handle;
mod sqlite;
mod storage;
mod trial;

pub use handle::{best_of, Study, StudyError};
pub use sqlite::SqliteStorage;
pub use storage::{Storage, StorageError, StudyInfo, TrialEnd, WorkerId};
pub use trial::{unix_now, Direction, Trial, TrialState};
