//! Convolutions, batch norm fused with the activation after it, and activations on their own,
//! on burn's flex CPU backend through nas-kernels, forward and backward: burn's backend
//! extension routes [`NasCpuOps`] to [`Flex`] and to `Autodiff<Flex>`, whose backward passes
//! call the kernels' gradients (batch norm's and the activations' write the input gradient
//! over the output gradient's buffer). [`conv_forward`] takes this path for a [`Conv2d`] whose
//! input lives on the flex device and burn's own `Conv2d::forward` everywhere else (wgpu,
//! CUDA), so the modules, their parameters and saved files stay burn's; [`batch_norm_train`],
//! [`batch_norm_inference`] and [`activate`] do the same for [`crate::BatchNorm2d`] and the
//! blocks' activations. Convolution shapes the kernels do not take (dilation, unequal strides
//! or padding, non-f32) fall back to burn's convolution inside the extension.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, AutodiffBackend, Backend, Dispatch, Flex};
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use nas_kernels::{
    activation_backward, activation_forward, conv2d_backward_input, conv2d_backward_weight,
    conv2d_forward, Activation, BatchNorm, BatchNormStats, Conv2dShape,
};

/// Operations nas runs on its own kernels where the backend allows.
#[backend_extension(Flex, Autodiff)]
pub trait NasCpuOps: Backend {
    /// A 2-D convolution without bias.
    fn conv2d_nas(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Batch norm of `[N, C, H, W]` f32 input with the batch's own statistics, then
    /// `activation`: the output, and the batch mean and biased variance per channel (no
    /// gradient flows through those two).
    fn batch_norm_train_nas(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Batch norm of `[N, C, H, W]` f32 input with running statistics `mean` and `var`, then
    /// `activation`, for evaluation: no gradient flows through it.
    fn batch_norm_inference_nas(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self>;

    /// `activation(x)`, element by element, on f32 input.
    fn activation_nas(x: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self>;
}

thread_local! {
    /// Set by [`without_cpu_kernels`] for the calls it makes.
    static KERNELS_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` with burn's own flex operations instead of nas-kernels (on this thread): what
/// the kernels are compared against, in tests and benchmarks.
pub fn without_cpu_kernels<R>(work: impl FnOnce() -> R) -> R {
    /// Puts the flag back when `work` returns or unwinds.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            KERNELS_OFF.with(|off| off.set(self.0));
        }
    }
    let _restore = Restore(KERNELS_OFF.with(|off| off.replace(true)));
    work()
}

/// Whether a tensor on `device` goes through nas-kernels: the flex device, unless
/// [`without_cpu_kernels`] said not to.
fn on_kernels(device: &Device) -> bool {
    *device == Device::flex() && !KERNELS_OFF.with(|off| off.get())
}

/// `conv(x)` for a convolution with explicit, equal padding on every side: on the flex device
/// through nas-kernels, elsewhere burn's `Conv2d::forward`.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return conv.forward(x);
    };
    if !on_kernels(&x.device()) {
        return conv.forward(x);
    }
    let options = ConvOptions::new_with_padding(
        conv.stride,
        [(top, bottom), (left, right)],
        conv.dilation,
        conv.groups,
    );
    let y = Tensor::<4>::from_dispatch(<Dispatch as NasCpuOps>::conv2d_nas(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        options,
    ));
    match &conv.bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            y + bias.val().reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

/// The kernels' shape for `x` and `weight` under `options`, if they take it: f32, a square
/// kernel, the same stride both ways, the same padding on every side, no dilation.
fn kernel_shape(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<Conv2dShape> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    if xs.num_dims() != 4 || ws.num_dims() != 4 || ws[2] != ws[3] {
        return None;
    }
    let [stride_h, stride_w] = options.stride;
    let [pad_h, pad_w] = options.padding_begin();
    let symmetric = options.padding_begin() == options.padding_end() && pad_h == pad_w;
    if stride_h != stride_w || !symmetric || options.dilation != [1, 1] {
        return None;
    }
    let shape = Conv2dShape {
        batch: xs[0],
        in_channels: xs[1],
        out_channels: ws[0],
        height: xs[2],
        width: xs[3],
        kernel: ws[2],
        stride: stride_h,
        padding: pad_h,
        groups: options.groups,
    };
    (shape.check().is_ok() && ws[1] * options.groups == xs[1]).then_some(shape)
}

/// `values` as a contiguous f32 flex tensor of `shape`.
fn flex_tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// `values` as a contiguous f32 flex tensor of `like`'s shape.
fn flex_tensor_like(values: Vec<f32>, like: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, like.layout().shape().clone()))
}

/// The values of a flex tensor in row-major order (copied only when it is a strided view).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("a contiguous f32 tensor (made so by `contiguous`)")
}

/// The values of an f32 tensor, to be overwritten in place: its storage is made contiguous,
/// exactly its size and held by `t` alone (copied first only when it is a view or shared).
fn values_mut(t: &mut FlexTensor) -> &mut [f32] {
    let n = t.layout().num_elements();
    let exact = t.layout().contiguous_offsets() == Some((0, n)) && t.storage::<f32>().len() == n;
    if !exact {
        let copy = values(&contiguous(t.clone())).to_vec();
        *t = flex_tensor_like(copy, t);
    }
    t.storage_mut::<f32>()
}

impl NasCpuOps for Flex {
    fn conv2d_nas(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        match kernel_shape(&x, &weight, &options) {
            Some(shape) => conv_on_kernels(&shape, &contiguous(x), &contiguous(weight)),
            None => Flex::conv2d(x, weight, None, options),
        }
    }

    fn batch_norm_train_nas(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        activation: Activation,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
        let (out, stats) = batch_norm_forward_flex(&x, &gamma, &beta, epsilon, activation);
        let [mean, var] = [stats.mean, stats.var].map(channel_tensor);
        (out, mean, var)
    }

    fn batch_norm_inference_nas(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        var: FlexTensor,
        epsilon: f64,
        activation: Activation,
    ) -> FlexTensor {
        let [n, c, h, w] = nchw(&x);
        let [x, gamma, beta, mean, var] = [x, gamma, beta, mean, var].map(contiguous);
        let mut out = vec![0.0f32; n * c * h * w];
        batch_norm(n, c, h * w, &gamma, &beta, epsilon, activation)
            .forward_inference(values(&mean), values(&var), values(&x), &mut out)
            .expect("batch norm of [N, C, H, W] input with C statistics, scales and shifts");
        flex_tensor(out, [n, c, h, w])
    }

    fn activation_nas(x: FlexTensor, activation: Activation) -> FlexTensor {
        activation_on_kernels(&contiguous(x), activation)
    }
}

/// `activation(x)` of a contiguous f32 tensor, through the kernels.
fn activation_on_kernels(x: &FlexTensor, activation: Activation) -> FlexTensor {
    let mut out = vec![0.0f32; x.layout().num_elements()];
    activation_forward(activation, values(x), &mut out).expect("an output of the input's size");
    flex_tensor_like(out, x)
}

/// The kernels' forward convolution of contiguous `x` and `weight` of `shape`.
fn conv_on_kernels(shape: &Conv2dShape, x: &FlexTensor, weight: &FlexTensor) -> FlexTensor {
    let mut y = vec![0.0f32; shape.output_len()];
    conv2d_forward(shape, values(x), values(weight), None, &mut y)
        .expect("the shape was checked against the tensors");
    let dims = [
        shape.batch,
        shape.out_channels,
        shape.out_height(),
        shape.out_width(),
    ];
    flex_tensor(y, dims)
}

/// The sizes of a batch-norm input: `[N, C, H, W]`.
fn nchw(x: &FlexTensor) -> [usize; 4] {
    let shape = x.layout().shape();
    assert_eq!(shape.num_dims(), 4, "batch norm of [N, C, H, W] input");
    [shape[0], shape[1], shape[2], shape[3]]
}

/// `values` as a `[C]` flex tensor.
fn channel_tensor(values: Vec<f32>) -> FlexTensor {
    let n = values.len();
    FlexTensor::from_data(TensorData::new(values, [n]))
}

/// The kernels' batch norm over `[batch, channels, pixels]` with contiguous `gamma` and `beta`.
fn batch_norm<'a>(
    batch: usize,
    channels: usize,
    pixels: usize,
    gamma: &'a FlexTensor,
    beta: &'a FlexTensor,
    epsilon: f64,
    activation: Activation,
) -> BatchNorm<'a> {
    BatchNorm {
        batch,
        channels,
        pixels,
        gamma: values(gamma),
        beta: values(beta),
        eps: epsilon as f32,
        activation,
    }
}

/// Batch norm's training forward on the kernels (contiguous tensors): the output and the
/// statistics.
fn batch_norm_forward_flex(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
    activation: Activation,
) -> (FlexTensor, BatchNormStats) {
    let [n, c, h, w] = nchw(x);
    let mut out = vec![0.0f32; n * c * h * w];
    let stats = batch_norm(n, c, h * w, gamma, beta, epsilon, activation)
        .forward_train(values(x), &mut out)
        .expect("batch norm of [N, C, H, W] input with C scales and shifts");
    (flex_tensor(out, [n, c, h, w]), stats)
}

/// What [`BatchNormBackward`] keeps from the forward pass: its input, parameters and
/// statistics (the activation's input is recomputed from them).
#[derive(Debug, Clone)]
struct BatchNormState {
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
    activation: Activation,
    stats: BatchNormStats,
}

/// The backward pass of [`NasCpuOps::batch_norm_train_nas`] on flex: the kernels' input, scale
/// and shift gradients, each registered only when its parent is tracked.
#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    type State = BatchNormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, gamma_node, beta_node] = ops.parents;
        let mut grad = grads.consume::<Flex>(&ops.node);
        let state = ops.state;
        let [n, c, h, w] = nchw(&state.x);
        let bn = batch_norm(
            n,
            c,
            h * w,
            &state.gamma,
            &state.beta,
            state.epsilon,
            state.activation,
        );
        // The output's gradient becomes the input's, in its own buffer.
        let parts = bn
            .backward(values(&state.x), values_mut(&mut grad), &state.stats)
            .expect("the forward pass checked the sizes");
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, grad);
        }
        if let Some(node) = gamma_node {
            grads.register::<Flex>(node.id, channel_tensor(parts.gamma));
        }
        if let Some(node) = beta_node {
            grads.register::<Flex>(node.id, channel_tensor(parts.beta));
        }
    }
}

/// The backward pass of [`NasCpuOps::activation_nas`] on flex: `dy · act'(x)` from the kept
/// input `x`.
#[derive(Debug)]
struct ActivationBackward;

impl Backward<Flex, 1> for ActivationBackward {
    type State = (FlexTensor, Activation);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node] = ops.parents;
        let mut grad = grads.consume::<Flex>(&ops.node);
        let (x, activation) = ops.state;
        if let Some(node) = x_node {
            activation_backward(activation, values(&x), values_mut(&mut grad))
                .expect("the gradient has the input's size");
            grads.register::<Flex>(node.id, grad);
        }
    }
}

/// The backward pass of [`NasCpuOps::conv2d_nas`] on flex: the kernels' input and weight
/// gradients, each only when its parent is tracked.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor, Conv2dShape);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, weight_node] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, weight, shape) = ops.state;
        if let Some(node) = x_node {
            let mut dx = vec![0.0f32; shape.input_len()];
            conv2d_backward_input(&shape, values(&dy), values(&weight), &mut dx)
                .expect("the shape was checked against the tensors");
            let dims = [shape.batch, shape.in_channels, shape.height, shape.width];
            grads.register::<Flex>(node.id, flex_tensor(dx, dims));
        }
        if let Some(node) = weight_node {
            let mut dw = vec![0.0f32; shape.weight_len()];
            conv2d_backward_weight(&shape, values(&x), values(&dy), &mut dw)
                .expect("the shape was checked against the tensors");
            let dims = [
                shape.out_channels,
                shape.in_channels / shape.groups,
                shape.kernel,
                shape.kernel,
            ];
            grads.register::<Flex>(node.id, flex_tensor(dw, dims));
        }
    }
}

impl<C: CheckpointStrategy> NasCpuOps for Autodiff<Flex, C> {
    fn conv2d_nas(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let Some(shape) = kernel_shape(x.primitive(), weight.primitive(), &options) else {
            return Self::conv2d(x, weight, None, options);
        };
        match ConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = contiguous(x.into_primitive());
                let weight = contiguous(weight.into_primitive());
                let y = conv_on_kernels(&shape, &x, &weight);
                prep.finish((x, weight, shape), y)
            }
            OpsKind::UnTracked(prep) => {
                let x = contiguous(x.into_primitive());
                let weight = contiguous(weight.into_primitive());
                prep.finish(conv_on_kernels(&shape, &x, &weight))
            }
        }
    }

    fn batch_norm_train_nas(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prepared = BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let x = contiguous(x.into_primitive());
        let gamma = contiguous(gamma.into_primitive());
        let beta = contiguous(beta.into_primitive());
        let (out, stats) = batch_norm_forward_flex(&x, &gamma, &beta, epsilon, activation);
        let statistics = [stats.mean.clone(), stats.var.clone()].map(channel_tensor);
        let out = match prepared {
            OpsKind::Tracked(prep) => {
                let state = BatchNormState {
                    x,
                    gamma,
                    beta,
                    epsilon,
                    activation,
                    stats,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        let [mean, var] = statistics.map(<Self as AutodiffBackend>::from_inner);
        (out, mean, var)
    }

    /// On the inner flex tensors, detached: evaluation keeps no graph.
    fn batch_norm_inference_nas(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let [x, gamma, beta, mean, var] =
            [x, gamma, beta, mean, var].map(<Self as AutodiffBackend>::inner);
        <Self as AutodiffBackend>::from_inner(Flex::batch_norm_inference_nas(
            x, gamma, beta, mean, var, epsilon, activation,
        ))
    }

    fn activation_nas(x: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self> {
        match ActivationBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = contiguous(x.into_primitive());
                let y = activation_on_kernels(&x, activation);
                prep.finish((x, activation), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(activation_on_kernels(
                &contiguous(x.into_primitive()),
                activation,
            )),
        }
    }
}

/// Batch norm of `x` (`[N, C, H, W]`, f32, on the flex device: [`kernels_take`]) with its
/// batch statistics, then `activation`, through nas-kernels: the output, and the batch mean
/// and biased variance per channel (detached).
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    activation: Activation,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (out, mean, var) = <Dispatch as NasCpuOps>::batch_norm_train_nas(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        activation,
    );
    (
        Tensor::from_dispatch(out),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(var),
    )
}

/// Batch norm of `x` ([`kernels_take`]) with running statistics, then `activation`, through
/// nas-kernels, in one pass and without a gradient.
pub fn batch_norm_inference(
    x: Tensor<4>,
    [gamma, beta, mean, var]: [Tensor<1>; 4],
    epsilon: f64,
    activation: Activation,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as NasCpuOps>::batch_norm_inference_nas(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        var.into_dispatch(),
        epsilon,
        activation,
    ))
}

/// `activation(x)`: through nas-kernels where they take `x`, burn's activation functions
/// elsewhere.
pub fn activate(x: Tensor<4>, activation: Activation) -> Tensor<4> {
    if activation != Activation::Identity && kernels_take(&x) {
        return Tensor::from_dispatch(<Dispatch as NasCpuOps>::activation_nas(
            x.into_dispatch(),
            activation,
        ));
    }
    match activation {
        Activation::Identity => x,
        Activation::Relu => burn::tensor::activation::relu(x),
        Activation::Relu6 => burn::tensor::activation::relu6(x),
        Activation::HardSwish => burn::tensor::activation::hard_swish(x),
    }
}

/// Whether the kernels take `x`: f32 on the flex device (and not inside
/// [`without_cpu_kernels`]).
pub fn kernels_take(x: &Tensor<4>) -> bool {
    on_kernels(&x.device()) && x.dtype() == DType::F32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::conv2d;
    use burn::tensor::Distribution;
    use nas_arch::Conv;

    /// The largest difference relative to the largest value of `want`.
    fn relative_error(got: Tensor<4>, want: Tensor<4>) -> f32 {
        let scale = want.clone().abs().max().into_scalar::<f32>().max(1e-12);
        (got - want).abs().max().into_scalar::<f32>() / scale
    }

    #[test]
    fn flex_convolutions_through_the_kernels_equal_burns_values_and_gradients() {
        let device = Device::flex().autodiff();
        let cases = [
            (Conv::dense(3, 8, 3, 1), 9),
            (Conv::dense(5, 7, 3, 2), 8),
            (Conv::dense(6, 10, 1, 1), 5),
            (Conv::dense(4, 6, 5, 1), 7),
            (Conv::depthwise(12, 3, 2), 9),
            (Conv::depthwise(9, 5, 1), 6),
            (Conv::pointwise_bias(8, 3), 1),
            (
                Conv {
                    groups: 2,
                    ..Conv::dense(4, 6, 3, 1)
                },
                6,
            ),
        ];
        for (conv, size) in cases {
            let layer = conv2d(&conv, &device);
            let x = Tensor::<4>::random(
                [3, conv.in_channels, size, size],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            let want = layer.forward(x.clone());
            let got = conv_forward(&layer, x.clone());
            assert_eq!(got.dims(), want.dims(), "{conv:?}");
            let r = Tensor::<4>::random(want.dims(), Distribution::Normal(0.0, 1.0), &device);
            let e = relative_error(got.clone(), want.clone());
            assert!(e < 1e-4, "{conv:?}: output relative error {e}");

            let grads_want = (want * r.clone()).sum().backward();
            let grads_got = (got * r).sum().backward();
            let dx = relative_error(x.grad(&grads_got).unwrap(), x.grad(&grads_want).unwrap());
            assert!(dx < 1e-4, "{conv:?}: input gradient relative error {dx}");
            let w = layer.weight.val();
            let dw = relative_error(w.grad(&grads_got).unwrap(), w.grad(&grads_want).unwrap());
            assert!(dw < 1e-4, "{conv:?}: weight gradient relative error {dw}");
            if let Some(bias) = &layer.bias {
                let bias = bias.val();
                let (got, want) = (
                    bias.grad(&grads_got).unwrap(),
                    bias.grad(&grads_want).unwrap(),
                );
                let e = (got - want).abs().max().into_scalar::<f32>();
                assert!(e < 1e-3, "{conv:?}: bias gradient difference {e}");
            }
        }
    }

    const ACTIVATIONS: [Activation; 4] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::HardSwish,
    ];

    /// burn's own activation functions: what the kernels are compared against.
    fn burn_activation(x: Tensor<4>, activation: Activation) -> Tensor<4> {
        match activation {
            Activation::Identity => x,
            Activation::Relu => burn::tensor::activation::relu(x),
            Activation::Relu6 => burn::tensor::activation::relu6(x),
            Activation::HardSwish => burn::tensor::activation::hard_swish(x),
        }
    }

    /// The gradient of `(y · r).sum()` for `x` and each of `others`.
    fn gradients<const N: usize>(
        y: Tensor<4>,
        r: &Tensor<4>,
        x: &Tensor<4>,
        others: [&Tensor<1>; N],
    ) -> (Tensor<4>, [Tensor<1>; N]) {
        let grads = (y * r.clone()).sum().backward();
        (
            x.grad(&grads).unwrap(),
            others.map(|p| p.grad(&grads).unwrap()),
        )
    }

    #[test]
    fn flex_batch_norm_and_activations_through_the_kernels_equal_burns_and_gradients() {
        let device = Device::flex().autodiff();
        let shapes = [[4, 3, 5, 5], [5, 7, 1, 1], [3, 16, 6, 4], [2, 5, 9, 7]];
        for ([n, c, h, w], activation) in
            shapes.into_iter().flat_map(|s| ACTIVATIONS.map(|a| (s, a)))
        {
            let what = format!("{activation:?} [{n}, {c}, {h}, {w}]");
            let normal = Distribution::Normal(0.5, 2.0);
            let x = Tensor::<4>::random([n, c, h, w], normal, &device).require_grad();
            let gamma = Tensor::<1>::random([c], normal, &device).require_grad();
            let beta = Tensor::<1>::random([c], normal, &device).require_grad();
            assert!(kernels_take(&x));
            let (got, mean, var) =
                batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5, activation);

            let per_channel = |t: Tensor<4>| t.mean_dim(3).mean_dim(2).mean_dim(0);
            let want_mean = per_channel(x.clone());
            let centered = x.clone() - want_mean.clone();
            let want_var = per_channel(centered.clone().square());
            let scale =
                (want_var.clone() + 1e-5).sqrt().recip() * gamma.clone().reshape([1, c, 1, 1]);
            let normalised = centered * scale + beta.clone().reshape([1, c, 1, 1]);
            let want = burn_activation(normalised, activation);

            let e = relative_error(got.clone(), want.clone());
            assert!(e < 1e-4, "{what}: output relative error {e}");
            for (stat, got, want) in [
                ("mean", mean.clone(), want_mean),
                ("variance", var.clone(), want_var),
            ] {
                let e = relative_error(got.reshape([1, c, 1, 1]), want);
                assert!(e < 1e-4, "{what}: {stat} relative error {e}");
            }
            let r = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), &device);
            let (dx_got, [dg_got, db_got]) = gradients(got.clone(), &r, &x, [&gamma, &beta]);
            let (dx_want, [dg_want, db_want]) = gradients(want, &r, &x, [&gamma, &beta]);
            let dx = relative_error(dx_got, dx_want);
            assert!(dx < 1e-3, "{what}: input gradient relative error {dx}");
            for (param, g, wnt) in [("gamma", dg_got, dg_want), ("beta", db_got, db_want)] {
                let e = relative_error(g.reshape([1, c, 1, 1]), wnt.reshape([1, c, 1, 1]));
                assert!(e < 1e-4, "{what}: {param} gradient relative error {e}");
            }

            // Evaluation with these statistics as the running ones: the same output, from
            // plain (not autodiff) tensors, in one pass.
            let plain = |t: Tensor<1>| t.inner();
            let stats = [gamma.clone(), beta.clone(), mean, var].map(plain);
            assert!(!x.clone().inner().is_autodiff());
            let inference = batch_norm_inference(x.clone().inner(), stats, 1e-5, activation);
            let e = relative_error(inference, got.inner());
            assert!(e < 1e-5, "{what}: inference relative error {e}");

            // The activation on its own, and its gradient.
            let got = activate(x.clone(), activation);
            let want = burn_activation(x.clone(), activation);
            let e = relative_error(got.clone(), want.clone());
            assert!(e < 1e-6, "{what}: activation relative error {e}");
            let (dx_got, []) = gradients(got, &r, &x, []);
            let (dx_want, []) = gradients(want, &r, &x, []);
            let e = relative_error(dx_got, dx_want);
            assert!(e < 1e-6, "{what}: activation gradient relative error {e}");
        }
    }

    #[test]
    fn bench_cnn_trains_the_same_with_and_without_the_kernels() {
        use crate::check::{max_abs_diff, training_trace};
        use crate::Network;
        let spec = nas_arch::preset("bench-cnn").unwrap();
        let device = Device::flex();
        let initial = Network::new(&spec, &device).unwrap();
        // One step (the first loss, and running means from the first forward) agrees to
        // rounding. After that Adam's first updates, ±lr for any weight whose gradient is
        // near zero, turn last-bit differences (burn's own reductions split their work by the
        // threads' load) into differences of about lr = 1e-3.
        for (steps, tolerance) in [(1, 1e-5), (20, 2e-2)] {
            let with = training_trace(&spec, &initial, &device, 32, steps);
            let without =
                without_cpu_kernels(|| training_trace(&spec, &initial, &device, 32, steps));
            let losses = max_abs_diff(&with.losses, &without.losses);
            assert!(
                losses < tolerance,
                "{steps} steps: losses differ by {losses}: {:?} against {:?}",
                with.losses,
                without.losses
            );
            if steps > 1 {
                let learns = with.losses[steps - 1] < with.losses[0];
                assert!(learns, "it learns: {:?}", with.losses);
            }
            assert_eq!(with.running_means.len(), without.running_means.len());
            let means = with
                .running_means
                .iter()
                .zip(&without.running_means)
                .map(|(a, b)| max_abs_diff(a, b))
                .fold(0.0f32, f32::max);
            assert!(
                means < tolerance,
                "{steps} steps: running means differ by {means}"
            );
        }
    }
}
