//! [`Network`]: the burn module for one [`ArchSpec`].

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use nas_arch::{ArchSpec, Plan};

use crate::blocks::{Block, ConvBn};
use crate::error::ModelError;

/// A candidate network: stem, blocks, optional head convolution, global average pooling,
/// dropout, linear classifier. Assembled at run time from an [`ArchSpec`].
#[derive(Module, Debug)]
pub struct Network {
    stem: ConvBn,
    blocks: Vec<Block>,
    head_conv: Option<ConvBn>,
    dropout: Dropout,
    classifier: Linear,
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
        let mut x = relu(self.stem.forward(images));
        for block in &self.blocks {
            x = block.forward(x);
        }
        if let Some(head) = &self.head_conv {
            x = relu(head.forward(x));
        }
        let pooled = x.mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
        self.classifier.forward(self.dropout.forward(pooled))
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
