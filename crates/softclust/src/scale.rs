//! Feature standardisation, fitted once and reusable on new data.
//!
//! Distances weigh every feature by its scale, so a feature measured in thousands swamps one
//! measured in units. Both scalers map `x_ij -> (x_ij - c_j) / s_j`:
//!
//! * **z-score**: `c_j` = mean, `s_j` = population standard deviation (as scikit-learn's
//!   `StandardScaler`);
//! * **robust**: `c_j` = median, `s_j` = interquartile range `q75 - q25` with linear
//!   interpolation between order statistics (as `RobustScaler`), insensitive to outliers.
//!
//! A column whose scale is zero (constant, or numerically constant: `s_j <= n eps |c_j|`; for the
//! robust scaler, a zero IQR) is centred but left unscaled (`s_j = 1`) and reported by
//! [`Scaler::unscaled_columns`].

use crate::data::check_matrix;
use crate::error::{Error, Result};
use crate::float::Float;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};

/// Which standardisation to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Standardize {
    /// Leave the data as they are.
    #[default]
    None,
    /// Mean and standard deviation.
    ZScore,
    /// Median and interquartile range.
    Robust,
}

impl Standardize {
    /// Short name: `none`, `zscore` or `robust`.
    pub fn name(self) -> &'static str {
        match self {
            Standardize::None => "none",
            Standardize::ZScore => "zscore",
            Standardize::Robust => "robust",
        }
    }

    /// Every method.
    pub const ALL: [Standardize; 3] = [Standardize::None, Standardize::ZScore, Standardize::Robust];

    /// Fits the scaler on `x` and standardises it, validating `x` once.
    pub fn fit_transform<F: Float>(self, x: ArrayView2<'_, F>) -> Result<(Scaler<F>, Array2<F>)> {
        let scaler = self.fit(x)?;
        let mut z = x.to_owned();
        scaler.apply(z.view_mut());
        Ok((scaler, z))
    }

    /// [`Self::fit_transform`] that standardises `x` in place instead of copying it (peak
    /// memory: the data once).
    pub fn fit_transform_owned<F: Float>(self, mut x: Array2<F>) -> Result<(Scaler<F>, Array2<F>)> {
        let scaler = self.fit(x.view())?;
        scaler.apply(x.view_mut());
        Ok((scaler, x))
    }

    /// A scaler from column moments gathered elsewhere (data read block by block): `n` rows,
    /// the column means and the population variances (`sum (x - mean)² / n`, taken about the
    /// means). Columns of zero spread are centred but left unscaled, as in [`Self::fit`]. The
    /// robust scaler needs quantiles, not moments, and is refused.
    pub fn from_moments<F: Float>(self, n: f64, mean: &[f64], var: &[f64]) -> Result<Scaler<F>> {
        if mean.len() != var.len() {
            return Err(Error::ShapeMismatch {
                what: "column moments",
                expected: format!("{} variances, one per mean", mean.len()),
                found: format!("{}", var.len()),
            });
        }
        let d = mean.len();
        let mut center = Array1::<F>::zeros(d);
        let mut scale = Array1::<F>::ones(d);
        let mut unscaled = Vec::new();
        for j in 0..d {
            let (c, s, zero) = match self {
                Standardize::None => (0.0, 1.0, false),
                Standardize::ZScore => {
                    let sd = var[j].max(0.0).sqrt();
                    (
                        mean[j],
                        sd,
                        sd == 0.0 || sd <= n * f64::EPSILON * mean[j].abs(),
                    )
                }
                Standardize::Robust => {
                    return Err(Error::InvalidParameter {
                        name: "standardize",
                        value: "robust".into(),
                        expected: "none or zscore for data read block by block (the robust \
                                   scaler needs quantiles of all the data in memory)",
                    })
                }
            };
            center[j] = F::of(c);
            if zero {
                unscaled.push(j);
            } else {
                scale[j] = F::of(s);
            }
        }
        Ok(Scaler {
            method: self,
            center,
            scale,
            unscaled,
        })
    }

    /// Learns centres and scales from `x` (n x d): column means and standard deviations for
    /// z-scores (by [`Self::from_moments`]), medians and interquartile ranges for the robust
    /// scaler.
    pub fn fit<F: Float>(self, x: ArrayView2<'_, F>) -> Result<Scaler<F>> {
        check_matrix(x, "data")?;
        let d = x.ncols();
        let n = x.nrows() as f64;
        if self != Standardize::Robust {
            let mut mean = vec![0.0; d];
            let mut var = vec![0.0; d];
            if self == Standardize::ZScore {
                for (j, col) in x.axis_iter(Axis(1)).enumerate() {
                    mean[j] = col.iter().map(|v| v.as_f64()).sum::<f64>() / n;
                    var[j] = col
                        .iter()
                        .map(|v| {
                            let t = v.as_f64() - mean[j];
                            t * t
                        })
                        .sum::<f64>()
                        / n;
                }
            }
            return self.from_moments(n, &mean, &var);
        }
        let mut center = Array1::<F>::zeros(d);
        let mut scale = Array1::<F>::ones(d);
        let mut unscaled = Vec::new();
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let mut v: Vec<f64> = col.iter().map(|v| v.as_f64()).collect();
            v.sort_by(f64::total_cmp);
            let iqr = quantile_sorted(&v, 0.75) - quantile_sorted(&v, 0.25);
            center[j] = F::of(quantile_sorted(&v, 0.5));
            if iqr <= 0.0 {
                unscaled.push(j);
            } else {
                scale[j] = F::of(iqr);
            }
        }
        Ok(Scaler {
            method: self,
            center,
            scale,
            unscaled,
        })
    }
}

/// Quantile `q` of sorted values with linear interpolation (numpy's default).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    v[lo] + (v[hi] - v[lo]) * frac
}

crate::error::impl_names!(
    Standardize,
    "standardize",
    "one of none, zscore, robust",
    Standardize::ALL
);

/// A fitted standardisation: `z = (x - center) / scale`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Scaler<F> {
    method: Standardize,
    center: Array1<F>,
    scale: Array1<F>,
    unscaled: Vec<usize>,
}

impl<F: Float> Scaler<F> {
    /// The scaler that leaves `d` columns as they are (`method` none).
    pub fn identity(d: usize) -> Self {
        Scaler {
            method: Standardize::None,
            center: Array1::zeros(d),
            scale: Array1::ones(d),
            unscaled: Vec::new(),
        }
    }
    /// The same scaler in another float type.
    pub fn cast<G: Float>(&self) -> Scaler<G> {
        Scaler {
            method: self.method,
            center: self.center.mapv(|v| G::of(v.as_f64())),
            scale: self.scale.mapv(|v| G::of(v.as_f64())),
            unscaled: self.unscaled.clone(),
        }
    }

    /// The method this scaler was fitted with.
    pub fn method(&self) -> Standardize {
        self.method
    }
    /// Per-column centre `c_j`.
    pub fn center(&self) -> ArrayView1<'_, F> {
        self.center.view()
    }
    /// Per-column scale `s_j` (1 for unscaled columns).
    pub fn scale(&self) -> ArrayView1<'_, F> {
        self.scale.view()
    }
    /// Columns (0-based) left unscaled because their spread is zero.
    pub fn unscaled_columns(&self) -> &[usize] {
        &self.unscaled
    }
    /// Checks that centres and scales fit together and are usable (for scalers read from
    /// files): equal lengths, finite values, positive scales.
    pub fn validate(&self) -> Result<()> {
        if self.center.len() != self.scale.len() {
            return Err(Error::ShapeMismatch {
                what: "scaler",
                expected: format!("{} scales, one per centre", self.center.len()),
                found: format!("{}", self.scale.len()),
            });
        }
        if let Some(j) = (0..self.scale.len()).find(|&j| {
            !(self.center[j].is_finite() && self.scale[j].is_finite() && self.scale[j] > F::zero())
        }) {
            return Err(Error::InvalidParameter {
                name: "scaler",
                value: format!(
                    "centre {} / scale {} in column {j}",
                    self.center[j], self.scale[j]
                ),
                expected: "finite centres and positive finite scales",
            });
        }
        Ok(())
    }

    /// Number of columns the scaler was fitted on.
    pub fn n_features(&self) -> usize {
        self.center.len()
    }

    fn check(&self, x: ArrayView2<'_, F>) -> Result<()> {
        check_matrix(x, "data")?;
        if x.ncols() != self.n_features() {
            return Err(Error::ShapeMismatch {
                what: "data to scale",
                expected: format!(
                    "{} columns, as when the scaler was fitted",
                    self.n_features()
                ),
                found: format!("{} columns", x.ncols()),
            });
        }
        Ok(())
    }

    /// Standardises `x` in place.
    pub fn transform_inplace(&self, x: ArrayViewMut2<'_, F>) -> Result<()> {
        self.check(x.view())?;
        self.apply(x);
        Ok(())
    }

    /// `(x - center) / scale` in place, on data the caller validated.
    fn apply(&self, mut x: ArrayViewMut2<'_, F>) {
        if self.method == Standardize::None {
            return;
        }
        Zip::from(x.rows_mut()).par_for_each(|mut row| {
            Zip::from(&mut row)
                .and(&self.center)
                .and(&self.scale)
                .for_each(|v, &c, &s| *v = (*v - c) / s);
        });
    }

    /// Standardised copy of `x`.
    pub fn transform(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let mut out = x.to_owned();
        self.transform_inplace(out.view_mut())?;
        Ok(out)
    }

    /// Maps standardised values back to the original units: `x = z * scale + center`.
    pub fn inverse_transform(&self, z: ArrayView2<'_, F>) -> Result<Array2<F>> {
        self.check(z)?;
        if self.method == Standardize::None {
            return Ok(z.to_owned());
        }
        let mut out = z.to_owned();
        Zip::from(out.rows_mut()).par_for_each(|mut row| {
            Zip::from(&mut row)
                .and(&self.center)
                .and(&self.scale)
                .for_each(|v, &c, &s| *v = *v * s + c);
        });
        Ok(out)
    }
}
