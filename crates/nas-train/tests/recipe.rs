//! Recipes read from configurations, and the learning-rate schedule.

use nas_core::space::{Config, ParamValue};
use nas_train::{LrSchedule, Optimizer, Recipe};

fn config(pairs: &[(&str, ParamValue)]) -> Config {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn each_optimizer_reads_its_own_parameters() {
    use ParamValue::{Bool, Float, Int, Str};
    let sgd = Recipe::from_config(&config(&[
        ("optimizer", Str("sgd".into())),
        ("lr", Float(0.05)),
        ("sgd.momentum", Float(0.85)),
        ("sgd.nesterov", Bool(true)),
        ("sgd.weight_decay", Float(1e-4)),
        ("batch_size", Int(64)),
        ("epochs", Int(10)),
        ("warmup_epochs", Int(2)),
        ("label_smoothing", Float(0.1)),
    ]))
    .unwrap();
    assert_eq!(
        sgd.optimizer,
        Optimizer::Sgd {
            momentum: 0.85,
            nesterov: true,
            weight_decay: 1e-4
        }
    );
    assert_eq!(
        (sgd.lr, sgd.batch_size, sgd.epochs, sgd.warmup_epochs),
        (0.05, 64, 10.0, 2.0)
    );
    assert_eq!(sgd.label_smoothing, 0.1);

    let adamw = Recipe::from_config(&config(&[
        ("optimizer", Str("adamw".into())),
        ("adamw.weight_decay", Float(0.02)),
        ("adamw.beta1", Float(0.85)),
    ]))
    .unwrap();
    assert_eq!(
        adamw.optimizer,
        Optimizer::AdamW {
            beta1: 0.85,
            beta2: 0.999,
            weight_decay: 0.02
        }
    );
    // An optimizer's own learning rate takes the place of the shared one.
    let own = |optimizer: &str, pairs: &[(&str, ParamValue)]| {
        let mut c = config(pairs);
        c.insert("optimizer".into(), Str(optimizer.into()));
        Recipe::from_config(&c).unwrap().lr
    };
    assert_eq!(
        own("sgd", &[("lr", Float(1e-3)), ("sgd.lr", Float(0.1))]),
        0.1
    );
    assert_eq!(
        own("adam", &[("lr", Float(1e-3)), ("sgd.lr", Float(0.1))]),
        1e-3
    );
    assert_eq!(own("adamw", &[("adamw.lr", Float(2e-3))]), 2e-3);
    // Missing parameters keep the defaults: Adam at 1e-3, batch 128, 10 epochs.
    assert_eq!(
        Recipe::from_config(&Config::new()).unwrap(),
        Recipe::default()
    );
}

#[test]
fn bad_recipe_values_are_refused_by_name() {
    use ParamValue::{Float, Str};
    let err =
        |pairs: &[(&str, ParamValue)]| Recipe::from_config(&config(pairs)).unwrap_err().to_string();
    assert!(err(&[("optimizer", Str("rmsprop".into()))]).contains("`optimizer` = \"rmsprop\""));
    assert!(err(&[("lr", Float(-1.0))]).contains("`lr` = -1"));
    assert!(err(&[("lr", Str("fast".into()))]).contains("`lr`"));
    let sgd = [("optimizer", Str("sgd".into())), ("sgd.lr", Float(0.0))];
    assert!(err(&sgd).contains("`sgd.lr` = 0"));
    assert!(err(&[("label_smoothing", Float(1.5))]).contains("`label_smoothing`"));
}

#[test]
fn the_summary_prints_epochs_warm_up_and_smoothing_without_float_noise() {
    let recipe = Recipe {
        epochs: 5.0,
        warmup_epochs: 0.75,
        label_smoothing: 0.05 * 3.0, // 0.15000000000000002
        ..Recipe::default()
    };
    let summary = recipe.summary();
    assert!(
        summary.ends_with(" epochs=5 warmup=0.75 smoothing=0.15"),
        "{summary}"
    );
    let none = Recipe {
        warmup_epochs: 0.0,
        label_smoothing: 0.0,
        epochs: 1.0 / 3.0,
        ..Recipe::default()
    };
    assert!(
        none.summary()
            .ends_with(" epochs=0.3333 warmup=0 smoothing=0"),
        "{}",
        none.summary()
    );
}

#[test]
fn capping_epochs_scales_the_warm_up() {
    let recipe = Recipe {
        epochs: 20.0,
        warmup_epochs: 4.0,
        ..Recipe::default()
    };
    let capped = recipe.with_max_epochs(5.0);
    assert_eq!((capped.epochs, capped.warmup_epochs), (5.0, 1.0));
    assert_eq!(recipe.with_max_epochs(30.0), recipe);
}

#[test]
fn the_schedule_warms_up_linearly_then_decays_along_a_cosine() {
    let s = LrSchedule::new(0.1, 10, 110);
    assert!((s.at(0) - (0.001 + 0.099 / 10.0)).abs() < 1e-12);
    assert!(
        (s.at(9) - 0.1).abs() < 1e-12,
        "the warm-up ends at the peak"
    );
    assert!(
        (s.at(10) - 0.1).abs() < 1e-12,
        "the decay starts at the peak"
    );
    assert!(
        (s.at(60) - 0.05).abs() < 1e-12,
        "half way down the cosine: half the peak"
    );
    for step in 10..109 {
        assert!(s.at(step + 1) < s.at(step), "decreasing at {step}");
    }
    assert!(s.at(109) > 0.0 && s.at(109) < 1e-4);
    assert_eq!(s.at(500), s.at(109), "past the end keeps the last rate");
    let no_warmup = LrSchedule::new(0.1, 0, 4);
    assert_eq!(no_warmup.at(0), 0.1);
}
