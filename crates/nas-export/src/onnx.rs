//! [`to_onnx`]: an inference [`Graph`] as an ONNX model (IR 8, opset 17).

use nas_arch::{Graph, Op, GRAPH_INPUT, GRAPH_OUTPUT};
use prost::Message;

use crate::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
    ValueInfoProto, ATTRIBUTE_FLOAT, ATTRIBUTE_INT, ATTRIBUTE_INTS, DATA_TYPE_FLOAT,
};

/// ONNX IR version written (onnxruntime ≥ 1.10 reads it).
pub const ONNX_IR_VERSION: i64 = 8;
/// Operator set written: has `HardSwish` (14) and `Clip` with tensor bounds (11).
pub const ONNX_OPSET: i64 = 17;

/// Names of the scalar bounds that turn `Clip` into ReLU6.
const RELU6_MIN: &str = "relu6.min";
const RELU6_MAX: &str = "relu6.max";

/// The graph as ONNX bytes. The input is `input` `[batch, C, H, W]` (float, `batch`
/// symbolic), the output `logits` `[batch, classes]`; `metadata` becomes the model's
/// `metadata_props`.
pub fn to_onnx(graph: &Graph, name: &str, metadata: &[(String, String)]) -> Vec<u8> {
    let mut initializer: Vec<TensorProto> = graph
        .tensors
        .iter()
        .map(|t| tensor(&t.name, &t.shape, &t.data))
        .collect();
    if graph.nodes.iter().any(|n| n.op == Op::Relu6) {
        initializer.push(tensor(RELU6_MIN, &[], &[0.0]));
        initializer.push(tensor(RELU6_MAX, &[], &[6.0]));
    }
    let [c, h, w] = graph.input_chw;
    let model = ModelProto {
        ir_version: ONNX_IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: ONNX_OPSET,
        }],
        producer_name: "nas".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{name}: a network found by nas"),
        graph: Some(GraphProto {
            node: graph.nodes.iter().map(node).collect(),
            name: name.into(),
            initializer,
            input: vec![value_info(GRAPH_INPUT, &[None, Some(c), Some(h), Some(w)])],
            output: vec![value_info(GRAPH_OUTPUT, &[None, Some(graph.num_classes)])],
        }),
        metadata_props: metadata
            .iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
    };
    model.encode_to_vec()
}

fn node(n: &nas_arch::Node) -> NodeProto {
    let mut inputs = n.inputs.clone();
    let (op_type, attribute) = match n.op {
        Op::Conv {
            kernel,
            stride,
            padding,
            groups,
        } => (
            "Conv",
            vec![
                ints("kernel_shape", &[kernel, kernel]),
                ints("strides", &[stride, stride]),
                ints("pads", &[padding; 4]),
                ints("dilations", &[1, 1]),
                int("group", groups),
            ],
        ),
        Op::BatchNorm { epsilon } => ("BatchNormalization", vec![float("epsilon", epsilon)]),
        Op::Relu => ("Relu", vec![]),
        Op::Relu6 => {
            inputs.extend([RELU6_MIN.to_owned(), RELU6_MAX.to_owned()]);
            ("Clip", vec![])
        }
        Op::HardSwish => ("HardSwish", vec![]),
        Op::Sigmoid => ("Sigmoid", vec![]),
        Op::Add => ("Add", vec![]),
        Op::Mul => ("Mul", vec![]),
        Op::GlobalAveragePool => ("GlobalAveragePool", vec![]),
        Op::Flatten => ("Flatten", vec![int("axis", 1)]),
        Op::Gemm => ("Gemm", vec![]),
    };
    NodeProto {
        input: inputs,
        output: vec![n.output.clone()],
        name: n.name.clone(),
        op_type: op_type.into(),
        attribute,
    }
}

fn tensor(name: &str, shape: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: DATA_TYPE_FLOAT,
        name: name.into(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// A float tensor value whose `None` dimensions are the symbolic `batch`.
fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Some(size) => Dimension {
                dim_value: Some(*size as i64),
                dim_param: None,
            },
            None => Dimension {
                dim_value: None,
                dim_param: Some("batch".into()),
            },
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: DATA_TYPE_FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTRIBUTE_INTS,
        ints: values.iter().map(|&v| v as i64).collect(),
        ..AttributeProto::default()
    }
}

fn int(name: &str, value: usize) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTRIBUTE_INT,
        i: value as i64,
        ..AttributeProto::default()
    }
}

fn float(name: &str, value: f64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ATTRIBUTE_FLOAT,
        f: value as f32,
        ..AttributeProto::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_arch::Graph;

    fn tiny_graph(relu6: bool) -> Graph {
        let mut g = Graph::new([1, 4, 4], 3);
        let w = g.tensor("conv.weight".into(), vec![2, 1, 3, 3], vec![0.1; 18]);
        let conv = Op::Conv {
            kernel: 3,
            stride: 1,
            padding: 1,
            groups: 1,
        };
        let y = g.node("conv", conv, vec![GRAPH_INPUT.into(), w]);
        let act = if relu6 { Op::Relu6 } else { Op::HardSwish };
        let y = g.node("act", act, vec![y]);
        let y = g.node("pool", Op::GlobalAveragePool, vec![y]);
        let y = g.node("flat", Op::Flatten, vec![y]);
        let fc = g.tensor("fc.weight".into(), vec![2, 3], vec![1.0; 6]);
        g.node("fc", Op::Gemm, vec![y, fc]);
        g.finish();
        g
    }

    #[test]
    fn the_bytes_decode_back_into_the_same_graph() {
        let bytes = to_onnx(&tiny_graph(true), "tiny", &[("k".into(), "v".into())]);
        let model = ModelProto::decode(bytes.as_slice()).expect("valid protobuf");
        assert_eq!(model.ir_version, ONNX_IR_VERSION);
        assert_eq!(model.opset_import[0].version, ONNX_OPSET);
        assert_eq!(model.metadata_props[0].value, "v");
        let graph = model.graph.expect("a graph");
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            ["Conv", "Clip", "GlobalAveragePool", "Flatten", "Gemm"]
        );
        assert_eq!(graph.node[1].input, ["conv", RELU6_MIN, RELU6_MAX]);
        assert_eq!(
            graph.node.last().map(|n| n.output[0].as_str()),
            Some("logits")
        );
        let conv = &graph.node[0];
        let pads = conv
            .attribute
            .iter()
            .find(|a| a.name == "pads")
            .expect("pads");
        assert_eq!(pads.ints, [1, 1, 1, 1]);
        let weight = &graph.initializer[0];
        assert_eq!(
            (weight.dims.as_slice(), weight.raw_data.len()),
            (&[2, 1, 3, 3][..], 72)
        );
        let input = &graph.input[0]
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref());
        let dims = &input.and_then(|t| t.shape.as_ref()).expect("shape").dim;
        assert_eq!(dims[0].dim_param.as_deref(), Some("batch"));
        assert_eq!(dims[1].dim_value, Some(1));
    }

    #[test]
    fn clip_bounds_are_written_only_when_relu6_is_used() {
        let bytes = to_onnx(&tiny_graph(false), "tiny", &[]);
        let graph = ModelProto::decode(bytes.as_slice())
            .expect("valid")
            .graph
            .expect("graph");
        assert!(graph.initializer.iter().all(|t| t.name != RELU6_MIN));
        assert!(graph.node.iter().any(|n| n.op_type == "HardSwish"));
    }
}
