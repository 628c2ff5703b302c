//! Standard test functions over search spaces, for sampler benchmarks.
//!
//! Each function is minimised; its space is TOML so it reads like a user's space.

use nas_core::space::{Config, SearchSpace, SpaceError};

/// A benchmark function with its search space and known minimum.
pub struct TestFunction {
    /// Short name.
    pub name: &'static str,
    /// The space, as TOML.
    pub space_toml: String,
    /// The objective.
    pub eval: fn(&Config) -> f64,
    /// The global minimum value.
    pub optimum: f64,
}

impl TestFunction {
    /// The parsed space.
    pub fn space(&self) -> Result<SearchSpace, SpaceError> {
        SearchSpace::from_toml_str(&self.space_toml, self.name)
    }
}

/// Value of a numeric parameter; benchmark spaces define every name they read.
fn num(c: &Config, name: &str) -> f64 {
    c.get(name).and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
}

fn xs(c: &Config, d: usize) -> Vec<f64> {
    (0..d).map(|i| num(c, &format!("x{i}"))).collect()
}

fn box_space(d: usize, low: f64, high: f64) -> String {
    (0..d)
        .map(|i| format!("[params.x{i}]\ntype = \"float\"\nlow = {low:?}\nhigh = {high:?}\n"))
        .collect()
}

/// Rosenbrock in 4 dimensions on [-5, 10]^4; minimum 0 at (1, …, 1).
pub fn rosenbrock() -> TestFunction {
    TestFunction {
        name: "rosenbrock-4d",
        space_toml: box_space(4, -5.0, 10.0),
        eval: |c| {
            let x = xs(c, 4);
            x.windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum()
        },
        optimum: 0.0,
    }
}

/// Ackley in 4 dimensions on [-32.768, 32.768]^4; minimum 0 at the origin.
pub fn ackley() -> TestFunction {
    TestFunction {
        name: "ackley-4d",
        space_toml: box_space(4, -32.768, 32.768),
        eval: |c| {
            let x = xs(c, 4);
            let d = x.len() as f64;
            let sq = x.iter().map(|v| v * v).sum::<f64>() / d;
            let cos = x
                .iter()
                .map(|v| (2.0 * std::f64::consts::PI * v).cos())
                .sum::<f64>()
                / d;
            -20.0 * (-0.2 * sq.sqrt()).exp() - cos.exp() + 20.0 + std::f64::consts::E
        },
        optimum: 0.0,
    }
}

/// Levy in 4 dimensions on [-10, 10]^4; minimum 0 at (1, …, 1).
pub fn levy() -> TestFunction {
    use std::f64::consts::PI;
    TestFunction {
        name: "levy-4d",
        space_toml: box_space(4, -10.0, 10.0),
        eval: |c| {
            let w: Vec<f64> = xs(c, 4).iter().map(|x| 1.0 + (x - 1.0) / 4.0).collect();
            let n = w.len();
            let head = (PI * w[0]).sin().powi(2);
            let mid: f64 = w[..n - 1]
                .iter()
                .map(|wi| (wi - 1.0).powi(2) * (1.0 + 10.0 * (PI * wi + 1.0).sin().powi(2)))
                .sum();
            let tail = (w[n - 1] - 1.0).powi(2) * (1.0 + (2.0 * PI * w[n - 1]).sin().powi(2));
            head + mid + tail
        },
        optimum: 0.0,
    }
}

/// Six-hump camel on [-3, 3] × [-2, 2]; minimum −1.0316 at (±0.0898, ∓0.7126).
pub fn six_hump_camel() -> TestFunction {
    TestFunction {
        name: "six-hump-camel",
        space_toml: "[params.x0]\ntype = \"float\"\nlow = -3.0\nhigh = 3.0\n\
                     [params.x1]\ntype = \"float\"\nlow = -2.0\nhigh = 2.0\n"
            .into(),
        eval: |c| {
            let (x, y) = (num(c, "x0"), num(c, "x1"));
            (4.0 - 2.1 * x * x + x.powi(4) / 3.0) * x * x + x * y + (-4.0 + 4.0 * y * y) * y * y
        },
        optimum: -1.031_628_453_489_877,
    }
}

/// A mixed int / log-scale function shaped like a training loss: learning rate (log),
/// batch size (int, log), depth (int), width (int, step 8). Minimum 0 at lr = 3e-3,
/// batch 64, depth 5, width 96.
pub fn mixed_int_log() -> TestFunction {
    TestFunction {
        name: "mixed-int-log",
        space_toml: r#"
[params.lr]
type = "float"
low = 1e-5
high = 1.0
log = true
[params.batch]
type = "int"
low = 8
high = 512
log = true
[params.depth]
type = "int"
low = 1
high = 8
[params.width]
type = "int"
low = 8
high = 256
step = 8
"#
        .into(),
        eval: |c| {
            let lr = (num(c, "lr").log10() - 3e-3f64.log10()).powi(2);
            let batch = (num(c, "batch").log2() - 6.0).powi(2) / 4.0;
            let depth = (num(c, "depth") - 5.0).powi(2) / 4.0;
            let width = ((num(c, "width") - 96.0) / 64.0).powi(2);
            lr + batch + depth + width
        },
        optimum: 0.0,
    }
}

/// A conditional function: the branch picks which parameters matter; `decay` is shared by two
/// branches. The best branch (`adamw`) reaches 0; the others bottom out at 0.3 and 0.6.
pub fn conditional() -> TestFunction {
    TestFunction {
        name: "conditional",
        space_toml: r#"
[params.optimizer]
type = "categorical"
choices = ["sgd", "adam", "adamw"]
[params.lr]
type = "float"
low = 1e-5
high = 1.0
log = true
[params.momentum]
type = "float"
low = 0.0
high = 0.99
when = { optimizer = ["sgd"] }
[params.beta1]
type = "float"
low = 0.5
high = 0.999
when = { optimizer = ["adam", "adamw"] }
[params.decay]
type = "float"
low = 1e-6
high = 1e-1
log = true
when = { optimizer = ["sgd", "adamw"] }
"#
        .into(),
        eval: |c| {
            let lr = num(c, "lr").log10();
            match c.get("optimizer").and_then(|v| v.as_str()) {
                Some("sgd") => {
                    0.6 + (lr + 1.0).powi(2) / 4.0
                        + (num(c, "momentum") - 0.9).powi(2) * 4.0
                        + (num(c, "decay").log10() + 4.0).powi(2) / 9.0
                }
                Some("adam") => 0.3 + (lr + 3.0).powi(2) / 4.0 + (num(c, "beta1") - 0.9).powi(2),
                _ => {
                    (lr + 3.0).powi(2) / 4.0
                        + (num(c, "beta1") - 0.9).powi(2)
                        + (num(c, "decay").log10() + 2.0).powi(2) / 9.0
                }
            }
        },
        optimum: 0.0,
    }
}

/// Every quality-benchmark function.
pub fn all() -> Vec<TestFunction> {
    vec![
        rosenbrock(),
        ackley(),
        levy(),
        six_hump_camel(),
        mixed_int_log(),
        conditional(),
    ]
}

/// The 12-parameter conditional space of the speed benchmark (a training recipe plus a small
/// architecture), and a smooth objective over it so the history looks like a real study.
pub fn speed_space() -> TestFunction {
    TestFunction {
        name: "conditional-12",
        space_toml: include_str!("../spaces/conditional12.toml").into(),
        eval: |c| {
            let conditional = (conditional().eval)(c);
            let batch = (num(c, "batch_size").log2() - 6.0).powi(2) / 8.0;
            let layers = (num(c, "num_layers") - 3.0).powi(2) / 4.0;
            let width = ((num(c, "width") - 64.0) / 64.0).powi(2);
            let dropout = (num(c, "dropout") - 0.1).powi(2);
            let act = match c.get("activation").and_then(|v| v.as_str()) {
                Some("hard_swish") => 0.0,
                _ => 0.1,
            };
            let nesterov = match c.get("nesterov").and_then(|v| v.as_bool()) {
                Some(false) => 0.05,
                _ => 0.0,
            };
            conditional + batch + layers + width + dropout + act + nesterov
        },
        optimum: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_core::space::ParamValue;

    fn config(pairs: &[(&str, ParamValue)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn optima_are_where_the_literature_puts_them() {
        let ones = config(&[
            ("x0", 1.0.into()),
            ("x1", 1.0.into()),
            ("x2", 1.0.into()),
            ("x3", 1.0.into()),
        ]);
        assert_eq!((rosenbrock().eval)(&ones), 0.0);
        assert!((levy().eval)(&ones).abs() < 1e-12);
        let zeros = config(&[
            ("x0", 0.0.into()),
            ("x1", 0.0.into()),
            ("x2", 0.0.into()),
            ("x3", 0.0.into()),
        ]);
        assert!((ackley().eval)(&zeros).abs() < 1e-12);
        let camel = config(&[("x0", 0.0898.into()), ("x1", (-0.7126).into())]);
        assert!(((six_hump_camel().eval)(&camel) - six_hump_camel().optimum).abs() < 1e-4);
    }

    #[test]
    fn every_space_parses() {
        for f in all().into_iter().chain([speed_space()]) {
            let space = f.space().unwrap_or_else(|e| panic!("{}: {e}", f.name));
            assert!(!space.is_empty());
        }
        assert_eq!(speed_space().space().unwrap().len(), 12);
    }
}
