//! Does a backend compute what the reference CPU backend computes? Two probes: a long-row
//! reduction against the host, and a few training steps of one network from the same initial
//! weights on both backends.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use nas_arch::ArchSpec;

use crate::error::ModelError;
use crate::measure::Trainer;
use crate::network::Network;

/// `mean_dim(1)` of a `[rows, length]` tensor whose row `r` holds `1 + r` everywhere; returns
/// the rows whose mean is off by more than 1e-3, with the value the backend gave.
///
/// Mesa's software Vulkan device (lavapipe 22.3) stops every shader loop after 65,535
/// iterations in total, so long rows come out short there: `rows = 16, length = 100352` gives
/// means of exactly 0 for rows 3, 7, 11 and 15.
pub fn long_row_mean_errors(
    device: &Device,
    rows: usize,
    length: usize,
) -> Result<Vec<(usize, f32)>, ModelError> {
    let values: Vec<f32> = (0..rows * length)
        .map(|i| 1.0 + (i / length) as f32)
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(values, [rows, length]), device);
    let means = x
        .mean_dim(1)
        .try_into_vec_as::<f32>()
        .map_err(|e| ModelError::Device(format!("{e:?}")))?;
    Ok(means
        .into_iter()
        .enumerate()
        .filter(|&(r, m)| (m - (1.0 + r as f32)).abs() > 1e-3)
        .collect())
}

/// What a few training steps gave on one backend.
#[derive(Debug, Clone)]
pub struct TrainingTrace {
    /// Loss before each step.
    pub losses: Vec<f32>,
    /// Running mean of every batch norm layer afterwards, in module order.
    pub running_means: Vec<Vec<f32>>,
}

/// `batch` deterministic images of `spec`'s input shape with values in [-1, 1): the same on
/// every backend, so that runs can be compared.
pub fn fixed_images(spec: &ArchSpec, batch: usize) -> TensorData {
    let shape = spec.input.batch_shape(batch);
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|i| ((i * 7919 % 257) as f32 / 128.0) - 1.0)
        .collect();
    TensorData::new(values, shape)
}

/// How far two training traces (reference first) are apart.
#[derive(Debug, Clone)]
pub struct Agreement {
    /// Largest difference between the losses of the same step.
    pub loss_diff: f32,
    /// Per batch norm layer: channels, largest running-mean difference, and the channels
    /// whose running mean is exactly 0 in the second trace only.
    pub layers: Vec<(usize, f32, Vec<usize>)>,
}

impl Agreement {
    /// Largest loss difference accepted as agreement.
    pub const LOSS_TOLERANCE: f32 = 5e-4;
    /// Largest running-mean difference accepted as agreement.
    pub const RUNNING_MEAN_TOLERANCE: f32 = 2e-3;

    /// Compares `other` with the `reference` trace.
    pub fn of(reference: &TrainingTrace, other: &TrainingTrace) -> Agreement {
        let layers = reference
            .running_means
            .iter()
            .zip(&other.running_means)
            .map(|(a, b)| {
                let zeroed = (0..a.len())
                    .filter(|&c| b[c] == 0.0 && a[c] != 0.0)
                    .collect();
                (a.len(), max_abs_diff(a, b), zeroed)
            })
            .collect();
        Agreement {
            loss_diff: max_abs_diff(&reference.losses, &other.losses),
            layers,
        }
    }

    /// Whether losses and every running mean are within tolerance, with no zeroed channel.
    pub fn agrees(&self) -> bool {
        self.loss_diff < Self::LOSS_TOLERANCE
            && self
                .layers
                .iter()
                .all(|(_, diff, zeroed)| zeroed.is_empty() && *diff < Self::RUNNING_MEAN_TOLERANCE)
    }
}

/// Trains a copy of `initial` for `steps` Adam steps (lr 1e-3) on one fixed batch of
/// deterministic images and labels, on the autodiff version of `device`.
pub fn training_trace(
    spec: &ArchSpec,
    initial: &Network,
    device: &Device,
    batch: usize,
    steps: usize,
) -> TrainingTrace {
    let mut trainer = Trainer::from_network(initial.valid(), device, 1e-3);
    let ad = device.clone().autodiff();
    let x = Tensor::<4>::from_data(fixed_images(spec, batch), &ad);
    let labels: Vec<i64> = (0..batch).map(|i| (i % spec.num_classes) as i64).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &ad);
    let losses = (0..steps)
        .map(|_| trainer.step(x.clone(), y.clone()).into_scalar::<f32>())
        .collect();
    TrainingTrace {
        losses,
        running_means: running_means(&trainer.model().valid()),
    }
}

/// The running mean of every batch norm layer of a network, in module order.
pub fn running_means(network: &Network) -> Vec<Vec<f32>> {
    let mut collect = RunningMeans::default();
    network.visit(&mut collect);
    collect.means
}

#[derive(Default)]
struct RunningMeans {
    path: Vec<String>,
    means: Vec<Vec<f32>>,
}

impl ModuleVisitor for RunningMeans {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.path.last().map(String::as_str) == Some("running_mean") {
            self.means
                .push(param.val().try_into_vec_as::<f32>().unwrap_or_default());
        }
    }
}

/// The largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
