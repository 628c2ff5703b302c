//! `nas status`: who is working on a study, what is running, and how far it has come.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nas_core::study::{unix_now, Trial, TrialState};
use nas_search::TrialRecord;

use crate::study_read::open_study_storage;

/// Arguments of `nas status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The study.
    #[arg(long, default_value = "default")]
    pub study: String,
    /// Folder of the studies (for the default storage `<results>/<study>/study.db`).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The study's storage: `postgres://USER@HOST/DB` or `sqlite://PATH`.
    #[arg(long)]
    pub storage: Option<String>,
}

/// Runs `nas status`.
pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let (mut storage, info) =
        open_study_storage(&args.results, &args.study, args.storage.as_deref())?;
    let trials = storage.trials(info.id, None)?;
    let count = |state: TrialState| trials.iter().filter(|t| t.state == state).count();
    println!(
        "study `{}`: {} trials — {} complete, {} pruned, {} failed, {} running, {} waiting",
        info.name,
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Fail),
        count(TrialState::Running),
        count(TrialState::Waiting)
    );
    print_workers(&trials);
    print_running(&trials);
    Ok(())
}

/// One line per worker process that ran trials: running and finished counts, last sign of
/// life (a start, heartbeat, report or finish).
fn print_workers(trials: &[Trial]) {
    let mut workers: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for t in trials {
        let Some(worker) = &t.worker else { continue };
        let entry = workers.entry(worker.to_string()).or_default();
        match t.state {
            TrialState::Running => entry.0 += 1,
            _ => entry.1 += 1,
        }
        let last = [t.started_at, t.heartbeat_at, t.finished_at]
            .into_iter()
            .flatten()
            .fold(0.0, f64::max);
        entry.2 = entry.2.max(last);
    }
    println!("workers: {}", workers.len());
    let now = unix_now();
    for (worker, (running, finished, last)) in workers {
        println!(
            "  {worker:<28} {running} running, {finished} finished, last seen {:.0} s ago",
            now - last
        );
    }
}

/// One line per running trial: its worker, rung reached (and whether it waits there), time
/// running and age of its last heartbeat.
fn print_running(trials: &[Trial]) {
    let now = unix_now();
    for t in trials.iter().filter(|t| t.state == TrialState::Running) {
        let paused = TrialRecord::of(t)
            .paused_at
            .map_or(String::new(), |rung| format!(", paused at rung {rung}"));
        let rung = t
            .intermediate
            .keys()
            .next_back()
            .map_or("no rung yet".to_string(), |r| format!("rung {r} done"));
        let ago = |at: Option<f64>| at.map_or("?".to_string(), |at| format!("{:.0}", now - at));
        println!(
            "  trial {:>5} on {:<28} {rung}{paused}, running for {} s, last heartbeat {} s ago",
            t.number,
            t.worker.as_ref().map_or("?".to_string(), |w| w.to_string()),
            ago(t.started_at),
            ago(t.heartbeat_at),
        );
    }
}
