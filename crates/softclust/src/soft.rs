//! Soft memberships from a distance matrix.
//!
//! Every method maps an `n x k` matrix of distances (column j = distances to cluster j, plain or
//! squared) to the common [`Membership`] contract, in two steps: [`SoftMethod::fit`] estimates
//! whatever the method needs from training distances (a variance, mixing weights, column ranges)
//! and returns an immutable [`FittedSoft`]; [`FittedSoft::memberships`] applies it to any distance
//! matrix with the same clusters, so new points are scored with the training estimates.
//! [`soft_assign`] does both on one matrix.
//!
//! # Which nonlinearity?
//!
//! * **softmax** (the default, and the principled choice after k-means). k-means is the
//!   zero-variance limit of a mixture of isotropic Gaussians `N(c_j, sigma² I)`; the posterior of
//!   that mixture is
//!
//!   ```text
//!   p_ij ∝ pi_j exp(-d_ij² / (2 sigma²))
//!   ```
//!
//!   with `sigma²` estimated by maximum likelihood for the hard assignment,
//!   `sigma² = sum_i w_i min_j d_ij² / (W D)` (for k-means centres this is `inertia / (W D)`; `D` =
//!   number of features, `W` = total weight). Options: per-cluster variances
//!   `sigma_j² = sum_{i in j} w_i d_ij² / (W_j D)`, which add the normaliser `-D ln sigma_j` to the
//!   log-score; mixing weights `pi_j = W_j / W` from the cluster sizes (else equal); and a
//!   temperature `T` that divides the log-score (T < 1 sharpens, T > 1 softens).
//! * **inverse-power**: `p_ij ∝ d_ij^(-p)`, by default `p = D - 1` (the "gravity" rule: the
//!   intensity of a point source in `D` dimensions falls as `1 / d^(D-1)`; at least 1). This is
//!   exactly the fuzzy c-means membership `u_ij ∝ d_ij^(-2/(m-1))` with fuzzifier `m = 1 + 2/p`.
//!   A point at distance 0 from one or more centres gets probability 1 there, split evenly on
//!   ties (the limit of the formula).
//! * **minmax**: the linear baseline `s_ij = (max_j - d_ij) / (max_j - min_j)` per cluster, rows
//!   normalised to sum to 1. Kept only for comparison: because every point is far from most
//!   clusters, most rows come out nearly uniform, and the numbers have no probabilistic meaning.
//!
//! * **auto** (the default of the CLI and the Python estimators): the softmax whose implied
//!   spherical Gaussian mixture fits best. The four softmax variants (shared or per-cluster
//!   variances, equal or size weights) each define a mixture
//!   `sum_j pi_j N(c_j, sigma_j² I)`; its log-likelihood
//!   `L = sum_i w_i ln sum_j pi_j (2 pi sigma_j²)^(-D/2) exp(-d_ij² / (2 sigma_j²))` is computed
//!   on the training data, and the variant with the least
//!   `BIC = -2 L + (k D + n_var + n_weights) ln W` wins (`n_var` = 1 or k, `n_weights` = 0 or
//!   k - 1, `W` the total weight). [`FittedSoft::choice`] keeps every candidate's criterion.
//!
//! Everything is computed on log-scores and normalised by log-sum-exp, so huge, tiny and equal
//! distances give finite probabilities whose rows sum to 1.

use crate::data::{check_finite_matrix, check_weights};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::membership::Membership;
use crate::simd;
use ndarray::{Array2, ArrayView1, ArrayView2, Zip};

/// Whether a distance matrix holds plain or squared Euclidean distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceKind {
    /// `d_ij`.
    Euclidean,
    /// `d_ij²`.
    Squared,
}

/// Gaussian (softmax) memberships; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    sigma: Option<f64>,
    per_cluster_variance: bool,
    size_weights: bool,
    temperature: f64,
}

impl Default for Softmax {
    fn default() -> Self {
        Softmax {
            sigma: None,
            per_cluster_variance: false,
            size_weights: false,
            temperature: 1.0,
        }
    }
}

impl Softmax {
    /// Shared variance estimated from the data, equal weights, temperature 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Fixes the standard deviation `sigma` (> 0) in distance units instead of estimating it.
    pub fn sigma(mut self, sigma: f64) -> Self {
        self.sigma = Some(sigma);
        self
    }
    /// Estimates one variance per cluster.
    pub fn per_cluster_variance(mut self, yes: bool) -> Self {
        self.per_cluster_variance = yes;
        self
    }
    /// Uses mixing weights proportional to the clusters' (weighted) sizes.
    pub fn size_weights(mut self, yes: bool) -> Self {
        self.size_weights = yes;
        self
    }
    /// Divides the log-scores by `temperature` (> 0).
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }
    /// Which of [`AUTO_VARIANTS`] this is: (per-cluster variances, size weights).
    pub fn variant(&self) -> (bool, bool) {
        (self.per_cluster_variance, self.size_weights)
    }
}

/// Inverse-power memberships `p_ij ∝ d_ij^(-p)`; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InversePower {
    power: Option<f64>,
}

impl InversePower {
    /// The gravity default `p = max(D - 1, 1)`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Fixes the exponent `p` (> 0).
    pub fn power(mut self, p: f64) -> Self {
        self.power = Some(p);
        self
    }
}

/// Where an anchor of the [`Anchored`] score sits: a quantile of distances, or a distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    /// The `q`-quantile (in [0, 1]) of the relevant distances to the cluster's centre.
    Quantile(f64),
    /// An absolute distance.
    Distance(f64),
}

/// The anchored score: per cluster a decreasing map from distance to [0, 1] with
/// `s(near) = 1`, `s(half) = 0.5` and `s(far) = far_value`.
///
/// ```text
/// s_j(d) = 1                                   for d <= a_j
/// s_j(d) = exp(-ln 2 ((d - a_j)/(b_j - a_j))^beta_j)   beyond,
/// beta_j = ln(ln(1/far_value) / ln 2) / ln((c_j - a_j)/(b_j - a_j))
/// ```
///
/// By default `a_j` is the distance of the closest point assigned to cluster `j` (nearest
/// centre), `b_j` that of the farthest point assigned to it, and `c_j` that of the farthest point
/// of all data from centre `j`, with `far_value = 0.01`. It is a **score, not a calibrated
/// probability**: it says where a point sits relative to the cluster's own extent, and the
/// memberships derived from it (scores normalised per row) inherit no probabilistic meaning.
/// When anchors coincide (a cluster of one point, or a cluster that holds the farthest point),
/// `b` moves to the midpoint of `a` and `c`, or `c` to `2b - a`; when every distance to a centre
/// is the same, the score is constant 1 (reported as `a = b = c`). [`FittedSoft::anchors`]
/// reports the anchors used.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchored {
    near: Anchor,
    half: Anchor,
    far: Anchor,
    far_value: f64,
}

impl Default for Anchored {
    fn default() -> Self {
        Anchored {
            near: Anchor::Quantile(0.0),
            half: Anchor::Quantile(1.0),
            far: Anchor::Quantile(1.0),
            far_value: DEFAULT_FAR_VALUE,
        }
    }
}

impl Anchored {
    /// Closest assigned point 1, farthest assigned point 0.5, farthest point of all 0.01.
    pub fn new() -> Self {
        Self::default()
    }
    /// Where the score is 1 (a quantile of the distances of the points assigned to the
    /// cluster, or a distance).
    pub fn near(mut self, a: Anchor) -> Self {
        self.near = a;
        self
    }
    /// Where the score is 0.5 (a quantile of the assigned points' distances, or a distance).
    pub fn half(mut self, a: Anchor) -> Self {
        self.half = a;
        self
    }
    /// Where the score is `far_value` (a quantile of all points' distances, or a distance).
    pub fn far(mut self, a: Anchor) -> Self {
        self.far = a;
        self
    }
    /// The score at the far anchor, in (0, 0.5).
    pub fn far_value(mut self, v: f64) -> Self {
        self.far_value = v;
        self
    }
}

/// A way to turn distances into memberships.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SoftMethod {
    /// Gaussian posterior with an estimated variance.
    Softmax(Softmax),
    /// Normalised inverse powers of the distance (fuzzy c-means form).
    InversePower(InversePower),
    /// Linear min-max scaling per cluster (baseline for comparison only).
    MinMax,
    /// The anchored score, normalised per row (a score, not a calibrated probability).
    Anchored(Anchored),
    /// The softmax variant (shared or per-cluster variances, equal or size weights) whose
    /// implied mixture has the least BIC; only the temperature of the [`Softmax`] is used (see
    /// the [module docs](self)).
    Auto(Softmax),
}

impl Default for SoftMethod {
    fn default() -> Self {
        SoftMethod::Softmax(Softmax::default())
    }
}

impl SoftMethod {
    /// Which method this is.
    pub fn kind(&self) -> SoftKind {
        match self {
            SoftMethod::Softmax(_) => SoftKind::Softmax,
            SoftMethod::InversePower(_) => SoftKind::InversePower,
            SoftMethod::MinMax => SoftKind::MinMax,
            SoftMethod::Anchored(_) => SoftKind::Anchored,
            SoftMethod::Auto(_) => SoftKind::Auto,
        }
    }

    /// Short name: `softmax`, `inverse-power`, `minmax`, `anchored` or `auto`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Estimates the method's parameters from training distances.
    ///
    /// `n_features` is the dimension `D` of the space the distances were measured in; it is
    /// needed to estimate a variance and for the gravity default of the power. `weights` are
    /// optional sample weights, one per row.
    pub fn fit<F: Float>(
        &self,
        distances: ArrayView2<'_, F>,
        kind: DistanceKind,
        n_features: Option<usize>,
        weights: Option<ArrayView1<'_, F>>,
    ) -> Result<FittedSoft> {
        check_distances(distances)?;
        if let Some(w) = weights {
            check_weights(w, distances.nrows())?;
        }
        self.fit_valid(distances, kind, n_features, weights)
    }

    /// Checks the method's options without any data (a fit would reject the same).
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            SoftMethod::Softmax(s) => softmax_dim(s, Some(1.0)).map(|_| ()),
            SoftMethod::InversePower(ip) => ip.resolve_power(Some(1.0)).map(|_| ()),
            SoftMethod::MinMax => Ok(()),
            SoftMethod::Anchored(a) => check_anchored(a),
            SoftMethod::Auto(s) => check_auto(s),
        }
    }

    /// [`Self::fit`] on distances the caller computed or validated (finite, non-negative,
    /// weights checked).
    pub(crate) fn fit_valid<F: Float>(
        &self,
        distances: ArrayView2<'_, F>,
        kind: DistanceKind,
        n_features: Option<usize>,
        weights: Option<ArrayView1<'_, F>>,
    ) -> Result<FittedSoft> {
        if n_features == Some(0) {
            return Err(invalid("n_features", 0, "an integer >= 1"));
        }
        let k = distances.ncols();
        // Without the data's dimension, a softmax without sigma and an inverse power without
        // an exponent estimate it from the distances themselves.
        let needs_dim = match self {
            SoftMethod::Softmax(s) => s.sigma.is_none(),
            SoftMethod::InversePower(ip) => ip.power.is_none(),
            SoftMethod::Auto(_) => true,
            _ => false,
        };
        let estimated = match n_features {
            None if needs_dim => Some(estimate_dimension(distances, kind, weights)?),
            _ => None,
        };
        let dim = n_features.map(|d| d as f64).or(estimated.map(|e| e.dim));
        let model = match self {
            SoftMethod::Softmax(s) => fit_softmax(s, distances, kind, dim, weights)?,
            SoftMethod::InversePower(ip) => Fitted::InversePower {
                power: ip.resolve_power(dim)?,
            },
            SoftMethod::MinMax => {
                let mut lo = vec![f64::INFINITY; k];
                let mut hi = vec![0.0f64; k];
                for row in distances.rows() {
                    for (j, &v) in row.iter().enumerate() {
                        let d = euclid(v.as_f64(), kind);
                        lo[j] = lo[j].min(d);
                        hi[j] = hi[j].max(d);
                    }
                }
                Fitted::MinMax { lo, hi }
            }
            SoftMethod::Anchored(a) => fit_anchored(a, distances, kind)?,
            SoftMethod::Auto(s) => {
                check_auto(s)?;
                let dim = softmax_dim(s, dim)?;
                let t = nearest_sums(distances, kind, weights);
                let cands = AutoCandidates::new(&t, dim, s.temperature);
                let ll = cands.log_likelihoods(distances, kind, weights);
                let mut fitted = cands.choose(ll, t.w_all);
                fitted.estimated = estimated;
                return Ok(fitted);
            }
        };
        Ok(FittedSoft {
            model,
            k,
            estimated,
            choice: None,
        })
    }
}

impl SoftMethod {
    /// Estimates the method's parameters from the nearest-centre sums of a hard partition in
    /// `n_features` dimensions, without any distance matrix: per cluster the weighted sum of
    /// squared distances of its points to its centre (`sum_k`) and its weight (`w_k`). This is
    /// how a k-means fit estimates its own soft step (each training point counts for its label;
    /// [`SoftMethod::fit`] on distances instead shares exact ties between clusters). Softmax and
    /// inverse-power only: minmax and anchored need the distances themselves.
    pub(crate) fn fit_nearest_sums(
        &self,
        sum_k: Vec<f64>,
        w_k: Vec<f64>,
        n_features: usize,
    ) -> Result<FittedSoft> {
        let k = sum_k.len();
        let fitted = match self {
            SoftMethod::Softmax(s) => {
                let dim = softmax_dim(s, Some(n_features as f64))?;
                let t = NearestSums::of_clusters(sum_k, w_k);
                softmax_from_sums(s, dim, &t)
            }
            SoftMethod::InversePower(ip) => Fitted::InversePower {
                power: ip.resolve_power(Some(n_features as f64))?,
            },
            SoftMethod::MinMax | SoftMethod::Anchored(_) | SoftMethod::Auto(_) => {
                return Err(invalid(
                    "method",
                    self.name(),
                    "softmax or inverse-power (minmax, anchored and auto are fitted on \
                     distances)",
                ))
            }
        };
        Ok(FittedSoft {
            model: fitted,
            k,
            estimated: None,
            choice: None,
        })
    }

    /// Whether the method is estimated from nearest-centre sums alone (softmax, inverse-power)
    /// rather than from the whole distance matrix (minmax, anchored).
    pub fn from_sums(&self) -> bool {
        matches!(self, SoftMethod::Softmax(_) | SoftMethod::InversePower(_))
    }
}

/// The name of a soft-assignment method, as the CLI, the Python package and model files spell
/// it: `softmax`, `inverse-power`, `minmax`, `anchored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SoftKind {
    /// [`Softmax`].
    #[default]
    Softmax,
    /// [`InversePower`].
    InversePower,
    /// [`SoftMethod::MinMax`].
    MinMax,
    /// [`Anchored`].
    Anchored,
    /// [`SoftMethod::Auto`].
    Auto,
}

impl SoftKind {
    /// Every kind, in documentation order.
    pub const ALL: [SoftKind; 5] = [
        SoftKind::Auto,
        SoftKind::Softmax,
        SoftKind::InversePower,
        SoftKind::MinMax,
        SoftKind::Anchored,
    ];
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            SoftKind::Softmax => "softmax",
            SoftKind::InversePower => "inverse-power",
            SoftKind::MinMax => "minmax",
            SoftKind::Anchored => "anchored",
            SoftKind::Auto => "auto",
        }
    }
}

crate::error::impl_names!(
    SoftKind,
    "soft",
    "one of auto, softmax, inverse-power, minmax, anchored",
    SoftKind::ALL
);

impl std::str::FromStr for Anchor {
    type Err = Error;
    /// `q:Q` is the quantile `Q`, a plain number a distance (`q:0.9`, `2.5`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            invalid(
                "anchor",
                format!("{s:?}"),
                "a distance such as 2.5, or q:Q with a quantile Q in [0, 1]",
            )
        };
        match s.trim().strip_prefix("q:") {
            Some(q) => q.trim().parse().map(Anchor::Quantile).map_err(|_| bad()),
            None => s.trim().parse().map(Anchor::Distance).map_err(|_| bad()),
        }
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Anchor::Quantile(q) => write!(f, "q:{q}"),
            Anchor::Distance(d) => write!(f, "{d}"),
        }
    }
}

/// The default score at the far anchor of [`Anchored`].
pub const DEFAULT_FAR_VALUE: f64 = 0.01;

/// Every soft-assignment option as plain fields (the flags of the CLI, the keyword arguments of
/// the Python package): [`SoftSpec::method`] turns them into a [`SoftMethod`], so that every
/// face builds the method in one place. Options that do not apply to the chosen method are
/// ignored. `Default` is the softmax with everything estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftSpec {
    /// Which method.
    pub kind: SoftKind,
    /// Softmax: a fixed standard deviation instead of the estimate.
    pub sigma: Option<f64>,
    /// Inverse-power: the exponent (default `D - 1`).
    pub power: Option<f64>,
    /// Softmax: one variance per cluster.
    pub per_cluster_variance: bool,
    /// Softmax: mixing weights from cluster sizes.
    pub size_weights: bool,
    /// Softmax: divide the log-scores by this.
    pub temperature: f64,
    /// Anchored: where the score is 1.
    pub near: Option<Anchor>,
    /// Anchored: where the score is 0.5.
    pub half: Option<Anchor>,
    /// Anchored: where the score is `far_value`.
    pub far: Option<Anchor>,
    /// Anchored: the score at the far anchor.
    pub far_value: f64,
}

/// The four softmax variants `auto` weighs: (per-cluster variances, size weights).
pub const AUTO_VARIANTS: [(bool, bool); 4] =
    [(false, false), (true, false), (false, true), (true, true)];

/// One softmax variant weighed by `auto`, with the criterion of its implied mixture.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SoftCandidate {
    /// One variance per cluster (else one shared).
    pub per_cluster_variance: bool,
    /// Mixing weights from the cluster sizes (else equal).
    pub size_weights: bool,
    /// Log-likelihood of the implied spherical Gaussian mixture on the training data.
    pub log_likelihood: f64,
    /// Free parameters: `k D` means, 1 or `k` variances, 0 or `k - 1` weights.
    pub n_parameters: f64,
    /// `-2 L + n_parameters ln W`.
    pub bic: f64,
}

/// What `auto` weighed and chose.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SoftChoice {
    /// The four variants, in the order of [`AUTO_VARIANTS`].
    pub candidates: Vec<SoftCandidate>,
    /// Index of the one chosen (least BIC; the earlier, simpler one on ties).
    pub chosen: usize,
}

impl SoftChoice {
    /// The chosen variant.
    pub fn best(&self) -> &SoftCandidate {
        &self.candidates[self.chosen]
    }
}

/// The candidates of `auto` for given nearest-centre sums, ready to be scored on data. The four
/// variants share two sets of variances (shared, per cluster) and two sets of weights (equal,
/// sizes), so each point needs the exponentials of two sets of log-densities, not four.
#[derive(Debug, Clone)]
pub(crate) struct AutoCandidates {
    dim: f64,
    k: usize,
    fitted: Vec<Fitted>,
    /// Per variance set (shared, per cluster) and cluster: `-(D/2) ln(2 pi sigma_j²)`.
    norm: [Vec<f64>; 2],
    /// Per variance set and cluster: `1 / (2 sigma_j²)`.
    curvature: [Vec<f64>; 2],
    /// The size weights `pi_j = W_j / W`.
    pi: Vec<f64>,
}

impl AutoCandidates {
    /// The candidates for a hard partition's per-cluster sums of squared distances `sum_k` and
    /// weights `w_k` in `dim` dimensions (as [`SoftMethod::fit_nearest_sums`] takes them).
    pub(crate) fn from_cluster_sums(
        sum_k: Vec<f64>,
        w_k: Vec<f64>,
        dim: f64,
        temperature: f64,
    ) -> Self {
        Self::new(&NearestSums::of_clusters(sum_k, w_k), dim, temperature)
    }

    fn new(t: &NearestSums, dim: f64, temperature: f64) -> Self {
        let k = t.sum_k.len();
        let fitted: Vec<Fitted> = AUTO_VARIANTS
            .iter()
            .map(|&(per, size)| {
                let s = Softmax::new()
                    .per_cluster_variance(per)
                    .size_weights(size)
                    .temperature(temperature);
                softmax_from_sums(&s, dim, t)
            })
            .collect();
        let tau = std::f64::consts::TAU;
        let sets = [&fitted[0], &fitted[1]].map(|f| match f {
            Fitted::Softmax { sigma, .. } => sigma.clone(),
            _ => unreachable!("softmax_from_sums fits a softmax"),
        });
        let norm = sets.clone().map(|sg| {
            sg.iter()
                .map(|&v| -0.5 * dim * (tau * v * v).ln())
                .collect()
        });
        let curvature = sets.map(|sg| sg.iter().map(|&v| 0.5 / (v * v)).collect());
        let pi = t.w_k.iter().map(|&wj| wj / t.w_all).collect();
        AutoCandidates {
            dim,
            k,
            fitted,
            norm,
            curvature,
            pi,
        }
    }

    /// `sum_i w_i ln sum_j pi_j (2 pi sigma_j²)^(-D/2) exp(-d_ij² / (2 sigma_j²))` for each
    /// variant, on distances `d` (raw units, plain or squared), in the order of
    /// [`AUTO_VARIANTS`].
    pub(crate) fn log_likelihoods<F: Float>(
        &self,
        d: ArrayView2<'_, F>,
        kind: DistanceKind,
        w: Option<ArrayView1<'_, F>>,
    ) -> [f64; 4] {
        let k = self.k;
        simd::dispatch(AutoLogLik {
            c: self,
            d,
            square: kind == DistanceKind::Euclidean,
            w,
            buf: vec![0.0; 4 * k],
        })
    }

    /// The candidate with the least BIC for log-likelihoods `ll` over total weight `w_all`.
    pub(crate) fn choose(self, ll: [f64; 4], w_all: f64) -> FittedSoft {
        let k = self.k as f64;
        let candidates: Vec<SoftCandidate> = AUTO_VARIANTS
            .iter()
            .zip(ll)
            .map(|(&(per, size), l)| {
                let n_parameters =
                    k * self.dim + if per { k } else { 1.0 } + if size { k - 1.0 } else { 0.0 };
                let bic = -2.0 * l + n_parameters * w_all.max(1.0).ln();
                // Degenerate data (a zero variance: points on their centres) give infinite or
                // NaN likelihoods. Such a variant never wins, and its numbers are stored as the
                // extreme finite floats so that model files stay valid JSON.
                let (log_likelihood, bic) = if bic.is_finite() {
                    (l, bic)
                } else {
                    let l = if l.is_nan() {
                        f64::MIN
                    } else {
                        l.clamp(f64::MIN, f64::MAX)
                    };
                    (l, f64::MAX)
                };
                SoftCandidate {
                    per_cluster_variance: per,
                    size_weights: size,
                    log_likelihood,
                    n_parameters,
                    bic,
                }
            })
            .collect();
        // The least criterion; on ties (and when every variant is degenerate) the earlier,
        // simpler one, down to the shared variance with equal weights.
        let mut chosen = 0;
        for (c, cand) in candidates.iter().enumerate() {
            if cand.bic < candidates[chosen].bic {
                chosen = c;
            }
        }
        FittedSoft {
            model: self.fitted[chosen].clone(),
            k: self.k,
            estimated: None,
            choice: Some(SoftChoice { candidates, chosen }),
        }
    }
}

/// The loops of [`AutoCandidates::log_likelihoods`], compiled per instruction set.
struct AutoLogLik<'a, F> {
    c: &'a AutoCandidates,
    d: ArrayView2<'a, F>,
    /// `d` holds plain distances, squared here row by row.
    square: bool,
    w: Option<ArrayView1<'a, F>>,
    buf: Vec<f64>,
}

impl<F: Float> simd::Kernel for AutoLogLik<'_, F> {
    type Output = [f64; 4];
    #[inline(always)]
    fn run(mut self) -> [f64; 4] {
        let (c, k) = (self.c, self.c.k);
        let ln_k = (k as f64).ln();
        let (d, rest) = self.buf.split_at_mut(k);
        let (t, rest) = rest.split_at_mut(k);
        let (e, pe) = rest.split_at_mut(k);
        let mut out = [0.0; 4];
        for (i, row) in self.d.rows().into_iter().enumerate() {
            let wi = self.w.map_or(1.0, |w| w[i].as_f64());
            if wi == 0.0 {
                continue;
            }
            for (o, &v) in d.iter_mut().zip(row.iter()) {
                let v = v.as_f64();
                *o = if self.square { v * v } else { v };
            }
            for g in 0..2 {
                let (norm, curv) = (&c.norm[g][..k], &c.curvature[g][..k]);
                // Zipped slices of one length: no bounds checks, so the loops vectorise.
                for (((tj, &nj), &dj), &bj) in t.iter_mut().zip(norm).zip(&*d).zip(curv) {
                    *tj = nj - dj * bj;
                }
                let m = simd::max(t);
                for ((ej, pj), (&tj, &pij)) in e
                    .iter_mut()
                    .zip(pe.iter_mut())
                    .zip(t.iter().zip(&c.pi[..k]))
                {
                    *ej = simd::exp_nonpos(tj - m);
                    *pj = pij * *ej;
                }
                let (se, sp) = (simd::sum(e), simd::sum(pe));
                out[g] += wi * (m + se.ln() - ln_k);
                // Size weights: a point whose every cluster of weight > 0 is beyond e^-745 of
                // its best one (sp underflows) is scored exactly from the log-weights.
                out[g + 2] += wi
                    * if sp > 0.0 {
                        m + sp.ln()
                    } else {
                        exact_lse(t, &c.pi)
                    };
            }
        }
        out
    }
}

/// `ln sum_j pi_j e^(t_j)` by the log-sum-exp of `ln pi_j + t_j` (the rare fallback of
/// [`AutoLogLik`]).
#[inline(always)]
fn exact_lse(t: &[f64], pi: &[f64]) -> f64 {
    let m = t
        .iter()
        .zip(pi)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&v, &p)| v + p.ln())
        .fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = t
        .iter()
        .zip(pi)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&v, &p)| (v + p.ln() - m).exp())
        .sum();
    m + z.ln()
}

/// The temperature of `method`, which must be a valid [`SoftMethod::Auto`].
pub(crate) fn auto_temperature(method: &SoftMethod) -> Result<f64> {
    let SoftMethod::Auto(s) = method else {
        return Err(invalid("soft", method.name(), "auto"));
    };
    check_auto(s)?;
    Ok(s.temperature)
}

/// Auto weighs the variants itself: a fixed sigma or a pinned variant is a plain softmax.
fn check_auto(s: &Softmax) -> Result<()> {
    if s.sigma.is_some() || s.per_cluster_variance || s.size_weights {
        return Err(invalid(
            "soft",
            "auto",
            "auto without sigma, per-cluster variances or size weights (it chooses those; \
             give the softmax to fix them)",
        ));
    }
    softmax_dim(s, Some(1.0)).map(|_| ())
}

impl Default for SoftSpec {
    fn default() -> Self {
        SoftSpec {
            kind: SoftKind::Softmax,
            sigma: None,
            power: None,
            per_cluster_variance: false,
            size_weights: false,
            temperature: 1.0,
            near: None,
            half: None,
            far: None,
            far_value: DEFAULT_FAR_VALUE,
        }
    }
}

impl SoftSpec {
    /// The method these options describe.
    pub fn method(&self) -> SoftMethod {
        match self.kind {
            SoftKind::Softmax => {
                let mut s = Softmax::new()
                    .per_cluster_variance(self.per_cluster_variance)
                    .size_weights(self.size_weights)
                    .temperature(self.temperature);
                if let Some(v) = self.sigma {
                    s = s.sigma(v);
                }
                SoftMethod::Softmax(s)
            }
            SoftKind::InversePower => {
                let mut p = InversePower::new();
                if let Some(v) = self.power {
                    p = p.power(v);
                }
                SoftMethod::InversePower(p)
            }
            SoftKind::MinMax => SoftMethod::MinMax,
            // Auto with a variant pinned (a sigma, per-cluster variances or size weights) is
            // that softmax: the user has chosen.
            SoftKind::Auto
                if self.sigma.is_some() || self.per_cluster_variance || self.size_weights =>
            {
                SoftSpec {
                    kind: SoftKind::Softmax,
                    ..self.clone()
                }
                .method()
            }
            SoftKind::Auto => SoftMethod::Auto(Softmax::new().temperature(self.temperature)),
            SoftKind::Anchored => {
                let mut a = Anchored::new().far_value(self.far_value);
                if let Some(x) = self.near {
                    a = a.near(x);
                }
                if let Some(x) = self.half {
                    a = a.half(x);
                }
                if let Some(x) = self.far {
                    a = a.far(x);
                }
                SoftMethod::Anchored(a)
            }
        }
    }
}

impl InversePower {
    /// The power: as given, or the gravity default `p = D - 1` (at least 1).
    fn resolve_power(&self, dim: Option<f64>) -> Result<f64> {
        match (self.power, dim) {
            (Some(p), _) if p.is_finite() && p > 0.0 => Ok(p),
            (Some(p), _) => Err(invalid("power", p, "a finite number > 0")),
            (None, Some(d)) => Ok((d - 1.0).max(1.0)),
            (None, None) => Err(Error::MissingParameter {
                name: "the inverse-power exponent",
                hint: "give the power, or the number of features of the data the distances \
                       were measured in (gravity default p = D - 1)",
            }),
        }
    }
}

/// Fits `method` on `distances` and returns the memberships of the same rows.
pub fn soft_assign<F: Float>(
    distances: ArrayView2<'_, F>,
    kind: DistanceKind,
    method: &SoftMethod,
    n_features: Option<usize>,
) -> Result<Membership<F>> {
    method
        .fit(distances, kind, n_features, None)?
        .memberships(distances, kind)
}

#[inline]
fn euclid(v: f64, kind: DistanceKind) -> f64 {
    match kind {
        DistanceKind::Euclidean => v,
        DistanceKind::Squared => v.sqrt(),
    }
}

fn check_distances<F: Float>(d: ArrayView2<'_, F>) -> Result<()> {
    check_finite_matrix(d, "distance matrix")?;
    for (i, row) in d.rows().into_iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if v < F::zero() {
                return Err(Error::NegativeDistance {
                    row: i,
                    column: j,
                    value: v.as_f64(),
                });
            }
        }
    }
    Ok(())
}

/// Index of the first minimum of a row.
fn argmin<F: Float>(row: ArrayView1<'_, F>) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v < row[best] {
            best = j;
        }
    }
    best
}

/// What the nearest-centre distances say about the data they were measured in, when its
/// dimension is not known (see [`estimate_dimension`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DimensionEstimate {
    /// The effective dimension `D` (not necessarily an integer).
    pub dim: f64,
    /// The spread `sigma` per coordinate, in distance units.
    pub sigma: f64,
    /// Rows used (those at a positive distance from their nearest centre).
    pub n_used: usize,
}

/// Estimates the effective dimension `D` and the spread `sigma` of the data behind a distance
/// matrix from its nearest-centre distances `d_i = min_j d_ij`, by maximum likelihood under the
/// model k-means implies: each point Gaussian around its centre with variance `sigma²` per
/// coordinate, so that `d²/sigma²` is chi-square with `D` degrees of freedom, i.e.
/// `d² ~ Gamma(shape D/2, scale 2 sigma²)`. The shape solves
/// `ln a - ψ(a) = ln(mean d²) - mean(ln d²)` ([`crate::special::gamma_shape_ml`]), then
/// `D = 2a` and `sigma² = mean d² / D` (the softmax's own estimate for that `D`). Means are
/// weighted by `weights`; rows on a centre (`d = 0`, where `ln d²` is not finite) are left out.
/// The nearest of several centres is nearer than a point's own centre where clusters overlap,
/// so with overlapping clusters `D` comes out somewhat high and `sigma` low: give the dimension
/// when it is known.
pub fn estimate_dimension<F: Float>(
    distances: ArrayView2<'_, F>,
    kind: DistanceKind,
    weights: Option<ArrayView1<'_, F>>,
) -> Result<DimensionEstimate> {
    check_distances(distances)?;
    if let Some(w) = weights {
        check_weights(w, distances.nrows())?;
    }
    let scale = distances
        .iter()
        .map(|&v| euclid(v.as_f64(), kind))
        .fold(0.0f64, f64::max);
    let (mut w_sum, mut x_sum, mut ln_sum, mut n_used) = (0.0, 0.0, 0.0, 0usize);
    for (i, row) in distances.rows().into_iter().enumerate() {
        let u = euclid(row[argmin(row)].as_f64(), kind) / scale;
        let wi = weights.map_or(1.0, |w| w[i].as_f64());
        if u > 0.0 && wi > 0.0 {
            let x = u * u;
            w_sum += wi;
            x_sum += wi * x;
            ln_sum += wi * x.ln();
            n_used += 1;
        }
    }
    let missing = |why: &'static str| Error::MissingParameter {
        name: "the data's dimension",
        hint: why,
    };
    if n_used < 2 {
        return Err(missing(
            "fewer than two points lie off their nearest centre, so the distances say nothing \
             about the dimension; give it (or sigma, or the power)",
        ));
    }
    let mean = x_sum / w_sum;
    let spread = mean.ln() - ln_sum / w_sum;
    if spread.is_nan() || spread <= 1e-12 {
        return Err(missing(
            "the nearest-centre distances are all equal, so their spread says nothing about \
             the dimension; give it (or sigma, or the power)",
        ));
    }
    let dim = 2.0 * crate::special::gamma_shape_ml(spread);
    Ok(DimensionEstimate {
        dim,
        sigma: scale * (mean / dim).sqrt(),
        n_used,
    })
}

/// Validates the softmax options and returns the dimension `D` the variance is per.
fn softmax_dim(s: &Softmax, dim: Option<f64>) -> Result<f64> {
    if !(s.temperature.is_finite() && s.temperature > 0.0) {
        return Err(invalid("temperature", s.temperature, "a finite number > 0"));
    }
    if let Some(sig) = s.sigma {
        if !(sig.is_finite() && sig > 0.0) {
            return Err(invalid("sigma", sig, "a finite number > 0"));
        }
        if s.per_cluster_variance {
            return Err(invalid(
                "sigma",
                sig,
                "no fixed sigma together with per-cluster variances (those are estimated)",
            ));
        }
    }
    match (s.sigma, dim) {
        (_, Some(d)) => Ok(d),
        (Some(_), None) => Ok(1.0),
        (None, None) => Err(Error::MissingParameter {
            name: "sigma",
            hint: "give sigma, or the number of features of the data the distances were \
                   measured in, so that the variance can be estimated",
        }),
    }
}

/// Sums of squared distances to the nearest centre, overall and per cluster, in units of
/// `scale`: `sum_all = sum_i w_i (d_i/scale)²`, `w_all = sum_i w_i`, and the same per cluster.
struct NearestSums {
    scale: f64,
    sum_all: f64,
    w_all: f64,
    sum_k: Vec<f64>,
    w_k: Vec<f64>,
}

impl NearestSums {
    /// The sums of a hard partition's clusters, in distance units.
    fn of_clusters(sum_k: Vec<f64>, w_k: Vec<f64>) -> Self {
        NearestSums {
            scale: 1.0,
            sum_all: sum_k.iter().sum(),
            w_all: w_k.iter().sum(),
            sum_k,
            w_k,
        }
    }
}

/// The softmax estimates from the nearest-centre sums (maximum likelihood for the hard
/// assignment): `sigma² = sum_all / (W D)`, per cluster `sigma_j² = sum_j / (W_j D)` (floored
/// at `1e-6 sigma²`; an empty cluster borrows the shared value), `pi_j = W_j / W`.
fn softmax_from_sums(s: &Softmax, dim: f64, t: &NearestSums) -> Fitted {
    let k = t.sum_k.len();
    let shared_u2 = t.sum_all / (t.w_all * dim);
    let sigma: Vec<f64> = match s.sigma {
        Some(sig) => vec![sig; k],
        None if s.per_cluster_variance => (0..k)
            .map(|j| {
                let u2 = if t.w_k[j] > 0.0 {
                    (t.sum_k[j] / (t.w_k[j] * dim)).max(1e-6 * shared_u2)
                } else {
                    shared_u2
                };
                t.scale * u2.sqrt()
            })
            .collect(),
        None => vec![t.scale * shared_u2.sqrt(); k],
    };
    let log_prior: Vec<f64> = if s.size_weights {
        t.w_k.iter().map(|&wj| (wj / t.w_all).ln()).collect()
    } else {
        vec![0.0; k]
    };
    let log_norm: Vec<f64> = if s.per_cluster_variance {
        sigma.iter().map(|&sg| -dim * sg.ln()).collect()
    } else {
        vec![0.0; k]
    };
    Fitted::Softmax {
        sigma,
        log_prior,
        log_norm,
        temperature: s.temperature,
        estimated: s.sigma.is_none(),
    }
}

fn fit_softmax<F: Float>(
    s: &Softmax,
    distances: ArrayView2<'_, F>,
    kind: DistanceKind,
    dim: Option<f64>,
    weights: Option<ArrayView1<'_, F>>,
) -> Result<Fitted> {
    let dim = softmax_dim(s, dim)?;
    Ok(softmax_from_sums(
        s,
        dim,
        &nearest_sums(distances, kind, weights),
    ))
}

/// The nearest-centre sums of a distance matrix (in units of its largest distance).
fn nearest_sums<F: Float>(
    distances: ArrayView2<'_, F>,
    kind: DistanceKind,
    weights: Option<ArrayView1<'_, F>>,
) -> NearestSums {
    let k = distances.ncols();
    // Work in units of the largest distance so squares neither overflow nor underflow.
    let scale = distances
        .iter()
        .map(|&v| euclid(v.as_f64(), kind))
        .fold(0.0f64, f64::max);
    let w_of = |i: usize| weights.map_or(1.0, |w| w[i].as_f64());
    let mut t = NearestSums {
        scale,
        sum_all: 0.0,
        w_all: 0.0,
        sum_k: vec![0.0; k],
        w_k: vec![0.0; k],
    };
    for (i, row) in distances.rows().into_iter().enumerate() {
        let j = argmin(row);
        let u = if scale > 0.0 {
            euclid(row[j].as_f64(), kind) / scale
        } else {
            0.0
        };
        let wi = w_of(i);
        t.sum_all += wi * u * u;
        t.w_all += wi;
        // A point equidistant from several nearest centres counts for each in equal shares, so
        // that the estimates do not depend on the order of the clusters.
        let ties = row.iter().filter(|&&v| v == row[j]).count() as f64;
        for (l, &v) in row.iter().enumerate() {
            if v == row[j] {
                t.sum_k[l] += wi * u * u / ties;
                t.w_k[l] += wi / ties;
            }
        }
    }
    t
}

/// The anchored options: far value in (0, 0.5), quantiles in [0, 1], distances finite.
fn check_anchored(a: &Anchored) -> Result<()> {
    if !(a.far_value > 0.0 && a.far_value < 0.5) {
        return Err(invalid("far_value", a.far_value, "a score in (0, 0.5)"));
    }
    for (name, anchor) in [
        ("near anchor", a.near),
        ("half anchor", a.half),
        ("far anchor", a.far),
    ] {
        match anchor {
            Anchor::Quantile(q) if !(0.0..=1.0).contains(&q) => {
                return Err(invalid(name, q, "a quantile in [0, 1]"));
            }
            Anchor::Distance(d) if !(d.is_finite() && d >= 0.0) => {
                return Err(invalid(name, d, "a finite distance >= 0"));
            }
            _ => {}
        }
    }
    // Anchors given as distances must be in order: a far anchor nearer than the near one
    // would turn every score into the constant fallback (uniform rows).
    if let (Anchor::Distance(n), Anchor::Distance(f)) = (a.near, a.far) {
        if f <= n {
            return Err(invalid(
                "far anchor",
                f,
                "a distance greater than the near anchor",
            ));
        }
    }
    if let Anchor::Distance(h) = a.half {
        if matches!(a.near, Anchor::Distance(n) if h <= n)
            || matches!(a.far, Anchor::Distance(f) if h >= f)
        {
            return Err(invalid(
                "half anchor",
                h,
                "a distance between the near and far anchors",
            ));
        }
    }
    Ok(())
}

fn fit_anchored<F: Float>(
    a: &Anchored,
    distances: ArrayView2<'_, F>,
    kind: DistanceKind,
) -> Result<Fitted> {
    check_anchored(a)?;
    let k = distances.ncols();
    // A point belongs to every cluster at its minimum distance (ties shared, so that the fit
    // does not depend on the order of the clusters).
    let row_min: Vec<F> = distances.rows().into_iter().map(|r| r[argmin(r)]).collect();
    let (mut lo, mut mid, mut hi, mut adjusted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for j in 0..k {
        let col = distances.column(j);
        let mut all: Vec<f64> = col.iter().map(|&v| euclid(v.as_f64(), kind)).collect();
        let mut own: Vec<f64> = (0..col.len())
            .filter(|&i| col[i] == row_min[i])
            .map(|i| all[i])
            .collect();
        all.sort_by(f64::total_cmp);
        own.sort_by(f64::total_cmp);
        let mut adj = own.is_empty();
        let own_ref = if own.is_empty() { &all } else { &own };
        let pick = |anchor: Anchor, pool: &Vec<f64>| match anchor {
            Anchor::Quantile(q) => crate::scale::quantile_sorted(pool, q),
            Anchor::Distance(d) => d,
        };
        let a_j = pick(a.near, own_ref);
        let mut b_j = pick(a.half, own_ref);
        let mut c_j = pick(a.far, &all);
        if c_j < a_j {
            return Err(Error::InvalidParameter {
                name: "far anchor",
                value: format!("{c_j:e} for cluster {j}, nearer than its near anchor {a_j:e}"),
                expected: "anchors with near < far for every cluster",
            });
        }
        if c_j > a_j {
            if b_j <= a_j || b_j >= c_j {
                if b_j <= a_j {
                    b_j = a_j + 0.5 * (c_j - a_j);
                } else {
                    c_j = b_j + (b_j - a_j);
                }
                adj = true;
            }
        } else {
            // Every distance equals the near anchor: a constant score of 1 (marked by
            // half = far = near, which a fitted map never has otherwise).
            b_j = a_j;
            c_j = a_j;
            adj = true;
        }
        lo.push(a_j);
        mid.push(b_j);
        hi.push(c_j);
        adjusted.push(adj);
    }
    let ratio = (1.0 / a.far_value).ln() / std::f64::consts::LN_2;
    let beta = lo
        .iter()
        .zip(&mid)
        .zip(&hi)
        .map(|((&a_j, &b_j), &c_j)| {
            if b_j > a_j {
                ratio.ln() / ((c_j - a_j) / (b_j - a_j)).ln()
            } else {
                1.0
            }
        })
        .collect();
    Ok(Fitted::Anchored {
        near: lo,
        half: mid,
        far: hi,
        beta,
        far_value: a.far_value,
        adjusted,
    })
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "method", rename_all = "kebab-case"))]
enum Fitted {
    Softmax {
        sigma: Vec<f64>,
        log_prior: Vec<f64>,
        log_norm: Vec<f64>,
        temperature: f64,
        estimated: bool,
    },
    InversePower {
        power: f64,
    },
    MinMax {
        lo: Vec<f64>,
        hi: Vec<f64>,
    },
    Anchored {
        near: Vec<f64>,
        half: Vec<f64>,
        far: Vec<f64>,
        beta: Vec<f64>,
        far_value: f64,
        adjusted: Vec<bool>,
    },
}

/// A soft-assignment method with its parameters estimated; apply with
/// [`FittedSoft::memberships`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FittedSoft {
    model: Fitted,
    k: usize,
    /// The dimension and spread estimated from the distances, when the data's dimension was
    /// not given (absent from model files that did not need it).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    estimated: Option<DimensionEstimate>,
    /// What `auto` weighed and chose (absent for the other methods).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    choice: Option<SoftChoice>,
}

impl FittedSoft {
    /// Inverse-power memberships with exponent `power` for `k` clusters (fuzzy c-means).
    pub(crate) fn inverse_power(power: f64, k: usize) -> Self {
        FittedSoft {
            model: Fitted::InversePower { power },
            k,
            estimated: None,
            choice: None,
        }
    }

    /// Which method was fitted.
    pub fn kind(&self) -> SoftKind {
        match self.model {
            Fitted::Softmax { .. } => SoftKind::Softmax,
            Fitted::InversePower { .. } => SoftKind::InversePower,
            Fitted::MinMax { .. } => SoftKind::MinMax,
            Fitted::Anchored { .. } => SoftKind::Anchored,
        }
    }

    /// Short name of the method.
    pub fn method_name(&self) -> &'static str {
        self.kind().name()
    }

    /// Anchored score: per cluster `(near, half, far)` distances used and whether they were
    /// adjusted from the requested ones.
    pub fn anchors(&self) -> Option<Vec<(f64, f64, f64, bool)>> {
        match &self.model {
            Fitted::Anchored {
                near,
                half,
                far,
                adjusted,
                ..
            } => Some(
                (0..self.k)
                    .map(|j| (near[j], half[j], far[j], adjusted[j]))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Anchored score: the raw per-cluster scores in [0, 1] (not normalised), `n x k`.
    pub fn anchored_scores<F: Float>(
        &self,
        distances: ArrayView2<'_, F>,
        kind: DistanceKind,
    ) -> Result<Option<Array2<f64>>> {
        if !matches!(self.model, Fitted::Anchored { .. }) {
            return Ok(None);
        }
        Ok(Some(self.log_scores(distances, kind)?.mapv(f64::exp)))
    }

    /// Checks that the parameters are usable (for models read from files).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Error::InvalidParameter {
            name: "soft-assignment parameters",
            value: what.to_string(),
            expected: "one finite, positive value per cluster",
        };
        match &self.model {
            Fitted::Softmax {
                sigma,
                log_prior,
                log_norm,
                temperature,
                ..
            } => {
                if sigma.len() != self.k || log_prior.len() != self.k || log_norm.len() != self.k {
                    return Err(bad("lengths differ from the number of clusters"));
                }
                if sigma.iter().any(|s| !(s.is_finite() && *s > 0.0))
                    || !(temperature.is_finite() && *temperature > 0.0)
                {
                    return Err(bad("sigma or temperature out of range (must be > 0)"));
                }
                // Log-priors are logs of cluster shares: finite and at most 0 (with rounding).
                if log_prior.iter().any(|v| !(v.is_finite() && *v <= 1e-9))
                    || log_norm.iter().any(|v| !v.is_finite())
                {
                    return Err(bad(
                        "log-priors must be finite and <= 0, normalisers finite",
                    ));
                }
            }
            Fitted::InversePower { power } => {
                if !(power.is_finite() && *power > 0.0) {
                    return Err(bad("power out of range"));
                }
            }
            Fitted::MinMax { lo, hi } => {
                if lo.len() != self.k || hi.len() != self.k {
                    return Err(bad("lengths differ from the number of clusters"));
                }
                if lo
                    .iter()
                    .zip(hi)
                    .any(|(l, h)| !(l.is_finite() && h.is_finite() && l <= h))
                {
                    return Err(bad("min-max bounds must be finite with lo <= hi"));
                }
            }
            Fitted::Anchored {
                near,
                half,
                far,
                beta,
                far_value,
                ..
            } => {
                if [near.len(), half.len(), far.len(), beta.len()]
                    .iter()
                    .any(|&l| l != self.k)
                {
                    return Err(bad("lengths differ from the number of clusters"));
                }
                let ordered = (0..self.k).all(|j| {
                    let (a, b, c) = (near[j], half[j], far[j]);
                    a.is_finite()
                        && a >= 0.0
                        && a <= b
                        && b <= c
                        && c.is_finite()
                        && beta[j].is_finite()
                        && beta[j] > 0.0
                });
                if !(ordered && *far_value > 0.0 && *far_value < 0.5) {
                    return Err(bad(
                        "anchors must be finite with 0 <= near <= half <= far, beta > 0 and a \
                         far value in (0, 0.5)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Number of clusters (columns of the distance matrix).
    pub fn n_clusters(&self) -> usize {
        self.k
    }

    /// Softmax: the standard deviation of each cluster (all equal unless per-cluster variances
    /// were asked for), in distance units.
    pub fn sigma(&self) -> Option<&[f64]> {
        match &self.model {
            Fitted::Softmax { sigma, .. } => Some(sigma),
            _ => None,
        }
    }

    /// Softmax: whether sigma was estimated (rather than given).
    pub fn sigma_estimated(&self) -> Option<bool> {
        match &self.model {
            Fitted::Softmax { estimated, .. } => Some(*estimated),
            _ => None,
        }
    }

    /// Softmax: the mixing weights `pi_j`.
    pub fn weights(&self) -> Option<Vec<f64>> {
        match &self.model {
            Fitted::Softmax { log_prior, .. } => {
                let z: f64 = log_prior.iter().map(|l| l.exp()).sum();
                Some(log_prior.iter().map(|l| l.exp() / z).collect())
            }
            _ => None,
        }
    }

    /// The dimension (and spread) estimated from the distances when the data's dimension was
    /// not given (see [`estimate_dimension`]); `None` when it was given or not needed.
    pub fn estimated_dimension(&self) -> Option<DimensionEstimate> {
        self.estimated
    }

    /// `auto`: every variant weighed, with its criterion, and the one chosen.
    pub fn choice(&self) -> Option<&SoftChoice> {
        self.choice.as_ref()
    }

    /// Inverse-power: the exponent `p`.
    pub fn power(&self) -> Option<f64> {
        match self.model {
            Fitted::InversePower { power } => Some(power),
            _ => None,
        }
    }

    /// Unnormalised log-scores, `n x k`; rows normalised by log-sum-exp give the memberships.
    pub fn log_scores<F: Float>(
        &self,
        distances: ArrayView2<'_, F>,
        kind: DistanceKind,
    ) -> Result<Array2<f64>> {
        check_distances(distances)?;
        if distances.ncols() != self.k {
            return Err(Error::ShapeMismatch {
                what: "distance matrix",
                expected: format!("{} columns (one per cluster)", self.k),
                found: format!("{} columns", distances.ncols()),
            });
        }
        let mut scores = Array2::<f64>::zeros(distances.dim());
        Zip::from(scores.rows_mut())
            .and(distances.rows())
            .par_for_each(|mut out, d| {
                let d = d.to_vec();
                let out = out
                    .as_slice_mut()
                    .expect("rows of a new array are contiguous");
                self.row_scores(&d, kind, out);
            });
        Ok(scores)
    }

    /// The softmax's coefficients for distances of `kind` (see [`SoftmaxCoef`]), when the
    /// method is a softmax whose `1 / sigma_j` (or `1 / sigma_j²`) are all finite and positive.
    pub(crate) fn softmax_coef(&self, kind: DistanceKind) -> Option<SoftmaxCoef> {
        let Fitted::Softmax {
            sigma,
            log_prior,
            log_norm,
            temperature,
            ..
        } = &self.model
        else {
            return None;
        };
        let squared = kind == DistanceKind::Squared;
        let r: Vec<f64> = sigma
            .iter()
            .map(|&s| if squared { 1.0 / (s * s) } else { 1.0 / s })
            .collect();
        if !r.iter().all(|v| v.is_finite() && *v > 0.0) {
            return None;
        }
        Some(SoftmaxCoef {
            r,
            b: log_prior
                .iter()
                .zip(log_norm)
                .map(|(p, n)| (p + n) / temperature)
                .collect(),
            c: -0.5 / temperature,
            squared,
        })
    }

    /// The log-scores of a block of rows of distances (row-major, `out.len() / k` rows of
    /// `k`) into `out`. The softmax goes through [`SoftmaxCoef`] over the whole block in SIMD;
    /// the rows whose scores all underflow, and zero variances, through [`Self::row_scores`]'s
    /// limits.
    pub(crate) fn block_scores<F: Float>(
        &self,
        d: &[F],
        k: usize,
        kind: DistanceKind,
        out: &mut [f64],
    ) {
        if let (Some(coef), true) = (self.softmax_coef(kind), k > 0) {
            simd::dispatch(CoefScores {
                d,
                coef: &coef,
                out,
            });
            for (dr, o) in d.chunks_exact(k).zip(out.chunks_exact_mut(k)) {
                if !simd::max(o).is_finite() {
                    self.row_scores(dr, kind, o);
                }
            }
            return;
        }
        for (dr, o) in d.chunks_exact(k.max(1)).zip(out.chunks_exact_mut(k.max(1))) {
            self.row_scores(dr, kind, o);
        }
    }

    /// The log-scores of one row of distances (see [`Self::log_scores`]) into `out`.
    pub(crate) fn row_scores<F: Float>(&self, d: &[F], kind: DistanceKind, out: &mut [f64]) {
        match &self.model {
            Fitted::Softmax {
                sigma,
                log_prior,
                log_norm,
                temperature,
                ..
            } => {
                let hard = sigma.contains(&0.0);
                let mut best = f64::NEG_INFINITY;
                // The block form's arithmetic when it applies (a row scores the same alone or
                // in a block), else by division.
                let coef = self.softmax_coef(kind);
                for (j, o) in out.iter_mut().enumerate() {
                    let v = d[j].as_f64();
                    *o = match &coef {
                        Some(c) => c.score(j, v),
                        None => {
                            let z2 = match kind {
                                DistanceKind::Euclidean => {
                                    let z = v / sigma[j];
                                    z * z
                                }
                                DistanceKind::Squared => v / (sigma[j] * sigma[j]),
                            };
                            (log_prior[j] + log_norm[j] - 0.5 * z2) / temperature
                        }
                    };
                    best = best.max(*o);
                }
                if hard || best == f64::NEG_INFINITY || best.is_nan() {
                    // Zero variance, or every term underflowed: the limit puts all mass on
                    // the nearest admissible centre(s) in units of sigma.
                    let z: Vec<f64> = (0..d.len())
                        .map(|j| {
                            if log_prior[j] == f64::NEG_INFINITY {
                                f64::INFINITY
                            } else if hard {
                                // Zero-variance clusters compete on distance alone.
                                if sigma[j] == 0.0 {
                                    d[j].as_f64()
                                } else {
                                    d[j].as_f64() / sigma[j]
                                }
                            } else {
                                // ln(d / sigma): no overflow to a tie of infinities when sigma
                                // is tiny (1e-320) and d is not.
                                euclid(d[j].as_f64(), kind).ln() - sigma[j].ln()
                            }
                        })
                        .collect();
                    one_hot_min(&z, out);
                }
            }
            Fitted::InversePower { power } => {
                if d.iter().any(|&v| v == F::zero()) {
                    let z: Vec<f64> = d.iter().map(|v| v.as_f64()).collect();
                    one_hot_min(&z, out);
                } else {
                    for (o, &v) in out.iter_mut().zip(d) {
                        *o = match kind {
                            DistanceKind::Euclidean => -power * v.as_f64().ln(),
                            DistanceKind::Squared => -0.5 * power * v.as_f64().ln(),
                        };
                    }
                }
            }
            Fitted::MinMax { lo, hi } => {
                for (j, o) in out.iter_mut().enumerate() {
                    let v = euclid(d[j].as_f64(), kind);
                    let s = if hi[j] > lo[j] {
                        ((hi[j] - v) / (hi[j] - lo[j])).clamp(0.0, 1.0)
                    } else {
                        1.0
                    };
                    *o = s.ln();
                }
            }
            Fitted::Anchored {
                near, half, beta, ..
            } => {
                for (j, o) in out.iter_mut().enumerate() {
                    let v = euclid(d[j].as_f64(), kind);
                    *o = if v <= near[j] || half[j] <= near[j] {
                        0.0
                    } else {
                        -std::f64::consts::LN_2
                            * ((v - near[j]) / (half[j] - near[j])).powf(beta[j])
                    };
                }
            }
        }
    }

    /// Memberships for a distance matrix with the same clusters.
    pub fn memberships<F: Float>(
        &self,
        distances: ArrayView2<'_, F>,
        kind: DistanceKind,
    ) -> Result<Membership<F>> {
        let scores = self.log_scores(distances, kind)?;
        Ok(Membership::from_log_scores(scores.view()))
    }
}

/// The softmax log-score `s_j = (ln pi_j + ln N_j - d²_j / (2 sigma_j²)) / T` as
/// `b_j + c (d_j r_j)²` (`r_j = 1 / sigma_j`, Euclidean distances) or `b_j + c d²_j r_j`
/// (`r_j = 1 / sigma_j²`, squared distances), with `c = -1 / (2T)`: multiplications only, so
/// that it vectorises, and no square of a huge or tiny distance before scaling.
#[derive(Debug, Clone)]
pub(crate) struct SoftmaxCoef {
    r: Vec<f64>,
    b: Vec<f64>,
    c: f64,
    squared: bool,
}

impl SoftmaxCoef {
    /// The score of distance `v` to cluster `j`.
    #[inline(always)]
    pub(crate) fn score(&self, j: usize, v: f64) -> f64 {
        let t = v * self.r[j];
        self.b[j] + self.c * if self.squared { t } else { t * t }
    }

    /// The scores of one row of distances into `out`. Inline into a [`simd::Kernel`].
    #[inline(always)]
    pub(crate) fn row<F: Float>(&self, d: &[F], out: &mut [f64]) {
        for (j, (o, &v)) in out.iter_mut().zip(d).enumerate() {
            *o = self.score(j, v.as_f64());
        }
    }
}

/// [`SoftmaxCoef::row`] over a block of rows.
struct CoefScores<'a, F> {
    d: &'a [F],
    coef: &'a SoftmaxCoef,
    out: &'a mut [f64],
}

impl<F: Float> simd::Kernel for CoefScores<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let k = self.coef.r.len();
        for (dr, o) in self.d.chunks_exact(k).zip(self.out.chunks_exact_mut(k)) {
            self.coef.row(dr, o);
        }
    }
}

/// Log-scores that put equal mass on the minima of `z` and none elsewhere.
fn one_hot_min(z: &[f64], out: &mut [f64]) {
    let m = z.iter().copied().fold(f64::INFINITY, f64::min);
    for (o, &v) in out.iter_mut().zip(z) {
        *o = if v == m { 0.0 } else { f64::NEG_INFINITY };
    }
}
