//! [`Conv2dShape`]: the sizes of one 2-D convolution, and the errors of ill-fitting arguments.

use thiserror::Error;

/// Arguments a kernel cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KernelError {
    /// A size that must be positive is zero (`what` names it).
    #[error("{what} must be at least 1")]
    Zero {
        /// The size.
        what: &'static str,
    },
    /// Channels that the groups do not divide.
    #[error("{channels} {what} channels are not divisible into {groups} groups")]
    Groups {
        /// `input` or `output`.
        what: &'static str,
        /// The channel count.
        channels: usize,
        /// The group count.
        groups: usize,
    },
    /// A kernel larger than the padded input: no output position.
    #[error(
        "a {kernel}×{kernel} kernel does not fit a {height}×{width} input padded by {padding}"
    )]
    NoOutput {
        /// Kernel size.
        kernel: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
        /// Padding on each side.
        padding: usize,
    },
    /// A slice of the wrong length.
    #[error("{what} holds {got} values; this shape needs {expected}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length the shape needs.
        expected: usize,
    },
}

/// One 2-D convolution: a square `kernel`, the same `stride` and `padding` (on every side) in
/// both directions, no dilation, `groups` groups of channels (depthwise: groups, input and
/// output channels all equal). Tensors are NCHW: input `[batch, in_channels, height, width]`,
/// weight `[out_channels, in_channels / groups, kernel, kernel]`, output `[batch,
/// out_channels, out_height, out_width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Step between output positions, in input pixels.
    pub stride: usize,
    /// Zeros added on each side of the input.
    pub padding: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Conv2dShape {
    /// Checks that the sizes make a convolution with at least one output position.
    pub fn check(&self) -> Result<(), KernelError> {
        let sizes = [
            ("batch", self.batch),
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("height", self.height),
            ("width", self.width),
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("groups", self.groups),
        ];
        if let Some((what, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(KernelError::Zero { what });
        }
        for (what, channels) in [("input", self.in_channels), ("output", self.out_channels)] {
            if channels % self.groups != 0 {
                return Err(KernelError::Groups {
                    what,
                    channels,
                    groups: self.groups,
                });
            }
        }
        let fits = |size: usize| size + 2 * self.padding >= self.kernel;
        if !fits(self.height) || !fits(self.width) {
            return Err(KernelError::NoOutput {
                kernel: self.kernel,
                height: self.height,
                width: self.width,
                padding: self.padding,
            });
        }
        Ok(())
    }

    /// Output height.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output width.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Values of the input.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.height * self.width
    }

    /// Values of the weight.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.group_in() * self.kernel * self.kernel
    }

    /// Values of the output.
    pub fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_height() * self.out_width()
    }

    /// Whether each output channel reads exactly its own input channel.
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.in_channels && self.out_channels == self.in_channels
    }

    /// Input channels per group.
    pub(crate) fn group_in(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub(crate) fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of a group's im2col matrix: its input channels times the kernel's taps.
    pub(crate) fn col_rows(&self) -> usize {
        self.group_in() * self.kernel * self.kernel
    }

    /// Whether the convolution reads each input pixel once, in place (1×1, stride 1, no
    /// padding): its im2col matrix is the input itself.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// Checks the shape and the lengths of the slices a kernel is given.
    pub(crate) fn check_lengths(
        &self,
        slices: &[(&'static str, usize, usize)],
    ) -> Result<(), KernelError> {
        self.check()?;
        check_lengths(slices)
    }
}

/// Checks that each `(what, length, expected length)` of the slices a kernel is given agrees.
pub(crate) fn check_lengths(slices: &[(&'static str, usize, usize)]) -> Result<(), KernelError> {
    match slices.iter().find(|(_, got, expected)| got != expected) {
        Some(&(what, got, expected)) => Err(KernelError::Length {
            what,
            got,
            expected,
        }),
        None => Ok(()),
    }
}
