//! Training a candidate on flex: it learns an easy problem with every optimizer, and a
//! learning rate that blows up is reported as divergence.

use nas_arch::preset;
use nas_data::{squares, Fidelity, FidelityView};
use nas_model::{BackendKind, DeviceImages};
use nas_train::{CandidateTrainer, Optimizer, Recipe, TrainError};

fn data() -> (DeviceImages, DeviceImages) {
    let device = BackendKind::Flex.device().unwrap();
    let view = FidelityView::new(
        &squares(40, 1),
        &squares(10, 2),
        Fidelity::full(1).unwrap(),
        0,
    )
    .unwrap();
    (
        DeviceImages::upload(view.train(), &device.clone().autodiff()),
        DeviceImages::upload(view.validation(), &device),
    )
}

fn spec() -> nas_arch::ArchSpec {
    let mut spec = preset("tiny").unwrap();
    spec.input.height = 12;
    spec.input.width = 12;
    spec
}

#[test]
fn every_optimizer_learns_the_squares() {
    let (train, validation) = data();
    let device = BackendKind::Flex.device().unwrap();
    let optimizers = [
        (
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
            },
            3e-3,
        ),
        (
            Optimizer::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                weight_decay: 1e-2,
            },
            3e-3,
        ),
        (
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 1e-4,
            },
            0.05,
        ),
    ];
    for (optimizer, lr) in optimizers {
        let recipe = Recipe {
            optimizer,
            lr,
            batch_size: 32,
            epochs: 12.0,
            warmup_epochs: 1.0,
            label_smoothing: 0.05,
        };
        let total = 12 * train.len() as u64;
        device.seed(3);
        let mut trainer = CandidateTrainer::new(&spec(), &recipe, &device, total).unwrap();
        let before = trainer.evaluate(&validation, 50).unwrap();
        let mut epoch = 0;
        let first = trainer
            .train(&train, train.len() as u64, 1, &mut epoch)
            .unwrap();
        let rest = trainer
            .train(&train, total - first.images, 1, &mut epoch)
            .unwrap();
        let after = trainer.evaluate(&validation, 50).unwrap();
        assert_eq!(first.images + rest.images, total);
        assert_eq!(
            trainer.steps(),
            12 * 400u64.div_ceil(32),
            "{optimizer:?}: one step per batch"
        );
        assert!(
            rest.mean_loss < first.mean_loss,
            "{optimizer:?}: {first:?} → {rest:?}"
        );
        assert!(
            after.accuracy >= 0.6 && after.accuracy > before.accuracy + 0.3,
            "{optimizer:?}: accuracy {:.3} → {:.3}",
            before.accuracy,
            after.accuracy
        );
    }
}

#[test]
fn an_exploding_learning_rate_is_reported_as_divergence() {
    let (train, _) = data();
    let device = BackendKind::Flex.device().unwrap();
    let recipe = Recipe {
        optimizer: Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        },
        lr: 1e30,
        batch_size: 32,
        ..Recipe::default()
    };
    let mut trainer = CandidateTrainer::new(&spec(), &recipe, &device, 4000).unwrap();
    let mut epoch = 0;
    match trainer.train(&train, 4000, 0, &mut epoch) {
        Err(TrainError::Diverged { loss, .. }) => assert!(!loss.is_finite()),
        other => panic!("expected divergence, got {other:?}"),
    }
}
