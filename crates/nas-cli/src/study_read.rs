//! Reading a study's results folder (`results/<study>/`): its trials, objectives and space,
//! for `nas report` and `nas export`. Reads work while a search is still writing.

use std::path::Path;

use anyhow::{bail, Context};
use nas_core::space::SearchSpace;
use nas_core::study::{Direction, SqliteStorage, Storage, Trial};

use crate::study_config::StudyConfig;

/// The study's trials and the names of its objective values.
pub(crate) struct StudyTrials {
    /// The study's resolved settings (its config.toml over the defaults).
    pub config: StudyConfig,
    /// Every trial, by number.
    pub trials: Vec<Trial>,
    /// The objectives' directions.
    pub directions: Vec<Direction>,
    /// The objectives' names, in the order of `directions`.
    pub value_names: Vec<String>,
    /// The search space the study was created with, when it recorded one.
    pub space: Option<SearchSpace>,
}

/// Reads study `name` under `results` (it may still be running).
pub(crate) fn read_study(results: &Path, name: &str) -> anyhow::Result<StudyTrials> {
    let dir = results.join(name);
    let db = dir.join("study.db");
    if !db.exists() {
        bail!("no study `{name}`: {} does not exist", db.display());
    }
    let config = StudyConfig::default().resolve(None, &dir)?;
    let mut storage =
        SqliteStorage::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let info = storage
        .find_study(name)?
        .with_context(|| format!("{} holds no study called `{name}`", db.display()))?;
    let trials = storage.trials(info.id, None)?;
    // The space is optional to every reader: one that no longer parses is left out.
    let space = storage
        .study_attr(info.id, "space")?
        .and_then(|v| serde_json::from_value::<SearchSpace>(v).ok());
    let value_names = crate::search_cmd::scoring(&config)?
        .value_names()
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    if value_names.len() != info.directions.len() {
        bail!(
            "study `{name}` has {} objectives but its config.toml names {}",
            info.directions.len(),
            value_names.join(", ")
        );
    }
    Ok(StudyTrials {
        config,
        trials,
        directions: info.directions,
        value_names,
        space,
    })
}
