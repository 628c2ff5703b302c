//! The activations nas's blocks use — ReLU, ReLU6 and hard-swish — on their own, forward and
//! backward, and as the last step fused into batch norm ([`crate::BatchNorm`]). The gradient
//! of each is taken from its input `z`, with PyTorch's choice at the kinks: ReLU passes no
//! gradient at `z = 0`, ReLU6 none at `0` or `6`, hard-swish's slope is `z/3 + 1/2` on
//! `[-3, 3]`.

use multiversion::multiversion;
use rayon::prelude::*;

use crate::shape::{check_lengths, KernelError};

/// An activation, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    /// `z`: no activation.
    #[default]
    Identity,
    /// `max(z, 0)`.
    Relu,
    /// `min(max(z, 0), 6)`.
    Relu6,
    /// `z · min(max(z + 3, 0), 6) / 6`.
    HardSwish,
}

impl Activation {
    /// `act(z)`.
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Identity => Identity::apply(z),
            Activation::Relu => Relu::apply(z),
            Activation::Relu6 => Relu6::apply(z),
            Activation::HardSwish => HardSwish::apply(z),
        }
    }

    /// `act'(z)`.
    pub fn slope(self, z: f32) -> f32 {
        match self {
            Activation::Identity => Identity::slope(z),
            Activation::Relu => Relu::slope(z),
            Activation::Relu6 => Relu6::slope(z),
            Activation::HardSwish => HardSwish::slope(z),
        }
    }
}

/// One activation as a type, so that each loop over a plane is compiled for it alone (no
/// branch on the kind per element).
pub(crate) trait Elementwise: Copy + Send + Sync {
    fn apply(z: f32) -> f32;
    fn slope(z: f32) -> f32;
}

#[derive(Clone, Copy)]
pub(crate) struct Identity;
#[derive(Clone, Copy)]
pub(crate) struct Relu;
#[derive(Clone, Copy)]
pub(crate) struct Relu6;
#[derive(Clone, Copy)]
pub(crate) struct HardSwish;

impl Elementwise for Identity {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z
    }
    #[inline(always)]
    fn slope(_: f32) -> f32 {
        1.0
    }
}

impl Elementwise for Relu {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z.max(0.0)
    }
    #[inline(always)]
    fn slope(z: f32) -> f32 {
        if z > 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

impl Elementwise for Relu6 {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z.clamp(0.0, 6.0)
    }
    #[inline(always)]
    fn slope(z: f32) -> f32 {
        if z > 0.0 && z < 6.0 {
            1.0
        } else {
            0.0
        }
    }
}

impl Elementwise for HardSwish {
    #[inline(always)]
    fn apply(z: f32) -> f32 {
        z * (z + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0)
    }
    #[inline(always)]
    fn slope(z: f32) -> f32 {
        if z < -3.0 {
            0.0
        } else if z <= 3.0 {
            z * (1.0 / 3.0) + 0.5
        } else {
            1.0
        }
    }
}

/// Runs `$body` with `$A` bound to the [`Elementwise`] type of `$act`.
macro_rules! with_elementwise {
    ($act:expr, $A:ident => $body:expr) => {
        match $act {
            $crate::Activation::Identity => {
                type $A = $crate::activation::Identity;
                $body
            }
            $crate::Activation::Relu => {
                type $A = $crate::activation::Relu;
                $body
            }
            $crate::Activation::Relu6 => {
                type $A = $crate::activation::Relu6;
                $body
            }
            $crate::Activation::HardSwish => {
                type $A = $crate::activation::HardSwish;
                $body
            }
        }
    };
}
pub(crate) use with_elementwise;

/// Elements per parallel task of the element-wise passes.
const CHUNK: usize = 1 << 14;

/// `output = act(input)`, element by element.
pub fn activation_forward(
    activation: Activation,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    check_lengths(&[("output", output.len(), input.len())])?;
    with_elementwise!(activation, A => {
        output
            .par_chunks_mut(CHUNK)
            .zip(input.par_chunks(CHUNK))
            .for_each(|(out, x)| apply_run::<A>(x, out));
    });
    Ok(())
}

/// `grad = grad · act'(input)`, element by element, in place: `grad` holds the output's
/// gradient and is overwritten with the input's.
pub fn activation_backward(
    activation: Activation,
    input: &[f32],
    grad: &mut [f32],
) -> Result<(), KernelError> {
    check_lengths(&[("grad", grad.len(), input.len())])?;
    with_elementwise!(activation, A => {
        grad.par_chunks_mut(CHUNK)
            .zip(input.par_chunks(CHUNK))
            .for_each(|(g, x)| slope_run::<A>(x, g));
    });
    Ok(())
}

/// `out[i] = act(x[i])`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn apply_run<A: Elementwise>(x: &[f32], out: &mut [f32]) {
    out.iter_mut().zip(x).for_each(|(o, &v)| *o = A::apply(v));
}

/// `grad[i] *= act'(x[i])`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn slope_run<A: Elementwise>(x: &[f32], grad: &mut [f32]) {
    grad.iter_mut().zip(x).for_each(|(g, &v)| *g *= A::slope(v));
}
