//! One-line summaries of the architecture a trial built, from its `arch` attribute
//! (`{"arch": ArchSpec, "recipe": …}`).

use nas_arch::ArchSpec;
use serde_json::Value;

/// [`ArchSpec::summary`] of a trial's architecture JSON; `None` when it is not an ArchSpec.
pub(crate) fn summary(arch: &Value) -> Option<String> {
    let spec: ArchSpec = serde_json::from_value(arch.clone()).ok()?;
    Some(spec.summary())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_recorded_architecture_is_summarised_and_anything_else_is_not() {
        let arch = json!({
            "version": 1,
            "input": {"channels": 1, "height": 28, "width": 28},
            "num_classes": 10,
            "head": {"conv_width": 128, "dropout": 0.2},
            "stages": [
                {"block": {"kernel": 3, "type": "vanilla"}, "depth": 2, "stride": 2, "width": 24},
                {"block": {"activation": "relu6", "expansion": 6, "kernel": 5,
                           "se_ratio": 0.25, "type": "inverted_residual"},
                 "depth": 1, "stride": 1, "width": 32}
            ],
            "stem": {"kernel": 3, "stride": 1, "width": 8}
        });
        assert_eq!(
            summary(&arch).as_deref(),
            Some(
                "stem 8 · vanilla k3 ×2 → 24 /2 · \
                 inverted_residual k5 e6 relu6 se0.25 ×1 → 32 · head 128"
            )
        );
        assert_eq!(summary(&json!({"stages": [{"block": 3}]})), None);
        assert_eq!(summary(&json!("not an arch")), None);
    }
}
