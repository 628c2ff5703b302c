//! What building many networks of different shapes in one process costs: a search builds
//! hundreds. Each architecture is built, trained for a few steps and dropped; the process's
//! resident memory, the device's memory pools and the time of each architecture's first step
//! (kernel compilation and autotuning on JIT backends) are recorded.

use std::time::Instant;

use burn::tensor::Device;
use nas_arch::ArchSpec;

use crate::error::ModelError;
use crate::measure::{percentile, random_batch, sync, Trainer};

/// One architecture's costs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnRow {
    /// 0-based index of the architecture.
    pub index: usize,
    /// Its trainable parameters.
    pub params: u64,
    /// Milliseconds of its first training step (build included).
    pub first_step_ms: f64,
    /// Median milliseconds of its later steps.
    pub later_step_ms: f64,
    /// Resident memory of the process after the network was dropped, in bytes (Linux).
    pub rss_bytes: Option<u64>,
    /// Bytes the device's memory pools held in use after the network was dropped and the
    /// pools cleaned up, where the backend reports it.
    pub device_in_use_bytes: Option<u64>,
    /// Bytes the device's memory pools reserved at that point.
    pub device_reserved_bytes: Option<u64>,
}

/// Builds and trains each spec for `steps` steps (at least 2) of `batch` random images, then
/// drops it and frees the device's unused memory.
pub fn churn(
    specs: &[ArchSpec],
    device: &Device,
    batch: usize,
    steps: usize,
    mut on_row: impl FnMut(&ChurnRow),
) -> Result<Vec<ChurnRow>, ModelError> {
    if steps < 2 || batch == 0 {
        return Err(ModelError::Settings(
            "churn needs at least 2 steps and a batch of at least 1".into(),
        ));
    }
    let mut rows = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        // The first step's clock starts before the build, so it includes it.
        let mut start = Instant::now();
        let mut trainer = Trainer::new(spec, device, 1e-3)?;
        let params = trainer.model().trainable_params();
        let (images, labels) = random_batch(spec, batch, device);
        let mut times = Vec::with_capacity(steps);
        for _ in 0..steps {
            trainer.step(images.clone(), labels.clone());
            sync(device)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            start = Instant::now();
        }
        drop((trainer, images, labels));
        sync(device)?;
        device.memory_cleanup();
        let usage = device.memory_pool_usage();
        let mut later = times[1..].to_vec();
        later.sort_by(f64::total_cmp);
        let row = ChurnRow {
            index,
            params,
            first_step_ms: times[0],
            later_step_ms: percentile(&later, 0.5),
            rss_bytes: resident_bytes(),
            device_in_use_bytes: usage.as_ref().map(|u| u.bytes_in_use),
            device_reserved_bytes: usage.as_ref().map(|u| u.bytes_reserved),
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// Peak resident set size of this process (`VmHWM` in `/proc/self/status`, Linux only).
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resident set size of this process, from `/proc/self/statm` (Linux only).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
