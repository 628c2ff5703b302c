//! [`Concurrency`]: how many trials train at once (`--concurrency auto|N`), and how the CPU's
//! threads are shared between them ([`Workers`]).
//!
//! Several trials at once pay on the CPU wherever one trial cannot use every thread well,
//! which in a search is most of the time: its first rungs train small networks on 14-px
//! images, where burn's per-operation bookkeeping, evaluation and the pause between rungs
//! (the study written, the sampler asked, latency measured) do not split over threads. On
//! the 20-minute duel on 2 cores (results/benchmarks.md, "Every core busy"), two trials at
//! once on one thread each trained 1.13–1.55× the GMACs of one trial on both threads, and
//! 1.3–3.2× the trials. (Over six networks trained alone at full resolution, where 2 threads
//! do scale, two at once gained nothing.) So `auto` runs one trial per core, each on its own
//! thread ([`AUTO_THREADS_PER_TRIAL`]), at most [`AUTO_MAX_TRIALS`] at once, the cores shared
//! out between them beyond that. A GPU trains one trial at a time under `auto`;
//! `--concurrency N` shares it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// CPU threads `auto` gives a trial while there are fewer cores than
/// [`AUTO_MAX_TRIALS`]: one, measured on 2 cores (above).
pub const AUTO_THREADS_PER_TRIAL: usize = 1;

/// The most trials `auto` runs at once, however many cores: every running trial counts as a
/// bad result for TPE until it ends (constant liar), so on many cores a 20-trial study would
/// be mostly proposals made blind.
pub const AUTO_MAX_TRIALS: usize = 4;

/// Trials trained at once: `auto` (on the CPU one per core, at most [`AUTO_MAX_TRIALS`]; one
/// on a GPU) or a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "ConcurrencyValue", into = "ConcurrencyValue")]
pub enum Concurrency {
    /// Chosen from the backend and the cores.
    #[default]
    Auto,
    /// This many (0 is refused by validation).
    Trials(usize),
}

/// How a search's trials share the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// Trials trained at once, each on its own worker thread.
    pub trials: usize,
    /// CPU threads each trial computes on, in a thread pool of its own; `None` with one trial
    /// at a time (it computes on the backend's pool, every thread) and on a GPU, where the
    /// device does the work.
    pub threads_per_trial: Option<usize>,
}

impl Concurrency {
    /// The workers on a machine whose CPU backend has `cpu_threads` threads (`None`: the
    /// backend is a GPU's). On the CPU each of N > 1 trials gets `threads / N` threads (at
    /// least one).
    pub fn workers(self, cpu_threads: Option<usize>) -> Workers {
        let threads = cpu_threads.map(|t| t.max(1));
        let trials = match (self, threads) {
            (Concurrency::Trials(n), _) => n.max(1),
            (Concurrency::Auto, None) => 1,
            (Concurrency::Auto, Some(t)) => (t / AUTO_THREADS_PER_TRIAL).clamp(1, AUTO_MAX_TRIALS),
        };
        Workers {
            trials,
            threads_per_trial: threads.filter(|_| trials > 1).map(|t| (t / trials).max(1)),
        }
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Auto => f.write_str("auto"),
            Concurrency::Trials(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for Concurrency {
    type Err = String;

    /// `auto` or a whole number (whether it is at least 1 is [`crate::rules::concurrency`]'s
    /// to say, with the flag's name).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "auto" {
            return Ok(Concurrency::Auto);
        }
        text.parse()
            .map(Concurrency::Trials)
            .map_err(|_| format!("`{text}`: give auto or a number of trials"))
    }
}

/// How a config file writes it: `concurrency = "auto"` or `concurrency = 2`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ConcurrencyValue {
    Count(usize),
    Word(String),
}

impl TryFrom<ConcurrencyValue> for Concurrency {
    type Error = String;

    fn try_from(value: ConcurrencyValue) -> Result<Self, Self::Error> {
        match value {
            ConcurrencyValue::Count(n) => Ok(Concurrency::Trials(n)),
            ConcurrencyValue::Word(w) => w.parse(),
        }
    }
}

impl From<Concurrency> for ConcurrencyValue {
    fn from(value: Concurrency) -> Self {
        match value {
            Concurrency::Auto => ConcurrencyValue::Word("auto".into()),
            Concurrency::Trials(n) => ConcurrencyValue::Count(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_runs_a_trial_per_core_on_the_cpu_and_one_on_a_gpu() {
        let auto = Concurrency::Auto;
        let alone = Workers {
            trials: 1,
            threads_per_trial: None,
        };
        let on = |trials, threads| Workers {
            trials,
            threads_per_trial: Some(threads),
        };
        assert_eq!(
            auto.workers(Some(2)),
            on(2, 1),
            "2 cores: two trials, one each"
        );
        assert_eq!(auto.workers(Some(1)), alone);
        assert_eq!(auto.workers(Some(3)), on(3, 1));
        assert_eq!(
            auto.workers(Some(16)),
            on(AUTO_MAX_TRIALS, 4),
            "capped, cores shared"
        );
        assert_eq!(auto.workers(None), alone);
        // A count shares the cores between its trials, at least one thread each.
        let three = Concurrency::Trials(3);
        assert_eq!(three.workers(Some(8)), on(3, 2));
        assert_eq!(three.workers(Some(2)), on(3, 1));
        assert_eq!(three.workers(None).trials, 3);
        assert_eq!(Concurrency::Trials(1).workers(Some(8)), alone);
    }

    #[test]
    fn reads_auto_or_a_count_from_flags_and_files() {
        assert_eq!("auto".parse(), Ok(Concurrency::Auto));
        assert_eq!(" 3 ".parse(), Ok(Concurrency::Trials(3)));
        assert!("many".parse::<Concurrency>().unwrap_err().contains("many"));
        #[derive(Debug, Deserialize, Serialize, PartialEq)]
        struct File {
            concurrency: Concurrency,
        }
        for (text, value) in [
            ("concurrency = 2", Concurrency::Trials(2)),
            ("concurrency = \"auto\"", Concurrency::Auto),
        ] {
            let file: File = toml::from_str(text).unwrap();
            assert_eq!(file.concurrency, value);
            assert_eq!(toml::to_string(&file).unwrap().trim(), text);
        }
        assert!(toml::from_str::<File>("concurrency = \"all\"").is_err());
    }
}
