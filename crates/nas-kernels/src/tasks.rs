//! How finely the kernels split their work across rayon's threads: a task of a few microseconds
//! costs more to hand to another thread than to run, which at batch 1 (a latency measurement)
//! made small planes slower spread out than on one thread.

/// Values of work a task gets at least (multiply-adds or elements).
const MIN_TASK_WORK: usize = 1 << 14;

/// The fewest items of `work_per_item` each that one task takes (rayon's `with_min_len`).
pub(crate) fn min_items(work_per_item: usize) -> usize {
    (MIN_TASK_WORK / work_per_item.max(1)).max(1)
}
