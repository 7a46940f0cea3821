//! Typicality: how plausible it is that a point this far away came from a cluster at all.
//!
//! Memberships always sum to 1, so a point far from every cluster is still "certain" of its
//! nearest one. Typicality answers a different question, one cluster at a time: if `x` were
//! drawn from cluster `j`, how likely is a squared Mahalanobis distance at least as large?
//!
//! ```text
//! t_ij = P(chi²_D >= D²_ij),   outlier_i = 1 - max_j t_ij
//! ```
//!
//! For a Gaussian component `D²_ij = (x_i - mu_j)^T S_j^{-1} (x_i - mu_j)` is exactly
//! chi-square with `D` degrees of freedom (`GaussianMixtureModel::typicality`). For
//! centroid methods (k-means, fuzzy c-means) each cluster gets its own spread
//! ([`ClusterSpread`]): one variance (isotropic, `D²_ij = |x_i - c_j|² / sigma_j²`) or one per
//! feature (diagonal). The survival function is evaluated in log space ([`crate::special`]), so
//! values far below `1e-100` are accurate rather than `1 - 1`.

use crate::data::{check_matrix, check_weights, map_segments};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::special::chi2_log_sf;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Zip};

/// Per-point, per-cluster typicality and the outlier score.
#[derive(Debug, Clone, PartialEq)]
pub struct Typicality {
    /// `n x k`: `t_ij = P(chi²_D >= D²_ij)`.
    pub typicality: Array2<f64>,
    /// `n x k`: `ln t_ij` (finite even where `t_ij` underflows to 0).
    pub log_typicality: Array2<f64>,
    /// `1 - max_j t_ij`.
    pub outlier: Array1<f64>,
}

impl Typicality {
    /// From squared Mahalanobis distances with `dof` degrees of freedom.
    pub fn from_mahalanobis(d2: ArrayView2<'_, f64>, dof: usize) -> Self {
        let mut log_t = Array2::<f64>::zeros(d2.dim());
        Zip::from(&mut log_t)
            .and(d2)
            .par_for_each(|l, &q| *l = chi2_log_sf(q, dof as f64));
        let t = log_t.mapv(f64::exp);
        let outlier = t
            .rows()
            .into_iter()
            .map(|r| 1.0 - r.iter().copied().fold(0.0, f64::max))
            .collect();
        Typicality {
            typicality: t,
            log_typicality: log_t,
            outlier,
        }
    }
}

/// How a centroid cluster's spread is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Spread {
    /// One variance per cluster: `sigma_j² = sum_i w_ij |x_i - c_j|² / (D sum_i w_ij)`.
    #[default]
    Isotropic,
    /// One variance per cluster and feature: `sigma_jl² = sum_i w_ij (x_il - c_jl)² / sum_i w_ij`.
    Diagonal,
}

impl Spread {
    /// Both kinds.
    pub const ALL: [Spread; 2] = [Spread::Isotropic, Spread::Diagonal];
    /// `isotropic` or `diagonal`.
    pub fn name(self) -> &'static str {
        match self {
            Spread::Isotropic => "isotropic",
            Spread::Diagonal => "diagonal",
        }
    }
}

crate::error::impl_names!(Spread, "spread", "isotropic or diagonal", Spread::ALL);

/// What a centroid fit measured about each cluster in its final pass: per-cluster, per-feature
/// weighted squared deviations from the centres `S_jt = sum_i w_i u_ij (x_it - c_jt)²` and the
/// cluster weights `W_j = sum_i w_i u_ij` (`u_ij` one-hot for k-means, memberships for fuzzy
/// c-means). Spreads for typicality come from them without another pass over the data.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct ClusterStats {
    pub(crate) deviations: Array2<f64>,
    pub(crate) cluster_weight: Array1<f64>,
}

impl ClusterStats {
    /// The spreads of clusters centred at `centers`.
    pub(crate) fn spread<F: Float>(
        &self,
        centers: ArrayView2<'_, F>,
        kind: Spread,
    ) -> Result<ClusterSpread> {
        ClusterSpread::from_deviations(
            centers,
            self.deviations.view(),
            self.cluster_weight.view(),
            kind,
        )
    }

    /// Shapes `k x d` and `k`, values finite and non-negative (for models read back).
    pub(crate) fn validate(&self, k: usize, d: usize, what: &'static str) -> Result<()> {
        if self.deviations.dim() != (k, d) || self.cluster_weight.len() != k {
            return Err(Error::ShapeMismatch {
                what,
                expected: format!("{k} x {d} deviations and {k} cluster weights"),
                found: format!(
                    "{} x {} and {}",
                    self.deviations.nrows(),
                    self.deviations.ncols(),
                    self.cluster_weight.len()
                ),
            });
        }
        if !self
            .deviations
            .iter()
            .chain(&self.cluster_weight)
            .all(|&v| v.is_finite() && v >= 0.0)
        {
            return Err(invalid(
                what,
                "a negative or non-finite value",
                "finite, non-negative deviations and weights",
            ));
        }
        Ok(())
    }
}

/// Fitted per-cluster spreads around fixed centres, for typicality of centroid methods.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClusterSpread {
    kind: Spread,
    centers: Array2<f64>,
    /// `k x 1` (isotropic) or `k x d` (diagonal) variances.
    variances: Array2<f64>,
}

impl ClusterSpread {
    /// Fits spreads around `centers` (k x d) with membership weights `weights` (n x k: one-hot
    /// labels for k-means, memberships for fuzzy c-means) and optional sample weights.
    /// A variance that comes out zero (a cluster of identical points) is floored at `1e-12`
    /// of the mean variance over clusters, so its typicality is a sharp spike, not NaN.
    pub fn fit<F: Float>(
        x: ArrayView2<'_, F>,
        centers: ArrayView2<'_, F>,
        weights: ArrayView2<'_, f64>,
        sample_weight: Option<ArrayView1<'_, F>>,
        kind: Spread,
    ) -> Result<Self> {
        check_matrix(x, "data")?;
        check_matrix(centers, "centres")?;
        let (n, d) = x.dim();
        let k = centers.nrows();
        if centers.ncols() != d || weights.dim() != (n, k) {
            return Err(Error::ShapeMismatch {
                what: "typicality inputs",
                expected: format!("centres {k} x {d} and weights {n} x {k}"),
                found: format!(
                    "centres {} x {}, weights {} x {}",
                    centers.nrows(),
                    centers.ncols(),
                    weights.nrows(),
                    weights.ncols()
                ),
            });
        }
        if let Some(w) = sample_weight {
            check_weights(w, n)?;
        }
        let cols = if kind == Spread::Diagonal { d } else { 1 };
        let parts = map_segments(n, |rows| {
            let mut num = Array2::<f64>::zeros((k, cols));
            let mut den = Array1::<f64>::zeros(k);
            for i in rows {
                let wi = sample_weight.map_or(1.0, |w| w[i].as_f64());
                for j in 0..k {
                    let u = wi * weights[(i, j)];
                    if u == 0.0 {
                        continue;
                    }
                    den[j] += u;
                    for l in 0..d {
                        let t = (x[(i, l)] - centers[(j, l)]).as_f64();
                        let c = if cols == 1 { 0 } else { l };
                        num[(j, c)] += u * t * t;
                    }
                }
            }
            (num, den)
        });
        Self::from_sums(parts, kind, centers, d)
    }

    /// Fits spreads from hard labels (k-means): one pass over the data, no `n x k` weights.
    pub fn fit_labels<F: Float>(
        x: ArrayView2<'_, F>,
        centers: ArrayView2<'_, F>,
        labels: ArrayView1<'_, usize>,
        sample_weight: Option<ArrayView1<'_, F>>,
        kind: Spread,
    ) -> Result<Self> {
        check_matrix(x, "data")?;
        check_matrix(centers, "centres")?;
        let (n, d) = x.dim();
        let k = centers.nrows();
        if labels.len() != n || labels.iter().any(|&l| l >= k) || centers.ncols() != d {
            return Err(Error::ShapeMismatch {
                what: "labels",
                expected: format!("{n} labels below {k}, centres with {d} columns"),
                found: format!(
                    "{} labels, centres {} x {}",
                    labels.len(),
                    k,
                    centers.ncols()
                ),
            });
        }
        if let Some(w) = sample_weight {
            check_weights(w, n)?;
        }
        let cols = if kind == Spread::Diagonal { d } else { 1 };
        let parts = map_segments(n, |rows| {
            let mut num = Array2::<f64>::zeros((k, cols));
            let mut den = Array1::<f64>::zeros(k);
            for i in rows {
                let j = labels[i];
                let wi = sample_weight.map_or(1.0, |w| w[i].as_f64());
                den[j] += wi;
                for l in 0..d {
                    let t = (x[(i, l)] - centers[(j, l)]).as_f64();
                    num[(j, if cols == 1 { 0 } else { l })] += wi * t * t;
                }
            }
            (num, den)
        });
        Self::from_sums(parts, kind, centers, d)
    }

    /// Spreads from per-cluster, per-feature weighted squared deviations `S_jt` and cluster
    /// weights `W_j`, as a fit accumulates them (k-means with one-hot weights, fuzzy c-means
    /// with memberships): the same values as [`Self::fit`] on the training data.
    pub(crate) fn from_deviations<F: Float>(
        centers: ArrayView2<'_, F>,
        s: ArrayView2<'_, f64>,
        w: ArrayView1<'_, f64>,
        kind: Spread,
    ) -> Result<Self> {
        if s.iter().chain(w.iter()).any(|v| !v.is_finite()) {
            return Err(invalid(
                "cluster spreads",
                "non-finite deviations",
                "finite per-cluster deviations and weights",
            ));
        }
        let num = match kind {
            Spread::Diagonal => s.to_owned(),
            Spread::Isotropic => s.sum_axis(ndarray::Axis(1)).insert_axis(ndarray::Axis(1)),
        };
        Self::from_sums(vec![(num, w.to_owned())], kind, centers, centers.ncols())
    }

    /// Variances from per-segment (numerator, weight) sums, with the flooring of [`Self::fit`].
    fn from_sums<F: Float>(
        parts: Vec<(Array2<f64>, Array1<f64>)>,
        kind: Spread,
        centers: ArrayView2<'_, F>,
        d: usize,
    ) -> Result<Self> {
        let k = centers.nrows();
        let cols = if kind == Spread::Diagonal { d } else { 1 };
        let mut num = Array2::<f64>::zeros((k, cols));
        let mut den = Array1::<f64>::zeros(k);
        for (a, b) in parts {
            num += &a;
            den += &b;
        }
        let per = if kind == Spread::Diagonal {
            1.0
        } else {
            d as f64
        };
        let mut var = Array2::<f64>::zeros((k, cols));
        for j in 0..k {
            for c in 0..cols {
                var[(j, c)] = if den[j] > 0.0 {
                    num[(j, c)] / (den[j] * per)
                } else {
                    f64::NAN
                };
            }
        }
        // Clusters without weight borrow the mean spread; zero spreads are floored.
        let finite: Vec<f64> = var
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let mean = if finite.is_empty() {
            1.0
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        };
        var.mapv_inplace(|v| {
            if v.is_finite() {
                v.max(1e-12 * mean)
            } else {
                mean
            }
        });
        Ok(ClusterSpread {
            kind,
            centers: centers.mapv(|v| v.as_f64()),
            variances: var,
        })
    }

    /// Spreads from their parts: centres (`k x d`) and variances (`k x 1` isotropic, `k x d`
    /// diagonal); validated.
    pub fn from_parts(kind: Spread, centers: Array2<f64>, variances: Array2<f64>) -> Result<Self> {
        let s = ClusterSpread {
            kind,
            centers,
            variances,
        };
        s.validate()?;
        Ok(s)
    }

    /// The centres the spreads are measured around.
    pub fn centers(&self) -> ArrayView2<'_, f64> {
        self.centers.view()
    }

    /// The spread model.
    pub fn kind(&self) -> Spread {
        self.kind
    }

    /// Variances: `k x 1` (isotropic) or `k x d` (diagonal).
    pub fn variances(&self) -> ArrayView2<'_, f64> {
        self.variances.view()
    }

    /// Checks shapes and values (for spreads read from files).
    pub fn validate(&self) -> Result<()> {
        let (k, d) = self.centers.dim();
        let cols = if self.kind == Spread::Diagonal { d } else { 1 };
        if self.variances.dim() != (k, cols) {
            return Err(Error::ShapeMismatch {
                what: "cluster variances",
                expected: format!("{k} x {cols}"),
                found: format!("{} x {}", self.variances.nrows(), self.variances.ncols()),
            });
        }
        check_matrix(self.centers.view(), "centres")?;
        if self.variances.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(Error::InvalidParameter {
                name: "cluster variances",
                value: "a non-positive or non-finite variance".into(),
                expected: "positive finite variances",
            });
        }
        Ok(())
    }

    /// Squared standardised distances `D²_ij`, `n x k`.
    pub fn mahalanobis_sq<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        check_matrix(x, "data")?;
        let (k, d) = self.centers.dim();
        if x.ncols() != d {
            return Err(Error::ShapeMismatch {
                what: "data",
                expected: format!("{d} columns, as the centres"),
                found: format!("{} columns", x.ncols()),
            });
        }
        let mut out = Array2::<f64>::zeros((x.nrows(), k));
        Zip::from(out.rows_mut())
            .and(x.rows())
            .par_for_each(|mut o, xi| {
                for j in 0..k {
                    let mut q = 0.0;
                    for l in 0..d {
                        let t = xi[l].as_f64() - self.centers[(j, l)];
                        let v = if self.kind == Spread::Diagonal {
                            self.variances[(j, l)]
                        } else {
                            self.variances[(j, 0)]
                        };
                        q += t * t / v;
                    }
                    o[j] = q;
                }
            });
        Ok(out)
    }

    /// Typicality of every row of `x` for every cluster (`D` = number of features).
    pub fn typicality<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Typicality> {
        let d2 = self.mahalanobis_sq(x)?;
        Ok(Typicality::from_mahalanobis(
            d2.view(),
            self.centers.ncols(),
        ))
    }
}
