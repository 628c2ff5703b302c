//! Reading a study's results folder (`results/<study>/`): its trials, objectives and space,
//! for `nas report` and `nas export`. Reads work while a search is still writing.

use std::path::Path;

use anyhow::{bail, Context};
use nas_core::space::SearchSpace;
use nas_core::study::{open_storage, Direction, Storage, StudyInfo, Trial, SPACE_ATTR};

use nas_export::Pick;
use nas_report::{ExportHint, Report, ReportInput};

use nas_settings::StudyConfig;

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

impl StudyTrials {
    /// The report of these trials as study `name` (what `nas report` prints and `nas export
    /// --pick` chooses from).
    pub(crate) fn report(&self, name: &str) -> Report {
        Report::build(&ReportInput {
            study: name,
            directions: &self.directions,
            value_names: &self.value_names,
            trials: &self.trials,
            space: self.space.as_ref(),
        })
    }
}

/// The trials a study ends with (the most accurate, the knee, the most accurate under the
/// `max_params` and `max_latency_ms` limits) and the `nas export` command of each, with the
/// `results` folder and `storage` the study is read from.
pub(crate) fn export_hints(
    report: &Report,
    results: &Path,
    storage: Option<&str>,
    max_params: Option<u64>,
    max_latency_ms: Option<f64>,
) -> Vec<ExportHint> {
    let limits: Vec<Pick> = max_params
        .map(Pick::MaxParams)
        .into_iter()
        .chain(max_latency_ms.map(Pick::MaxLatencyMs))
        .collect();
    let mut words = vec!["nas".to_string(), "export".into(), report.study.clone()];
    if results != Path::new("results") {
        words.extend(["--results".into(), results.display().to_string()]);
    }
    if let Some(url) = storage {
        words.extend(["--storage".into(), nas_core::study::redact_url(url)]);
    }
    nas_export::answers(report, &limits)
        .into_iter()
        .map(|(pick, row)| {
            let mut line = words.clone();
            line.push("--pick".into());
            line.extend(pick.to_string().split(' ').map(str::to_string));
            ExportHint {
                label: pick.label(),
                trial: row.number,
                accuracy: row.accuracy,
                params: row.param_count,
                latency_ms: row.latency_ms,
                command: crate::interrupt::shell_line(line),
            }
        })
        .collect()
}

/// Opens the storage of study `name`: `url` if given, else `results/<name>/study.db`, which
/// must exist.
pub(crate) fn open_study_storage(
    results: &Path,
    name: &str,
    url: Option<&str>,
) -> anyhow::Result<(Box<dyn Storage>, StudyInfo)> {
    let url = match url {
        Some(url) => url.to_string(),
        None => {
            let db = results.join(name).join("study.db");
            if !db.exists() {
                bail!("no study `{name}`: {} does not exist", db.display());
            }
            format!("sqlite://{}", db.display())
        }
    };
    let shown = nas_core::study::redact_url(&url);
    let mut storage =
        open_storage(&url).with_context(|| format!("opening study storage {shown}"))?;
    let info = storage
        .find_study(name)?
        .with_context(|| format!("{shown} holds no study called `{name}`"))?;
    Ok((storage, info))
}

/// Reads study `name` (it may still be running) from `url`, or from `results/<name>/study.db`;
/// its settings come from `results/<name>/config.toml` when there is one, else from the
/// storage.
pub(crate) fn read_study(
    results: &Path,
    name: &str,
    url: Option<&str>,
) -> anyhow::Result<StudyTrials> {
    let (mut storage, info) = open_study_storage(results, name, url)?;
    let shared = StudyConfig::shared(storage.as_mut(), name)?;
    let config = StudyConfig::default().resolve(None, &results.join(name), shared)?;
    let trials = storage.trials(info.id, None)?;
    // The space is optional to every reader: one that no longer parses is left out.
    let space = storage
        .study_attr(info.id, SPACE_ATTR)?
        .and_then(|v| serde_json::from_value::<SearchSpace>(v).ok());
    let value_names = config
        .scoring()?
        .value_names()
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    if value_names.len() != info.directions.len() {
        bail!(
            "study `{name}` has {} objectives but its settings name {}",
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

/// The search space recorded by study `name` in `storage`, for a worker on a machine that
/// lacks the space file `missing` the study was started with.
pub(crate) fn recorded_space(
    storage: &mut dyn Storage,
    name: &str,
    missing: &Path,
) -> anyhow::Result<SearchSpace> {
    let recorded = match storage.find_study(name)? {
        Some(info) => storage.study_attr(info.id, SPACE_ATTR)?,
        None => None,
    };
    let Some(value) = recorded else {
        bail!(
            "search space {} does not exist, and study `{name}` has no recorded space",
            missing.display()
        );
    };
    let space = serde_json::from_value(value)
        .with_context(|| format!("the search space recorded by study `{name}`"))?;
    eprintln!(
        "nas: {} is not on this machine; using the search space study `{name}` recorded",
        missing.display()
    );
    Ok(space)
}
