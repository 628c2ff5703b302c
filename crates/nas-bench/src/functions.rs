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
    box_space_from(0, d, low, high)
}

/// Floats `x{from}` … `x{to-1}` on [low, high].
fn box_space_from(from: usize, to: usize, low: f64, high: f64) -> String {
    (from..to)
        .map(|i| format!("[params.x{i}]\ntype = \"float\"\nlow = {low:?}\nhigh = {high:?}\n"))
        .collect()
}

/// Rosenbrock's valley in any dimension.
fn rosenbrock_value(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// Rosenbrock in 4 dimensions on [-5, 10]^4; minimum 0 at (1, …, 1).
pub fn rosenbrock() -> TestFunction {
    TestFunction {
        name: "rosenbrock-4d",
        space_toml: box_space(4, -5.0, 10.0),
        eval: |c| rosenbrock_value(&xs(c, 4)),
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

/// Levy's function in any dimension.
fn levy_value(x: &[f64]) -> f64 {
    use std::f64::consts::PI;
    let w: Vec<f64> = x.iter().map(|x| 1.0 + (x - 1.0) / 4.0).collect();
    let n = w.len();
    let head = (PI * w[0]).sin().powi(2);
    let mid: f64 = w[..n - 1]
        .iter()
        .map(|wi| (wi - 1.0).powi(2) * (1.0 + 10.0 * (PI * wi + 1.0).sin().powi(2)))
        .sum();
    let tail = (w[n - 1] - 1.0).powi(2) * (1.0 + (2.0 * PI * w[n - 1]).sin().powi(2));
    head + mid + tail
}

/// Levy in 4 dimensions on [-10, 10]^4; minimum 0 at (1, …, 1).
pub fn levy() -> TestFunction {
    TestFunction {
        name: "levy-4d",
        space_toml: box_space(4, -10.0, 10.0),
        eval: |c| levy_value(&xs(c, 4)),
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

/// The quality benchmark's functions: the six small ones and five of 6 to 16 dimensions,
/// continuous and mixed integer.
pub fn all() -> Vec<TestFunction> {
    vec![
        rosenbrock(),
        ackley(),
        levy(),
        six_hump_camel(),
        mixed_int_log(),
        conditional(),
        hartmann6(),
        styblinski_tang(),
        levy16(),
        int_styblinski_tang(),
        mixed_recipe(),
    ]
}

/// Functions kept aside: checked only once a sampler change is final, and reported apart, so
/// that changes are not tuned to them. Run by name (`--functions rosenbrock-10d,...`).
pub fn held_out() -> Vec<TestFunction> {
    vec![rosenbrock10(), griewank12(), int_rosenbrock6()]
}

/// The function called `name`, in [`all`] or [`held_out`].
pub fn by_name(name: &str) -> Option<TestFunction> {
    all().into_iter().chain(held_out()).find(|f| f.name == name)
}

/// Hartmann's 6-dimensional function on [0, 1]^6 (Dixon & Szegő 1978); minimum −3.32237 at
/// (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
pub fn hartmann6() -> TestFunction {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    TestFunction {
        name: "hartmann-6d",
        space_toml: box_space(6, 0.0, 1.0),
        eval: |c| {
            let x = xs(c, 6);
            -(0..4)
                .map(|i| {
                    let r: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
                    ALPHA[i] * (-r).exp()
                })
                .sum::<f64>()
        },
        optimum: -3.322_368_011_415_515,
    }
}

/// One term of Styblinski–Tang, `(x⁴ − 16x² + 5x) / 2`; smallest −39.16617 at x = −2.903534 on
/// [−5, 5], and −39 at the integer −3.
fn styblinski_tang_term(x: f64) -> f64 {
    0.5 * (x.powi(4) - 16.0 * x * x + 5.0 * x)
}

/// The smallest Styblinski–Tang term over the reals.
const STYBLINSKI_TANG_MIN: f64 = -39.166_165_703_771_42;

/// Styblinski–Tang in 10 dimensions on [−5, 5]^10; minimum −391.66166 at (−2.903534, …).
pub fn styblinski_tang() -> TestFunction {
    TestFunction {
        name: "styblinski-tang-10d",
        space_toml: box_space(10, -5.0, 5.0),
        eval: |c| xs(c, 10).into_iter().map(styblinski_tang_term).sum(),
        optimum: 10.0 * STYBLINSKI_TANG_MIN,
    }
}

/// Styblinski–Tang in 8 dimensions, the first four integers in [−5, 5], the last four floats;
/// minimum 4·(−39) + 4·(−39.16617) = −312.66466 at (−3, −3, −3, −3, −2.903534, …).
pub fn int_styblinski_tang() -> TestFunction {
    let ints: String = (0..4)
        .map(|i| format!("[params.x{i}]\ntype = \"int\"\nlow = -5\nhigh = 5\n"))
        .collect();
    let floats: String = (4..8)
        .map(|i| format!("[params.x{i}]\ntype = \"float\"\nlow = -5.0\nhigh = 5.0\n"))
        .collect();
    TestFunction {
        name: "int-styblinski-tang-8d",
        space_toml: ints + &floats,
        eval: |c| xs(c, 8).into_iter().map(styblinski_tang_term).sum(),
        optimum: 4.0 * -39.0 + 4.0 * STYBLINSKI_TANG_MIN,
    }
}

/// Levy in 16 dimensions on [−10, 10]^16; minimum 0 at (1, …, 1).
pub fn levy16() -> TestFunction {
    TestFunction {
        name: "levy-16d",
        space_toml: box_space(16, -10.0, 10.0),
        eval: |c| levy_value(&xs(c, 16)),
        optimum: 0.0,
    }
}

/// A training recipe as a function of seven mixed parameters, with the learning rate's best
/// value growing with the batch size (linear scaling): learning rate and weight decay (log),
/// batch size (int, log), depth (int), width (int, step 16), dropout and momentum (floats).
/// Minimum 0 at lr 6e-3, batch 128, decay 1e-4, depth 6, width 192, dropout 0.2, momentum 0.9.
pub fn mixed_recipe() -> TestFunction {
    TestFunction {
        name: "mixed-recipe-7d",
        space_toml: r#"
[params.lr]
type = "float"
low = 1e-5
high = 1.0
log = true
[params.batch]
type = "int"
low = 16
high = 1024
log = true
[params.decay]
type = "float"
low = 1e-6
high = 1e-1
log = true
[params.depth]
type = "int"
low = 1
high = 12
[params.width]
type = "int"
low = 16
high = 512
step = 16
[params.dropout]
type = "float"
low = 0.0
high = 0.8
[params.momentum]
type = "float"
low = 0.5
high = 0.999
"#
        .into(),
        eval: |c| {
            let batch = num(c, "batch");
            let best_lr = (3e-3 * batch / 64.0).log10();
            (num(c, "lr").log10() - best_lr).powi(2)
                + (batch.log2() - 7.0).powi(2) / 9.0
                + (num(c, "decay").log10() + 4.0).powi(2) / 4.0
                + (num(c, "depth") - 6.0).powi(2) / 9.0
                + ((num(c, "width") - 192.0) / 128.0).powi(2)
                + 2.0 * (num(c, "dropout") - 0.2).powi(2)
                + ((1.0 - num(c, "momentum")).log10() + 1.0).powi(2) / 2.0
        },
        optimum: 0.0,
    }
}

/// Rosenbrock in 10 dimensions on [−5, 10]^10; minimum 0 at (1, …, 1). Held out.
pub fn rosenbrock10() -> TestFunction {
    TestFunction {
        name: "rosenbrock-10d",
        space_toml: box_space(10, -5.0, 10.0),
        eval: |c| rosenbrock_value(&xs(c, 10)),
        optimum: 0.0,
    }
}

/// Griewank in 12 dimensions on [−600, 600]^12; minimum 0 at the origin. Held out.
pub fn griewank12() -> TestFunction {
    TestFunction {
        name: "griewank-12d",
        space_toml: box_space(12, -600.0, 600.0),
        eval: |c| {
            let x = xs(c, 12);
            let sum: f64 = x.iter().map(|v| v * v / 4000.0).sum();
            let product: f64 = x
                .iter()
                .enumerate()
                .map(|(i, v)| (v / ((i + 1) as f64).sqrt()).cos())
                .product();
            1.0 + sum - product
        },
        optimum: 0.0,
    }
}

/// Rosenbrock in 6 dimensions on [−5, 10]^6, the first three integers; minimum 0 at
/// (1, …, 1). Held out.
pub fn int_rosenbrock6() -> TestFunction {
    let ints: String = (0..3)
        .map(|i| format!("[params.x{i}]\ntype = \"int\"\nlow = -5\nhigh = 10\n"))
        .collect();
    TestFunction {
        name: "int-rosenbrock-6d",
        space_toml: ints + &box_space_from(3, 6, -5.0, 10.0),
        eval: |c| rosenbrock_value(&xs(c, 6)),
        optimum: 0.0,
    }
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

    /// `x0`, `x1`, … with the first `n_ints` as integers.
    fn xs_at(values: &[f64], n_ints: usize) -> Config {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let value = if i < n_ints {
                    ParamValue::Int(v as i64)
                } else {
                    v.into()
                };
                (format!("x{i}"), value)
            })
            .collect()
    }

    #[test]
    fn larger_functions_reach_their_optimum_at_the_known_minimiser() {
        let close = |f: TestFunction, at: Config, tol: f64| {
            let v = (f.eval)(&at);
            assert!(
                (v - f.optimum).abs() < tol,
                "{}: {v} vs {}",
                f.name,
                f.optimum
            );
            // The minimiser is a valid configuration of the function's own space.
            f.space().unwrap().check_config(&at).unwrap();
        };
        let hartmann = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
        close(hartmann6(), xs_at(&hartmann, 0), 1e-4);
        close(styblinski_tang(), xs_at(&[-2.903534; 10], 0), 1e-6);
        let int_st = [
            -3.0, -3.0, -3.0, -3.0, -2.903534, -2.903534, -2.903534, -2.903534,
        ];
        close(int_styblinski_tang(), xs_at(&int_st, 4), 1e-6);
        close(levy16(), xs_at(&[1.0; 16], 0), 1e-12);
        close(rosenbrock10(), xs_at(&[1.0; 10], 0), 1e-12);
        close(griewank12(), xs_at(&[0.0; 12], 0), 1e-12);
        close(int_rosenbrock6(), xs_at(&[1.0; 6], 3), 1e-12);
        let recipe = config(&[
            ("lr", 6e-3.into()),
            ("batch", ParamValue::Int(128)),
            ("decay", 1e-4.into()),
            ("depth", ParamValue::Int(6)),
            ("width", ParamValue::Int(192)),
            ("dropout", 0.2.into()),
            ("momentum", 0.9.into()),
        ]);
        close(mixed_recipe(), recipe, 1e-12);
        // Away from the minimiser every function is worse.
        assert!((hartmann6().eval)(&xs_at(&[0.5; 6], 0)) > -3.0);
        assert!(
            (mixed_recipe().eval)(&config(&[
                ("lr", 6e-3.into()),
                ("batch", ParamValue::Int(64)),
                ("decay", 1e-4.into()),
                ("depth", ParamValue::Int(6)),
                ("width", ParamValue::Int(192)),
                ("dropout", 0.2.into()),
                ("momentum", 0.9.into()),
            ])) > 0.1
        );
    }

    #[test]
    fn names_find_functions_kept_aside_too() {
        assert_eq!(by_name("hartmann-6d").map(|f| f.name), Some("hartmann-6d"));
        assert_eq!(
            by_name("griewank-12d").map(|f| f.name),
            Some("griewank-12d")
        );
        assert!(by_name("nope").is_none());
        let dev: Vec<_> = all().iter().map(|f| f.name).collect();
        assert!(held_out().iter().all(|f| !dev.contains(&f.name)));
    }

    #[test]
    fn every_space_parses() {
        for f in all().into_iter().chain(held_out()).chain([speed_space()]) {
            let space = f.space().unwrap_or_else(|e| panic!("{}: {e}", f.name));
            assert!(!space.is_empty());
        }
        assert_eq!(speed_space().space().unwrap().len(), 12);
    }
}
