//! Studies: a named set of trials over one search space, with their objective directions,
//! kept in a [`Storage`]: an SQLite file by default, or a PostgreSQL database that many
//! workers share ([`open_storage`] opens either from a URL).

mod codec;
mod copy;
mod handle;
mod postgres;
mod schema;
mod sqlite;
mod storage;
mod trial;
mod url;

pub use copy::copy_study;
pub use handle::{best_of, Study, StudyError, SPACE_ATTR};
pub use postgres::{redact_url, PostgresStorage};
pub use sqlite::SqliteStorage;
pub use storage::{Creation, Storage, StorageError, StudyInfo, TrialEnd, WorkerId};
pub use trial::{unix_now, Direction, Trial, TrialState};
pub use url::open_storage;
