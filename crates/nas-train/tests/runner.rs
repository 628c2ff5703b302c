//! The runner turns a configuration into what it trains: the sampled epochs raised to the
//! preset's floor and capped at its ceiling.

use nas_core::space::{Config, ParamValue};
use nas_data::squares;
use nas_model::BackendKind;
use nas_train::{BurnRunner, RunnerSettings};

fn config(epochs: i64) -> Config {
    [
        ("arch.stem_width", ParamValue::Int(8)),
        ("stage1.block", ParamValue::Str("vanilla".into())),
        ("stage1.vanilla.kernel", ParamValue::Int(3)),
        ("stage1.width", ParamValue::Int(8)),
        ("stage1.depth", ParamValue::Int(1)),
        ("stage1.stride", ParamValue::Int(2)),
        ("epochs", ParamValue::Int(epochs)),
        ("warmup_epochs", ParamValue::Int(1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[test]
fn sampled_epochs_are_raised_to_the_floor_and_capped() {
    let device = BackendKind::Flex.device().unwrap();
    let settings = RunnerSettings {
        min_epochs: Some(7.0),
        max_epochs: Some(9.0),
        ..RunnerSettings::default()
    };
    let runner = BurnRunner::new(device, squares(4, 1), squares(1, 2), settings);
    for (sampled, trained) in [(5, 7.0), (8, 8.0), (20, 9.0)] {
        let (spec, recipe) = runner.decode(&config(sampled)).unwrap();
        assert_eq!(recipe.epochs, trained, "sampled {sampled}");
        // The warm-up keeps its share of the schedule.
        let share = recipe.warmup_epochs / recipe.epochs;
        assert!(
            (share - 1.0 / sampled as f64).abs() < 1e-12,
            "sampled {sampled}"
        );
        assert_eq!(spec.input.height, 12);
    }
}
