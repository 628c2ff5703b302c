//! The files a search leaves in `results/<study>/`: `trials.csv` (one row per trial),
//! `pareto.json` (the best trials with their objectives, parameters and architecture) and
//! `pareto/trial-<n>.json` (the architecture spec of each, ready for `nas export`).

use std::fs;
use std::path::{Path, PathBuf};

use nas_core::study::{best_of, Direction, Trial, TrialState};
use serde_json::{json, Value};

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
    write_csv(&dir.join("trials.csv"), trials, value_names, param_names)?;
    let complete: Vec<Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .cloned()
        .collect();
    let front = best_of(complete, directions);
    let pareto_dir = dir.join("pareto");
    if pareto_dir.exists() {
        fs::remove_dir_all(&pareto_dir).map_err(io(&pareto_dir))?;
    }
    fs::create_dir_all(&pareto_dir).map_err(io(&pareto_dir))?;
    let mut entries = Vec::new();
    for trial in &front {
        let arch = trial.attrs.get("arch").and_then(|a| a.get("arch")).cloned();
        if let Some(arch) = &arch {
            let path = pareto_dir.join(format!("trial-{}.json", trial.number));
            let text = serde_json::to_string_pretty(arch).unwrap_or_default();
            fs::write(&path, text + "\n").map_err(io(&path))?;
        }
        entries.push(pareto_entry(trial, value_names, arch));
    }
    let path = dir.join("pareto.json");
    let text = serde_json::to_string_pretty(&Value::Array(entries)).unwrap_or_default();
    fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(())
}

fn pareto_entry(trial: &Trial, value_names: &[&str], arch: Option<Value>) -> Value {
    let values: serde_json::Map<String, Value> = value_names
        .iter()
        .zip(trial.values.as_deref().unwrap_or(&[]))
        .map(|(name, v)| (name.to_string(), json!(v)))
        .collect();
    json!({
        "trial": trial.number,
        "values": values,
        "feasible": trial.is_feasible(),
        "measurements": trial.attrs.get("measurements"),
        "params": trial.params,
        "recipe": trial.attrs.get("arch").and_then(|a| a.get("recipe")),
        "arch": arch,
    })
}

/// The highest rung a trial reported.
pub fn top_rung(trial: &Trial) -> Option<u64> {
    trial.intermediate.keys().next_back().copied()
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
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    let rung = top_rung(t);
    let measurement = |k: &str| text(t.attrs.get("measurements").and_then(|m| m.get(k)));
    let accuracy = rung
        .and_then(|r| t.attrs.get(&format!("rung{r}")))
        .and_then(|s| s.get("accuracy"));
    let mut row = vec![
        t.number.to_string(),
        t.state.as_str().to_string(),
        text(t.attrs.get("bracket")),
        rung.map(|r| r.to_string()).unwrap_or_default(),
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
    row.push(text(accuracy));
    row.push(measurement("params"));
    row.push(measurement("macs"));
    row.push(measurement("latency_ms"));
    row.push(text(t.attrs.get("cost")));
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
