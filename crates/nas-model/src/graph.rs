//! A trained [`Network`] as an inference [`Graph`]: every layer becomes ONNX-style nodes and
//! its weights are read back from the device, named by module path.

use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;
use nas_arch::{Activation, ArchSpec, Graph, Op, GRAPH_INPUT};

use crate::blocks::{Block, BottleNeck, ConvBn, InvertedResidual, SqueezeExcite};
use crate::error::ModelError;
use crate::network::Network;
use crate::norm::BatchNorm2d;

impl Network {
    /// The network as an inference graph for `spec`'s input (batch norm on its running
    /// statistics, dropout left out). Weights are read back from the device.
    pub fn to_graph(&self, spec: &ArchSpec) -> Result<Graph, ModelError> {
        let input = spec.input;
        let mut g = Graph::new(
            [input.channels, input.height, input.width],
            spec.num_classes,
        );
        let x = conv_bn(&mut g, &self.stem, "stem", GRAPH_INPUT.to_owned())?;
        let mut x = g.node("stem.relu", Op::Relu, vec![x]);
        for (i, block) in self.blocks.iter().enumerate() {
            x = emit_block(&mut g, block, &format!("blocks.{i}"), x)?;
        }
        if let Some(head) = &self.head_conv {
            let y = conv_bn(&mut g, head, "head_conv", x)?;
            x = g.node("head_conv.relu", Op::Relu, vec![y]);
        }
        let pooled = g.node("pool", Op::GlobalAveragePool, vec![x]);
        let flat = g.node("flatten", Op::Flatten, vec![pooled]);
        let classifier = &self.classifier;
        let weight = read(&mut g, "classifier.weight", classifier.weight.val())?;
        let mut inputs = vec![flat, weight];
        if let Some(bias) = &classifier.bias {
            inputs.push(read(&mut g, "classifier.bias", bias.val())?);
        }
        g.node("classifier", Op::Gemm, inputs);
        g.finish();
        Ok(g)
    }
}

fn emit_block(g: &mut Graph, block: &Block, path: &str, x: String) -> Result<String, ModelError> {
    match block {
        Block::Vanilla(b) => {
            let y = conv_bn(g, &b.conv, &format!("{path}.conv"), x)?;
            Ok(g.node(&format!("{path}.relu"), Op::Relu, vec![y]))
        }
        Block::Bottleneck(b) => bottleneck(g, b, path, x),
        Block::Inverted(b) => inverted_residual(g, b, path, x),
    }
}

fn bottleneck(g: &mut Graph, b: &BottleNeck, path: &str, x: String) -> Result<String, ModelError> {
    let y = conv_bn(g, &b.reduce, &format!("{path}.reduce"), x.clone())?;
    let y = g.node(&format!("{path}.reduce.relu"), Op::Relu, vec![y]);
    let y = conv_bn(g, &b.conv, &format!("{path}.conv"), y)?;
    let y = g.node(&format!("{path}.conv.relu"), Op::Relu, vec![y]);
    let y = conv_bn(g, &b.expand, &format!("{path}.expand"), y)?;
    let shortcut = match &b.shortcut {
        Some(projection) => conv_bn(g, projection, &format!("{path}.shortcut"), x)?,
        None => x,
    };
    let sum = g.node(&format!("{path}.add"), Op::Add, vec![y, shortcut]);
    Ok(g.node(&format!("{path}.relu"), Op::Relu, vec![sum]))
}

fn inverted_residual(
    g: &mut Graph,
    b: &InvertedResidual,
    path: &str,
    x: String,
) -> Result<String, ModelError> {
    let mut y = x.clone();
    if let Some(expand) = &b.expand {
        let e = conv_bn(g, expand, &format!("{path}.expand"), y)?;
        y = activation(g, b.activation, &format!("{path}.expand.act"), e);
    }
    let d = conv_bn(g, &b.depthwise, &format!("{path}.depthwise"), y)?;
    y = activation(g, b.activation, &format!("{path}.depthwise.act"), d);
    if let Some(se) = &b.se {
        y = squeeze_excite(g, se, &format!("{path}.se"), y)?;
    }
    y = conv_bn(g, &b.project, &format!("{path}.project"), y)?;
    if b.residual {
        y = g.node(&format!("{path}.add"), Op::Add, vec![y, x]);
    }
    Ok(y)
}

fn squeeze_excite(
    g: &mut Graph,
    se: &SqueezeExcite,
    path: &str,
    x: String,
) -> Result<String, ModelError> {
    let s = g.node(
        &format!("{path}.pool"),
        Op::GlobalAveragePool,
        vec![x.clone()],
    );
    let s = conv(g, &se.reduce, &format!("{path}.reduce"), s)?;
    let s = g.node(&format!("{path}.relu"), Op::Relu, vec![s]);
    let s = conv(g, &se.expand, &format!("{path}.expand"), s)?;
    let s = g.node(&format!("{path}.sigmoid"), Op::Sigmoid, vec![s]);
    Ok(g.node(&format!("{path}.scale"), Op::Mul, vec![x, s]))
}

fn activation(g: &mut Graph, activation: Activation, name: &str, x: String) -> String {
    let op = match activation {
        Activation::Relu => Op::Relu,
        Activation::Relu6 => Op::Relu6,
        Activation::HardSwish => Op::HardSwish,
    };
    g.node(name, op, vec![x])
}

fn conv_bn(g: &mut Graph, layer: &ConvBn, path: &str, x: String) -> Result<String, ModelError> {
    let y = conv(g, &layer.conv, &format!("{path}.conv"), x)?;
    batch_norm(g, &layer.bn, &format!("{path}.bn"), y)
}

fn conv(g: &mut Graph, conv: &Conv2d, path: &str, x: String) -> Result<String, ModelError> {
    let [k, k2] = conv.kernel_size;
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => t,
        ref other => {
            return Err(ModelError::Settings(format!(
                "{path}: padding {other:?} has no symmetric ONNX form"
            )))
        }
    };
    if k != k2 || conv.stride[0] != conv.stride[1] || conv.dilation != [1, 1] {
        return Err(ModelError::Settings(format!(
            "{path}: only square, undilated convolutions are exported"
        )));
    }
    let op = Op::Conv {
        kernel: k,
        stride: conv.stride[0],
        padding,
        groups: conv.groups,
    };
    let mut inputs = vec![x, read(g, &format!("{path}.weight"), conv.weight.val())?];
    if let Some(bias) = &conv.bias {
        inputs.push(read(g, &format!("{path}.bias"), bias.val())?);
    }
    Ok(g.node(path, op, inputs))
}

fn batch_norm(
    g: &mut Graph,
    bn: &BatchNorm2d,
    path: &str,
    x: String,
) -> Result<String, ModelError> {
    let inputs = vec![
        x,
        read(g, &format!("{path}.gamma"), bn.gamma.val())?,
        read(g, &format!("{path}.beta"), bn.beta.val())?,
        read(g, &format!("{path}.running_mean"), bn.running_mean())?,
        read(g, &format!("{path}.running_var"), bn.running_var())?,
    ];
    let op = Op::BatchNorm {
        epsilon: bn.epsilon,
    };
    Ok(g.node(path, op, inputs))
}

/// Reads `tensor` back from its device as a weight named `name`.
fn read<const D: usize>(
    g: &mut Graph,
    name: &str,
    tensor: Tensor<D>,
) -> Result<String, ModelError> {
    let shape = tensor.dims().to_vec();
    let data = tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ModelError::Device(format!("reading {name}: {e:?}")))?;
    Ok(g.tensor(name.to_owned(), shape, data))
}
