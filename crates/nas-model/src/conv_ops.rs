//! Per-operation times of a network's convolutions and batch norms on the CPU: burn's flex
//! operations (what training runs today) beside nas-kernels' (issue 16), on the layer shapes
//! of one architecture at one batch size, each pass timed on its own. Training on flex runs
//! the kernels' path (`cpu_ops`); burn's is what it replaced.

use std::time::Instant;

use burn::tensor::module::{batch_norm_train, conv2d, conv2d_weight_backward};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use nas_arch::{ArchSpec, Conv, LayerKind, Plan, Resolution};
use nas_kernels::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, Activation, BatchNorm,
    Conv2dShape,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::ModelError;
use crate::measure::sync;

/// One layer shape of a network, as the kernels take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerShape {
    /// A convolution.
    Conv(Conv2dShape),
    /// Batch norm over `[batch, channels, pixels]`.
    BatchNorm {
        /// Images.
        batch: usize,
        /// Channels.
        channels: usize,
        /// Height × width.
        pixels: usize,
    },
}

/// Median milliseconds of each pass of one layer shape, burn's and ours.
#[derive(Debug, Clone, PartialEq)]
pub struct OpTimes {
    /// The shape.
    pub shape: LayerShape,
    /// How many layers of the network have it.
    pub count: usize,
    /// burn (flex): forward; backward to the input; backward to the weight (to γ and β with
    /// the input for batch norm: one pass there).
    pub burn: [f64; 3],
    /// nas-kernels: the same three.
    pub ours: [f64; 3],
}

/// The distinct convolution and batch-norm shapes of `spec` at `batch` images, in network order,
/// each with how many layers have it.
pub fn layer_shapes(spec: &ArchSpec, batch: usize) -> Result<Vec<(LayerShape, usize)>, ModelError> {
    let plan = Plan::of(spec).map_err(|e| ModelError::Settings(e.to_string()))?;
    let mut shapes: Vec<(LayerShape, usize)> = Vec::new();
    let mut add = |shape: LayerShape| match shapes.iter_mut().find(|(s, _)| *s == shape) {
        Some((_, count)) => *count += 1,
        None => shapes.push((shape, 1)),
    };
    let input = Resolution {
        height: spec.input.height,
        width: spec.input.width,
    };
    let conv_at = |conv: &Conv, at: Resolution, add: &mut dyn FnMut(LayerShape)| {
        add(LayerShape::Conv(conv_shape(conv, at, batch)));
        at.strided(conv.stride)
    };
    let after_stem = conv_at(&plan.stem, input, &mut add);
    add(LayerShape::BatchNorm {
        batch,
        channels: plan.stem.out_channels,
        pixels: after_stem.height * after_stem.width,
    });
    for block in &plan.blocks {
        // Each convolution reads the resolution the one before it left; a batch norm follows
        // the convolution before it.
        let mut at = block.input;
        let mut last = at;
        for layer in block.layers() {
            match layer.kind {
                LayerKind::Conv(conv) => {
                    // A shortcut convolution reads the block's input, a squeeze-excitation one
                    // the pooled 1×1 map; neither is on the branch.
                    let shortcut = layer.name.ends_with("shortcut");
                    let squeeze = layer.name.contains(" se ");
                    let from = match (shortcut, squeeze) {
                        (true, _) => block.input,
                        (_, true) => Resolution {
                            height: 1,
                            width: 1,
                        },
                        _ => at,
                    };
                    last = conv_at(&conv, from, &mut add);
                    if !shortcut && !squeeze {
                        at = last;
                    }
                }
                LayerKind::BatchNorm { channels } => add(LayerShape::BatchNorm {
                    batch,
                    channels,
                    pixels: last.height * last.width,
                }),
                LayerKind::Linear { .. } => {}
            }
        }
    }
    if let Some(conv) = &plan.head_conv {
        let after = conv_at(conv, plan.head_input, &mut add);
        add(LayerShape::BatchNorm {
            batch,
            channels: conv.out_channels,
            pixels: after.height * after.width,
        });
    }
    Ok(shapes)
}

fn conv_shape(conv: &Conv, at: Resolution, batch: usize) -> Conv2dShape {
    Conv2dShape {
        batch,
        in_channels: conv.in_channels,
        out_channels: conv.out_channels,
        height: at.height,
        width: at.width,
        kernel: conv.kernel,
        stride: conv.stride,
        padding: conv.padding(),
        groups: conv.groups,
    }
}

/// Times each of `shapes` `runs` times after one untimed run (medians), burn's operations on
/// `device` (flex) and nas-kernels' on the same values.
pub fn time_ops(
    shapes: &[(LayerShape, usize)],
    device: &Device,
    runs: usize,
) -> Result<Vec<OpTimes>, ModelError> {
    if runs == 0 {
        return Err(ModelError::Settings("runs must be at least 1".into()));
    }
    shapes
        .iter()
        .map(|&(shape, count)| {
            let (burn, ours) = match shape {
                LayerShape::Conv(s) => time_conv(&s, device, runs)?,
                LayerShape::BatchNorm {
                    batch,
                    channels,
                    pixels,
                } => time_batch_norm(batch, channels, pixels, device, runs)?,
            };
            Ok(OpTimes {
                shape,
                count,
                burn,
                ours,
            })
        })
        .collect()
}

/// Median milliseconds of `work` over `runs` runs after one untimed run.
fn median_ms(
    runs: usize,
    mut work: impl FnMut() -> Result<(), ModelError>,
) -> Result<f64, ModelError> {
    work()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        work()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn random_values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(values, shape), device)
}

fn time_conv(
    s: &Conv2dShape,
    device: &Device,
    runs: usize,
) -> Result<([f64; 3], [f64; 3]), ModelError> {
    let plain = device.clone().without_autodiff();
    let x_shape = [s.batch, s.in_channels, s.height, s.width];
    let w_shape = [s.out_channels, s.in_channels / s.groups, s.kernel, s.kernel];
    let y_shape = [s.batch, s.out_channels, s.out_height(), s.out_width()];
    let (x, w, dy) = (
        random_values(s.input_len(), 1),
        random_values(s.weight_len(), 2),
        random_values(s.output_len(), 3),
    );
    let options = ConvOptions::new([s.stride; 2], [s.padding; 2], [1, 1], s.groups);

    let (xt, wt, dyt) = (
        tensor(x.clone(), x_shape, &plain),
        tensor(w.clone(), w_shape, &plain),
        tensor(dy.clone(), y_shape, &plain),
    );
    let burn_forward = median_ms(runs, || {
        let y = conv2d(xt.clone(), wt.clone(), None, options.clone());
        sync(&plain)?;
        drop(y);
        Ok(())
    })?;
    // The input gradient through autodiff with only the input tracked, less the forward.
    let ad = device.clone().autodiff();
    let (xa, wa, dya) = (
        tensor(x.clone(), x_shape, &ad).require_grad(),
        tensor(w.clone(), w_shape, &ad),
        tensor(dy.clone(), y_shape, &ad),
    );
    let burn_forward_backward = median_ms(runs, || {
        let y = conv2d(xa.clone(), wa.clone(), None, options.clone());
        let grads = (y * dya.clone()).sum().backward();
        let dx = xa.grad(&grads);
        sync(&ad)?;
        drop(dx);
        Ok(())
    })?;
    let burn_weight = median_ms(runs, || {
        let dw = conv2d_weight_backward(xt.clone(), wt.clone(), dyt.clone(), options.clone());
        sync(&plain)?;
        drop(dw);
        Ok(())
    })?;

    let shape_error = |e: nas_kernels::KernelError| ModelError::Settings(e.to_string());
    let mut y = vec![0.0f32; s.output_len()];
    let ours_forward = median_ms(runs, || {
        conv2d_forward(s, &x, &w, None, &mut y).map_err(shape_error)
    })?;
    let mut dx = vec![0.0f32; s.input_len()];
    let ours_input = median_ms(runs, || {
        conv2d_backward_input(s, &dy, &w, &mut dx).map_err(shape_error)
    })?;
    let mut dw = vec![0.0f32; s.weight_len()];
    let ours_weight = median_ms(runs, || {
        conv2d_backward_weight(s, &x, &dy, &mut dw).map_err(shape_error)
    })?;
    Ok((
        [
            burn_forward,
            (burn_forward_backward - burn_forward).max(0.0),
            burn_weight,
        ],
        [ours_forward, ours_input, ours_weight],
    ))
}

fn time_batch_norm(
    batch: usize,
    channels: usize,
    pixels: usize,
    device: &Device,
    runs: usize,
) -> Result<([f64; 3], [f64; 3]), ModelError> {
    let len = batch * channels * pixels;
    let side = (pixels as f64).sqrt() as usize;
    let (h, w) = if side * side == pixels {
        (side, side)
    } else {
        (1, pixels)
    };
    let x = random_values(len, 4);
    let dy = random_values(len, 5);
    let (gamma, beta) = (vec![1.0f32; channels], vec![0.0f32; channels]);
    let ad = device.clone().autodiff();
    let xa = Tensor::<4>::random([batch, channels, h, w], Distribution::Normal(0.0, 1.0), &ad)
        .require_grad();
    let ga = tensor(gamma.clone(), [channels], &ad).require_grad();
    let ba = tensor(beta.clone(), [channels], &ad).require_grad();
    let dya = tensor(dy.clone(), [batch, channels, h, w], &ad);
    let burn_forward = median_ms(runs, || {
        let out = batch_norm_train(xa.clone(), ga.clone(), ba.clone(), 1e-5);
        sync(&ad)?;
        drop(out);
        Ok(())
    })?;
    let burn_both = median_ms(runs, || {
        let out = batch_norm_train(xa.clone(), ga.clone(), ba.clone(), 1e-5);
        let grads = (out.output * dya.clone()).sum().backward();
        let dx = xa.grad(&grads);
        sync(&ad)?;
        drop(dx);
        Ok(())
    })?;

    let shape_error = |e: nas_kernels::KernelError| ModelError::Settings(e.to_string());
    let bn = BatchNorm {
        batch,
        channels,
        pixels,
        gamma: &gamma,
        beta: &beta,
        eps: 1e-5,
        activation: Activation::Identity,
    };
    let mut y = vec![0.0f32; len];
    let mut stats = None;
    let ours_forward = median_ms(runs, || {
        stats = Some(bn.forward_train(&x, &mut y).map_err(shape_error)?);
        Ok(())
    })?;
    let stats = stats.expect("the forward ran");
    let mut dx = vec![0.0f32; len];
    let ours_backward = median_ms(runs, || {
        // In place, as training runs it: the output's gradient is copied in first.
        dx.copy_from_slice(&dy);
        bn.backward(&x, &mut dx, &stats).map_err(shape_error)?;
        Ok(())
    })?;
    Ok((
        [burn_forward, (burn_both - burn_forward).max(0.0), 0.0],
        [ours_forward, ours_backward, 0.0],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_arch::preset;

    #[test]
    fn every_convolution_and_batch_norm_of_a_network_is_listed_at_the_resolution_it_reads() {
        for name in ["bench-cnn", "small", "medium"] {
            let spec = preset(name).unwrap();
            let plan = Plan::of(&spec).unwrap();
            let shapes = layer_shapes(&spec, 3).unwrap();
            let count = |conv: bool| -> usize {
                shapes
                    .iter()
                    .filter(|(s, _)| matches!(s, LayerShape::Conv(_)) == conv)
                    .map(|(_, n)| n)
                    .sum()
            };
            let layers: Vec<_> = plan.blocks.iter().flat_map(|b| b.layers()).collect();
            let convs = 1
                + layers
                    .iter()
                    .filter(|l| matches!(l.kind, LayerKind::Conv(_)))
                    .count()
                + usize::from(plan.head_conv.is_some());
            let norms = 1
                + layers
                    .iter()
                    .filter(|l| matches!(l.kind, LayerKind::BatchNorm { .. }))
                    .count()
                + usize::from(plan.head_conv.is_some());
            assert_eq!((count(true), count(false)), (convs, norms), "{name}");
            // Every convolution fits the resolution it is given, at batch 3.
            for (shape, _) in &shapes {
                match shape {
                    LayerShape::Conv(s) => {
                        s.check().unwrap();
                        assert_eq!(s.batch, 3);
                    }
                    LayerShape::BatchNorm { batch, pixels, .. } => {
                        assert!(*batch == 3 && *pixels > 0)
                    }
                }
            }
            // The stem reads the input image.
            let LayerShape::Conv(stem) = shapes[0].0 else {
                panic!("the stem comes first")
            };
            assert_eq!(
                (stem.height, stem.width),
                (spec.input.height, spec.input.width),
                "{name}"
            );
        }
    }
}
