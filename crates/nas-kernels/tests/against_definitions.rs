//! Every kernel against the plain loops of its definition, in `f64`, on random shapes: batch 1
//! and odd batches, channel counts that are not a multiple of any SIMD width, kernels 1, 3, 5
//! and 7, strides 1 and 2, dense, grouped and depthwise convolutions, feature maps down to
//! 1×1; batch norm (with each activation) and the activations' gradients against central
//! differences of their forward passes.

use nas_kernels::{
    activation_backward, activation_forward, conv2d_backward_input, conv2d_backward_weight,
    conv2d_forward, Activation, BatchNorm, Conv2dShape, KernelError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The largest difference from the reference, relative to the reference's largest value.
fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&g, &w)| m.max((f64::from(g) - w).abs()));
    worst / scale
}

/// Output, input gradient and weight gradient of a convolution from its definition.
struct Reference {
    output: Vec<f64>,
    grad_input: Vec<f64>,
    grad_weight: Vec<f64>,
}

// Indices as the definition writes them.
#[allow(clippy::needless_range_loop)]
fn reference(s: &Conv2dShape, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> Reference {
    let (oh, ow) = (s.out_height(), s.out_width());
    let (cg, og) = (s.in_channels / s.groups, s.out_channels / s.groups);
    let k = s.kernel;
    let mut output = vec![0.0f64; s.output_len()];
    let mut grad_input = vec![0.0f64; s.input_len()];
    let mut grad_weight = vec![0.0f64; s.weight_len()];
    for n in 0..s.batch {
        for o in 0..s.out_channels {
            let g = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let at = ((n * s.out_channels + o) * oh + oy) * ow + ox;
                    let mut sum = f64::from(b[o]);
                    for c in 0..cg {
                        let ci = g * cg + c;
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * s.stride + ky) as isize - s.padding as isize;
                                let ix = (ox * s.stride + kx) as isize - s.padding as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= s.height as isize
                                    || ix >= s.width as isize
                                {
                                    continue;
                                }
                                let xi = ((n * s.in_channels + ci) * s.height + iy as usize)
                                    * s.width
                                    + ix as usize;
                                let wi = ((o * cg + c) * k + ky) * k + kx;
                                sum += f64::from(w[wi]) * f64::from(x[xi]);
                                grad_input[xi] += f64::from(w[wi]) * f64::from(dy[at]);
                                grad_weight[wi] += f64::from(x[xi]) * f64::from(dy[at]);
                            }
                        }
                    }
                    output[at] = sum;
                }
            }
        }
    }
    Reference {
        output,
        grad_input,
        grad_weight,
    }
}

fn check_shape(s: Conv2dShape, seed: u64) {
    s.check().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = random(&mut rng, s.input_len());
    let w = random(&mut rng, s.weight_len());
    let b = random(&mut rng, s.out_channels);
    let dy = random(&mut rng, s.output_len());
    let want = reference(&s, &x, &w, &b, &dy);

    let mut y = vec![f32::NAN; s.output_len()];
    conv2d_forward(&s, &x, &w, Some(&b), &mut y).unwrap();
    let e = relative_error(&y, &want.output);
    assert!(e < 1e-4, "forward {s:?}: relative error {e}");

    let mut dx = vec![f32::NAN; s.input_len()];
    conv2d_backward_input(&s, &dy, &w, &mut dx).unwrap();
    let e = relative_error(&dx, &want.grad_input);
    assert!(e < 1e-4, "input gradient {s:?}: relative error {e}");

    let mut dw = vec![f32::NAN; s.weight_len()];
    conv2d_backward_weight(&s, &x, &dy, &mut dw).unwrap();
    let e = relative_error(&dw, &want.grad_weight);
    assert!(e < 1e-4, "weight gradient {s:?}: relative error {e}");
}

#[allow(clippy::too_many_arguments)]
fn shape(
    batch: usize,
    cin: usize,
    cout: usize,
    hw: (usize, usize),
    k: usize,
    stride: usize,
    padding: usize,
    groups: usize,
) -> Conv2dShape {
    Conv2dShape {
        batch,
        in_channels: cin,
        out_channels: cout,
        height: hw.0,
        width: hw.1,
        kernel: k,
        stride,
        padding,
        groups,
    }
}

#[test]
fn dense_convolutions_match_their_definition() {
    let shapes = [
        shape(1, 3, 5, (7, 7), 3, 1, 1, 1),
        shape(3, 5, 9, (8, 6), 3, 2, 1, 1),
        shape(2, 7, 4, (9, 9), 5, 1, 2, 1),
        shape(1, 3, 6, (11, 10), 7, 2, 3, 1),
        shape(2, 13, 17, (5, 5), 1, 1, 0, 1), // pointwise: the input is its own im2col
        shape(3, 6, 3, (6, 7), 1, 2, 0, 1),   // 1×1 with stride 2
        shape(2, 4, 4, (1, 1), 3, 1, 1, 1),   // a 1×1 map under a 3×3 kernel
        shape(1, 2, 3, (2, 2), 3, 2, 1, 1),
        shape(5, 3, 2, (4, 3), 3, 1, 0, 1), // no padding
    ];
    for (i, s) in shapes.into_iter().enumerate() {
        check_shape(s, i as u64);
    }
}

#[test]
fn grouped_and_depthwise_convolutions_match_their_definition() {
    let shapes = [
        shape(2, 6, 4, (7, 7), 3, 1, 1, 2),    // two groups
        shape(3, 9, 9, (6, 6), 3, 2, 1, 3),    // three groups, stride 2
        shape(1, 4, 8, (5, 5), 3, 1, 1, 4),    // one input channel per group, two outputs each
        shape(2, 11, 11, (9, 8), 3, 1, 1, 11), // depthwise
        shape(3, 7, 7, (10, 10), 5, 2, 2, 7),  // depthwise 5×5, stride 2
        shape(1, 5, 5, (8, 8), 7, 1, 3, 5),    // depthwise 7×7
        shape(2, 3, 3, (1, 1), 3, 1, 1, 3),    // depthwise on a 1×1 map
        shape(4, 17, 17, (3, 4), 3, 2, 1, 17), // depthwise, odd sizes, stride 2
        shape(1, 6, 6, (4, 4), 1, 1, 0, 6),    // depthwise 1×1
        shape(2, 8, 8, (14, 14), 3, 1, 1, 8),  // depthwise, a search space's plane
        shape(1, 3, 3, (6, 9), 5, 1, 1, 3),    // depthwise, less padding than k / 2
        shape(2, 4, 4, (7, 5), 5, 1, 0, 4),    // depthwise, no padding
        shape(1, 2, 2, (3, 3), 1, 1, 1, 2),    // depthwise, more padding than k − 1
    ];
    for (i, s) in shapes.into_iter().enumerate() {
        check_shape(s, 100 + i as u64);
    }
}

#[test]
fn random_shapes_match_their_definition() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..40 {
        let k: usize = [1, 3, 5, 7][rng.random_range(0..4)];
        let stride = rng.random_range(1..=2);
        let padding = rng.random_range(0..=k / 2);
        let groups = rng.random_range(1..=3);
        let depthwise = rng.random_bool(0.3);
        let (cin, cout, groups) = if depthwise {
            let c = rng.random_range(1..=12);
            (c, c, c)
        } else {
            (
                groups * rng.random_range(1..=5),
                groups * rng.random_range(1..=5),
                groups,
            )
        };
        let h = rng.random_range(1..=9).max(k.saturating_sub(2 * padding));
        let w = rng.random_range(1..=9).max(k.saturating_sub(2 * padding));
        let s = shape(
            rng.random_range(1..=4),
            cin,
            cout,
            (h, w),
            k,
            stride,
            padding,
            groups,
        );
        check_shape(s, 1000 + i);
    }
}

#[test]
fn shapes_that_do_not_fit_are_refused_with_what_is_wrong() {
    let s = shape(1, 6, 4, (5, 5), 3, 1, 1, 4);
    assert_eq!(
        s.check(),
        Err(KernelError::Groups {
            what: "input",
            channels: 6,
            groups: 4
        })
    );
    let s = shape(1, 2, 2, (2, 2), 5, 1, 1, 1);
    assert!(matches!(
        s.check(),
        Err(KernelError::NoOutput { kernel: 5, .. })
    ));
    let s = shape(0, 2, 2, (4, 4), 3, 1, 1, 1);
    assert_eq!(s.check(), Err(KernelError::Zero { what: "batch" }));
    let s = shape(1, 2, 2, (4, 4), 3, 1, 1, 1);
    let mut y = vec![0.0; s.output_len()];
    let err = conv2d_forward(&s, &[0.0; 3], &vec![0.0; s.weight_len()], None, &mut y).unwrap_err();
    assert_eq!(
        err,
        KernelError::Length {
            what: "input",
            got: 3,
            expected: 32
        }
    );
}

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Relu6,
    Activation::HardSwish,
];

/// An activation from its definition, in `f64`.
fn act_reference(activation: Activation, z: f64) -> f64 {
    match activation {
        Activation::Identity => z,
        Activation::Relu => z.max(0.0),
        Activation::Relu6 => z.clamp(0.0, 6.0),
        Activation::HardSwish => z * (z + 3.0).clamp(0.0, 6.0) / 6.0,
    }
}

/// Batch norm's output from its definition, in `f64`, then the activation.
#[allow(clippy::too_many_arguments)]
fn bn_reference(
    x: &[f64],
    batch: usize,
    channels: usize,
    pixels: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    activation: Activation,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for c in 0..channels {
        let at = |n: usize, p: usize| (n * channels + c) * pixels + p;
        let count = (batch * pixels) as f64;
        let mean = (0..batch)
            .flat_map(|n| (0..pixels).map(move |p| (n, p)))
            .map(|(n, p)| x[at(n, p)])
            .sum::<f64>()
            / count;
        let var = (0..batch)
            .flat_map(|n| (0..pixels).map(move |p| (n, p)))
            .map(|(n, p)| (x[at(n, p)] - mean).powi(2))
            .sum::<f64>()
            / count;
        for n in 0..batch {
            for p in 0..pixels {
                let z = gamma[c] * (x[at(n, p)] - mean) / (var + eps).sqrt() + beta[c];
                y[at(n, p)] = act_reference(activation, z);
            }
        }
    }
    y
}

#[test]
fn batch_norm_with_each_activation_matches_its_definition_and_central_differences() {
    // Planes shorter and longer than the kernels' sixteen lanes, with and without a tail.
    let shapes = [
        (1, 3, 5),
        (3, 2, 1),
        (2, 5, 9),
        (4, 17, 3),
        (2, 3, 37),
        (3, 2, 32),
    ];
    for (seed, (batch, channels, pixels)) in shapes.into_iter().enumerate() {
        for activation in ACTIVATIONS {
            batch_norm_case(seed as u64, batch, channels, pixels, activation);
        }
    }
}

fn batch_norm_case(seed: u64, batch: usize, channels: usize, pixels: usize, act: Activation) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = batch * channels * pixels;
    // An offset mean, as activations have; β spread so that every activation's kinks are met.
    let x: Vec<f32> = random(&mut rng, len).iter().map(|v| v + 3.0).collect();
    let gamma: Vec<f32> = random(&mut rng, channels).iter().map(|g| 2.0 * g).collect();
    let beta: Vec<f32> = random(&mut rng, channels).iter().map(|b| 4.0 * b).collect();
    let dy = random(&mut rng, len);
    let eps = 1e-5;
    let what = format!("{act:?} [{batch}, {channels}, {pixels}]");
    let bn = BatchNorm {
        batch,
        channels,
        pixels,
        gamma: &gamma,
        beta: &beta,
        eps,
        activation: act,
    };

    let mut y = vec![f32::NAN; len];
    let stats = bn.forward_train(&x, &mut y).unwrap();
    let as64 = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    let (x64, g64, b64, dy64) = (as64(&x), as64(&gamma), as64(&beta), as64(&dy));
    let reference = |x: &[f64], g: &[f64], b: &[f64]| {
        bn_reference(x, batch, channels, pixels, g, b, f64::from(eps), act)
    };
    let e = relative_error(&y, &reference(&x64, &g64, &b64));
    assert!(e < 1e-4, "forward {what}: relative error {e}");

    // Inference with the batch's statistics as the running ones gives the same output.
    let mut y_inference = vec![f32::NAN; len];
    bn.forward_inference(&stats.mean, &stats.var, &x, &mut y_inference)
        .unwrap();
    let e = relative_error(&y_inference, &as64(&y));
    assert!(e < 1e-5, "inference {what}: relative error {e}");

    let mut dx = dy.clone();
    let grads = bn.backward(&x, &mut dx, &stats).unwrap();
    // L = Σ y · dy; its gradients by central differences of the f64 forward pass.
    let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
        reference(x, g, b)
            .iter()
            .zip(&dy64)
            .map(|(y, d)| y * d)
            .sum()
    };
    let h = 1e-6;
    let numeric = |v: &[f64], at: usize, f: &dyn Fn(&[f64]) -> f64| {
        let (mut up, mut down) = (v.to_vec(), v.to_vec());
        up[at] += h;
        down[at] -= h;
        (f(&up) - f(&down)) / (2.0 * h)
    };
    let want_dx: Vec<f64> = (0..len)
        .map(|i| numeric(&x64, i, &|x| loss(x, &g64, &b64)))
        .collect();
    let want_dg: Vec<f64> = (0..channels)
        .map(|c| numeric(&g64, c, &|g| loss(&x64, g, &b64)))
        .collect();
    let want_db: Vec<f64> = (0..channels)
        .map(|c| numeric(&b64, c, &|b| loss(&x64, &g64, b)))
        .collect();
    for (which, got, want) in [
        ("input", &dx, &want_dx),
        ("gamma", &grads.gamma, &want_dg),
        ("beta", &grads.beta, &want_db),
    ] {
        let e = relative_error(got, want);
        // A single pixel per channel and batch has no spread: every gradient but β's is 0.
        assert!(e < 1e-3, "{which} gradient {what}: relative error {e}");
    }
}

#[test]
fn activations_match_their_definitions_and_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // Across every kink (−3, 0, 3, 6), and more than one parallel chunk of elements.
    let x: Vec<f32> = random(&mut rng, 40_000).iter().map(|v| 8.0 * v).collect();
    let dy = random(&mut rng, x.len());
    for act in ACTIVATIONS {
        let mut y = vec![f32::NAN; x.len()];
        activation_forward(act, &x, &mut y).unwrap();
        let want: Vec<f64> = x
            .iter()
            .map(|&v| act_reference(act, f64::from(v)))
            .collect();
        let e = relative_error(&y, &want);
        assert!(e < 1e-6, "{act:?} forward: relative error {e}");

        let mut dx = dy.clone();
        activation_backward(act, &x, &mut dx).unwrap();
        let h = 1e-6;
        let want: Vec<f64> = x
            .iter()
            .zip(&dy)
            .map(|(&v, &d)| {
                let v = f64::from(v);
                let slope = (act_reference(act, v + h) - act_reference(act, v - h)) / (2.0 * h);
                slope * f64::from(d)
            })
            .collect();
        let e = relative_error(&dx, &want);
        assert!(e < 1e-4, "{act:?} backward: relative error {e}");
    }
    assert_eq!(
        activation_forward(Activation::Relu, &x, &mut [0.0; 3]),
        Err(KernelError::Length {
            what: "output",
            got: 3,
            expected: 40_000
        })
    );
}

#[test]
fn batch_norm_refuses_sizes_that_do_not_fit_and_names_them() {
    let (gamma, beta) = (vec![1.0f32; 3], vec![0.0f32; 3]);
    let bn = BatchNorm {
        batch: 2,
        channels: 3,
        pixels: 4,
        gamma: &gamma,
        beta: &beta,
        eps: 1e-5,
        activation: Activation::Relu,
    };
    let x = vec![0.5f32; 24];
    let length = |what, got, expected| KernelError::Length {
        what,
        got,
        expected,
    };
    assert_eq!(
        BatchNorm { channels: 0, ..bn }
            .forward_train(&x, &mut [0.0; 24])
            .unwrap_err(),
        KernelError::Zero { what: "channels" }
    );
    assert_eq!(
        BatchNorm {
            gamma: &gamma[..2],
            ..bn
        }
        .forward_train(&x, &mut [0.0; 24])
        .unwrap_err(),
        length("gamma", 2, 3)
    );
    assert_eq!(
        bn.forward_train(&x, &mut [0.0; 23]).unwrap_err(),
        length("output", 23, 24)
    );
    let stats = bn.forward_train(&x, &mut [0.0; 24]).unwrap();
    assert_eq!(
        bn.backward(&x, &mut [0.0; 25], &stats).unwrap_err(),
        length("grad", 25, 24)
    );
    assert_eq!(
        bn.forward_inference(&stats.mean[..1], &stats.var, &x, &mut [0.0; 24])
            .unwrap_err(),
        length("mean", 1, 3)
    );
}
