//! Run-time SIMD dispatch for the element-wise loops around the matrix products.
//!
//! Wheels and binaries are built for the baseline x86-64 instruction set, so plain loops would
//! only use SSE2. [`dispatch`] runs a [`Kernel`] inside a function compiled for the best
//! instruction set the CPU reports (AVX-512 or AVX2 + FMA on x86-64, chosen per call by `pulp`).
//! `Kernel::run` must be `#[inline(always)]` and call only `#[inline(always)]` helpers (no
//! closures: a closure body is compiled once, for the baseline), so that its loops are
//! auto-vectorised for that set. The helpers below are
//! written so that they vectorise without reassociating anything implicitly: every reduction
//! uses a fixed number of lanes combined in a fixed order, so results are the same on every
//! instruction set and thread count.

pub(crate) use crate::float::exp_nonpos;
use crate::float::Float;

/// A loop nest to compile once per instruction set; implement `run` with `#[inline(always)]`.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// The loops.
    fn run(self) -> Self::Output;
}

struct Dispatch<K>(K);

impl<K: Kernel> pulp::WithSimd for Dispatch<K> {
    type Output = K::Output;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> K::Output {
        self.0.run()
    }
}

/// Runs `kernel` compiled for the best SIMD instruction set available at run time.
#[inline]
pub(crate) fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(Dispatch(kernel))
}

/// The instruction set [`dispatch`] picks on this CPU, by name.
pub(crate) fn level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if pulp::x86::V4::try_new().is_some() {
            return "AVX-512 (x86-64-v4)";
        }
        if pulp::x86::V3::try_new().is_some() {
            return "AVX2+FMA (x86-64-v3)";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return "NEON";
    }
    #[allow(unreachable_code)]
    "baseline"
}

/// Lanes of the fixed-order reductions.
const LANES: usize = 8;

/// `sum_t a_t²` with [`LANES`] partial sums combined pairwise (a fixed order).
#[inline(always)]
pub(crate) fn sum_sq<F: Float>(a: &[F]) -> F {
    let mut acc = [F::zero(); LANES];
    let mut chunks = a.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s += v * v;
        }
    }
    for (s, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *s += v * v;
    }
    combine(acc)
}

/// `sum_t a_t` with [`LANES`] partial sums combined pairwise (a fixed order, a short
/// dependency chain).
#[inline(always)]
pub(crate) fn sum<F: Float>(a: &[F]) -> F {
    let mut acc = [F::zero(); LANES];
    let mut chunks = a.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s += v;
        }
    }
    for (s, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *s += v;
    }
    combine(acc)
}

/// `sum_t (a_t - b_t)²` in f64 with [`LANES`] partial sums; the differences are taken in f64,
/// so they are exact for f32 data (the bounds of the Hamerly iterations rely on it).
#[inline(always)]
pub(crate) fn dist_sq_f64<F: Float>(a: &[F], b: &[F]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, &u), &v) in acc.iter_mut().zip(x).zip(y) {
            let t = u.as_f64() - v.as_f64();
            *s += t * t;
        }
    }
    for ((s, &u), &v) in acc.iter_mut().zip(ca.remainder()).zip(cb.remainder()) {
        let t = u.as_f64() - v.as_f64();
        *s += t * t;
    }
    combine(acc)
}

#[inline(always)]
fn combine<T: Copy + std::ops::Add<Output = T>>(a: [T; LANES]) -> T {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// The maximum of a slice (`-inf` when empty; NaN if any element is NaN), in lanes.
#[inline(always)]
pub(crate) fn max<F: Float>(a: &[F]) -> F {
    let mut lanes = [F::neg_infinity(); LANES];
    let mut nan = false;
    let mut chunks = a.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            nan |= v.is_nan();
            *m = if v > *m { v } else { *m };
        }
    }
    for &v in chunks.remainder() {
        nan |= v.is_nan();
        lanes[0] = if v > lanes[0] { v } else { lanes[0] };
    }
    if nan {
        return F::nan();
    }
    lanes
        .iter()
        .copied()
        .fold(F::neg_infinity(), |a, b| if b > a { b } else { a })
}

/// `ln x` for `x > 0` (finite), written to vectorise: `x = 2^e f` with `f` in
/// `[sqrt(1/2), sqrt(2))`, `ln f = 2 atanh(s)`, `s = (f - 1) / (f + 1)`, `|s| <= 0.1716`, by its
/// odd series to `s^23` (truncation below 1e-17 relative); subnormal `x` is scaled by `2^54`
/// first. Relative error within a few ulp of `f64::ln`. Zero gives `-inf`.
#[inline(always)]
pub(crate) fn ln_pos(x: f64) -> f64 {
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x }; // 2^54
    let bits = xs.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023 - if sub { 54 } else { 0 };
    let mut f = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if f > std::f64::consts::SQRT_2 {
        f *= 0.5;
        e += 1;
    }
    let s = (f - 1.0) / (f + 1.0);
    let z = s * s;
    let mut p = 1.0 / 23.0;
    p = p * z + 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    let ln_f = 2.0 * s + 2.0 * s * z * p;
    let ef = e as f64;
    let r = ef * LN2_HI + (ln_f + ef * LN2_LO);
    if x == 0.0 {
        f64::NEG_INFINITY
    } else {
        r
    }
}

/// `sum_j e^(v_j - m)` for `m >= max_j v_j`, the exponentials in lanes, summed in a fixed order.
#[inline(always)]
pub(crate) fn sum_exp_shifted<F: Float>(v: &[F], m: F) -> F {
    let mut acc = [F::zero(); LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &x) in acc.iter_mut().zip(c) {
            *s += (x - m).exp_nonpos();
        }
    }
    for (s, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *s += (x - m).exp_nonpos();
    }
    combine(acc)
}

/// `dst += alpha * src`, element-wise, in f64.
#[inline(always)]
pub(crate) fn axpy_f64<F: Float>(dst: &mut [f64], alpha: f64, src: &[F]) {
    for (a, &v) in dst.iter_mut().zip(src) {
        *a += alpha * v.as_f64();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::exp_nonpos_f32;

    struct SumSq<'a>(&'a [f64]);
    impl Kernel for SumSq<'_> {
        type Output = f64;
        #[inline(always)]
        fn run(self) -> f64 {
            sum_sq(self.0)
        }
    }

    #[test]
    fn reductions_match_the_naive_sums() {
        let a: Vec<f64> = (0..19).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..19).map(|i| (i as f64 * 0.11).cos()).collect();
        let naive_sq: f64 = a.iter().map(|v| v * v).sum();
        let naive_d: f64 = a.iter().zip(&b).map(|(u, v)| (u - v) * (u - v)).sum();
        assert_eq!(dispatch(SumSq(&a)), sum_sq(&a));
        assert!((sum_sq(&a) - naive_sq).abs() < 1e-14);
        assert!((dist_sq_f64(&a, &b) - naive_d).abs() < 1e-14);
        assert_eq!(sum_sq::<f64>(&[]), 0.0);
        assert!((sum(&a) - a.iter().sum::<f64>()).abs() < 1e-14);
    }

    #[test]
    fn exp_matches_the_library_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x: f64 = -707.99;
        while x <= 0.0 {
            let want = x.exp();
            let got = exp_nonpos(x);
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        for x in [
            0.0,
            -1e-300,
            -1e-17,
            -0.5 * std::f64::consts::LN_2,
            -1.0,
            -700.0,
        ] {
            let want = f64::exp(x);
            worst = worst.max(((exp_nonpos(x) - want) / want).abs());
        }
        assert!(worst < 4.0 * f64::EPSILON, "{worst:e}");
        assert_eq!(exp_nonpos(0.0), 1.0);
        assert_eq!(exp_nonpos(-709.0), 0.0);
        assert_eq!(exp_nonpos(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn f32_exp_matches_the_library_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = 0.0f32;
        while x > -87.0 {
            // Against the f64 library value of the same f32 argument.
            let want = f64::from(x).exp();
            let got = f64::from(exp_nonpos_f32(x));
            worst = worst.max(((got - want) / want).abs());
            x -= 0.001_37;
        }
        assert!(worst < 3.0 * f64::from(f32::EPSILON), "{worst:e}");
        assert_eq!(exp_nonpos_f32(0.0), 1.0);
        assert_eq!(exp_nonpos_f32(-88.0), 0.0);
        assert_eq!(exp_nonpos_f32(f32::NEG_INFINITY), 0.0);
        assert!(max::<f32>(&[1.0, f32::NAN]).is_nan());
    }

    #[test]
    fn ln_matches_the_library_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x: f64 = 1e-310;
        while x < 1e300 {
            for y in [x, x * 1.37, x * 0.71, 1.0 + 1e-9 * x.min(1.0)] {
                let want = y.ln();
                let got = ln_pos(y);
                let err = if want == 0.0 {
                    got.abs()
                } else {
                    ((got - want) / want).abs()
                };
                worst = worst.max(err);
            }
            x *= 3.7;
        }
        for y in [
            1.0,
            2.0,
            0.5,
            std::f64::consts::SQRT_2,
            1.0 - 1e-16,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let want = f64::ln(y);
            let got = ln_pos(y);
            let err = if want == 0.0 {
                got.abs()
            } else {
                ((got - want) / want).abs()
            };
            worst = worst.max(err);
        }
        assert!(worst < 4.0 * f64::EPSILON, "{worst:e}");
        assert_eq!(ln_pos(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn max_in_lanes() {
        let v: Vec<f64> = (0..19).map(|i| ((i * 7) % 11) as f64 - 3.0).collect();
        assert_eq!(max(&v), 7.0);
        assert_eq!(max::<f64>(&[]), f64::NEG_INFINITY);
        assert!(max(&[1.0, f64::NAN, 2.0]).is_nan());
        assert_eq!(max(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
    }

    #[test]
    fn axpy_accumulates() {
        let mut d = vec![1.0, 2.0, 3.0];
        axpy_f64(&mut d, 2.0, &[1.0f32, 0.5, -1.0]);
        assert_eq!(d, vec![3.0, 3.0, 1.0]);
    }
}
