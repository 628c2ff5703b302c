//! This run's measured training speed, so that a rung which cannot end before the wall-clock
//! budget does is not started.

/// Compute and seconds of the segments this run has trained (each on its own worker, so
/// the rate is per trial and already counts the sharing of the machine).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Pace {
    gmacs: f64,
    seconds: f64,
}

impl Pace {
    /// Adds a finished segment: `gmacs` of compute in `seconds` of training and evaluation.
    pub(crate) fn record(&mut self, gmacs: f64, seconds: f64) {
        if gmacs.is_finite() && seconds.is_finite() && gmacs > 0.0 && seconds > 0.0 {
            self.gmacs += gmacs;
            self.seconds += seconds;
        }
    }

    /// Seconds a segment of `gmacs` should take at this run's pace; `None` before any
    /// segment was measured.
    pub(crate) fn seconds_for(&self, gmacs: f64) -> Option<f64> {
        (self.gmacs > 0.0).then(|| gmacs * self.seconds / self.gmacs)
    }
}

#[cfg(test)]
mod tests {
    use super::Pace;

    #[test]
    fn the_pace_is_the_run_s_overall_rate() {
        let mut pace = Pace::default();
        assert_eq!(pace.seconds_for(10.0), None);
        pace.record(100.0, 10.0);
        pace.record(300.0, 10.0);
        pace.record(f64::NAN, 5.0); // a cross-validated rung with no cost figure: ignored
        assert_eq!(pace.seconds_for(40.0), Some(2.0));
    }
}
