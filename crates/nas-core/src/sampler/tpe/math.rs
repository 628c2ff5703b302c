//! Branch-free numerics for the Parzen estimators' inner loops.
//!
//! The acquisition evaluates tens of thousands of Gaussian kernels per proposal; these
//! functions are written so the compiler vectorises the loops that call them.

use multiversion::multiversion;

/// `ln m` for `m ∈ [0.25, 1]` (masses of truncated kernels), absolute error below 1e-8,
/// branch-free: `2·atanh(u) = 2·Σ u^(2k+1)/(2k+1)` with `u = (m − 1)/(m + 1)`, `|u| ≤ 0.6`,
/// to `k = 16`.
#[inline(always)]
pub fn ln_mass(m: f64) -> f64 {
    const ODD_RECIPROCALS: [f64; 17] = [
        1.0 / 33.0,
        1.0 / 31.0,
        1.0 / 29.0,
        1.0 / 27.0,
        1.0 / 25.0,
        1.0 / 23.0,
        1.0 / 21.0,
        1.0 / 19.0,
        1.0 / 17.0,
        1.0 / 15.0,
        1.0 / 13.0,
        1.0 / 11.0,
        1.0 / 9.0,
        1.0 / 7.0,
        1.0 / 5.0,
        1.0 / 3.0,
        1.0,
    ];
    let u = (m - 1.0) / (m + 1.0);
    let u2 = u * u;
    let p = ODD_RECIPROCALS.iter().fold(0.0, |p, &c| p * u2 + c);
    2.0 * u * p
}

/// `ln x` for a positive, normal `x`, absolute error below 1e-8, branch-free: the binary
/// exponent `e` and mantissa `m ∈ [½, 1)` of `x = m·2^e` give `e·ln 2 + ln_mass(m)`. A tenth of
/// the libm call's time where a Parzen fit takes the logarithm of a thousand bandwidths.
#[inline(always)]
pub fn ln_positive(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const HALF_EXPONENT: u64 = 1022 << 52; // the exponent bits of ½
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1022;
    let m = f64::from_bits((bits & MANTISSA) | HALF_EXPONENT);
    e as f64 * std::f64::consts::LN_2 + ln_mass(m)
}

/// `1.5·2^23`: added to a single-precision number, it rounds it to an integer.
const EXP_SHIFT: f32 = 12_582_912.0;
/// ln 2 split in two (Cody–Waite) so `k·ln2` is exact enough in single precision.
const LN2_HIGH: f32 = 0.693_359_4;
const LN2_LOW: f32 = -2.121_944_4e-4;
/// The Taylor coefficients of `e^r` to degree 7, highest first.
const EXP_TAYLOR: [f32; 8] = [
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `exp(x)` in single precision for `x ≤ 0`, relative error below 1e-6; inputs below −87
/// give ≈ 0. Cody–Waite range reduction `x = k·ln2 + r`, a degree-7 Taylor polynomial for
/// `e^r`, and `2^k` built in the exponent bits: no branches, no table.
#[inline(always)]
pub fn exp_neg_f32(x: f32) -> f32 {
    let x = x.max(-87.0);
    let shifted = x * std::f32::consts::LOG2_E + EXP_SHIFT;
    let k = shifted - EXP_SHIFT;
    let r = x - k * LN2_HIGH - k * LN2_LOW;
    let mut p = EXP_TAYLOR[0];
    for c in &EXP_TAYLOR[1..] {
        p = p * r + c;
    }
    let k_int = shifted.to_bits() as i32 - EXP_SHIFT.to_bits() as i32;
    p * f32::from_bits(((k_int + 127) as u32) << 23)
}

/// Sixteen single-precision lanes on a 64-byte boundary: one AVX-512 register, two AVX2 ones,
/// never split across cache lines.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C, align(64))]
pub struct Block(pub [f32; BLOCK]);

/// Lanes of a [`Block`].
pub const BLOCK: usize = 16;

/// `Σ_i scale[i] · exp(−s · (x − mu[i])²)`: a sum of equal-width Gaussian kernels at `x`, in
/// single precision (relative error ~1e-5, ample for ranking candidates by a density ratio).
/// Compiled for AVX-512 and AVX2 as well, chosen at run time.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx2+fma", "x86_64+avx2+fma"))]
pub fn gaussian_sum(x: f64, s: f64, mu: &[Block], scale: &[Block]) -> f64 {
    let (x, s) = (x as f32, s as f32);
    let mut acc = [0.0f32; BLOCK];
    for (m, c) in mu.iter().zip(scale) {
        for ((a, &m), &c) in acc.iter_mut().zip(&m.0).zip(&c.0) {
            let z = x - m;
            *a += c * exp_neg_f32(-s * z * z);
        }
    }
    acc.iter().map(|&a| f64::from(a)).sum()
}

/// The largest of `a` and `init` (NaNs ignored, as `f64::max` does), in four times
/// [`LANES`] independent lanes so the loop vectorises and its comparisons overlap: a running
/// `fold` waits for each comparison before the next. Compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx2+fma", "x86_64+avx2+fma"))]
pub fn max_of(a: &[f64], init: f64) -> f64 {
    const WIDTH: usize = 4 * LANES;
    let mut acc = [init; WIDTH];
    for chunk in a.chunks_exact(WIDTH) {
        for (acc, &v) in acc.iter_mut().zip(chunk) {
            *acc = acc.max(v);
        }
    }
    let tail = a.len() - a.len() % WIDTH;
    let lanes = acc.iter().copied().fold(init, f64::max);
    a[tail..].iter().copied().fold(lanes, f64::max)
}

/// Whether the CPU has AVX-512F, which the hand-vectorised kernels here and in
/// [`block`](super::block) need (the answer is cached after the first call).
#[cfg(target_arch = "x86_64")]
pub fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// `Σ_i exp(a[i] − max)` for `max ≥ a[i]`, each exponential by [`exp_neg_f32`], summed in
/// [`LANES`] lanes. On AVX-512 the exponentials are taken sixteen at a time
/// ([`avx512::exp_sum`]: the compiler, left to vectorise this loop, uses eight-wide
/// registers); the sums are the same to the last bit either way.
pub fn exp_sum(a: &[f64], max: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, the only feature `avx512::exp_sum` enables.
        return unsafe { avx512::exp_sum(a, max) };
    }
    exp_sum_lanes(a, max)
}

/// [`exp_sum`] without AVX-512. Compiled for AVX2 as well.
#[multiversion(targets("x86_64+avx2+fma"))]
fn exp_sum_lanes(a: &[f64], max: f64) -> f64 {
    exp_sum_from([0.0; LANES], a, max)
}

/// The sums `acc` of the exponentials before `a`, continued over `a` eight at a time, then
/// the last few one by one, and added up: how [`exp_sum`] orders its additions on any CPU.
#[inline(always)]
fn exp_sum_from(mut acc: [f64; LANES], a: &[f64], max: f64) -> f64 {
    let chunks = a.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (acc, &v) in acc.iter_mut().zip(chunk) {
            *acc += f64::from(exp_neg_f32((v - max) as f32));
        }
    }
    let rest: f64 = tail
        .iter()
        .map(|&v| f64::from(exp_neg_f32((v - max) as f32)))
        .sum();
    acc.iter().sum::<f64>() + rest
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m256, __m512, _mm256_castpd_ps, _mm256_castps_pd, _mm512_add_epi32, _mm512_add_pd,
        _mm512_add_ps, _mm512_castpd_ps, _mm512_castps256_ps512, _mm512_castps_pd,
        _mm512_castps_si512, _mm512_castsi512_ps, _mm512_cvtpd_ps, _mm512_cvtps_pd,
        _mm512_extractf64x4_pd, _mm512_insertf64x4, _mm512_loadu_pd, _mm512_max_ps, _mm512_mul_ps,
        _mm512_set1_epi32, _mm512_set1_pd, _mm512_set1_ps, _mm512_setzero_pd, _mm512_slli_epi32,
        _mm512_storeu_pd, _mm512_sub_epi32, _mm512_sub_pd, _mm512_sub_ps,
    };

    use super::{exp_sum_from, EXP_SHIFT, EXP_TAYLOR, LANES, LN2_HIGH, LN2_LOW};

    /// [`super::exp_sum`] on AVX-512: [`exp_neg_f32`]'s operations, in its order, on sixteen
    /// lanes; the exponentials of each chunk of eight added to the eight sums in turn.
    ///
    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn exp_sum(a: &[f64], max: f64) -> f64 {
        let max_v = _mm512_set1_pd(max);
        let mut acc = _mm512_setzero_pd();
        let pairs = a.chunks_exact(2 * LANES);
        let rest = pairs.remainder();
        for pair in pairs {
            // SAFETY: `pair` holds sixteen values.
            let (lo, hi) = unsafe {
                (
                    _mm512_loadu_pd(pair.as_ptr()),
                    _mm512_loadu_pd(pair.as_ptr().add(LANES)),
                )
            };
            let lo = _mm512_cvtpd_ps(_mm512_sub_pd(lo, max_v));
            let hi = _mm512_cvtpd_ps(_mm512_sub_pd(hi, max_v));
            let e = exp_neg(join(lo, hi));
            let (e_lo, e_hi) = split(e);
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(e_lo));
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(e_hi));
        }
        let mut lanes = [0.0; LANES];
        // SAFETY: `lanes` holds eight values.
        unsafe { _mm512_storeu_pd(lanes.as_mut_ptr(), acc) };
        // The last chunk of eight, if any, and the rest, as the portable loop adds them.
        exp_sum_from(lanes, rest, max)
    }

    /// Sixteen `f32` from two halves of eight.
    #[target_feature(enable = "avx512f")]
    fn join(lo: __m256, hi: __m256) -> __m512 {
        let lo = _mm512_castps_pd(_mm512_castps256_ps512(lo));
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(lo, _mm256_castps_pd(hi)))
    }

    /// The two halves of sixteen `f32`.
    #[target_feature(enable = "avx512f")]
    fn split(v: __m512) -> (__m256, __m256) {
        let v = _mm512_castps_pd(v);
        (
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<0>(v)),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(v)),
        )
    }

    /// [`exp_neg_f32`] on sixteen lanes: the same operations, unfused, in the same order.
    #[target_feature(enable = "avx512f")]
    fn exp_neg(x: __m512) -> __m512 {
        let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
        let shift = _mm512_set1_ps(EXP_SHIFT);
        let shifted = _mm512_add_ps(
            _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
            shift,
        );
        let k = _mm512_sub_ps(shifted, shift);
        let r = _mm512_sub_ps(
            _mm512_sub_ps(x, _mm512_mul_ps(k, _mm512_set1_ps(LN2_HIGH))),
            _mm512_mul_ps(k, _mm512_set1_ps(LN2_LOW)),
        );
        let mut p = _mm512_set1_ps(EXP_TAYLOR[0]);
        for &c in &EXP_TAYLOR[1..] {
            p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(c));
        }
        let k_int = _mm512_sub_epi32(
            _mm512_castps_si512(shifted),
            _mm512_set1_epi32(EXP_SHIFT.to_bits() as i32),
        );
        let scale = _mm512_slli_epi32::<23>(_mm512_add_epi32(k_int, _mm512_set1_epi32(127)));
        _mm512_mul_ps(p, _mm512_castsi512_ps(scale))
    }
}

/// `out[i] = 1 / Z(mu[i])` where `Z(μ)` is the mass `N(μ, h)` puts on `[0, 1]` (clamped to at
/// least ¼, its least value for `μ ∈ [0, 1]`, `h ≤ 1`). Compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx2+fma", "x86_64+avx2+fma"))]
pub fn truncated_scales(mu: &[f64], h: f64, out: &mut [Block]) {
    // Kernels at least 6h inside both ends lose under 1e-9 of their mass: Z = 1.
    let (inside_lo, inside_hi) = (6.0 * h, 1.0 - 6.0 * h);
    let inv_h = (1.0 / h) as f32;
    for (o, m) in out.iter_mut().zip(mu.chunks(BLOCK)) {
        if m.iter().all(|&x| x >= inside_lo && x <= inside_hi) {
            o.0[..m.len()].fill(1.0);
            continue;
        }
        for (o, &m) in o.0.iter_mut().zip(m) {
            let m = m as f32;
            let mass = norm_cdf_f32((1.0 - m) * inv_h) - norm_cdf_f32(-m * inv_h);
            *o = 1.0 / mass.max(0.25);
        }
    }
}

/// The standard normal CDF Φ(z) in single precision, absolute error below 1e-6 (Numerical
/// Recipes' `erfcc` Chebyshev fit), branch-free.
#[inline(always)]
pub fn norm_cdf_f32(z: f32) -> f32 {
    let x = z * -std::f32::consts::FRAC_1_SQRT_2;
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.5 * a);
    let poly = -a * a - 1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    let erfc_abs = t * exp_neg_f32(poly);
    let erfc = if x >= 0.0 { erfc_abs } else { 2.0 - erfc_abs };
    0.5 * erfc
}

/// `−ln Z − ln h − ln√(2π)`, the constant term of the log density of `N(mu, h)` truncated to
/// `[0, 1]`, where `Z` is the mass the Gaussian puts on `[0, 1]` (single precision, as in
/// [`truncated_scales`]). A kernel at least `6h` inside both ends loses under 1e-9 of its
/// mass, which single precision rounds to none: `Z = 1` without computing it.
pub fn log_kernel_constant(mu: f64, h: f64) -> f64 {
    let neg_log_mass = if mu >= 6.0 * h && mu <= 1.0 - 6.0 * h {
        0.0
    } else {
        let (m32, inv_h32) = (mu as f32, (1.0 / h) as f32);
        let mass = norm_cdf_f32((1.0 - m32) * inv_h32) - norm_cdf_f32(-m32 * inv_h32);
        -ln_mass(f64::from(mass).max(0.25))
    };
    neg_log_mass + (-ln_positive(h) - LN_SQRT_2PI)
}

/// `acc[i] += coef[i] − s[i] · (x − mu[i])²` (one numeric parameter's log kernels).
/// Compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx2+fma", "x86_64+avx2+fma"))]
pub fn add_log_gaussians(x: f64, mu: &[f64], s: &[f64], coef: &[f64], acc: &mut [f64]) {
    for (((a, &m), &si), &c) in acc.iter_mut().zip(mu).zip(s).zip(coef) {
        let z = x - m;
        *a += c - si * z * z;
    }
}

/// `acc[i] += if choice[i] == x { own[i] } else { other[i] }` (one categorical parameter's
/// log kernels). Compiled for AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx2+fma", "x86_64+avx2+fma"))]
pub fn add_log_categoricals(x: f64, choice: &[f64], own: &[f64], other: &[f64], acc: &mut [f64]) {
    for (((a, &c), &o), &t) in acc.iter_mut().zip(choice).zip(own).zip(other) {
        *a += if c == x { o } else { t };
    }
}

/// `(Σw, Σw·x, Σw·x²)`, summed in independent lanes so the loop vectorises. Compiled for
/// AVX-512 and AVX2 as well.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx2+fma", "x86_64+avx2+fma"))]
pub fn weighted_moments(xs: &[f64], ws: &[f64]) -> (f64, f64, f64) {
    let (mut w0, mut w1, mut w2) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let chunks = xs.chunks_exact(LANES).zip(ws.chunks_exact(LANES));
    for (x, w) in chunks {
        let lanes = w0.iter_mut().zip(&mut w1).zip(&mut w2).zip(x.iter().zip(w));
        for (((a0, a1), a2), (&x, &w)) in lanes {
            *a0 += w;
            *a1 += w * x;
            *a2 += w * x * x;
        }
    }
    let tail = xs.len() - xs.len() % LANES;
    let (mut s0, mut s1, mut s2) = (w0.iter().sum(), w1.iter().sum(), w2.iter().sum::<f64>());
    for (&x, &w) in xs[tail..].iter().zip(&ws[tail..]) {
        s0 += w;
        s1 += w * x;
        s2 += w * x * x;
    }
    (s0, s1, s2)
}

/// Independent accumulators per loop, so sums vectorise without reassociation.
const LANES: usize = 8;

/// `ln √(2π)`.
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exponentials_summed_sixteen_at_a_time_are_summed_as_eight_at_a_time() {
        // On a CPU with AVX-512 `exp_sum` takes its own path; elsewhere both are one path.
        for n in [0, 1, 8, 15, 16, 17, 24, 31, 32, 40, 999] {
            let a: Vec<f64> = (0..n)
                .map(|i| -(((i * 7919) % 1013) as f64) / 9.0 - if i % 5 == 0 { 90.0 } else { 0.0 })
                .collect();
            for max in [0.0, 3.5] {
                assert_eq!(exp_sum(&a, max), exp_sum_lanes(&a, max), "n = {n}");
            }
        }
    }

    #[test]
    fn the_largest_in_lanes_is_the_largest_folded() {
        for n in [0, 1, 7, 8, 9, 31, 1000] {
            let a: Vec<f64> = (0..n)
                .map(|i| match i % 11 {
                    3 => f64::NAN,
                    _ => ((i * 7919) % 1013) as f64 - 600.0,
                })
                .collect();
            for init in [-1e300, 0.0, 500.0, f64::NEG_INFINITY] {
                let folded = a.iter().copied().fold(init, f64::max);
                assert_eq!(max_of(&a, init), folded, "n = {n}, init = {init}");
            }
        }
    }

    #[test]
    fn exp_neg_f32_matches_std() {
        for k in 0..=8_700 {
            let x = -(k as f32) * 0.01;
            let want = f64::from(x).exp();
            let got = f64::from(exp_neg_f32(x));
            assert!(
                (got - want).abs() <= 1e-6 * want + 1e-38,
                "x={x} got={got} want={want}"
            );
        }
    }

    /// Φ(z) to double precision, from libm's erfc.
    fn phi(z: f64) -> f64 {
        0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
    }

    #[test]
    fn norm_cdf_f32_matches_erfc() {
        for k in -800..=800 {
            let z = k as f64 * 0.01;
            let got = f64::from(norm_cdf_f32(z as f32));
            assert!((got - phi(z)).abs() < 1e-6, "z={z}: {got} vs {}", phi(z));
        }
    }

    #[test]
    fn ln_mass_matches_std() {
        for k in 0..=7500 {
            let m = 0.25 + k as f64 * 1e-4;
            assert!((ln_mass(m) - m.ln()).abs() <= 1e-8, "{m}");
        }
    }

    #[test]
    fn ln_positive_matches_std() {
        // Bandwidths from the kernel floor up to the whole range, and a few far outside.
        let mut x: f64 = 1e-300;
        while x < 1e300 {
            let want = x.ln();
            assert!(
                (ln_positive(x) - want).abs() <= 1e-8,
                "{x}: {}",
                ln_positive(x)
            );
            x *= 1.001_7;
        }
        for x in [0.01f64, 0.5, 1.0, 2.0, 0.999_999_9] {
            assert!((ln_positive(x) - x.ln()).abs() <= 1e-8, "{x}");
        }
    }

    #[test]
    fn vector_sums_match_scalar_sums() {
        let mu: Vec<f64> = (0..37).map(|i| (i as f64 * 0.618).fract()).collect();
        let scale: Vec<f64> = (0..37).map(|i| 1.0 + i as f64).collect();
        let want: f64 = mu
            .iter()
            .zip(&scale)
            .map(|(m, c)| c * (-3.0 * (0.4 - m) * (0.4 - m)).exp())
            .sum();
        let blocks = |v: &[f64]| -> Vec<Block> {
            v.chunks(BLOCK)
                .map(|c| {
                    let mut b = Block::default();
                    c.iter().enumerate().for_each(|(k, &x)| b.0[k] = x as f32);
                    b
                })
                .collect()
        };
        let got = gaussian_sum(0.4, 3.0, &blocks(&mu), &blocks(&scale));
        assert!((got - want).abs() < 1e-5 * want);
        let want: f64 = mu.iter().map(|m| (m - 1.0).exp()).sum();
        assert!((exp_sum(&mu, 1.0) - want).abs() < 1e-6 * want);
    }

    #[test]
    fn weighted_moments_match_direct_sums() {
        let xs: Vec<f64> = (0..37).map(|i| (i as f64 * 0.618).fract()).collect();
        let ws: Vec<f64> = (0..37).map(|i| 1.0 + (i % 3) as f64).collect();
        let (s0, s1, s2) = weighted_moments(&xs, &ws);
        let direct =
            |f: &dyn Fn(f64) -> f64| xs.iter().zip(&ws).map(|(&x, &w)| w * f(x)).sum::<f64>();
        assert!((s0 - direct(&|_| 1.0)).abs() < 1e-12);
        assert!((s1 - direct(&|x| x)).abs() < 1e-12);
        assert!((s2 - direct(&|x| x * x)).abs() < 1e-12);
    }
}
