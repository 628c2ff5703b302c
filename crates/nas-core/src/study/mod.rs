//! Studies: the [`Study`] handle that asks a sampler for configurations and records what
//! became of them, over any [`Storage`] of `nas-store` (whose types are re-exported here).

mod handle;
mod seed;

pub use handle::{best_of, Study, StudyError, SPACE_ATTR};
pub use nas_store::{
    copy_study, open_storage, redact_url, unix_now, Creation, Direction, MemoryStorage,
    PostgresStorage, SqliteStorage, Storage, StorageError, StudyInfo, Trial, TrialEnd, TrialState,
    WorkerId,
};
pub use seed::trial_seed;
