//! `nas workers --devices 0,1,2,3 -- SEARCH-ARGS…`: one `nas search` worker per device of
//! this machine, all on one study.

use std::process::{Child, Command};

use anyhow::{bail, Context};

/// Arguments of `nas workers`.
#[derive(Debug, clap::Args)]
pub struct WorkersArgs {
    /// Devices to start a worker on, comma-separated (`--device` of each `nas search`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub devices: Vec<usize>,
    /// The arguments every worker's `nas search` gets (after `--`): the same `--study` and,
    /// for workers on several machines, the same `--storage`.
    #[arg(last = true)]
    pub search: Vec<String>,
}

/// Runs `nas workers`: starts the workers, waits for all, fails if any failed.
pub fn run(args: WorkersArgs) -> anyhow::Result<()> {
    if args
        .search
        .iter()
        .any(|a| a == "--device" || a.starts_with("--device="))
    {
        bail!("give the devices with --devices, not --device in the search arguments");
    }
    let exe = std::env::current_exe().context("finding the nas executable")?;
    let mut workers: Vec<(usize, Child)> = Vec::new();
    for &device in &args.devices {
        let child = Command::new(&exe)
            .arg("search")
            .args(&args.search)
            .args(["--device", &device.to_string()])
            .spawn()
            .with_context(|| format!("starting the worker on device {device}"))?;
        eprintln!("nas: worker on device {device}: process {}", child.id());
        workers.push((device, child));
    }
    let mut failed = Vec::new();
    for (device, mut child) in workers {
        let status = child
            .wait()
            .with_context(|| format!("waiting for device {device}"))?;
        if !status.success() {
            failed.push(format!("device {device} ({status})"));
        }
    }
    if !failed.is_empty() {
        bail!("workers failed: {}", failed.join(", "));
    }
    Ok(())
}
