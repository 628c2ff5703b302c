//! [`CandidateTrainer`]: trains one network with its recipe and evaluates it.

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor};
use nas_arch::ArchSpec;
use nas_model::{sync, DeviceImages, Network};
use nas_search::Halt;

use crate::error::TrainError;
use crate::lr::LrSchedule;
use crate::recipe::{Optimizer, Recipe};
use crate::sharing::Quiet;

/// Steps between reads of the running loss (each read waits for the device).
const LOSS_CHECK_EVERY: u64 = 25;

/// Mean training loss and images of a run of steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainStats {
    /// Mean loss over the steps.
    pub mean_loss: f64,
    /// Images seen.
    pub images: u64,
    /// Optimizer steps done.
    pub steps: u64,
}

/// Accuracy and loss on an evaluation set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Share of images classified right.
    pub accuracy: f64,
    /// Mean cross-entropy (without label smoothing).
    pub loss: f64,
}

/// A network, its optimizer and its learning-rate schedule, trained step by step.
pub struct CandidateTrainer {
    model: Option<Network>,
    optimizer: ModuleOptimizer,
    loss: CrossEntropyLoss,
    schedule: LrSchedule,
    batch_size: usize,
    step: u64,
    images: u64,
    device: Device,
    profile: Option<StepProfile>,
    /// Held for each step and evaluation, so that a latency measured beside it waits.
    quiet: Quiet,
}

/// Seconds of the parts of training steps, measured with a device sync between them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepProfile {
    /// Forward, loss and backward.
    pub forward_backward_s: f64,
    /// Optimizer updates.
    pub optimizer_s: f64,
}

impl CandidateTrainer {
    /// Builds `spec` on the autodiff version of `device` with `recipe`, for a training run of
    /// `total_images` images (which fixes the schedule's length).
    pub fn new(
        spec: &ArchSpec,
        recipe: &Recipe,
        device: &Device,
        total_images: u64,
    ) -> Result<CandidateTrainer, TrainError> {
        let device = device.clone().autodiff();
        let batch = recipe.batch_size.max(1) as u64;
        let total_steps = total_images.div_ceil(batch);
        let warmup_steps = (recipe.warmup_epochs / recipe.epochs * total_steps as f64) as u64;
        let smoothing = (recipe.label_smoothing > 0.0).then_some(recipe.label_smoothing as f32);
        Ok(CandidateTrainer {
            model: Some(Network::new(spec, &device)?),
            optimizer: build_optimizer(&recipe.optimizer),
            loss: CrossEntropyLossConfig::new()
                .with_smoothing(smoothing)
                .init(&device),
            schedule: LrSchedule::new(recipe.lr, warmup_steps, total_steps),
            batch_size: recipe.batch_size.max(1),
            step: 0,
            images: 0,
            device,
            profile: None,
            quiet: Quiet::default(),
        })
    }

    /// Shares `quiet` with the other trials of a search: their latency measurements wait for
    /// this trainer's step or evaluation under way, and hold its next one back.
    pub fn sharing(mut self, quiet: Quiet) -> CandidateTrainer {
        self.quiet = quiet;
        self
    }

    /// Splits the time of every step into forward/backward and optimizer update, syncing the
    /// device between them (slower: for benchmarks). [`CandidateTrainer::profile`] reads it.
    pub fn enable_profile(&mut self) {
        self.profile = Some(StepProfile::default());
    }

    /// The step profile so far, when enabled.
    pub fn profile(&self) -> Option<StepProfile> {
        self.profile
    }

    /// Optimizer steps done so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Images trained on so far.
    pub fn images(&self) -> u64 {
        self.images
    }

    /// The network as trained so far.
    pub fn model(&self) -> &Network {
        self.model
            .as_ref()
            .expect("the model is put back after every step")
    }

    /// A copy of the network for inference: off the autodiff device's graph, batch norm on
    /// its running statistics, dropout off.
    pub fn inference_model(&self) -> Network {
        self.model().valid()
    }

    /// Trains on about `count` images of `data` (uploaded to the autodiff device): whole
    /// shuffled epochs drawn with `(seed, epoch)`, `*epoch` counting on, the last one cut
    /// short at the first batch that reaches `count`. Fails when the loss is not finite.
    pub fn train(
        &mut self,
        data: &DeviceImages,
        count: u64,
        seed: u64,
        epoch: &mut u64,
    ) -> Result<TrainStats, TrainError> {
        self.train_reporting(data, count, seed, epoch, &mut |_| {}, &Halt::never())
    }

    /// [`CandidateTrainer::train`], calling `after_epoch` with the images trained on so far
    /// in this call after each (possibly cut short) epoch, and stopping with
    /// [`TrainError::Halted`] before the first batch after `halt` is set, or before a batch
    /// that would end past its deadline at the measured time per step.
    pub fn train_reporting(
        &mut self,
        data: &DeviceImages,
        count: u64,
        seed: u64,
        epoch: &mut u64,
        after_epoch: &mut dyn FnMut(u64),
        halt: &Halt,
    ) -> Result<TrainStats, TrainError> {
        let (start_step, start_images) = (self.step, self.images);
        let mut window: Option<Tensor<1>> = None;
        let mut window_steps = 0u64;
        let mut loss_sum = 0.0f64;
        // Seconds per step, smoothed (on an asynchronous device, the time to queue it
        // between the syncs of the loss reads).
        let mut step_s = 0.0f64;
        while self.images - start_images < count && !data.is_empty() {
            for (images, labels) in data.shuffled_batches(self.batch_size, seed, *epoch) {
                if halt.is_set_before(step_s) {
                    return Err(TrainError::Halted);
                }
                let n = labels.dims()[0] as u64;
                let clock = std::time::Instant::now();
                let loss = {
                    let quiet = self.quiet.clone();
                    let _computing = quiet.computing();
                    self.step(images, labels)
                };
                let seconds = clock.elapsed().as_secs_f64();
                step_s = if step_s == 0.0 {
                    seconds
                } else {
                    0.8 * step_s + 0.2 * seconds
                };
                window = Some(window.map_or(loss.clone(), |w| w + loss));
                window_steps += 1;
                self.images += n;
                if window_steps == LOSS_CHECK_EVERY {
                    loss_sum += self.drain(&mut window, &mut window_steps)?;
                }
                if self.images - start_images >= count {
                    break;
                }
            }
            *epoch += 1;
            after_epoch(self.images - start_images);
        }
        loss_sum += self.drain(&mut window, &mut window_steps)?;
        let steps = self.step - start_step;
        sync(&self.device)?;
        Ok(TrainStats {
            mean_loss: loss_sum / steps.max(1) as f64,
            images: self.images - start_images,
            steps,
        })
    }

    /// Reads the summed loss of the steps since the last read; fails when it is not finite.
    fn drain(&self, window: &mut Option<Tensor<1>>, steps: &mut u64) -> Result<f64, TrainError> {
        let Some(sum) = window.take() else {
            return Ok(0.0);
        };
        *steps = 0;
        let value = f64::from(read_scalar::<f32, burn::tensor::Float>(sum)?);
        if !value.is_finite() {
            return Err(TrainError::Diverged {
                loss: value,
                step: self.step,
                images: self.images,
            });
        }
        Ok(value)
    }

    /// One optimizer step at the scheduled rate; returns the batch's loss (detached).
    fn step(&mut self, images: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let clock = self.profile.map(|_| std::time::Instant::now());
        let loss = self.loss.forward(model.forward(images), labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let middle = clock.map(|c| {
            let _ = sync(&self.device);
            c.elapsed().as_secs_f64()
        });
        // The schedule runs over images seen: epochs end with a short batch, so counting
        // steps would run past the schedule's end.
        let lr = self.schedule.at(self.images / self.batch_size as u64);
        self.model = Some(self.optimizer.step(lr, model, grads));
        self.step += 1;
        if let (Some(profile), Some(clock), Some(middle)) = (self.profile.as_mut(), clock, middle) {
            let _ = sync(&self.device);
            profile.forward_backward_s += middle;
            profile.optimizer_s += clock.elapsed().as_secs_f64() - middle;
        }
        loss.detach()
    }

    /// Accuracy and mean loss on `data` (uploaded to the plain device), batch norm on its
    /// running statistics, dropout off.
    pub fn evaluate(&self, data: &DeviceImages, batch: usize) -> Result<Evaluation, TrainError> {
        let _computing = self.quiet.computing();
        evaluate(&self.model().valid(), data, batch)
    }
}

/// Accuracy and mean cross-entropy of `model` (without autodiff) on `data`.
pub fn evaluate(
    model: &Network,
    data: &DeviceImages,
    batch: usize,
) -> Result<Evaluation, TrainError> {
    if data.is_empty() {
        return Ok(Evaluation {
            accuracy: 0.0,
            loss: f64::NAN,
        });
    }
    let mut correct: Option<Tensor<1, Int>> = None;
    let mut loss_sum: Option<Tensor<1>> = None;
    let mut criterion = None;
    for (images, labels) in data.ordered_batches(batch) {
        let n = labels.dims()[0];
        let criterion =
            criterion.get_or_insert_with(|| CrossEntropyLossConfig::new().init(&labels.device()));
        let logits = model.forward(images);
        let hits = logits
            .clone()
            .argmax(1)
            .reshape([n])
            .equal(labels.clone())
            .int()
            .sum();
        let loss = criterion.forward(logits, labels) * (n as f32);
        correct = Some(correct.map_or(hits.clone(), |c| c + hits));
        loss_sum = Some(loss_sum.map_or(loss.clone(), |s| s + loss));
    }
    let correct = match correct {
        Some(c) => read_scalar::<i64, Int>(c)?,
        None => 0,
    };
    let loss = match loss_sum {
        Some(l) => read_scalar::<f32, burn::tensor::Float>(l)?,
        None => f32::NAN,
    };
    let n = data.len() as f64;
    Ok(Evaluation {
        accuracy: correct as f64 / n,
        loss: f64::from(loss) / n,
    })
}

/// The single value of a tensor, read back from the device.
fn read_scalar<E: burn::tensor::Element, K: burn::tensor::kind::Basic>(
    tensor: Tensor<1, K>,
) -> Result<E, TrainError> {
    tensor
        .try_into_scalar::<E>()
        .map_err(|e| nas_model::ModelError::Device(format!("{e:?}")).into())
}

/// burn's optimizer for a recipe. burn's defaults that differ from PyTorch are set to
/// PyTorch's: Adam ε 1e-8, SGD momentum without dampening.
fn build_optimizer(optimizer: &Optimizer) -> ModuleOptimizer {
    match *optimizer {
        Optimizer::Adam { beta1, beta2 } => AdamConfig::new()
            .with_beta_1(beta1 as f32)
            .with_beta_2(beta2 as f32)
            .with_epsilon(1e-8)
            .init(),
        Optimizer::AdamW {
            beta1,
            beta2,
            weight_decay,
        } => AdamWConfig::new()
            .with_beta_1(beta1 as f32)
            .with_beta_2(beta2 as f32)
            .with_epsilon(1e-8)
            .with_weight_decay(weight_decay as f32)
            .init(),
        Optimizer::Sgd {
            momentum,
            nesterov,
            weight_decay,
        } => SgdConfig::new()
            .with_momentum(Some(MomentumConfig {
                momentum,
                dampening: 0.0,
                nesterov,
            }))
            .with_weight_decay(
                (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
            )
            .init(),
    }
}
