//! What the search scores a network on besides accuracy: inference latency (and the device
//! memory it took), and — for benchmarks — training throughput.
//!
//! Every timing is bracketed by a device sync, and the first runs are kept out of the
//! statistics: on JIT backends (wgpu, cuda, cpu) they include kernel compilation and
//! autotuning, which [`LatencyStats::first_ms`] and [`TrainStats::first_step_ms`] report
//! separately.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use nas_arch::ArchSpec;

use crate::error::ModelError;
use crate::network::Network;

/// How to time inference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencySettings {
    /// Batch sizes to time, each separately.
    pub batch_sizes: Vec<usize>,
    /// Untimed forwards before the timed ones (at least 1).
    pub warmup: usize,
    /// Timed forwards per batch size (at least 1).
    pub runs: usize,
}

impl Default for LatencySettings {
    /// Batch 1 and 64, 3 warm-up runs, 20 timed runs.
    fn default() -> Self {
        LatencySettings {
            batch_sizes: vec![1, 64],
            warmup: 3,
            runs: 20,
        }
    }
}

/// Latency of one batch size.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyStats {
    /// Images per forward.
    pub batch: usize,
    /// Median milliseconds of a forward, from input on the device to logits on the host.
    pub median_ms: f64,
    /// 90th percentile (nearest rank).
    pub p90_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// The very first forward at this batch size (includes JIT compilation on GPU backends).
    pub first_ms: f64,
    /// Peak bytes the device's memory pools reserved so far in this process, where the
    /// backend reports it (CubeCL backends; not flex).
    pub peak_memory_bytes: Option<u64>,
}

/// Times inference of `spec` on `device` (which must not be an autodiff device): batch norm
/// uses its running statistics and dropout is off, as when the model is deployed.
pub fn measure_latency(
    spec: &ArchSpec,
    device: &Device,
    settings: &LatencySettings,
) -> Result<Vec<LatencyStats>, ModelError> {
    if settings.warmup == 0 || settings.runs == 0 || settings.batch_sizes.contains(&0) {
        return Err(ModelError::Settings(
            "latency needs warmup ≥ 1, runs ≥ 1 and batch sizes ≥ 1".into(),
        ));
    }
    let device = device.clone().without_autodiff();
    let model = Network::new(spec, &device)?.valid();
    let mut results = Vec::new();
    for &batch in &settings.batch_sizes {
        let images = random_images(spec, batch, &device);
        sync(&device)?;
        let first_ms = time_forward(&model, &images)?;
        for _ in 1..settings.warmup {
            time_forward(&model, &images)?;
        }
        let mut times = (0..settings.runs)
            .map(|_| time_forward(&model, &images))
            .collect::<Result<Vec<_>, _>>()?;
        times.sort_by(f64::total_cmp);
        results.push(LatencyStats {
            batch,
            median_ms: percentile(&times, 0.5),
            p90_ms: percentile(&times, 0.9),
            min_ms: times[0],
            first_ms,
            peak_memory_bytes: peak_pool_bytes(&device),
        });
    }
    Ok(results)
}

/// One forward, timed until the logits are on the host.
fn time_forward(model: &Network, images: &Tensor<4>) -> Result<f64, ModelError> {
    let start = Instant::now();
    let logits = model.forward(images.clone());
    logits
        .try_into_vec_as::<f32>()
        .map_err(|e| ModelError::Device(format!("{e:?}")))?;
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Waits for the device to finish all queued work.
pub fn sync(device: &Device) -> Result<(), ModelError> {
    device
        .sync()
        .map_err(|e| ModelError::Device(format!("{e:?}")))
}

/// Peak bytes reserved by the device's memory pools, where the backend reports them.
pub fn peak_pool_bytes(device: &Device) -> Option<u64> {
    let pools = device.memory_pool_report()?;
    Some(pools.iter().map(|p| p.pages_peak * p.page_size).sum())
}

/// How to time training.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// Images per step.
    pub batch: usize,
    /// Untimed steps first (at least 1).
    pub warmup_steps: usize,
    /// Timed steps (at least 1).
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
}

impl Default for TrainSettings {
    /// Batch 128, 5 warm-up steps, 30 timed steps, learning rate 1e-3 (as the PyTorch
    /// reference script).
    fn default() -> Self {
        TrainSettings {
            batch: 128,
            warmup_steps: 5,
            steps: 30,
            lr: 1e-3,
        }
    }
}

/// Training throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainStats {
    /// `batch / median step time`.
    pub images_per_s: f64,
    /// Median milliseconds of one step (forward, loss, backward, Adam update, sync).
    pub step_ms_median: f64,
    /// The first step (JIT compilation and autotuning on GPU backends).
    pub first_step_ms: f64,
    /// Loss after the last step.
    pub final_loss: f32,
    /// Peak bytes of the device's memory pools, where reported.
    pub peak_memory_bytes: Option<u64>,
}

/// One Adam training step: a network, its optimizer and its loss.
pub struct Trainer {
    model: Option<Network>,
    optimizer: ModuleOptimizer,
    loss: CrossEntropyLoss,
    lr: f64,
}

impl Trainer {
    /// Builds `spec` on the autodiff version of `device`, with Adam (burn's defaults) at `lr`.
    pub fn new(spec: &ArchSpec, device: &Device, lr: f64) -> Result<Trainer, ModelError> {
        let device = device.clone().autodiff();
        Ok(Trainer {
            model: Some(Network::new(spec, &device)?),
            optimizer: AdamConfig::new().init(),
            loss: CrossEntropyLossConfig::new().init(&device),
            lr,
        })
    }

    /// Trains an existing network (for example one copied from another backend): moves it to
    /// the autodiff version of `device` with fresh optimizer state.
    pub fn from_network(network: Network, device: &Device, lr: f64) -> Trainer {
        let device = device.clone().autodiff();
        Trainer {
            // `valid` gives the copy its own batch-norm statistics; `train` turns autodiff on.
            model: Some(network.valid().to_device(&device).train()),
            optimizer: AdamConfig::new().init(),
            loss: CrossEntropyLossConfig::new().init(&device),
            lr,
        }
    }

    /// One step on a batch already on the autodiff device; returns the loss before the update.
    pub fn step(&mut self, images: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let loss = self.loss.forward(model.forward(images), labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(self.lr, model, grads));
        loss.detach()
    }

    /// The network as trained so far.
    pub fn model(&self) -> &Network {
        self.model
            .as_ref()
            .expect("the model is put back after every step")
    }
}

/// Standard-normal images of `spec`'s input shape on `device`.
fn random_images(spec: &ArchSpec, batch: usize, device: &Device) -> Tensor<4> {
    Tensor::<4>::random(
        spec.input.batch_shape(batch),
        Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// A random batch on the autodiff version of `device`: normal images and labels spread over
/// the classes.
pub fn random_batch(spec: &ArchSpec, batch: usize, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let device = device.clone().autodiff();
    let images = random_images(spec, batch, &device);
    let labels: Vec<i64> = (0..batch)
        .map(|i| ((i * 7 + 3) % spec.num_classes) as i64)
        .collect();
    (
        images,
        Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &device),
    )
}

/// Times Adam training of `spec` on `device` with random data (throughput does not depend on
/// the pixel values). The batches are made before the clock starts.
pub fn measure_training(
    spec: &ArchSpec,
    device: &Device,
    settings: &TrainSettings,
) -> Result<TrainStats, ModelError> {
    if settings.warmup_steps == 0 || settings.steps == 0 || settings.batch == 0 {
        return Err(ModelError::Settings(
            "training needs warmup ≥ 1, steps ≥ 1 and batch ≥ 1".into(),
        ));
    }
    let mut trainer = Trainer::new(spec, device, settings.lr)?;
    let batches: Vec<_> = (0..4)
        .map(|_| random_batch(spec, settings.batch, device))
        .collect();
    sync(device)?;
    let mut timed_step = |i: usize| -> Result<(f64, Tensor<1>), ModelError> {
        let (images, labels) = batches[i % batches.len()].clone();
        let start = Instant::now();
        let loss = trainer.step(images, labels);
        sync(device)?;
        Ok((start.elapsed().as_secs_f64() * 1e3, loss))
    };
    let (first_step_ms, _) = timed_step(0)?;
    for i in 1..settings.warmup_steps {
        timed_step(i)?;
    }
    let mut times = Vec::with_capacity(settings.steps);
    let mut last_loss = None;
    for i in 0..settings.steps {
        let (ms, loss) = timed_step(settings.warmup_steps + i)?;
        times.push(ms);
        last_loss = Some(loss);
    }
    times.sort_by(f64::total_cmp);
    let step_ms_median = percentile(&times, 0.5);
    let final_loss = last_loss.map_or(f32::NAN, |l| l.into_scalar::<f32>());
    Ok(TrainStats {
        images_per_s: settings.batch as f64 / (step_ms_median / 1e3),
        step_ms_median,
        first_step_ms,
        final_loss,
        peak_memory_bytes: peak_pool_bytes(device),
    })
}
