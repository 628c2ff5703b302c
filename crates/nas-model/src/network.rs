//! [`Network`]: the burn module for one [`ArchSpec`].

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nas_arch::{ArchSpec, Plan};
use nas_data::F32Images;

use crate::blocks::{Block, ConvBn};
use crate::error::ModelError;
use crate::feed::DeviceImages;

/// A candidate network: stem, blocks, optional head convolution, global average pooling,
/// dropout, linear classifier. Assembled at run time from an [`ArchSpec`].
#[derive(Module, Debug)]
pub struct Network {
    pub(crate) stem: ConvBn,
    pub(crate) blocks: Vec<Block>,
    pub(crate) head_conv: Option<ConvBn>,
    pub(crate) dropout: Dropout,
    pub(crate) classifier: Linear,
}

impl Network {
    /// Validates the spec and builds the network on `device` (use an autodiff device to
    /// train it).
    pub fn new(spec: &ArchSpec, device: &Device) -> Result<Network, ModelError> {
        let plan = Plan::of(spec)?;
        Ok(Network::from_plan(&plan, spec.head.dropout, device))
    }

    /// Builds the network of a resolved plan.
    pub fn from_plan(plan: &Plan, dropout: f64, device: &Device) -> Network {
        Network {
            stem: ConvBn::new(&plan.stem, device),
            blocks: plan.blocks.iter().map(|b| Block::new(b, device)).collect(),
            head_conv: plan.head_conv.map(|c| ConvBn::new(&c, device)),
            dropout: DropoutConfig::new(dropout).init(),
            classifier: LinearConfig::new(plan.features, plan.num_classes).init(device),
        }
    }

    /// Logits `[batch, classes]` for images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward_relu(images);
        for block in &self.blocks {
            x = block.forward(x);
        }
        if let Some(head) = &self.head_conv {
            x = head.forward_relu(x);
        }
        let pooled = x.mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
        self.classifier.forward(self.dropout.forward(pooled))
    }

    /// Writes the weights and batch-norm statistics to `path` as a burn record (burnpack).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        self.clone()
            .save_file(path)
            .map_err(|e| ModelError::Record {
                path: path.to_owned(),
                message: format!("cannot write the burn record: {e}"),
            })
    }

    /// Builds `spec` on `device` with the weights [`Network::save`] wrote to `path`.
    pub fn load(spec: &ArchSpec, path: &Path, device: &Device) -> Result<Network, ModelError> {
        Network::new(spec, device)?
            .try_load_file(path)
            .map_err(|e| ModelError::Record {
                path: path.to_owned(),
                message: format!("cannot read the burn record for this architecture: {e}"),
            })
    }

    /// Logits of preprocessed `images`, one row per image, in batches of `batch` on
    /// `device` (a plain device: batch norm on running statistics, dropout off).
    pub fn logits(
        &self,
        images: &F32Images,
        device: &Device,
        batch: usize,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let data = DeviceImages::upload(images, device);
        let mut rows = Vec::with_capacity(images.len());
        for (x, _) in data.ordered_batches(batch.max(1)) {
            let logits = self.forward(x);
            let [n, classes] = logits.dims();
            let values = logits
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| ModelError::Device(format!("reading logits: {e:?}")))?;
            rows.extend((0..n).map(|i| values[i * classes..(i + 1) * classes].to_vec()));
        }
        Ok(rows)
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Trainable parameters: everything burn's `num_params` counts except batch norm's running
    /// mean and variance.
    pub fn trainable_params(&self) -> u64 {
        let mut counter = TrainableCounter::default();
        self.visit(&mut counter);
        counter.trainable
    }
}

/// Counts parameters by field path, leaving out `running_mean` and `running_var`.
#[derive(Default)]
struct TrainableCounter {
    path: Vec<String>,
    trainable: u64,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let running = matches!(
            self.path.last().map(String::as_str),
            Some("running_mean" | "running_var")
        );
        if !running {
            self.trainable += param.lazy_shape().num_elements() as u64;
        }
    }
}
