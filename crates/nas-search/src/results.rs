//! The files a search leaves in `results/<study>/`: `trials.csv` (one row per trial),
//! `pareto.json` (the best trials with their objectives, parameters and architecture) and
//! `pareto/trial-<n>.json` (the architecture spec of each, ready for `nas export`).
//!
//! Several workers may share one results folder, each rewriting these files as its trials
//! end: every file is written under a temporary name and renamed into place, so a reader
//! (or another worker) never sees half a file, and `pareto/` is updated in place (stale
//! specs removed one by one) rather than deleted and recreated under another worker's feet.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nas_core::study::{best_of, Direction, Trial, TrialState};
use serde_json::{json, Value};

use crate::record::TrialRecord;

/// Errors of writing results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CSV row could not be written.
    #[error("cannot write {path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Why.
        source: csv::Error,
    },
}

/// Writes `trials.csv`, `pareto.json` and `pareto/` into `dir` (created if needed).
/// `value_names` name the study's objective values, `param_names` the space's parameters.
pub fn write_results(
    dir: &Path,
    trials: &[Trial],
    directions: &[Direction],
    value_names: &[&str],
    param_names: &[String],
) -> Result<(), ResultsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ResultsError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let csv_path = dir.join("trials.csv");
    replace_file(&csv_path, |temp| {
        write_csv(temp, trials, value_names, param_names)
    })?;
    let complete: Vec<Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .cloned()
        .collect();
    let front = best_of(complete, directions);
    let pareto_dir = dir.join("pareto");
    fs::create_dir_all(&pareto_dir).map_err(io(&pareto_dir))?;
    let mut entries = Vec::new();
    let mut specs = Vec::new();
    for trial in &front {
        let record = TrialRecord::of(trial);
        if let Some(arch) = &record.arch {
            let name = format!("trial-{}.json", trial.number);
            let text = serde_json::to_string_pretty(arch).unwrap_or_default() + "\n";
            write_text(&pareto_dir.join(&name), &text)?;
            specs.push(name);
        }
        entries.push(pareto_entry(trial, value_names, record));
    }
    remove_stale_specs(&pareto_dir, &specs)?;
    let text = serde_json::to_string_pretty(&Value::Array(entries)).unwrap_or_default() + "\n";
    write_text(&dir.join("pareto.json"), &text)
}

/// Removes the `trial-<n>.json` files of `pareto_dir` not named in `keep`; one that another
/// worker removed first is not an error.
fn remove_stale_specs(pareto_dir: &Path, keep: &[String]) -> Result<(), ResultsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ResultsError::Io { path, source }
    };
    for entry in fs::read_dir(pareto_dir).map_err(io(pareto_dir))? {
        let path = entry.map_err(io(pareto_dir))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let spec = name.starts_with("trial-") && name.ends_with(".json");
        if spec && !keep.iter().any(|k| k == name) {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(io(&path)(e)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Writes `text` to `path` through a temporary file renamed into place.
fn write_text(path: &Path, text: &str) -> Result<(), ResultsError> {
    replace_file(path, |temp| {
        fs::write(temp, text).map_err(|source| ResultsError::Io {
            path: temp.to_path_buf(),
            source,
        })
    })
}

/// Calls `write` on a temporary file beside `path` (named for this process and call), then
/// renames it to `path`; the temporary file is removed if writing fails.
fn replace_file(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), ResultsError>,
) -> Result<(), ResultsError> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("results");
    let temp = path.with_file_name(format!(".{name}.{}-{call}.tmp", std::process::id()));
    if let Err(e) = write(&temp) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    fs::rename(&temp, path).map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn pareto_entry(trial: &Trial, value_names: &[&str], record: TrialRecord) -> Value {
    let values: serde_json::Map<String, Value> = value_names
        .iter()
        .zip(trial.values.as_deref().unwrap_or(&[]))
        .map(|(name, v)| (name.to_string(), json!(v)))
        .collect();
    json!({
        "trial": trial.number,
        "values": values,
        "feasible": trial.is_feasible(),
        "measurements": record.measurements(),
        "params": trial.params,
        "recipe": record.recipe,
        "arch": record.arch,
    })
}

fn write_csv(
    path: &Path,
    trials: &[Trial],
    value_names: &[&str],
    param_names: &[String],
) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    let mut header: Vec<String> = ["number", "state", "bracket", "rung"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(value_names.iter().map(|s| format!("value_{s}")));
    header.extend(
        [
            "val_accuracy",
            "params",
            "macs",
            "latency_ms",
            "cost_gmacs",
            "duration_s",
            "fail_reason",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    header.extend(param_names.iter().cloned());
    w.write_record(&header).map_err(err)?;
    for t in trials {
        w.write_record(csv_row(t, value_names.len(), param_names))
            .map_err(err)?;
    }
    w.flush().map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}

fn csv_row(t: &Trial, n_values: usize, param_names: &[String]) -> Vec<String> {
    let cell = |x: Option<String>| x.unwrap_or_default();
    let record = TrialRecord::of(t);
    let mut row = vec![
        t.number.to_string(),
        t.state.as_str().to_string(),
        cell(record.bracket.map(|b| b.to_string())),
        cell(record.top_rung().map(|r| r.to_string())),
    ];
    for i in 0..n_values {
        row.push(
            t.values
                .as_ref()
                .and_then(|v| v.get(i))
                .map(|v| v.to_string())
                .unwrap_or_default(),
        );
    }
    row.push(cell(record.top_accuracy().map(|a| a.to_string())));
    row.push(cell(record.params.map(|p| p.to_string())));
    row.push(cell(record.macs.map(|m| m.to_string())));
    row.push(cell(record.latency_ms.map(|l| l.to_string())));
    row.push(cell(record.cost.map(|c| c.to_string())));
    row.push(
        t.duration_s()
            .map(|d| format!("{d:.1}"))
            .unwrap_or_default(),
    );
    row.push(t.fail_reason.clone().unwrap_or_default());
    for name in param_names {
        row.push(
            t.params
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_default(),
        );
    }
    row
}
