//! `nas workers --devices 0,1,2,3 -- SEARCH-ARGS…`: one `nas search` worker per device of
//! this machine, all on one study.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

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
    let interrupt = crate::interrupt::install()?;
    let mut workers: Vec<(usize, Child)> = Vec::new();
    for &device in &args.devices {
        // Each worker in its own process group: a Ctrl-C at the terminal reaches only this
        // process, which passes it on once (a worker that got it twice would stop at once).
        let child = Command::new(&exe)
            .arg("search")
            .args(&args.search)
            .args(["--device", &device.to_string()])
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting the worker on device {device}"))?;
        eprintln!("nas: worker on device {device}: process {}", child.id());
        workers.push((device, child));
    }
    let mut ended: Vec<Option<ExitStatus>> = vec![None; workers.len()];
    let mut forwarded = false;
    while ended.iter().any(Option::is_none) {
        for ((device, child), status) in workers.iter_mut().zip(ended.iter_mut()) {
            if status.is_none() {
                *status = child
                    .try_wait()
                    .with_context(|| format!("waiting for device {device}"))?;
            }
        }
        if let (false, Some(signal)) = (forwarded, interrupt.requested()) {
            forwarded = true;
            eprintln!(
                "nas: {} received; passing it on to the workers",
                nas_search::signal_name(signal)
            );
            for ((_, child), status) in workers.iter().zip(&ended) {
                if status.is_none() {
                    forward(child, signal);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(signal) = interrupt.requested() {
        return Err(crate::interrupt::Interrupted(signal).into());
    }
    let failed: Vec<String> = workers
        .iter()
        .zip(&ended)
        .filter_map(|((device, _), status)| {
            let status = status.as_ref()?;
            (!status.success()).then(|| format!("device {device} ({status})"))
        })
        .collect();
    if !failed.is_empty() {
        bail!("workers failed: {}", failed.join(", "));
    }
    Ok(())
}

/// Sends `signal` to a worker (which may have just ended: then there is nothing to do).
fn forward(child: &Child, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) only reads its two integer arguments; the pid is our own child's.
    unsafe {
        libc::kill(pid, signal);
    }
}
