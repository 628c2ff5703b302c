//! [`BurnRunner`]: the search's [`TrialRunner`] with real networks on a burn device.
//!
//! The training and validation splits are prepared once per fidelity (subset, resolution)
//! and uploaded once to the device; every trial at that fidelity, on every worker thread,
//! trains from the same copy.
//!
//! With `cv_folds = K ≥ 2`, a rung on a data subset is scored by K-fold cross-validation on
//! that subset: K copies of the network train on K − 1 folds each and are scored on the fold
//! they did not see; the rung's accuracy is the mean. The trial goes on with the copy of
//! fold 0, so a promotion still keeps its weights. The rung costs K times as much.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nas_arch::{ArchSpec, Plan, SpecOptions};
use nas_data::{Dataset, Fidelity, FidelityView};
use nas_model::{measure_latency, Device, DeviceImages, LatencySettings};
use nas_search::{
    Advance, Halt, Measurements, Segment, SegmentScore, Timings, TrialFailure, TrialRun,
    TrialRunner, TrialStart,
};

use crate::error::TrainError;
use crate::recipe::Recipe;
use crate::sharing::{on_trial_threads, Quiet};
use crate::trainer::CandidateTrainer;

/// How [`BurnRunner`] trains and measures.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Raises every trial's sampled `epochs` to at least this (the quick preset on a small
    /// dataset, so that a trial takes enough optimizer steps); at most `max_epochs`.
    pub min_epochs: Option<f64>,
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
    /// Folds of cross-validation on the rungs below full data; 1 = none, each rung is
    /// scored on the validation split.
    pub cv_folds: usize,
    /// Split training time into forward/backward and optimizer (syncs twice per step).
    pub profile: bool,
    /// CPU threads each trial computes on, in a pool of its worker thread's own (several
    /// trials at once on the CPU); `None`: the backend's shared pool.
    pub threads_per_trial: Option<usize>,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            min_epochs: None,
            max_epochs: None,
            top_fraction: 1.0,
            latency_batch: 1,
            latency_runs: 10,
            eval_batch: 500,
            data_seed: 0,
            cv_folds: 1,
            profile: false,
            threads_per_trial: None,
        }
    }
}

/// One fidelity's data on the device.
struct Prepared {
    train: DeviceImages,
    validation: DeviceImages,
    /// (training part, held-out part) of each cross-validation fold of `train`; empty
    /// without cross-validation.
    folds: Vec<(DeviceImages, DeviceImages)>,
}

/// What every trial of a search shares.
struct Shared {
    device: Device,
    train: Dataset,
    validation: Dataset,
    settings: RunnerSettings,
    prepared: Mutex<HashMap<(u64, usize), Arc<Prepared>>>,
    /// Keeps the other trials from computing while one's latency is measured.
    quiet: Quiet,
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
        let autodiff = self.device.clone().autodiff();
        let k = self.settings.cv_folds;
        let folds = if k >= 2 && fraction < 1.0 {
            (0..k)
                .map(|fold| {
                    let (kept, held) = view.train().fold(fold, k);
                    (
                        DeviceImages::upload(&kept, &autodiff),
                        DeviceImages::upload(&held, &self.device),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let prepared = Arc::new(Prepared {
            train: DeviceImages::upload(view.train(), &autodiff),
            validation: DeviceImages::upload(view.validation(), &self.device),
            folds,
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
                quiet: Quiet::default(),
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
        let settings = &self.shared.settings;
        if let Some(min) = settings.min_epochs {
            if recipe.epochs < min {
                recipe = recipe.with_epochs(min);
            }
        }
        if let Some(max) = settings.max_epochs {
            recipe = recipe.with_max_epochs(max);
        }
        Ok((spec, recipe))
    }

    fn start_run(&self, start: &TrialStart) -> Result<BurnTrialRun, TrainError> {
        let (spec, recipe) = self.decode(&start.params)?;
        let shared = &self.shared;
        let plan = Plan::of(&spec)?;
        // On the shared pool (every core, as with one trial at a time), with no other trial
        // computing meanwhile.
        let latency = {
            let _alone = shared.quiet.alone();
            measure_latency(
                &spec,
                &shared.device,
                &LatencySettings {
                    batch_sizes: vec![shared.settings.latency_batch],
                    warmup: 2,
                    runs: shared.settings.latency_runs,
                },
            )?
        };
        let total_images =
            (recipe.epochs * shared.settings.top_fraction * shared.train.len() as f64).round()
                as u64;
        shared.device.seed(start.seed);
        let mut trainer = CandidateTrainer::new(&spec, &recipe, &shared.device, total_images)?
            .sharing(shared.quiet.clone());
        if shared.settings.profile {
            trainer.enable_profile();
        }
        Ok(BurnTrialRun {
            fold_trainers: Vec::new(),
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
    /// The copies of folds 1.. while the trial is on cross-validated rungs.
    fold_trainers: Vec<(CandidateTrainer, u64)>,
    total_images: u64,
    seed: u64,
    epoch: u64,
}

impl BurnTrialRun {
    /// The resolution to train `segment` at: the rung's, raised to the smallest one whose
    /// feature maps the network's strides fit (a stride-2 stage on a 1×1 map does not), and
    /// never above the dataset's own.
    fn resolution(&self, segment: &Segment) -> usize {
        let full = self.shared.train.height();
        let Some(r) = segment.resolution.map(|r| r as usize).filter(|&r| r < full) else {
            return full;
        };
        let fits = |side: usize| {
            let mut spec = self.spec.clone();
            spec.input.height = side;
            spec.input.width = side;
            spec.validate().is_ok()
        };
        (r..full).find(|&side| fits(side)).unwrap_or(full)
    }

    /// The network's MACs per image at `resolution`.
    fn macs_at(&self, resolution: usize) -> Result<f64, TrainError> {
        let mut spec = self.spec.clone();
        spec.input.height = resolution;
        spec.input.width = resolution;
        Ok(Plan::of(&spec)?.macs() as f64)
    }

    /// Images of the trial's budget that `segment` ends at.
    fn target_images(&self, segment: &Segment) -> u64 {
        (segment.until_share * self.total_images as f64).round() as u64
    }

    fn train_segment(
        &mut self,
        segment: &Segment,
        advance: &mut dyn FnMut(Advance),
        halt: &Halt,
    ) -> Result<SegmentScore, TrainError> {
        let resolution = self.resolution(segment);
        let (data, data_s) = self.shared.prepared(segment.data_fraction, resolution)?;
        let target = self.target_images(segment);
        if !data.folds.is_empty() {
            return self.cross_validate(&data, target, resolution, data_s, advance, halt);
        }
        self.fold_trainers.clear();
        let count = target.saturating_sub(self.trainer.images());
        let before = self.trainer.profile().unwrap_or_default();
        let start = Instant::now();
        let mut epochs = 0;
        let stats = self.trainer.train_reporting(
            &data.train,
            count,
            self.seed,
            &mut self.epoch,
            &mut |images| {
                epochs += 1;
                advance(Advance {
                    epochs,
                    images,
                    of: count,
                })
            },
            halt,
        )?;
        let train_s = start.elapsed().as_secs_f64();
        if halt.is_set_before(eval_seconds(train_s, stats.images, data.validation.len())) {
            return Err(TrainError::Halted);
        }
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
            cost: gmacs(
                self.macs_at(resolution)?,
                stats.images,
                data.validation.len(),
            ),
            folds: Vec::new(),
            timings: Timings {
                data_s,
                train_s,
                forward_backward_s: after.forward_backward_s - before.forward_backward_s,
                optimizer_s: after.optimizer_s - before.optimizer_s,
                eval_s: start.elapsed().as_secs_f64(),
            },
        })
    }

    /// Trains every fold's copy up to `target` images on its training part and scores it on
    /// its held-out part; fold 0's copy is the trial's own network.
    fn cross_validate(
        &mut self,
        data: &Prepared,
        target: u64,
        resolution: usize,
        data_s: f64,
        advance: &mut dyn FnMut(Advance),
        halt: &Halt,
    ) -> Result<SegmentScore, TrainError> {
        let settings = &self.shared.settings;
        while self.fold_trainers.len() + 1 < data.folds.len() {
            let fold = self.fold_trainers.len() as u64 + 1;
            self.shared.device.seed(self.seed.wrapping_add(fold));
            let mut copy = CandidateTrainer::new(
                &self.spec,
                &self.recipe,
                &self.shared.device,
                self.total_images,
            )?
            .sharing(self.shared.quiet.clone());
            if settings.profile {
                copy.enable_profile();
            }
            self.fold_trainers.push((copy, 0));
        }
        let mut score = SegmentScore {
            accuracy: 0.0,
            loss: 0.0,
            train_loss: 0.0,
            images: 0,
            resolution: resolution as u32,
            cost: 0.0,
            folds: Vec::with_capacity(data.folds.len()),
            timings: Timings {
                data_s,
                ..Timings::default()
            },
        };
        let k = data.folds.len() as f64;
        let macs = self.macs_at(resolution)?;
        let (mut epochs, mut done) = (0, 0);
        let of = data.folds.len() as u64 * target.saturating_sub(self.trainer.images());
        for (fold, (kept, held)) in data.folds.iter().enumerate() {
            let (trainer, epoch) = if fold == 0 {
                (&mut self.trainer, &mut self.epoch)
            } else {
                let (t, e) = &mut self.fold_trainers[fold - 1];
                (t, e)
            };
            let count = target.saturating_sub(trainer.images());
            let before = trainer.profile().unwrap_or_default();
            let start = Instant::now();
            let seed = self.seed + fold as u64;
            let mut after_epoch = |images| {
                epochs += 1;
                advance(Advance {
                    epochs,
                    images: done + images,
                    of,
                })
            };
            let stats =
                trainer.train_reporting(kept, count, seed, epoch, &mut after_epoch, halt)?;
            done += stats.images;
            let train_s = start.elapsed().as_secs_f64();
            score.timings.train_s += train_s;
            if halt.is_set_before(eval_seconds(train_s, stats.images, held.len())) {
                return Err(TrainError::Halted);
            }
            let start = Instant::now();
            let eval = trainer.evaluate(held, settings.eval_batch)?;
            score.timings.eval_s += start.elapsed().as_secs_f64();
            let after = trainer.profile().unwrap_or_default();
            score.timings.forward_backward_s +=
                after.forward_backward_s - before.forward_backward_s;
            score.timings.optimizer_s += after.optimizer_s - before.optimizer_s;
            score.accuracy += eval.accuracy / k;
            score.loss += eval.loss / k;
            score.train_loss += stats.mean_loss / k;
            score.images += stats.images;
            score.cost += gmacs(macs, stats.images, held.len());
            score.folds.push(eval.accuracy);
        }
        Ok(score)
    }
}

/// About how long evaluating `evaluated` images takes after `trained` images trained in
/// `train_s` seconds: a forward pass is about a third of a training step's work.
fn eval_seconds(train_s: f64, trained: u64, evaluated: usize) -> f64 {
    if trained == 0 {
        return 0.0;
    }
    train_s / trained as f64 / 3.0 * evaluated as f64
}

/// Compute in GMACs of training `trained` images (three forward passes each: forward and
/// backward) and evaluating `evaluated` (one each) on a network of `macs` per image.
fn gmacs(macs: f64, trained: u64, evaluated: usize) -> f64 {
    (3.0 * trained as f64 + evaluated as f64) * macs / 1e9
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

    fn train(
        &mut self,
        segment: &Segment,
        advance: &mut (dyn FnMut(Advance) + Send),
        halt: &Halt,
    ) -> Result<SegmentScore, TrialFailure> {
        let threads = self.shared.settings.threads_per_trial;
        Ok(on_trial_threads(threads, || {
            self.train_segment(segment, advance, halt)
        })?)
    }

    /// The images left to the segment's end at its resolution (every fold's copy with
    /// cross-validation), plus one evaluation of the validation split, in GMACs.
    fn estimate_cost(&self, segment: &Segment) -> Option<f64> {
        let resolution = self.resolution(segment);
        let macs = self.macs_at(resolution).ok()?;
        let images = self
            .target_images(segment)
            .saturating_sub(self.trainer.images());
        let copies = if self.shared.settings.cv_folds >= 2 && segment.data_fraction < 1.0 {
            self.shared.settings.cv_folds as u64
        } else {
            1
        };
        Some(gmacs(macs, images * copies, self.shared.validation.len()))
    }
}
