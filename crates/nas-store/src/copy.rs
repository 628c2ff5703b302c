//! [`copy_study`]: a study moved between storages, e.g. from the default SQLite file to the
//! PostgreSQL database that many workers will share.

use super::storage::{Storage, StorageError, StudyInfo};

/// Copies the study `name` of `from` into `to` as `to_name` (default: the same name): its
/// directions, creation time, attributes and every trial exactly as stored. The copy is one
/// transaction in `to`; [`StorageError::StudyExists`] if `to` already has a study of that
/// name. Trials running in `from` are copied as running; copy a study no worker is using.
pub fn copy_study(
    from: &mut dyn Storage,
    name: &str,
    to: &mut dyn Storage,
    to_name: Option<&str>,
) -> Result<StudyInfo, StorageError> {
    let info = from
        .find_study(name)?
        .ok_or_else(|| StorageError::UnknownStudy(name.to_string()))?;
    let attrs = from.study_attrs(info.id)?;
    let trials = from.trials(info.id, None)?;
    let target = StudyInfo {
        name: to_name.unwrap_or(name).to_string(),
        ..info
    };
    to.import_study(&target, &attrs, &trials)
}
