//! A uniform noise component (as mclust has): points that no Gaussian explains well go to a
//! component of constant density over the data's bounding box.

use crate::error::{invalid, Result};
use crate::float::Float;
use ndarray::{ArrayView2, Axis};

/// A uniform noise component over the training data's bounding box: weight `pi_0` and density
/// `1 / V`, `V = prod_j (max_j - min_j)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Noise {
    /// `ln pi_0`.
    pub log_weight: f64,
    /// `ln V`.
    pub log_volume: f64,
}

/// `ln V` of the bounding box of `x`; every feature must have a positive extent.
pub(crate) fn log_box_volume<F: Float>(x: ArrayView2<'_, F>) -> Result<f64> {
    let mut lv = 0.0;
    for (j, col) in x.axis_iter(Axis(1)).enumerate() {
        let lo = col.iter().fold(f64::INFINITY, |m, v| m.min(v.as_f64()));
        let hi = col.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.as_f64()));
        if hi <= lo {
            return Err(invalid(
                "noise",
                format!("feature {j} is constant"),
                "a bounding box with positive extent in every feature (drop constant columns)",
            ));
        }
        lv += (hi - lo).ln();
    }
    Ok(lv)
}
