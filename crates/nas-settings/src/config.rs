//! [`StudyConfig`]: the settings of a study, from four places: flags, a study config file (`--config FILE`,
//! TOML, one key per flag with `_` for `-`, plus `[[rung]]` tables for an explicit fidelity
//! ladder), the `config.toml` a study keeps in its folder, and the same settings saved in the
//! study's storage (for workers on other machines, which lack the folder). A flag beats the
//! file, the file beats the study's saved settings, and those beat the preset and the
//! defaults; so a resumed study, or one more worker, runs with the settings it started with.

use std::path::{Path, PathBuf};

use nas_arch::{SpaceSource, DEFAULT_SPACE};
use nas_core::schedule::{LadderShape, Rung};
use nas_core::study::Storage;
use nas_data::{DataSource, LoadedData, SourceOptions};
use serde::{Deserialize, Serialize};

use crate::concurrency::Concurrency;
use crate::rules::{self, check};
use crate::SettingsError;

/// Every setting of a study that a flag or a config file can give; `None` = not given here.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// The search space: a built-in one by name (lightweight, compact; `nas space list`) or
    /// a TOML file [default: lightweight].
    #[arg(long)]
    pub space: Option<String>,
    /// Dataset name (fashion-mnist, mnist, cifar10, cifar100) or an image folder:
    /// DIR/<class>/*.png|jpg (one pool, split into train and test) or DIR/train/<class> +
    /// DIR/test/<class> [default: fashion-mnist].
    #[arg(long)]
    pub dataset: Option<String>,
    /// Where a named dataset's files are (default: the dataset's usual place).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Image folders: the side every image is resized to, 8 to 1024 (default: the median of
    /// the images' shorter sides, at most 64).
    #[arg(long)]
    pub image_size: Option<u32>,
    /// Image folders without train/ and test/: the share of each class held out as the test
    /// split (chosen by a hash of each file's name: stable as images are added), in (0, 1)
    /// [default: 0.2].
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// flex, cpu, wgpu, vulkan, cuda; default: a real GPU if found, else flex.
    #[arg(long)]
    pub backend: Option<String>,
    /// quick (20 trials, 2 rungs, at most 2 epochs on a third of the training split) or full
    /// (200 trials, 4 rungs, the sampled epochs on all of it) [default: quick].
    #[arg(long)]
    pub preset: Option<String>,
    /// Stop once the study has this many complete or pruned trials.
    #[arg(long)]
    pub trials: Option<u64>,
    /// Wall-clock budget of this run, e.g. 30m, 2h, 90s. A new trial's first rung that the
    /// run's pace says would take over a sixth of it, or a promotion over half, is not started.
    #[arg(long)]
    pub budget: Option<String>,
    /// Stop once this run has used this much compute, in GMACs (a training image counts
    /// three forward passes, an evaluated one one). A new trial's first rung estimated over a
    /// sixth of it, or a promotion over half, is not started.
    #[arg(long)]
    pub max_cost: Option<f64>,
    /// none, sha, asha, hyperband or bohb [default: asha].
    #[arg(long)]
    pub scheduler: Option<String>,
    /// random, tpe, tpe-multivariate or gp; bohb uses its own [default: tpe].
    #[arg(long)]
    pub sampler: Option<String>,
    /// Trials trained at once: auto (on the CPU one per core, each on its own thread, at most
    /// 4, the cores shared between them; one on a GPU) or a number (on the CPU, each of
    /// several gets its share of the cores) [default: auto].
    #[arg(long)]
    pub concurrency: Option<Concurrency>,
    /// Seed of the sampler, the validation split and the training [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Objectives, comma-separated: accuracy, latency, params, macs
    /// [default: accuracy,latency].
    #[arg(long, value_delimiter = ',')]
    pub objectives: Option<Vec<String>>,
    /// Largest acceptable number of trainable parameters.
    #[arg(long)]
    pub max_params: Option<u64>,
    /// Largest acceptable latency in milliseconds.
    #[arg(long)]
    pub max_latency_ms: Option<f64>,
    /// Largest acceptable multiply-accumulates.
    #[arg(long)]
    pub max_macs: Option<u64>,
    /// Optimise MnasNet's reward ACC × (LAT/T)^w with this target latency T (ms) instead.
    #[arg(long)]
    pub reward_target_ms: Option<f64>,
    /// The reward's exponent w [default: -0.07].
    #[arg(long, allow_hyphen_values = true)]
    pub reward_exponent: Option<f64>,
    /// Reduction factor η of the fidelity ladder [default: 3].
    #[arg(long)]
    pub eta: Option<u32>,
    /// How the computed fidelity ladder's rungs share a trial's budget: geometric (rung r
    /// ends at η^(r − top) of it, as in Hyperband's paper) or balanced (every rung the same
    /// compute under successive halving: a promotion costs η times the rung before, so a
    /// first rung at a lower resolution sees more images) [default: geometric].
    #[arg(long)]
    pub ladder: Option<String>,
    /// Rungs of the fidelity ladder (default: the preset's).
    #[arg(long)]
    pub rungs: Option<usize>,
    /// Image side length at the lowest rung (default: half the dataset's).
    #[arg(long)]
    pub min_resolution: Option<u32>,
    /// An explicit fidelity ladder instead of a computed one: `[[rung]]` tables with
    /// `budget_share`, `data_fraction` and `resolution` (config files only).
    #[arg(skip)]
    pub rung: Option<Vec<Rung>>,
    /// hypervolume or crowding: how several objectives are ranked at a rung
    /// [default: hypervolume].
    #[arg(long)]
    pub mo_rank: Option<String>,
    /// How ASHA and Hyperband size the share of a rung they promote: count (the best
    /// ⌊n/η⌋ of n results, as Optuna and Ray Tune do) or cost (of those, only as many as cost
    /// at most ⌊n/η⌋ times the rung's median cost, so that a heavy network waits for more
    /// results instead of taking the budget) [default: cost].
    #[arg(long)]
    pub promotion: Option<String>,
    /// Images held out of the training split for validation (default: the preset's).
    #[arg(long)]
    pub validation: Option<usize>,
    /// Batch size of the latency measurement [default: 1].
    #[arg(long)]
    pub latency_batch: Option<usize>,
    /// Caps the sampled epochs (the quick preset caps at 2).
    #[arg(long)]
    pub max_epochs: Option<f64>,
    /// Share of the training split the top rung trains on (the quick preset uses 1/3).
    #[arg(long)]
    pub top_fraction: Option<f64>,
    /// K-fold cross-validation on the subset of every rung below full data: the rung's
    /// score is the mean over K folds (K ≥ 2).
    #[arg(long)]
    pub cv: Option<usize>,
    /// Seed the sampler with the finished trials of this earlier study (in `--results`), for
    /// a related space or dataset; TPE samplers only.
    #[arg(long)]
    pub warm_start: Option<String>,
    /// Weight of each warm-start trial relative to one of this study's own, in (0, 1]
    /// [default: 0.5].
    #[arg(long)]
    pub warm_start_weight: Option<f64>,
}

/// Lists every field once: `a.overlay(b)` keeps `a`'s values and takes the rest from `b`.
macro_rules! overlay_fields {
    ($top:ident, $base:ident; $($field:ident),* $(,)?) => {
        StudyConfig { $($field: $top.$field.or($base.$field),)* }
    };
}

/// Study attribute holding the settings a study runs with ([`StudyConfig::for_study`], as
/// JSON), so that workers on other machines sharing its storage run it the same way.
pub const CONFIG_ATTR: &str = "config";

impl StudyConfig {
    /// These settings, with the ones not given taken from `base`.
    pub fn overlay(self, base: StudyConfig) -> StudyConfig {
        overlay_fields!(self, base;
            space, dataset, data_dir, image_size, test_fraction, backend, preset, trials, budget, max_cost, scheduler,
            sampler, concurrency, seed, objectives, max_params, max_latency_ms, max_macs,
            reward_target_ms, reward_exponent, eta, ladder, rungs, min_resolution, rung, mo_rank,
            promotion, validation, latency_batch, max_epochs, top_fraction, cv, warm_start,
            warm_start_weight,
        )
    }

    /// These settings (the flags) over the file `config`, over the settings saved in
    /// `study_dir` by an earlier run of the study on this machine, over `shared`: the
    /// settings saved in the study's storage, which workers on other machines see.
    pub fn resolve(
        self,
        config: Option<&Path>,
        study_dir: &Path,
        shared: Option<StudyConfig>,
    ) -> Result<StudyConfig, SettingsError> {
        let mut settings = self;
        if let Some(file) = config {
            settings = settings.overlay(StudyConfig::read(file)?);
        }
        let saved = study_dir.join("config.toml");
        if saved.is_file() {
            settings = settings.overlay(StudyConfig::read(&saved)?);
        }
        if let Some(shared) = shared {
            settings = settings.overlay(shared);
        }
        Ok(settings)
    }

    /// The settings saved in the storage of study `name` (its [`CONFIG_ATTR`] attribute) by
    /// an earlier run, on any machine; `None` for a new study or one saved by an older `nas`.
    pub fn shared(
        storage: &mut dyn Storage,
        name: &str,
    ) -> Result<Option<StudyConfig>, SettingsError> {
        let Some(info) = storage.find_study(name)? else {
            return Ok(None);
        };
        let Some(value) = storage.study_attr(info.id, CONFIG_ATTR)? else {
            return Ok(None);
        };
        let config = serde_json::from_value(value).map_err(|source| SettingsError::Stored {
            attr: CONFIG_ATTR,
            study: name.to_string(),
            source,
        })?;
        Ok(Some(config))
    }

    /// Reads a config file; an unknown key or a value of the wrong type is an error naming
    /// the file and the key.
    pub fn read(path: &Path) -> Result<StudyConfig, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| SettingsError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// The settings a study keeps in its folder: these, less what belongs to one run (the
    /// backend, the concurrency and the run's budgets).
    pub fn for_study(&self) -> StudyConfig {
        StudyConfig {
            // Named even when it is the default, so that a later default does not change the
            // rungs of a study resumed then.
            ladder: Some(self.ladder_shape().to_string()),
            backend: None,
            concurrency: None,
            budget: None,
            max_cost: None,
            ..self.clone()
        }
    }

    /// Writes the settings as TOML.
    pub fn write(&self, path: &Path) -> Result<(), SettingsError> {
        let text = toml::to_string(self)?;
        let header = "# The settings this study runs with; `nas search --study NAME` reads them \
                      back (flags still win).\n";
        std::fs::write(path, format!("{header}{text}")).map_err(|source| SettingsError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Where the search space comes from: a built-in name or a file.
    pub fn space(&self) -> SpaceSource {
        SpaceSource::parse(self.space.as_deref().unwrap_or(DEFAULT_SPACE))
    }

    /// The dataset's name or folder.
    pub fn dataset(&self) -> &str {
        self.dataset.as_deref().unwrap_or("fashion-mnist")
    }

    /// Loads the dataset's training and test splits (the test split only reports).
    pub fn load_data(&self) -> Result<LoadedData, SettingsError> {
        let source = DataSource::parse(self.dataset()).map_err(|source| SettingsError::Data {
            name: self.dataset().to_string(),
            source: Box::new(source),
        })?;
        let options = SourceOptions {
            data_dir: self.data_dir.clone(),
            image_size: self.image_size,
            test_fraction: self.test_fraction,
        };
        source
            .load(&options)
            .map_err(|source_error| SettingsError::Data {
                name: source.to_string(),
                source: Box::new(source_error),
            })
    }

    /// These settings with an image folder or a space file given by a relative path made
    /// absolute, so that the study finds them again when resumed from another directory.
    pub fn with_absolute_paths(mut self) -> Result<StudyConfig, SettingsError> {
        if let Ok(DataSource::Folder(dir)) = DataSource::parse(self.dataset()) {
            let absolute = std::fs::canonicalize(&dir).map_err(|source| SettingsError::Path {
                flag: "--dataset",
                path: dir.clone(),
                source,
            })?;
            self.dataset = Some(absolute.display().to_string());
        }
        if let SpaceSource::File(file) = self.space() {
            if let Ok(absolute) = std::fs::canonicalize(&file) {
                self.space = Some(absolute.display().to_string());
            }
        }
        Ok(self)
    }

    /// The preset's name.
    pub fn preset(&self) -> &str {
        self.preset.as_deref().unwrap_or("quick")
    }

    /// The scheduler's name.
    pub fn scheduler(&self) -> &str {
        self.scheduler.as_deref().unwrap_or("asha")
    }

    /// The sampler's name (without the scheduler's override).
    pub fn sampler(&self) -> &str {
        self.sampler.as_deref().unwrap_or("tpe")
    }

    /// Trials trained at once (what [`Concurrency::workers`] makes of it on a machine).
    pub fn concurrency(&self) -> Concurrency {
        self.concurrency.unwrap_or_default()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// The objectives' names.
    pub fn objectives(&self) -> Vec<String> {
        self.objectives
            .clone()
            .unwrap_or_else(|| vec!["accuracy".into(), "latency".into()])
    }

    /// The MnasNet reward's exponent.
    pub fn reward_exponent(&self) -> f64 {
        self.reward_exponent.unwrap_or(-0.07)
    }

    /// The ladder's reduction factor.
    pub fn eta(&self) -> u32 {
        self.eta.unwrap_or(3)
    }

    /// How a rung ranks several objectives.
    pub fn mo_rank(&self) -> &str {
        self.mo_rank.as_deref().unwrap_or("hypervolume")
    }

    /// How ASHA and Hyperband size the share they promote.
    pub fn promotion(&self) -> &str {
        self.promotion.as_deref().unwrap_or("cost")
    }

    /// How the computed fidelity ladder shares the budget: balanced or geometric.
    pub fn ladder_shape(&self) -> &str {
        self.ladder
            .as_deref()
            .unwrap_or(LadderShape::default().name())
    }

    /// The latency measurement's batch size.
    pub fn latency_batch(&self) -> usize {
        self.latency_batch.unwrap_or(1)
    }

    /// Folds of cross-validation on the low rungs; 1 = none.
    pub fn cv(&self) -> Result<usize, SettingsError> {
        match self.cv {
            None => Ok(1),
            Some(k) if k >= 2 => Ok(k),
            Some(k) => Err(SettingsError::Flag {
                flag: "--cv".into(),
                value: k.to_string(),
                why: "cross-validation needs at least 2 folds".into(),
            }),
        }
    }

    /// Checks the dataset flags (`--dataset`, `--data-dir`, `--image-size`,
    /// `--test-fraction`) before anything is read or written.
    pub fn check_data_flags(&self) -> Result<(), SettingsError> {
        check("--dataset", self.dataset.as_ref(), |t| {
            rules::dataset(t).map(drop)
        })?;
        let data_dir = self.data_dir.as_ref().map(|d| d.display());
        check("--data-dir", data_dir, |t| {
            rules::existing_folder(t)
                .map(drop)
                .map_err(|_| "no such data directory".to_string())
        })?;
        check("--image-size", self.image_size, |t| {
            rules::image_size(t).map(drop)
        })?;
        check("--test-fraction", self.test_fraction, |t| {
            rules::open_share(t).map(drop)
        })?;
        Ok(())
    }

    /// Checks every value, from flags or a config file, before anything is read or written;
    /// each error names the flag and the value. `backend` is the rule for `--backend` (which
    /// backends exist is the training crates' to say). (The space is checked where it is
    /// loaded: a worker of a shared study may read it from the storage.)
    pub fn validate(
        &self,
        backend: impl Fn(&str) -> Result<(), String>,
    ) -> Result<(), SettingsError> {
        self.check_data_flags()?;
        check("--backend", self.backend.as_ref(), backend)?;
        check("--preset", self.preset.as_ref(), |t| match t {
            "quick" | "full" => Ok(()),
            _ => Err("choose quick or full".into()),
        })?;
        check("--trials", self.trials, |t| {
            rules::at_least_one_u64(t).map(drop)
        })?;
        check("--budget", self.budget.as_ref(), |t| {
            crate::parse_duration(t).map(drop)
        })?;
        check("--max-cost", self.max_cost, |t| {
            rules::positive(t).map(drop)
        })?;
        check("--scheduler", self.scheduler.as_ref(), |t| {
            rules::scheduler(t).map(drop)
        })?;
        check("--sampler", self.sampler.as_ref(), |t| {
            rules::sampler(t).map(drop)
        })?;
        check("--concurrency", self.concurrency, |t| {
            rules::concurrency(t).map(drop)
        })?;
        if let Some(objectives) = &self.objectives {
            if objectives.is_empty() {
                return Err(SettingsError::Flag {
                    flag: "--objectives".into(),
                    value: "[]".into(),
                    why: "needs at least one objective".into(),
                });
            }
            for o in objectives {
                check("--objectives", Some(o), |t| rules::objective(t).map(drop))?;
            }
        }
        check("--max-params", self.max_params, |t| {
            rules::at_least_one_u64(t).map(drop)
        })?;
        check("--max-latency-ms", self.max_latency_ms, |t| {
            rules::positive(t).map(drop)
        })?;
        check("--max-macs", self.max_macs, |t| {
            rules::at_least_one_u64(t).map(drop)
        })?;
        check("--reward-target-ms", self.reward_target_ms, |t| {
            rules::positive(t).map(drop)
        })?;
        check("--reward-exponent", self.reward_exponent, |t| {
            rules::finite(t).map(drop)
        })?;
        check("--eta", self.eta, |t| rules::at_least_two(t).map(drop))?;
        check("--rungs", self.rungs, |t| rules::at_least_one(t).map(drop))?;
        check("--min-resolution", self.min_resolution, |t| {
            rules::at_least_one(t).map(drop)
        })?;
        check("--mo-rank", self.mo_rank.as_ref(), |t| {
            rules::mo_rank(t).map(drop)
        })?;
        check("--promotion", self.promotion.as_ref(), |t| {
            rules::promotion(t).map(drop)
        })?;
        check("--ladder", self.ladder.as_ref(), |t| {
            rules::ladder(t).map(drop)
        })?;
        check("--validation", self.validation, |t| {
            rules::at_least_one(t).map(drop)
        })?;
        check("--latency-batch", self.latency_batch, |t| {
            rules::at_least_one(t).map(drop)
        })?;
        check("--max-epochs", self.max_epochs, |t| {
            rules::positive(t).map(drop)
        })?;
        check("--top-fraction", self.top_fraction, |t| {
            rules::share(t).map(drop)
        })?;
        check("--cv", self.cv, |t| {
            rules::at_least_two(t)
                .map(drop)
                .map_err(|why| format!("cross-validation needs at least 2 folds ({why})"))
        })?;
        check("--warm-start", self.warm_start.as_ref(), |t| {
            rules::folder_name(t).map(drop)
        })?;
        check("--warm-start-weight", self.warm_start_weight, |t| {
            rules::share(t).map(drop)
        })?;
        Ok(())
    }

    /// The weight of warm-start trials, in (0, 1].
    pub fn warm_start_weight(&self) -> Result<f64, SettingsError> {
        match self.warm_start_weight.unwrap_or(0.5) {
            w if w > 0.0 && w <= 1.0 => Ok(w),
            w => Err(SettingsError::Flag {
                flag: "--warm-start-weight".into(),
                value: w.to_string(),
                why: "must be in (0, 1]".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_fills_the_rest() {
        let flags = StudyConfig {
            trials: Some(40),
            ..StudyConfig::default()
        };
        let file: StudyConfig = toml::from_str(
            "trials = 10\nscheduler = \"hyperband\"\n[[rung]]\nbudget_share = 0.5\n\
             [[rung]]\nbudget_share = 1.0\n",
        )
        .unwrap();
        let merged = flags.overlay(file);
        assert_eq!(merged.trials, Some(40));
        assert_eq!(merged.scheduler(), "hyperband");
        assert_eq!(merged.rung.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            merged.sampler(),
            "tpe",
            "the default where neither gives it"
        );
    }

    #[test]
    fn a_study_keeps_its_settings_but_not_the_run_s() {
        let run = StudyConfig {
            backend: Some("wgpu".into()),
            concurrency: Some(Concurrency::Trials(4)),
            budget: Some("30m".into()),
            max_cost: Some(1e4),
            objectives: Some(vec!["accuracy".into(), "params".into()]),
            ..StudyConfig::default()
        };
        let kept = run.for_study();
        let text = toml::to_string(&kept).unwrap();
        let back: StudyConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, kept);
        assert_eq!(back.objectives(), ["accuracy", "params"]);
        assert!(back.backend.is_none() && back.concurrency.is_none());
        assert!(back.budget.is_none() && back.max_cost.is_none());
        assert_eq!(
            back.ladder.as_deref(),
            Some("geometric"),
            "named, default or not"
        );
    }
}
