//! Stopping a search mid-rung: an [`Interrupt`] that a signal handler sets, a wall-clock
//! deadline, and the [`Halt`] that training checks at every batch boundary for either.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A request to stop, set from outside the search (the CLI's SIGINT / SIGTERM handler): the
/// signal's number, or 0 while none came. Clones share the request.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// No request yet.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The flag itself, for a signal handler to store the signal's number in
    /// (`signal_hook::flag::register_usize`).
    pub fn flag(&self) -> Arc<AtomicUsize> {
        self.0.clone()
    }

    /// Requests a stop, as signal `signal` would.
    pub fn request(&self, signal: i32) {
        self.0.store(signal.max(1) as usize, Ordering::SeqCst);
    }

    /// The signal that requested a stop, if one did.
    pub fn requested(&self) -> Option<i32> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            signal => Some(signal as i32),
        }
    }
}

/// Why training was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltCause {
    /// The search was interrupted by this signal.
    Signal(i32),
    /// The search's wall-clock budget ended.
    Deadline,
}

/// What a training loop checks between batches: an [`Interrupt`] and a deadline. Cheap to
/// check (an atomic load and a clock read) and to clone.
#[derive(Debug, Clone, Default)]
pub struct Halt {
    interrupt: Interrupt,
    deadline: Option<Instant>,
}

impl Halt {
    /// Never halts.
    pub fn never() -> Halt {
        Halt::default()
    }

    /// Halts when `interrupt` is requested or, when given, at `deadline`.
    pub fn new(interrupt: Interrupt, deadline: Option<Instant>) -> Halt {
        Halt {
            interrupt,
            deadline,
        }
    }

    /// The deadline, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Why training must stop now, if it must; a signal wins over the deadline.
    pub fn cause(&self) -> Option<HaltCause> {
        if let Some(signal) = self.interrupt.requested() {
            return Some(HaltCause::Signal(signal));
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Some(HaltCause::Deadline),
            _ => None,
        }
    }

    /// Whether training must stop now.
    pub fn is_set(&self) -> bool {
        self.cause().is_some()
    }

    /// Whether training must stop before a step of about `seconds`: it is set now, or the
    /// step would end past the deadline (a rung stopped at the deadline is lost anyway, so
    /// a step that cannot end before it is not started).
    pub fn is_set_before(&self, seconds: f64) -> bool {
        self.is_set()
            || self.deadline.is_some_and(|d| {
                d.saturating_duration_since(Instant::now()).as_secs_f64() < seconds
            })
    }
}

/// The name of a signal the search stops on (`SIGINT`, `SIGTERM`), else its number.
pub fn signal_name(signal: i32) -> String {
    match signal {
        1 => "SIGHUP".into(),
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_halt_reports_the_signal_before_the_deadline() {
        let interrupt = Interrupt::new();
        let past = Instant::now() - Duration::from_secs(1);
        let halt = Halt::new(interrupt.clone(), Some(past));
        assert_eq!(halt.cause(), Some(HaltCause::Deadline));
        interrupt.request(15);
        assert_eq!(halt.cause(), Some(HaltCause::Signal(15)));
        let later = Halt::new(
            Interrupt::new(),
            Some(Instant::now() + Duration::from_secs(60)),
        );
        assert!(!later.is_set() && !Halt::never().is_set());
        // A step of two minutes would end past the deadline; one of a second would not.
        assert!(later.is_set_before(120.0) && !later.is_set_before(1.0));
        assert!(!Halt::never().is_set_before(1e9));
    }
}
