//! [`BurnRunner`]: the search's [`TrialRunner`] with real networks on a burn device.
//!
//! The training and validation splits are prepared once per fidelity (subset, resolution)
//! and uploaded once to the device; every trial at that fidelity, on every worker thread,
//! trains from the same copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nas_arch::{ArchSpec, Plan, SpecOptions};
use nas_data::{Dataset, Fidelity, FidelityView};
use nas_model::{measure_latency, Device, DeviceImages, LatencySettings};
use nas_search::{
    Measurements, Segment, SegmentScore, Timings, TrialFailure, TrialRun, TrialRunner, TrialStart,
};

use crate::error::TrainError;
use crate::recipe::Recipe;
use crate::trainer::CandidateTrainer;

/// How [`BurnRunner`] trains and measures.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Caps every trial's sampled `epochs` (quick presets); `None` trains them all.
    pub max_epochs: Option<f64>,
    /// Share of the training split the top rung trains on; the full budget is
    /// `epochs × top_fraction × training images`.
    pub top_fraction: f64,
    /// Batch size of the latency measurement.
    pub latency_batch: usize,
    /// Timed forwards of the latency measurement.
    pub latency_runs: usize,
    /// Batch size of evaluation.
    pub eval_batch: usize,
    /// Seed of the training subsets of every fidelity (the same for all trials).
    pub data_seed: u64,
    /// Split training time into forward/backward and optimizer (syncs twice per step).
    pub profile: bool,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            max_epochs: None,
            top_fraction: 1.0,
            latency_batch: 1,
            latency_runs: 10,
            eval_batch: 500,
            data_seed: 0,
            profile: false,
        }
    }
}

/// One fidelity's data on the device.
struct Prepared {
    train: DeviceImages,
    validation: DeviceImages,
}

/// What every trial of a search shares.
struct Shared {
    device: Device,
    train: Dataset,
    validation: Dataset,
    settings: RunnerSettings,
    prepared: Mutex<HashMap<(u64, usize), Arc<Prepared>>>,
}

impl Shared {
    /// The data of `(fraction, resolution)`, prepared and uploaded on first use; the second
    /// value is the seconds spent preparing it now (0 when cached).
    fn prepared(
        &self,
        fraction: f64,
        resolution: usize,
    ) -> Result<(Arc<Prepared>, f64), TrainError> {
        let key = (fraction.to_bits(), resolution);
        let mut cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&key) {
            return Ok((p.clone(), 0.0));
        }
        let start = Instant::now();
        let full = self.train.height();
        let fidelity = Fidelity::new(fraction, (resolution != full).then_some(resolution), 1)?;
        let view = FidelityView::new(
            &self.train,
            &self.validation,
            fidelity,
            self.settings.data_seed,
        )?;
        let prepared = Arc::new(Prepared {
            train: DeviceImages::upload(view.train(), &self.device.clone().autodiff()),
            validation: DeviceImages::upload(view.validation(), &self.device),
        });
        tracing::info!(
            fraction,
            resolution,
            train = prepared.train.len(),
            validation = prepared.validation.len(),
            seconds = start.elapsed().as_secs_f64(),
            "prepared a fidelity on the device"
        );
        cache.insert(key, prepared.clone());
        Ok((prepared, start.elapsed().as_secs_f64()))
    }
}

/// Trains candidates on one burn device from a training and a validation split.
#[derive(Clone)]
pub struct BurnRunner {
    shared: Arc<Shared>,
}

impl BurnRunner {
    /// A runner on `device` (without autodiff) for `train` and `validation` (carved from the
    /// training data; the test split never reaches the search).
    pub fn new(
        device: Device,
        train: Dataset,
        validation: Dataset,
        settings: RunnerSettings,
    ) -> BurnRunner {
        BurnRunner {
            shared: Arc::new(Shared {
                device: device.without_autodiff(),
                train,
                validation,
                settings,
                prepared: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The options that turn a configuration into an [`ArchSpec`] for this data.
    pub fn spec_options(&self) -> SpecOptions {
        let t = &self.shared.train;
        SpecOptions::new(t.channels(), t.height(), t.num_classes())
    }

    /// The architecture and recipe of a configuration, as this runner would train them.
    pub fn decode(
        &self,
        params: &nas_core::space::Config,
    ) -> Result<(ArchSpec, Recipe), TrainError> {
        let spec = ArchSpec::from_config(params, &self.spec_options())?;
        spec.validate()?;
        let mut recipe = Recipe::from_config(params)?;
        if let Some(max) = self.shared.settings.max_epochs {
            recipe = recipe.with_max_epochs(max);
        }
        Ok((spec, recipe))
    }

    fn start_run(&self, start: &TrialStart) -> Result<BurnTrialRun, TrainError> {
        let (spec, recipe) = self.decode(&start.params)?;
        let shared = &self.shared;
        let plan = Plan::of(&spec)?;
        let latency = measure_latency(
            &spec,
            &shared.device,
            &LatencySettings {
                batch_sizes: vec![shared.settings.latency_batch],
                warmup: 2,
                runs: shared.settings.latency_runs,
            },
        )?;
        let total_images =
            (recipe.epochs * shared.settings.top_fraction * shared.train.len() as f64).round()
                as u64;
        shared.device.seed(start.seed);
        let mut trainer = CandidateTrainer::new(&spec, &recipe, &shared.device, total_images)?;
        if shared.settings.profile {
            trainer.enable_profile();
        }
        Ok(BurnTrialRun {
            shared: shared.clone(),
            measurements: Measurements {
                params: plan.params(),
                macs: plan.macs(),
                latency_ms: latency.first().map_or(f64::NAN, |l| l.median_ms),
            },
            spec,
            recipe,
            trainer,
            total_images,
            seed: start.seed,
            epoch: 0,
        })
    }
}

impl TrialRunner for BurnRunner {
    fn start(&self, start: &TrialStart) -> Result<Box<dyn TrialRun>, TrialFailure> {
        Ok(Box::new(self.start_run(start)?))
    }
}

/// One candidate in training.
pub struct BurnTrialRun {
    shared: Arc<Shared>,
    measurements: Measurements,
    spec: ArchSpec,
    recipe: Recipe,
    trainer: CandidateTrainer,
    total_images: u64,
    seed: u64,
    epoch: u64,
}

impl BurnTrialRun {
    /// The resolution to train `segment` at: the rung's, unless the network is too deep for
    /// it (a stride-2 stage on a 1×1 map), then the dataset's own.
    fn resolution(&self, segment: &Segment) -> usize {
        let full = self.shared.train.height();
        let Some(r) = segment.resolution.map(|r| r as usize).filter(|&r| r < full) else {
            return full;
        };
        let mut spec = self.spec.clone();
        spec.input.height = r;
        spec.input.width = r;
        if spec.validate().is_ok() {
            r
        } else {
            full
        }
    }

    fn train_segment(&mut self, segment: &Segment) -> Result<SegmentScore, TrainError> {
        let resolution = self.resolution(segment);
        let full = self.shared.train.height();
        let (data, data_s) = self.shared.prepared(segment.data_fraction, resolution)?;
        let target = (segment.until_share * self.total_images as f64).round() as u64;
        let count = target.saturating_sub(self.trainer.images());
        let before = self.trainer.profile().unwrap_or_default();
        let start = Instant::now();
        let stats = self
            .trainer
            .train(&data.train, count, self.seed, &mut self.epoch)?;
        let train_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let eval = self
            .trainer
            .evaluate(&data.validation, self.shared.settings.eval_batch)?;
        let after = self.trainer.profile().unwrap_or_default();
        Ok(SegmentScore {
            accuracy: eval.accuracy,
            loss: eval.loss,
            train_loss: stats.mean_loss,
            images: stats.images,
            resolution: resolution as u32,
            cost: stats.images as f64 * (resolution as f64 / full as f64).powi(2),
            timings: Timings {
                data_s,
                train_s,
                forward_backward_s: after.forward_backward_s - before.forward_backward_s,
                optimizer_s: after.optimizer_s - before.optimizer_s,
                eval_s: start.elapsed().as_secs_f64(),
            },
        })
    }
}

impl TrialRun for BurnTrialRun {
    fn measurements(&self) -> Measurements {
        self.measurements
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "arch": serde_json::to_value(&self.spec).unwrap_or(serde_json::Value::Null),
            "recipe": self.recipe.summary(),
            "total_images": self.total_images,
        })
    }

    fn train(&mut self, segment: &Segment) -> Result<SegmentScore, TrialFailure> {
        Ok(self.train_segment(segment)?)
    }
}
