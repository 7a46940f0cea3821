//! The floating-point types the numerics run in.
//!
//! Every algorithm is generic over [`Float`], implemented for `f64` and `f32`. Data and centres
//! stay in the caller's precision; sums over many points (centre updates, inertia, variances)
//! are accumulated in `f64` whatever the data type, so f32 input loses nothing to long sums.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: `f64` or `f32` (sealed).
pub trait Float:
    num_traits::Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + sealed::Sealed
    + 'static
{
    /// Converts from `f64`, rounding to nearest.
    fn of(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;
    /// `e^self` for `self <= 0` by the vectorising polynomial of this precision (an internal
    /// helper of the SIMD kernels).
    #[doc(hidden)]
    fn exp_nonpos(self) -> Self;
    /// `s` itself when `Self` is `f64`, else `None`: lets a kernel generic over the block
    /// precision accumulate straight into f64 sums (an internal helper).
    #[doc(hidden)]
    fn f64_slice(s: &mut [f64]) -> Option<&mut [Self]>;
    /// `s` read as f64 when `Self` is `f64`, else `None` (the other direction of
    /// [`Self::f64_slice`], for kernels that need their block in f64).
    #[doc(hidden)]
    fn f64s(s: &[Self]) -> Option<&[f64]>;
}

impl Float for f64 {
    #[inline]
    fn of(v: f64) -> Self {
        v
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_nonpos(self) -> Self {
        exp_nonpos(self)
    }
    #[inline(always)]
    fn f64_slice(s: &mut [f64]) -> Option<&mut [Self]> {
        Some(s)
    }
    #[inline(always)]
    fn f64s(s: &[Self]) -> Option<&[f64]> {
        Some(s)
    }
}

impl Float for f32 {
    #[inline]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn exp_nonpos(self) -> Self {
        exp_nonpos_f32(self)
    }
    #[inline(always)]
    fn f64_slice(_: &mut [f64]) -> Option<&mut [Self]> {
        None
    }
    #[inline(always)]
    fn f64s(_: &[Self]) -> Option<&[f64]> {
        None
    }
}

/// `e^x` for `x <= 0`, written to vectorise (no table, no branch): `x = k ln 2 + r` with
/// `|r| <= ln 2 / 2` (Cody-Waite split of ln 2), `e^r` by its degree-13 Taylor polynomial
/// (truncation error below 1e-17 relative), and `2^k` built in the exponent bits. Relative error
/// within a few ulp of `f64::exp`; `x < -708` (where `e^x` would be subnormal) gives 0, which
/// only ever meets sums of at least 1 (the terms are `e^(s - max s)`).
#[inline(always)]
pub(crate) fn exp_nonpos(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split as in fdlibm: the high part has trailing zero bits, so k * LN2_HI is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    let xc = if x < -708.0 { -708.0 } else { x };
    let t = xc * LOG2E + SHIFT;
    let kf = t - SHIFT;
    let k = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f64::from_bits(k.wrapping_add(1023) << 52);
    if x < -708.0 {
        0.0
    } else {
        p * scale
    }
}

/// `e^x` for `x <= 0` in f32, as [`exp_nonpos`]: `x = k ln 2 + r` (ln 2 split in two so that
/// `k ln2_hi` is exact), `e^r` by its degree-7 Taylor polynomial (truncation below 6e-9
/// relative, under half an f32 ulp), `2^k` in the exponent bits; `x < -87` gives 0.
#[inline(always)]
pub(crate) fn exp_nonpos_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = f32::from_bits(0x3f31_8000); // 0.693359375: 15 trailing zero bits
    const LN2_LO: f32 = -2.121_944_4e-4;
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let xc = if x < -87.0 { -87.0 } else { x };
    let t = xc * LOG2E + SHIFT;
    let kf = t - SHIFT;
    let k = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    let mut p = 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(k.wrapping_add(127) << 23);
    if x < -87.0 {
        0.0
    } else {
        p * scale
    }
}

/// The shortest text that reads back as exactly `v`: plain notation for moderate magnitudes,
/// scientific notation (`1.5e-20`) for tiny and huge ones, so no value becomes a long run of
/// zeros (in messages, and in the CLI's output files).
pub struct Shortest(pub f64);

impl Display for Shortest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0.abs();
        if a == 0.0 || (1e-4..1e15).contains(&a) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:e}", self.0)
        }
    }
}
