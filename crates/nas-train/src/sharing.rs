//! How trials that train at once share the machine: each worker thread computes on a thread
//! pool of its own ([`on_trial_threads`]), and a latency is measured with no trial computing
//! beside it ([`Quiet`]).

use std::cell::RefCell;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

thread_local! {
    /// This worker thread's pool, built on first use.
    static POOL: RefCell<Option<Arc<rayon::ThreadPool>>> = const { RefCell::new(None) };
}

/// Runs `work` on this thread's own pool of `threads` threads, so that what it computes with
/// rayon (burn-flex's operations, our kernels, GEMM) splits over those threads only; `None`
/// runs it here, on the backend's shared pool. A pool that cannot be built (no threads left)
/// falls back to the shared pool. A panic in `work` goes on in the caller.
pub(crate) fn on_trial_threads<R: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> R + Send,
) -> R {
    let Some(threads) = threads else {
        return work();
    };
    let pool = POOL.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot
            .as_ref()
            .is_none_or(|p| p.current_num_threads() != threads)
        {
            *slot = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("nas-trial-{i}"))
                .build()
                .map_err(|e| tracing::warn!(error = %e, "a trial's own threads: falling back to the shared pool"))
                .ok()
                .map(Arc::new);
        }
        slot.clone()
    });
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Lets a latency measurement run alone: a trial holds [`Quiet::computing`] for each training
/// step and each evaluation, and the measurement [`Quiet::alone`], which waits for the steps
/// under way to end and holds the next ones back. A latency measured while another trial
/// trains would be the contention's, not the network's.
#[derive(Debug, Clone, Default)]
pub struct Quiet(Arc<RwLock<()>>);

impl Quiet {
    /// Held while a trial computes; any number at once.
    pub fn computing(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Held while a latency is measured; no trial computes meanwhile.
    pub fn alone(&self) -> RwLockWriteGuard<'_, ()> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_splits_over_the_trial_s_own_threads_only() {
        assert_eq!(on_trial_threads(Some(1), rayon::current_num_threads), 1);
        assert_eq!(on_trial_threads(Some(3), rayon::current_num_threads), 3);
        let shared = rayon::current_num_threads();
        assert_eq!(on_trial_threads(None, rayon::current_num_threads), shared);
        let panicked = std::panic::catch_unwind(|| on_trial_threads(Some(1), || panic!("boom")));
        assert!(panicked.is_err(), "a panic reaches the caller");
    }

    #[test]
    fn a_measurement_waits_for_computing_to_end() {
        let quiet = Quiet::default();
        let step = quiet.computing();
        let other = quiet.clone();
        let measured = std::thread::spawn(move || {
            let _alone = other.alone();
            std::time::Instant::now()
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        let step_ended = std::time::Instant::now();
        drop(step);
        assert!(measured.join().unwrap() >= step_ended);
    }
}
