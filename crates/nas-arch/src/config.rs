//! From a configuration sampled from a search space (such as `search_spaces/lightweight.toml`)
//! to an [`ArchSpec`].
//!
//! Parameter names: `num_stages` (or, in spaces with a fixed stage count, as many stages as
//! have a `stage<N>.block`), `stage<N>.{block,width,depth,stride}`,
//! `stage<N>.vanilla.kernel`, `stage<N>.bottleneck.{kernel,reduction}`,
//! `stage<N>.inverted_residual.{kernel,expansion,activation,se,se_ratio}`, `arch.stem_width`,
//! and the optional `arch.stem_kernel`, `arch.stem_stride`, `arch.head_conv`,
//! `arch.head_width`, `arch.dropout`.
//!
//! The network adapts to the input's size, so one space serves 8×8 icons and 224×224
//! photographs:
//! - the stem's default stride grows with the input ([`stem_for`]): 1 below 64 px, then the
//!   power of two that leaves 32–64 px a side, with a kernel wide enough to see every pixel
//!   (3×3 up to stride 2, else stride + 1);
//! - a stride that would leave a feature map under 2 px a side ([`MIN_STRIDED_OUTPUT`])
//!   becomes 1: a stage of stride 2 on a 2×2 map keeps it 2×2. So no sampled network strides
//!   a map below what it can take; at 28×28 and 32×32 the rule never fires for the default
//!   spaces (4 halvings of 28 end at 2×2).

use nas_space::{Config, ParamValue};

use crate::error::SpecError;
use crate::spec::{
    Activation, ArchSpec, BlockSpec, HeadSpec, InputSpec, StageSpec, StemSpec, ARCH_SPEC_VERSION,
};

/// What a configuration does not say: the data's shape and how widths are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecOptions {
    /// The images the network will take.
    pub input: InputSpec,
    /// Classes to predict.
    pub num_classes: usize,
    /// Widths are rounded to the nearest multiple of this (at least one multiple); 1 keeps
    /// them as they are.
    pub width_multiple: usize,
    /// Stem kernel when the configuration has no `arch.stem_kernel`.
    pub stem_kernel: usize,
    /// Stem stride when the configuration has no `arch.stem_stride`.
    pub stem_stride: usize,
}

/// The smallest feature-map side a strided layer may produce; a stride that would go below
/// it is made 1.
pub const MIN_STRIDED_OUTPUT: usize = 2;

/// The default stem `(kernel, stride)` for `size`-pixel inputs (the shorter side): stride
/// 1 below 64 px, else the largest power of two that leaves at least 32 px (2 for 64–127
/// px, 4 for 128–255, 8 for 256–511, …); kernel 3 up to stride 2, else stride + 1.
pub fn stem_for(size: usize) -> (usize, usize) {
    let mut stride = 1;
    while size / (2 * stride) >= 32 {
        stride *= 2;
    }
    let kernel = if stride <= 2 { 3 } else { stride + 1 };
    (kernel, stride)
}

impl SpecOptions {
    /// Options for `channels × size × size` images and `num_classes` classes, widths rounded
    /// to multiples of 8, the stem of [`stem_for`] `size`.
    pub fn new(channels: usize, size: usize, num_classes: usize) -> SpecOptions {
        let (stem_kernel, stem_stride) = stem_for(size);
        SpecOptions {
            input: InputSpec {
                channels,
                height: size,
                width: size,
            },
            num_classes,
            width_multiple: 8,
            stem_kernel,
            stem_stride,
        }
    }
}

impl ArchSpec {
    /// Builds the spec a configuration describes and validates it. Errors name the parameter
    /// (`configuration has no \`stage2.width\``) or the impossible part of the network.
    pub fn from_config(config: &Config, options: &SpecOptions) -> Result<ArchSpec, SpecError> {
        let reader = Reader {
            config,
            multiple: options.width_multiple.max(1),
        };
        let stem = StemSpec {
            width: reader.width("arch.stem_width")?,
            kernel: reader.usize_or("arch.stem_kernel", options.stem_kernel)?,
            stride: reader.usize_or("arch.stem_stride", options.stem_stride)?,
        };
        let stages = (1..=reader.stage_count()?)
            .map(|n| reader.stage(n))
            .collect::<Result<Vec<_>, _>>()?;
        let head = HeadSpec {
            conv_width: match reader.optional_bool("arch.head_conv")? {
                Some(true) => Some(reader.width("arch.head_width")?),
                _ => None,
            },
            dropout: reader.f64_or("arch.dropout", 0.0)?,
        };
        let mut spec = ArchSpec {
            version: ARCH_SPEC_VERSION,
            input: options.input,
            stem,
            stages,
            head,
            num_classes: options.num_classes,
        };
        adapt_strides(&mut spec);
        spec.validate()?;
        Ok(spec)
    }
}

/// Makes 1 every stride (stem, then each stage's first block) that would leave a feature map
/// with a side under [`MIN_STRIDED_OUTPUT`].
fn adapt_strides(spec: &mut ArchSpec) {
    let mut side = spec.input.height.min(spec.input.width);
    let mut adapt = |stride: &mut usize| {
        if *stride > 1 && side.div_ceil(*stride) < MIN_STRIDED_OUTPUT {
            *stride = 1;
        }
        side = side.div_ceil((*stride).max(1));
    };
    adapt(&mut spec.stem.stride);
    for stage in &mut spec.stages {
        adapt(&mut stage.stride);
    }
}

struct Reader<'a> {
    config: &'a Config,
    multiple: usize,
}

impl Reader<'_> {
    fn get(&self, key: &str) -> Result<&ParamValue, SpecError> {
        self.config
            .get(key)
            .ok_or_else(|| SpecError::MissingParam { key: key.into() })
    }

    fn bad(&self, key: &str, value: &ParamValue, reason: &str) -> SpecError {
        let value = serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"));
        SpecError::BadParam {
            key: key.into(),
            value,
            reason: reason.into(),
        }
    }

    fn usize_value(&self, key: &str, value: &ParamValue) -> Result<usize, SpecError> {
        value
            .as_i64()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| self.bad(key, value, "expected a whole number ≥ 0"))
    }

    fn usize(&self, key: &str) -> Result<usize, SpecError> {
        self.usize_value(key, self.get(key)?)
    }

    fn usize_or(&self, key: &str, default: usize) -> Result<usize, SpecError> {
        self.config
            .get(key)
            .map_or(Ok(default), |v| self.usize_value(key, v))
    }

    fn f64_or(&self, key: &str, default: f64) -> Result<f64, SpecError> {
        match self.config.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.bad(key, v, "expected a number")),
        }
    }

    fn optional_bool(&self, key: &str) -> Result<Option<bool>, SpecError> {
        match self.config.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.bad(key, v, "expected true or false")),
        }
    }

    fn str(&self, key: &str) -> Result<&str, SpecError> {
        let v = self.get(key)?;
        v.as_str()
            .ok_or_else(|| self.bad(key, v, "expected a string"))
    }

    /// A width rounded to the nearest multiple (at least one multiple).
    fn width(&self, key: &str) -> Result<usize, SpecError> {
        let w = self.usize(key)?;
        let m = self.multiple;
        Ok(((w + m / 2) / m).max(1) * m)
    }

    fn stage_count(&self) -> Result<usize, SpecError> {
        if self.config.contains_key("num_stages") {
            return self.usize("num_stages");
        }
        let count = (1..)
            .take_while(|n| self.config.contains_key(&format!("stage{n}.block")))
            .count();
        if count == 0 {
            return Err(SpecError::MissingParam {
                key: "num_stages".into(),
            });
        }
        Ok(count)
    }

    fn stage(&self, n: usize) -> Result<StageSpec, SpecError> {
        let key = |k: &str| format!("stage{n}.{k}");
        Ok(StageSpec {
            block: self.block(n)?,
            depth: self.usize(&key("depth"))?,
            width: self.width(&key("width"))?,
            stride: self.usize(&key("stride"))?,
        })
    }

    fn block(&self, n: usize) -> Result<BlockSpec, SpecError> {
        let block_key = format!("stage{n}.block");
        let name = self.str(&block_key)?;
        if !["vanilla", "bottleneck", "inverted_residual"].contains(&name) {
            let value = self.get(&block_key)?;
            return Err(self.bad(
                &block_key,
                value,
                "expected vanilla, bottleneck or inverted_residual",
            ));
        }
        let key = |k: &str| format!("stage{n}.{name}.{k}");
        let kernel = self.usize(&key("kernel"))?;
        match name {
            "vanilla" => Ok(BlockSpec::Vanilla { kernel }),
            "bottleneck" => Ok(BlockSpec::Bottleneck {
                kernel,
                reduction: self.usize(&key("reduction"))?,
            }),
            "inverted_residual" => {
                let act_key = key("activation");
                let act = self.get(&act_key)?;
                let activation = act
                    .as_str()
                    .and_then(Activation::from_name)
                    .ok_or_else(|| self.bad(&act_key, act, "expected relu, relu6 or hard_swish"))?;
                let se_ratio = match self.optional_bool(&key("se"))? {
                    Some(true) => Some(self.f64_or(&key("se_ratio"), 0.25)?),
                    _ => None,
                };
                Ok(BlockSpec::InvertedResidual {
                    kernel,
                    expansion: self.usize(&key("expansion"))?,
                    activation,
                    se_ratio,
                })
            }
            _ => unreachable!("checked above"),
        }
    }
}
