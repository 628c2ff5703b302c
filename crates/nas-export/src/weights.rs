//! [`to_safetensors`]: a graph's weights as a safetensors file.

use std::collections::HashMap;

use nas_arch::Graph;
use safetensors::tensor::{Dtype, TensorView};

use crate::error::ExportError;

/// The graph's weights (running batch-norm statistics included) as safetensors bytes, each
/// tensor under its module path (`blocks.0.conv.conv.weight`), float32, with `metadata`.
pub fn to_safetensors(
    graph: &Graph,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, ExportError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = graph
        .tensors
        .iter()
        .map(|t| {
            let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name.clone(), t.shape.clone(), raw)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            TensorView::new(Dtype::F32, shape.clone(), raw)
                .map(|view| (name.as_str(), view))
                .map_err(|e| ExportError::Safetensors(format!("{name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| ExportError::Safetensors(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::SafeTensors;

    #[test]
    fn every_weight_reads_back_with_its_shape_and_values() {
        let mut g = Graph::new([1, 2, 2], 2);
        g.tensor("a.weight".into(), vec![2, 2], vec![1.0, -2.0, 3.5, 0.25]);
        g.tensor("a.bias".into(), vec![2], vec![0.5, 0.75]);
        let meta = HashMap::from([("format".to_owned(), "nas".to_owned())]);
        let bytes = to_safetensors(&g, meta).expect("serialises");
        let file = SafeTensors::deserialize(&bytes).expect("valid safetensors");
        let weight = file.tensor("a.weight").expect("present");
        assert_eq!(weight.shape(), [2, 2]);
        let values: Vec<f32> = weight
            .data()
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values, [1.0, -2.0, 3.5, 0.25]);
        assert_eq!(file.names().len(), 2);
    }
}
