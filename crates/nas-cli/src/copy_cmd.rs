//! `nas copy-study`: a study copied from one storage to another, e.g. from the SQLite file of a
//! search on one machine to the PostgreSQL database that workers on several machines will share.

use std::path::PathBuf;

use anyhow::Context;
use nas_core::study::{copy_study, open_storage, redact_url, TrialState};

use crate::study_read::open_study_storage;

/// Arguments of `nas copy-study`.
#[derive(Debug, clap::Args)]
pub struct CopyStudyArgs {
    /// The study to copy.
    #[arg(long, default_value = "default")]
    pub study: String,
    /// Folder of the studies (the default source is `<results>/<study>/study.db`).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Where the study is now: `postgres://USER@HOST/DB` or `sqlite://PATH` (default: its
    /// SQLite file in the results folder).
    #[arg(long)]
    pub from: Option<String>,
    /// Where to copy it: `postgres://USER@HOST/DB` or `sqlite://PATH`.
    #[arg(long)]
    pub to: String,
    /// Name of the copy (default: the study's name).
    #[arg(long)]
    pub to_study: Option<String>,
}

/// Runs `nas copy-study`.
pub fn run(args: CopyStudyArgs) -> anyhow::Result<()> {
    let (mut from, _) = open_study_storage(&args.results, &args.study, args.from.as_deref())?;
    let shown = redact_url(&args.to);
    let mut to =
        open_storage(&args.to).with_context(|| format!("opening study storage {shown}"))?;
    let copied = copy_study(
        from.as_mut(),
        &args.study,
        to.as_mut(),
        args.to_study.as_deref(),
    )
    .with_context(|| format!("copying study `{}` to {shown}", args.study))?;
    let trials = to.trials(copied.id, None)?;
    let running = trials
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .count();
    if running > 0 {
        eprintln!(
            "nas: warning: {running} trials of `{}` were running; the copy holds them as running, \
             and a worker of the copy fails and re-queues them once their heartbeat grace is over",
            args.study
        );
    }
    println!(
        "copied study `{}` ({} trials) to {shown} as `{}`",
        args.study,
        trials.len(),
        copied.name
    );
    Ok(())
}
