//! Sums the log kernels of a joint Parzen mixture for a block of candidates in one pass over
//! its components, on AVX-512 where the CPU has it.
//!
//! Scoring a candidate against `g` adds, for each of its parameters, one log kernel per
//! component (hundreds) to that component's running sum. Done one candidate at a time, every
//! kernel is read from memory and every sum written back once per candidate and parameter.
//! Here the sums of [`CANDIDATES`] candidates for [`LANES`] components stay in eight vector
//! registers while the parameters are walked, so each kernel is read once per block and each
//! sum is stored once, complete. The arithmetic is the scalar code's, term by term and in the
//! same order, so the sums are the same to the last bit (tested in `joint`).
//!
//! Written with `core::arch` intrinsics: the compiler, left to vectorise the same loops, kept
//! the sums in memory and gathered them across candidates instead.

/// Candidates summed in one pass.
pub const CANDIDATES: usize = 8;

/// Components summed at once: one AVX-512 register of `f64`.
pub const LANES: usize = 8;

/// One parameter's kernels over the components, as the mixture stores them.
#[derive(Debug, Clone, Copy)]
pub enum Kernels<'a> {
    /// `coef[i] − half_inv_h2[i] · (x − mu[i])²`.
    Numeric {
        /// Centres.
        mu: &'a [f64],
        /// `1 / (2h²)`.
        half_inv_h2: &'a [f64],
        /// Constant terms.
        coef: &'a [f64],
    },
    /// `own[i]` where `x == choice[i]`, else `other[i]`.
    Categorical {
        /// Observed choices.
        choice: &'a [f64],
        /// Log probability of the component's own choice.
        own: &'a [f64],
        /// Log probability of any other choice.
        other: &'a [f64],
    },
}

/// Where each candidate of a block reads each parameter.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Per parameter, each candidate's encoded value (0 where it does not read it).
    pub at: Vec<[f64; CANDIDATES]>,
    /// Per parameter, whether each candidate reads it (it is active there).
    pub reads: Vec<[bool; CANDIDATES]>,
}

impl Block {
    /// The block of up to [`CANDIDATES`] candidates `xs` (encoded values, NaN where
    /// inactive), reusing this one's arrays.
    pub fn fill(&mut self, xs: &[&[f64]], dims: usize) {
        assert!(xs.len() <= CANDIDATES, "at most {CANDIDATES} candidates");
        self.at.clear();
        self.at.resize(dims, [0.0; CANDIDATES]);
        self.reads.clear();
        self.reads.resize(dims, [false; CANDIDATES]);
        for (j, x) in xs.iter().enumerate() {
            for (d, &xd) in x.iter().enumerate() {
                if !xd.is_nan() {
                    self.at[d][j] = xd;
                    self.reads[d][j] = true;
                }
            }
        }
    }
}

/// For the components `0..log_weights.len()`, writes
/// `out[j·stride + i] = log_weights[i] + Σ_d kernel_d,i(block.at[d][j])` over the parameters
/// `d` that candidate `j` reads, adding the terms in the order of `kernels`, and the largest
/// of each candidate's sums to `largest[j]` (NaNs ignored, as `f64::max` does; −∞ where there
/// are none), which the log-sum-exp needs next. Returns false, writing nothing, where the CPU
/// lacks AVX-512 (the caller sums another way).
pub fn sum_log_kernels(
    kernels: &[Kernels<'_>],
    log_weights: &[f64],
    block: &Block,
    stride: usize,
    out: &mut [f64],
    largest: &mut [f64; CANDIDATES],
) -> bool {
    let n = log_weights.len();
    assert!(kernels.len() == block.at.len() && kernels.len() == block.reads.len());
    assert!(out.len() >= (CANDIDATES - 1) * stride + n && stride >= n);
    for k in kernels {
        let (Kernels::Numeric {
            mu: a,
            half_inv_h2: b,
            coef: c,
        }
        | Kernels::Categorical {
            choice: a,
            own: b,
            other: c,
        }) = k;
        assert!(a.len() >= n && b.len() >= n && c.len() >= n);
    }
    #[cfg(target_arch = "x86_64")]
    if super::math::has_avx512() {
        // SAFETY: the CPU has AVX-512F, the only feature `avx512::sum_log_kernels` enables;
        // the lengths it reads and writes were checked above.
        unsafe { avx512::sum_log_kernels(kernels, log_weights, block, stride, out, largest) };
        return true;
    }
    false
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512d, _mm512_add_pd, _mm512_cmp_pd_mask, _mm512_mask_blend_pd, _mm512_mask_max_pd,
        _mm512_mask_storeu_pd, _mm512_maskz_loadu_pd, _mm512_mul_pd, _mm512_set1_pd,
        _mm512_storeu_pd, _mm512_sub_pd, _CMP_EQ_OQ,
    };

    use super::{Block, Kernels, CANDIDATES, LANES};

    /// [`super::sum_log_kernels`] on AVX-512.
    ///
    /// # Safety
    /// The CPU has AVX-512F; every array of `kernels` holds at least `log_weights.len()`
    /// values; `out` holds `(CANDIDATES − 1)·stride + log_weights.len()` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sum_log_kernels(
        kernels: &[Kernels<'_>],
        log_weights: &[f64],
        block: &Block,
        stride: usize,
        out: &mut [f64],
        largest: &mut [f64; CANDIDATES],
    ) {
        let out = out.as_mut_ptr();
        let mut maxima = [_mm512_set1_pd(f64::NEG_INFINITY); CANDIDATES];
        let n = log_weights.len();
        for start in (0..n).step_by(LANES) {
            // The components `start..start + LANES` that exist: all but in the last register.
            let lanes = (n - start).min(LANES);
            let present: u8 = if lanes == LANES {
                u8::MAX
            } else {
                (1 << lanes) - 1
            };
            // SAFETY (every load and store below): they touch only the lanes of `present`,
            // components below `n`, which every array read and every candidate's row of `out`
            // hold (masked-off lanes are neither read nor written, nor can they fault).
            let load = |v: &[f64]| unsafe { _mm512_maskz_loadu_pd(present, v.as_ptr().add(start)) };
            let mut sums: [__m512d; CANDIDATES] = [load(log_weights); CANDIDATES];
            for ((kernels, at), reads) in kernels.iter().zip(&block.at).zip(&block.reads) {
                match *kernels {
                    Kernels::Numeric {
                        mu,
                        half_inv_h2,
                        coef,
                    } => {
                        let (mu, s, c) = (load(mu), load(half_inv_h2), load(coef));
                        for j in 0..CANDIDATES {
                            if reads[j] {
                                // c − (s·z)·z, as the scalar code computes it.
                                let z = _mm512_sub_pd(_mm512_set1_pd(at[j]), mu);
                                let term = _mm512_sub_pd(c, _mm512_mul_pd(_mm512_mul_pd(s, z), z));
                                sums[j] = _mm512_add_pd(sums[j], term);
                            }
                        }
                    }
                    Kernels::Categorical { choice, own, other } => {
                        let (choice, own, other) = (load(choice), load(own), load(other));
                        for j in 0..CANDIDATES {
                            if reads[j] {
                                let x = _mm512_set1_pd(at[j]);
                                let same = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(choice, x);
                                sums[j] =
                                    _mm512_add_pd(sums[j], _mm512_mask_blend_pd(same, other, own));
                            }
                        }
                    }
                }
            }
            for (j, sum) in sums.into_iter().enumerate() {
                unsafe { _mm512_mask_storeu_pd(out.add(j * stride + start), present, sum) };
                // Where `sum` is NaN, `max` returns its second operand: NaNs are skipped, and
                // so are the lanes past the last component.
                maxima[j] = _mm512_mask_max_pd(maxima[j], present, sum, maxima[j]);
            }
        }
        for (largest, maxima) in largest.iter_mut().zip(maxima) {
            let mut lanes = [0.0; LANES];
            // SAFETY: `lanes` holds eight values.
            unsafe { _mm512_storeu_pd(lanes.as_mut_ptr(), maxima) };
            *largest = lanes.into_iter().fold(f64::NEG_INFINITY, f64::max);
        }
    }
}
