//! Convolutions on burn's flex CPU backend through nas-kernels, forward and backward: burn's
//! backend extension routes [`NasConvOps::conv2d_nas`] to [`Flex`] and to `Autodiff<Flex>`,
//! whose backward pass calls the kernels' input and weight gradients. [`conv_forward`] takes
//! this path for a [`Conv2d`] whose input lives on the flex device and burn's own
//! `Conv2d::forward` everywhere else (wgpu, CUDA), so the modules, their parameters and saved
//! files stay burn's. Shapes the kernels do not take (dilation, unequal strides or padding,
//! non-f32) fall back to burn's convolution inside the extension.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use nas_kernels::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward, Conv2dShape};

/// Operations nas runs on its own kernels where the backend allows.
#[backend_extension(Flex, Autodiff)]
pub trait NasConvOps: Backend {
    /// A 2-D convolution without bias.
    fn conv2d_nas(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

/// `conv(x)` for a convolution with explicit, equal padding on every side: on the flex device
/// through nas-kernels, elsewhere burn's `Conv2d::forward`.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return conv.forward(x);
    };
    if x.device() != Device::flex() {
        return conv.forward(x);
    }
    let options = ConvOptions::new_with_padding(
        conv.stride,
        [(top, bottom), (left, right)],
        conv.dilation,
        conv.groups,
    );
    let y = Tensor::<4>::from_dispatch(<Dispatch as NasConvOps>::conv2d_nas(
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

impl NasConvOps for Flex {
    fn conv2d_nas(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        let Some(shape) = kernel_shape(&x, &weight, &options) else {
            return Flex::conv2d(x, weight, None, options);
        };
        let (x, weight) = (contiguous(x), contiguous(weight));
        let mut y = vec![0.0f32; shape.output_len()];
        conv2d_forward(&shape, values(&x), values(&weight), None, &mut y)
            .expect("the shape was checked against the tensors");
        flex_tensor(
            y,
            [
                shape.batch,
                shape.out_channels,
                shape.out_height(),
                shape.out_width(),
            ],
        )
    }
}

/// The backward pass of [`NasConvOps::conv2d_nas`] on flex: the kernels' input and weight
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

impl<C: CheckpointStrategy> NasConvOps for Autodiff<Flex, C> {
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
                let y = Flex::conv2d_nas(x.clone(), weight.clone(), options);
                prep.finish((x, weight, shape), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_nas(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
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
}
