//! The training recipe of a configuration: optimizer and its parameters, batch size, epochs,
//! warm-up, label smoothing.

use nas_core::space::{Config, ParamValue};

use crate::error::TrainError;

/// The optimizer of a recipe, with its own parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Adam (Kingma & Ba), no weight decay.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
    },
    /// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter).
    AdamW {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
    /// SGD with momentum (PyTorch's convention: no dampening) and L2 weight decay.
    Sgd {
        /// Momentum factor.
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
}

/// How to train one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Peak learning rate, reached after the warm-up.
    pub lr: f64,
    /// Images per step.
    pub batch_size: usize,
    /// Passes over the whole training split at full fidelity.
    pub epochs: f64,
    /// Epochs of linear warm-up from lr/100 to lr before the cosine decay.
    pub warmup_epochs: f64,
    /// Label smoothing ε of the cross-entropy, in [0, 1).
    pub label_smoothing: f64,
}

impl Default for Recipe {
    /// Adam (0.9, 0.999) at 1e-3, batch 128, 10 epochs, no warm-up, no smoothing.
    fn default() -> Self {
        Recipe {
            optimizer: Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
            },
            lr: 1e-3,
            batch_size: 128,
            epochs: 10.0,
            warmup_epochs: 0.0,
            label_smoothing: 0.0,
        }
    }
}

impl Recipe {
    /// Reads the recipe parameters of `search_spaces/lightweight.toml` from `config`:
    /// `optimizer`, `lr`, `batch_size`, `epochs`, `warmup_epochs`, `label_smoothing`, and
    /// `<optimizer>.beta1|beta2|weight_decay|momentum|nesterov`; `<optimizer>.lr`, where the
    /// space gives an optimizer a learning-rate range of its own, takes the place of `lr`. A parameter the space lacks
    /// keeps the [`Recipe::default`] value (and the optimizer's usual default); a parameter
    /// of the wrong type or out of range is an error naming it.
    pub fn from_config(config: &Config) -> Result<Recipe, TrainError> {
        let base = Recipe::default();
        let reader = Reader(config);
        let name = reader.str("optimizer")?.unwrap_or("adam");
        let optimizer = match name {
            "adam" => Optimizer::Adam {
                beta1: reader.unit("adam.beta1", 0.9)?,
                beta2: reader.unit("adam.beta2", 0.999)?,
            },
            "adamw" => Optimizer::AdamW {
                beta1: reader.unit("adamw.beta1", 0.9)?,
                beta2: reader.unit("adamw.beta2", 0.999)?,
                weight_decay: reader.non_negative("adamw.weight_decay", 1e-2)?,
            },
            "sgd" => Optimizer::Sgd {
                momentum: reader.unit("sgd.momentum", 0.9)?,
                nesterov: reader.bool("sgd.nesterov", false)?,
                weight_decay: reader.non_negative("sgd.weight_decay", 0.0)?,
            },
            other => {
                return Err(TrainError::Recipe(format!(
                    "`optimizer` = \"{other}\": expected adam, adamw or sgd"
                )))
            }
        };
        let recipe = Recipe {
            optimizer,
            lr: match format!("{name}.lr") {
                own if config.contains_key(&own) => reader.positive(&own, base.lr)?,
                _ => reader.positive("lr", base.lr)?,
            },
            batch_size: reader.positive("batch_size", base.batch_size as f64)? as usize,
            epochs: reader.positive("epochs", base.epochs)?,
            warmup_epochs: reader.non_negative("warmup_epochs", base.warmup_epochs)?,
            label_smoothing: reader.unit("label_smoothing", base.label_smoothing)?,
        };
        Ok(recipe)
    }

    /// The same recipe with `epochs` capped at `max` (quick presets), the warm-up scaled
    /// down in proportion.
    pub fn with_max_epochs(self, max: f64) -> Recipe {
        if self.epochs > max {
            self.with_epochs(max)
        } else {
            self
        }
    }

    /// The same recipe trained for `epochs` (a final training), the warm-up scaled in
    /// proportion.
    pub fn with_epochs(mut self, epochs: f64) -> Recipe {
        self.warmup_epochs *= epochs / self.epochs;
        self.epochs = epochs;
        self
    }

    /// A one-line summary, e.g. `sgd(m=0.9, nesterov, wd=1e-4) lr=0.05 batch=128 5 epochs`.
    pub fn summary(&self) -> String {
        let opt = match self.optimizer {
            Optimizer::Adam { beta1, beta2 } => format!("adam(β={beta1:.3},{beta2:.4})"),
            Optimizer::AdamW {
                beta1,
                beta2,
                weight_decay,
            } => format!("adamw(β={beta1:.3},{beta2:.4}, wd={weight_decay:.1e})"),
            Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => format!(
                "sgd(m={momentum:.3}{}, wd={weight_decay:.1e})",
                if nesterov { ", nesterov" } else { "" }
            ),
        };
        format!(
            "{opt} lr={:.2e} batch={} epochs={} warmup={} smoothing={}",
            self.lr,
            self.batch_size,
            short(self.epochs),
            short(self.warmup_epochs),
            short(self.label_smoothing)
        )
    }
}

/// `x` to four decimals without trailing zeros: `0.15`, not `0.15000000000000002`; `5`, not
/// `5.0000`.
fn short(x: f64) -> String {
    let text = format!("{x:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Typed reads of optional recipe parameters.
struct Reader<'a>(&'a Config);

impl Reader<'_> {
    fn number(&self, key: &str) -> Result<Option<f64>, TrainError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| wrong(key, v, "a finite number")),
        }
    }

    fn ranged(
        &self,
        key: &str,
        default: f64,
        ok: fn(f64) -> bool,
        what: &str,
    ) -> Result<f64, TrainError> {
        let x = self.number(key)?.unwrap_or(default);
        if ok(x) {
            Ok(x)
        } else {
            Err(TrainError::Recipe(format!(
                "`{key}` = {x}: expected {what}"
            )))
        }
    }

    fn positive(&self, key: &str, default: f64) -> Result<f64, TrainError> {
        self.ranged(key, default, |x| x > 0.0, "a number > 0")
    }

    fn non_negative(&self, key: &str, default: f64) -> Result<f64, TrainError> {
        self.ranged(key, default, |x| x >= 0.0, "a number ≥ 0")
    }

    fn unit(&self, key: &str, default: f64) -> Result<f64, TrainError> {
        self.ranged(
            key,
            default,
            |x| (0.0..1.0).contains(&x),
            "a number in [0, 1)",
        )
    }

    fn str(&self, key: &str) -> Result<Option<&str>, TrainError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| wrong(key, v, "a string")),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, TrainError> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| wrong(key, v, "true or false")),
        }
    }
}

fn wrong(key: &str, value: &ParamValue, expected: &str) -> TrainError {
    TrainError::Recipe(format!("`{key}` = {value}: expected {expected}"))
}
