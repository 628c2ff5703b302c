//! [`retrain`]: a searched network trained again at full fidelity, as `nas export` ships it:
//! the whole training split for the recipe's epochs, then one score on the test split.

use std::time::Instant;

use burn::tensor::Device;
use nas_arch::ArchSpec;
use nas_data::FidelityView;
use nas_model::{DeviceImages, Network};
use nas_search::Halt;

use crate::error::TrainError;
use crate::recipe::Recipe;
use crate::trainer::{CandidateTrainer, Evaluation};

/// Images per evaluation batch on the test split.
const EVALUATION_BATCH: usize = 500;

/// A network trained at full fidelity and its one score on the test split.
pub struct Retrained {
    /// The trained network, for inference.
    pub model: Network,
    /// Its loss and accuracy on the test split.
    pub test: Evaluation,
    /// Seconds the training took (not the test).
    pub seconds: f64,
}

/// Trains `spec` with `recipe` on the whole training split of `view` under `seed`, calling
/// `after_epoch` with the images seen at the end of each epoch, then scores it once on the
/// test split (`view`'s second set). [`TrainError::Halted`] once `halt` is set.
pub fn retrain(
    spec: &ArchSpec,
    recipe: &Recipe,
    view: &FidelityView,
    device: &Device,
    seed: u64,
    after_epoch: &mut dyn FnMut(u64),
    halt: &Halt,
) -> Result<Retrained, TrainError> {
    device.seed(seed);
    let per_epoch = view.train().len() as u64;
    let total = (recipe.epochs * per_epoch as f64).round() as u64;
    let mut trainer = CandidateTrainer::new(spec, recipe, device, total)?;
    let train = DeviceImages::upload(view.train(), &device.clone().autodiff());
    let started = Instant::now();
    let mut epoch = 0;
    trainer.train_reporting(&train, total, seed, &mut epoch, after_epoch, halt)?;
    let seconds = started.elapsed().as_secs_f64();
    drop(train);
    let test = DeviceImages::upload(view.validation(), device);
    let test = trainer.evaluate(&test, EVALUATION_BATCH)?;
    Ok(Retrained {
        model: trainer.inference_model(),
        test,
        seconds,
    })
}
