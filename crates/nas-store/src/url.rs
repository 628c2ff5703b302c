//! [`open_storage`]: the storage a URL names.

use std::path::Path;

use super::postgres::PostgresStorage;
use super::sqlite::SqliteStorage;
use super::storage::{Storage, StorageError};

/// Opens the storage `url` names: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (or
/// `postgresql://`) for a PostgreSQL server, `sqlite://PATH` or a bare `PATH` for an SQLite
/// file (created if missing).
pub fn open_storage(url: &str) -> Result<Box<dyn Storage>, StorageError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PostgresStorage::connect(url)?));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.contains("://") || path.is_empty() {
        return Err(StorageError::UnsupportedUrl(url.to_string()));
    }
    Ok(Box::new(SqliteStorage::open(Path::new(path))?))
}
