//! [`Graph`]: a trained network as a framework-free inference graph, the form exporters write.
//!
//! `nas-model` builds it from a trained burn network (weights read back from the device);
//! `nas-export` writes it as ONNX and safetensors. Values flow between nodes by name; weights
//! are named `f32` tensors that nodes take as extra inputs, named after the module path of the
//! parameter (`blocks.2.depthwise.conv.weight`), so the ONNX initialisers and the safetensors
//! entries share their names.

use serde::Serialize;

/// The name of the graph's input: images `[batch, channels, height, width]`.
pub const GRAPH_INPUT: &str = "input";
/// The name of the graph's output: logits `[batch, classes]`.
pub const GRAPH_OUTPUT: &str = "logits";

/// One operation of an inference graph (ONNX's semantics and input order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Op {
    /// 2-D convolution: inputs `x, weight [out, in/groups, k, k]` and an optional bias.
    Conv {
        /// Square kernel size.
        kernel: usize,
        /// Stride in both directions.
        stride: usize,
        /// Zero padding on every side.
        padding: usize,
        /// Channel groups.
        groups: usize,
    },
    /// Inference batch norm: inputs `x, scale, bias, running mean, running variance`.
    BatchNorm {
        /// Added to the variance.
        epsilon: f64,
    },
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)` (ONNX `Clip` with scalar bounds).
    Relu6,
    /// `x · relu6(x + 3) / 6`.
    HardSwish,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Elementwise sum of two inputs of one shape.
    Add,
    /// Elementwise product, the second input broadcast (`[N, C, 1, 1]` over `[N, C, H, W]`).
    Mul,
    /// Mean over height and width, keeping them as size 1: `[N, C, 1, 1]`.
    GlobalAveragePool,
    /// `[N, C, 1, 1]` to `[N, C]`.
    Flatten,
    /// `x · weight + bias` with `weight [in, out]`.
    Gemm,
}

/// One node: an operation on named values, producing one named value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Unique node name.
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Value and weight names, in the operation's input order.
    pub inputs: Vec<String>,
    /// The value it produces.
    pub output: String,
}

/// A named weight tensor, row-major.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedTensor {
    /// Unique name (the parameter's module path).
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

/// A whole inference graph: nodes in execution order from [`GRAPH_INPUT`] to [`GRAPH_OUTPUT`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Graph {
    /// Input `[channels, height, width]` (the batch dimension is free).
    pub input_chw: [usize; 3],
    /// Number of output logits.
    pub num_classes: usize,
    /// Nodes in execution order.
    pub nodes: Vec<Node>,
    /// Weights.
    pub tensors: Vec<NamedTensor>,
}

impl Graph {
    /// An empty graph for inputs `[channels, height, width]` and `num_classes` outputs.
    pub fn new(input_chw: [usize; 3], num_classes: usize) -> Graph {
        Graph {
            input_chw,
            num_classes,
            ..Graph::default()
        }
    }

    /// Adds a weight; returns its name.
    pub fn tensor(&mut self, name: String, shape: Vec<usize>, data: Vec<f32>) -> String {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
        self.tensors.push(NamedTensor {
            name: name.clone(),
            shape,
            data,
        });
        name
    }

    /// Adds a node named `name` computing `op` on `inputs`; returns the name of its output
    /// (the node's name).
    pub fn node(&mut self, name: &str, op: Op, inputs: Vec<String>) -> String {
        let output = name.to_owned();
        self.nodes.push(Node {
            name: name.to_owned(),
            op,
            inputs,
            output: output.clone(),
        });
        output
    }

    /// Renames the last node's output to [`GRAPH_OUTPUT`]. Call once, after the last node.
    pub fn finish(&mut self) {
        if let Some(last) = self.nodes.last_mut() {
            last.output = GRAPH_OUTPUT.to_owned();
        }
    }

    /// Number of weight values (running statistics included).
    pub fn weight_count(&self) -> usize {
        self.tensors.iter().map(|t| t.data.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_chain_by_name_and_the_last_one_is_the_output() {
        let mut g = Graph::new([1, 4, 4], 2);
        let w = g.tensor("fc.weight".into(), vec![1, 2], vec![0.5, -0.5]);
        let pooled = g.node("pool", Op::GlobalAveragePool, vec![GRAPH_INPUT.into()]);
        let flat = g.node("flat", Op::Flatten, vec![pooled.clone()]);
        g.node("fc", Op::Gemm, vec![flat.clone(), w]);
        g.finish();
        assert_eq!(g.nodes[1].inputs, vec![pooled]);
        assert_eq!(g.nodes[2].inputs[0], flat);
        assert_eq!(g.nodes[2].output, GRAPH_OUTPUT);
        assert_eq!(g.weight_count(), 2);
    }
}
