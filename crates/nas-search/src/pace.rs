//! This run's measured training speed, so that a rung which cannot end before the wall-clock
//! budget does is not started.

/// How much longer a rung may take than other rungs' pace says: rungs differ in resolution,
/// and a network trains fewer GMACs per second at a larger one on the CPU (a first rung at
/// 14 px predicted its 28 px rung 15–20 % short on 2026-12-03's default runs).
const EXTRAPOLATION_MARGIN: f64 = 1.25;

/// Compute and seconds of the segments this run has trained (each on its own worker, so
/// the rate is per trial and already counts the sharing of the machine), overall and per
/// rung: a rung's segments share a resolution and a data subset, and so a speed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Pace {
    overall: Rate,
    by_rung: Vec<Rate>,
}

/// GMACs trained in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Rate {
    gmacs: f64,
    seconds: f64,
}

impl Rate {
    fn seconds_for(&self, gmacs: f64) -> Option<f64> {
        (self.gmacs > 0.0).then(|| gmacs * self.seconds / self.gmacs)
    }
}

impl Pace {
    /// Adds a finished segment of `rung`: `gmacs` of compute in `seconds` of training and
    /// evaluation.
    pub(crate) fn record(&mut self, rung: usize, gmacs: f64, seconds: f64) {
        if !(gmacs.is_finite() && seconds.is_finite() && gmacs > 0.0 && seconds > 0.0) {
            return;
        }
        if self.by_rung.len() <= rung {
            self.by_rung.resize(rung + 1, Rate::default());
        }
        for rate in [&mut self.overall, &mut self.by_rung[rung]] {
            rate.gmacs += gmacs;
            rate.seconds += seconds;
        }
    }

    /// Seconds a segment of `gmacs` to `rung` should take: at that rung's pace once this run
    /// trained one, else at the run's overall pace with [`EXTRAPOLATION_MARGIN`]; `None`
    /// before any segment was measured.
    pub(crate) fn seconds_for(&self, rung: usize, gmacs: f64) -> Option<f64> {
        self.by_rung
            .get(rung)
            .and_then(|r| r.seconds_for(gmacs))
            .or_else(|| Some(self.overall.seconds_for(gmacs)? * EXTRAPOLATION_MARGIN))
    }
}

#[cfg(test)]
mod tests {
    use super::Pace;

    #[test]
    fn a_rung_s_own_pace_beats_the_run_s_overall_one() {
        let mut pace = Pace::default();
        assert_eq!(pace.seconds_for(0, 10.0), None);
        pace.record(0, 100.0, 10.0);
        pace.record(0, 300.0, 10.0);
        pace.record(0, f64::NAN, 5.0); // no cost figure: ignored
        assert_eq!(pace.seconds_for(0, 40.0), Some(2.0));
        // Rung 1 not measured yet: the overall pace, with a margin.
        assert_eq!(pace.seconds_for(1, 40.0), Some(2.5));
        pace.record(1, 100.0, 20.0);
        assert_eq!(pace.seconds_for(1, 40.0), Some(8.0));
    }
}
