//! The fitted mixture: parameters, densities, responsibilities, criteria, typicality and
//! sampling.

use super::covariance::{
    covariances_from_cholesky, precision_cholesky, precision_cholesky_from_precisions,
    precisions_from_cholesky, CovMatrices, CovarianceType,
};
use super::kernel;
use super::noise::Noise;
use crate::data::{check_matrix, check_new_data, check_weights};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::membership::{ClusterModel, Membership};
use crate::rng::Rng;
use crate::typicality::{Spread, Typicality};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

/// What happened during a fit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct GmmDiagnostics {
    /// Whether the best run's lower bound changed by less than `tol`.
    pub converged: bool,
    /// EM iterations of the best run.
    pub n_iter: usize,
    /// The best run's final lower bound (weighted mean log-likelihood).
    pub lower_bound: f64,
    /// The lower bound after every iteration of the best run.
    pub lower_bounds: Vec<f64>,
    /// Index of the best run.
    pub best_run: usize,
    /// Final lower bound of every run.
    pub run_lower_bounds: Vec<f64>,
    /// The `reg_covar` in force at the end (larger than asked after automatic regularisation).
    pub reg_covar: f64,
    /// How many times automatic regularisation raised `reg_covar`.
    pub regularization_increases: usize,
}

/// A fitted Gaussian mixture. Immutable; every method validates its input.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GaussianMixtureModel {
    pub(crate) weights: Array1<f64>,
    pub(crate) means: Array2<f64>,
    pub(crate) precisions_cholesky: CovMatrices,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) noise: Option<Noise>,
    pub(crate) diagnostics: GmmDiagnostics,
}

/// Goodness of fit of a mixture on some data, all from one E-step ([`GaussianMixtureModel::criteria`]).
/// With sample weights `w_i`, `ln L = sum_i w_i ln p(x_i)` and `N = sum_i w_i`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Criteria {
    /// `ln L`.
    pub log_likelihood: f64,
    /// `ln L / N` (scikit-learn's `score`).
    pub mean_log_likelihood: f64,
    /// `N`.
    pub total_weight: f64,
    /// Free parameters `p`.
    pub n_parameters: usize,
    /// `-2 ln L + p ln N` (lower is better).
    pub bic: f64,
    /// `-2 ln L + 2 p` (lower is better).
    pub aic: f64,
    /// `BIC - 2 sum_i w_i ln max_k r_ik` (mclust's ICL on the lower-is-better scale).
    pub icl: f64,
}

impl Criteria {
    /// The criteria from `ln L = sum_i w_i ln p(x_i)`, `N = sum_i w_i`, the certainty
    /// `sum_i w_i ln max_k r_ik` and `p` free parameters.
    pub fn from_sums(
        log_likelihood: f64,
        total_weight: f64,
        certainty: f64,
        n_parameters: usize,
    ) -> Self {
        let bic = -2.0 * log_likelihood + n_parameters as f64 * total_weight.ln();
        Criteria {
            log_likelihood,
            mean_log_likelihood: log_likelihood / total_weight,
            total_weight,
            n_parameters,
            bic,
            aic: -2.0 * log_likelihood + 2.0 * n_parameters as f64,
            icl: bic - 2.0 * certainty,
        }
    }
}

impl GaussianMixtureModel {
    /// The model an EM fit ends with.
    pub(crate) fn from_fit(
        weights: Array1<f64>,
        means: Array2<f64>,
        precisions_cholesky: CovMatrices,
        noise: Option<Noise>,
        diagnostics: GmmDiagnostics,
    ) -> Self {
        GaussianMixtureModel {
            weights,
            means,
            precisions_cholesky,
            noise,
            diagnostics,
        }
    }

    /// The model of one M-step from responsibilities `resp` (`n x k`, rows summing to 1) on `x`
    /// with optional sample weights: `pi_k = n_k / W`, `mu_k = sum_i w_i r_ik x_i / n_k`, and the
    /// weighted covariances plus `reg_covar` on the diagonal, as the first M-step of a fit.
    pub fn from_responsibilities<F: Float>(
        x: ArrayView2<'_, F>,
        resp: ArrayView2<'_, f64>,
        sample_weight: Option<ArrayView1<'_, f64>>,
        reg_covar: f64,
        covariance_type: CovarianceType,
    ) -> Result<Self> {
        check_matrix(x, "data")?;
        check_matrix(resp, "responsibilities")?;
        if resp.nrows() != x.nrows() || resp.ncols() == 0 {
            return Err(Error::ShapeMismatch {
                what: "responsibilities",
                expected: format!("{} rows and at least one column", x.nrows()),
                found: format!("{} x {}", resp.nrows(), resp.ncols()),
            });
        }
        let w: Vec<f64> = match sample_weight {
            Some(w) => {
                check_weights(w, x.nrows())?;
                w.to_vec()
            }
            None => vec![1.0; x.nrows()],
        };
        let (nk, means, cov) =
            super::em::estimate_parameters(x, resp, &w, reg_covar, covariance_type);
        let total: f64 = w.iter().sum();
        Self::from_parameters(nk / total, means, cov, true)
    }

    /// A model from given parameters: weights (`k`), means (`k x d`) and either covariances or
    /// precisions (`covariances = true` for the former), shaped for their type.
    pub fn from_parameters(
        weights: Array1<f64>,
        means: Array2<f64>,
        params: CovMatrices,
        covariances: bool,
    ) -> Result<Self> {
        let (k, d) = means.dim();
        check_matrix(means.view(), "means")?;
        params.check_shape(
            k,
            d,
            if covariances {
                "covariances"
            } else {
                "precisions"
            },
        )?;
        if weights.len() != k {
            return Err(Error::ShapeMismatch {
                what: "weights",
                expected: format!("{k} weights, one per mean"),
                found: format!("{}", weights.len()),
            });
        }
        if weights.iter().any(|&v| !(v.is_finite() && v >= 0.0)) || weights.sum() <= 0.0 {
            return Err(invalid(
                "weights",
                format!("{weights}"),
                "non-negative weights with a positive sum",
            ));
        }
        let precisions_cholesky = if covariances {
            precision_cholesky(&params, 0.0)?
        } else {
            precision_cholesky_from_precisions(&params)?
        };
        Self::from_cholesky(&weights / weights.sum(), means, precisions_cholesky, None)
    }

    /// A model from weights, means and precision factors `U_k` (as [`Self::precisions_cholesky`]
    /// returns them), and optionally a noise component; validated.
    pub fn from_cholesky(
        weights: Array1<f64>,
        means: Array2<f64>,
        precisions_cholesky: CovMatrices,
        noise: Option<Noise>,
    ) -> Result<Self> {
        let model = GaussianMixtureModel {
            weights,
            means,
            precisions_cholesky,
            noise,
            diagnostics: GmmDiagnostics {
                converged: true,
                n_iter: 0,
                lower_bound: f64::NAN,
                lower_bounds: Vec::new(),
                best_run: 0,
                run_lower_bounds: Vec::new(),
                reg_covar: 0.0,
                regularization_increases: 0,
            },
        };
        model.validate()?;
        Ok(model)
    }

    /// Checks that the parameters fit together (for models read from files).
    pub fn validate(&self) -> Result<()> {
        let (k, d) = self.means.dim();
        if k == 0 || d == 0 {
            return Err(Error::EmptyInput {
                what: "model means",
            });
        }
        check_matrix(self.means.view(), "means")?;
        self.precisions_cholesky
            .check_shape(k, d, "precision factors")?;
        if self.weights.len() != k {
            return Err(Error::ShapeMismatch {
                what: "weights",
                expected: format!("{k} weights, one per mean"),
                found: format!("{}", self.weights.len()),
            });
        }
        if self.weights.iter().any(|&v| !(v.is_finite() && v > 0.0)) {
            return Err(invalid(
                "weights",
                format!("{}", self.weights),
                "positive weights",
            ));
        }
        let noise_share = match &self.noise {
            Some(nz) => {
                if !(nz.log_weight.is_finite() && nz.log_weight < 0.0 && nz.log_volume.is_finite())
                {
                    return Err(invalid(
                        "noise",
                        format!("log weight {}, log volume {}", nz.log_weight, nz.log_volume),
                        "a finite log weight < 0 and a finite log volume",
                    ));
                }
                nz.log_weight.exp()
            }
            None => 0.0,
        };
        let total = self.weights.sum() + noise_share;
        if (total - 1.0).abs() > 1e-6 {
            return Err(invalid(
                "weights",
                format!("{} (sum {total})", self.weights),
                "mixing weights (with the noise weight) summing to 1",
            ));
        }
        self.precisions_cholesky
            .check_factors("precision factors")?;
        Ok(())
    }

    /// Number of components `k`.
    pub fn n_components(&self) -> usize {
        self.means.nrows()
    }
    /// Number of features `d`.
    pub fn n_features(&self) -> usize {
        self.means.ncols()
    }
    /// Covariance type.
    pub fn covariance_type(&self) -> CovarianceType {
        self.precisions_cholesky.covariance_type()
    }
    /// Mixing weights `pi_k` of the Gaussian components (summing to `1 - pi_0` when there is a
    /// noise component).
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        self.weights.view()
    }
    /// Means, `k x d`.
    pub fn means(&self) -> ArrayView2<'_, f64> {
        self.means.view()
    }
    /// Upper-triangular precision factors `U_k` with `P_k = U_k U_k^T` (scikit-learn's
    /// `precisions_cholesky_`).
    pub fn precisions_cholesky(&self) -> &CovMatrices {
        &self.precisions_cholesky
    }
    /// Precision matrices `P_k = S_k^{-1}`.
    pub fn precisions(&self) -> CovMatrices {
        precisions_from_cholesky(&self.precisions_cholesky)
    }
    /// Covariance matrices `S_k`.
    pub fn covariances(&self) -> CovMatrices {
        covariances_from_cholesky(&self.precisions_cholesky)
    }
    /// Fit diagnostics.
    pub fn diagnostics(&self) -> &GmmDiagnostics {
        &self.diagnostics
    }
    /// Whether EM converged.
    pub fn converged(&self) -> bool {
        self.diagnostics.converged
    }
    /// Free parameters (one more with a noise component: its weight).
    pub fn n_parameters(&self) -> usize {
        self.covariance_type()
            .n_parameters(self.n_components(), self.n_features())
            + usize::from(self.noise.is_some())
    }
    /// The noise component, if the model has one.
    pub fn noise(&self) -> Option<Noise> {
        self.noise
    }
    /// Number of membership columns: components, plus one for noise.
    pub fn n_membership_columns(&self) -> usize {
        self.n_components() + usize::from(self.noise.is_some())
    }

    fn check_new<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<()> {
        check_new_data(x, self.n_features())
    }

    /// The block evaluator of this model (data shifted by the mean of the component means).
    fn evaluator(&self, raw: bool) -> kernel::Evaluator {
        let k = self.n_components();
        let m0: Vec<f64> = self
            .means
            .mean_axis(Axis(0))
            .map_or_else(|| vec![0.0; self.n_features()], |m| m.to_vec());
        let log_w: Vec<f64> = if raw {
            vec![0.0; k]
        } else {
            self.weights.iter().map(|v| v.ln()).collect()
        };
        let noise = if raw {
            None
        } else {
            self.noise.map(|nz| nz.log_weight - nz.log_volume)
        };
        kernel::Evaluator::new(
            &log_w,
            self.means.view(),
            &self.precisions_cholesky,
            m0,
            noise,
            raw,
        )
    }

    /// Weighted log-densities `ln pi_k + ln N(x_i | k)`, plus `ln pi_0 - ln V` as a last column
    /// when there is a noise component.
    fn weighted_log_prob<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_new(x)?;
        Ok(self.evaluator(false).evaluate(x))
    }

    /// Squared Mahalanobis distances `(x_i - mu_k)^T P_k (x_i - mu_k)`, `n x k`.
    pub fn mahalanobis_sq<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_new(x)?;
        Ok(self.evaluator(true).evaluate(x))
    }

    /// Typicality `t_ik = P(chi²_d >= D²_ik)` of every row for every component, and the
    /// outlier score `1 - max_k t_ik` ([`crate::typicality`]).
    pub fn typicality<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Typicality> {
        let d2 = self.mahalanobis_sq(x)?;
        Ok(Typicality::from_mahalanobis(d2.view(), self.n_features()))
    }

    /// Log-density `ln p(x_i)` of each row.
    pub fn score_samples<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array1<f64>> {
        Ok(self.score_samples_and_log_proba(x)?.0)
    }

    /// `(ln p(x_i), ln r_ik)` from one E-step: both of [`Self::score_samples`] and
    /// [`Self::predict_log_proba`] at the cost of one.
    pub fn score_samples_and_log_proba<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
    ) -> Result<(Array1<f64>, Array2<f64>)> {
        self.check_new(x)?;
        Ok(self.evaluator(false).posteriors(x, true))
    }

    /// Mean log-density (weighted by `sample_weight` if given).
    pub fn score<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        Ok(self.criteria(x, sample_weight)?.mean_log_likelihood)
    }

    /// Log-responsibilities `ln r_ik`.
    pub fn predict_log_proba<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        Ok(self.score_samples_and_log_proba(x)?.1)
    }

    /// Responsibilities `r_ik` (normalised in the same pass as the densities).
    pub fn predict_proba<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_new(x)?;
        Ok(self.evaluator(false).posteriors(x, false).1)
    }

    /// [`Self::predict_proba`] into `out` (`n x n_components`, plus the noise column): the
    /// E-step block kernel and the normalisation write the output once.
    pub fn predict_proba_into<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        self.check_new(x)?;
        crate::membership::check_out_shape(x.nrows(), self.n_membership_columns(), &out)?;
        self.evaluator(false).posteriors_into(x, out);
        Ok(())
    }

    /// The membership contract (probabilities, label, max_p, margin, entropy).
    pub fn memberships<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Membership<f64>> {
        let lp = self.weighted_log_prob(x)?;
        Ok(Membership::from_log_scores(lp.view()))
    }

    /// Most probable component of each row.
    pub fn predict<F: Float>(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        Ok(self.memberships(x)?.label)
    }

    /// Log-likelihood, BIC, AIC and ICL of `x` (with optional sample weights) from **one**
    /// E-step: `ln p(x_i)` and `max_k ln r_ik` come out of the same pass.
    pub fn criteria<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<Criteria> {
        self.check_new(x)?;
        if let Some(w) = sample_weight {
            check_weights(w, x.nrows())?;
        }
        Ok(self.criteria_valid(x, sample_weight))
    }

    /// [`Self::criteria`] of data and weights the caller validated.
    pub(crate) fn criteria_valid<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Criteria {
        let w = crate::data::weights_or_ones(sample_weight, x.nrows());
        let [log_likelihood, total_weight, certainty] = self.criteria_sums_valid(x, &w);
        Criteria::from_sums(log_likelihood, total_weight, certainty, self.n_parameters())
    }

    /// `[sum_i w_i ln p(x_i), sum_i w_i, sum_i w_i ln max_k r_ik]` of validated data.
    fn criteria_sums_valid<F: Float>(&self, x: ArrayView2<'_, F>, w: &[f64]) -> [f64; 3] {
        let (ln_p, log_resp) = self.evaluator(false).posteriors(x, true);
        let total_weight = crate::data::par_sum(w.len(), |i| w[i]);
        let log_likelihood = crate::data::par_sum(w.len(), |i| w[i] * ln_p[i]);
        let certainty = crate::data::par_sum(w.len(), |i| {
            w[i] * log_resp
                .row(i)
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max)
        });
        [log_likelihood, total_weight, certainty]
    }

    /// The sums behind [`Criteria`] for one block of rows, `[sum_i w_i ln p(x_i), sum_i w_i,
    /// sum_i w_i ln max_k r_ik]`: they add up over blocks, and [`Criteria::from_sums`] turns the
    /// totals into BIC, AIC and ICL (one pass over data held elsewhere).
    pub fn criteria_sums<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, f64>>,
    ) -> Result<[f64; 3]> {
        let w = crate::kmeans::block::check_block(x, sample_weight, self.n_features())?;
        Ok(self.criteria_sums_valid(x, &w))
    }

    /// Bayesian information criterion `-2 ln L + p ln N` (lower is better); with sample weights,
    /// `ln L = sum_i w_i ln p(x_i)` and `N = sum_i w_i`. [`Self::criteria`] gives it with the
    /// others from the same E-step.
    pub fn bic<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        Ok(self.criteria(x, sample_weight)?.bic)
    }

    /// Akaike information criterion `-2 ln L + 2 p` (lower is better).
    pub fn aic<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        Ok(self.criteria(x, sample_weight)?.aic)
    }

    /// Integrated completed likelihood, as mclust computes it but on the lower-is-better
    /// scale: `BIC - 2 sum_i w_i ln max_k r_ik` (BIC penalised by the assignment uncertainty).
    pub fn icl<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
    ) -> Result<f64> {
        Ok(self.criteria(x, sample_weight)?.icl)
    }

    /// Draws `n` points from the mixture: `(points, component of each point)`.
    pub fn sample(&self, n: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
        let (k, d) = self.means.dim();
        let mut rng = Rng::new(seed);
        let cum: Vec<f64> = self
            .weights
            .iter()
            .scan(0.0, |acc, &v| {
                *acc += v;
                Some(*acc)
            })
            .collect();
        let total = cum.last().copied().unwrap_or(1.0);
        // Lower factors L_k with S_k = L_k L_k^T: L_k = U_k^{-T}, so L_k z ~ N(0, S_k).
        let factors: Vec<Array2<f64>> = (0..k)
            .map(|c| match &self.precisions_cholesky {
                CovMatrices::Full(a) => crate::linalg::invert_lower(a.index_axis(Axis(0), c).t()),
                CovMatrices::Tied(m) => crate::linalg::invert_lower(m.t()),
                CovMatrices::Diag(m) => Array2::from_diag(&m.row(c).mapv(|v| 1.0 / v)),
                CovMatrices::Spherical(m) => Array2::eye(d) / m[c],
            })
            .collect();
        let mut labels = Array1::<usize>::zeros(n);
        let mut x = Array2::<f64>::zeros((n, d));
        let mut z = Array1::<f64>::zeros(d);
        for i in 0..n {
            let u = rng.uniform() * total;
            let c = cum.partition_point(|&v| v <= u).min(k - 1);
            labels[i] = c;
            for v in z.iter_mut() {
                *v = normal(&mut rng);
            }
            let draw = &self.means.row(c) + &factors[c].dot(&z);
            x.row_mut(i).assign(&draw);
        }
        (x, labels)
    }
}

/// A standard normal draw (Box-Muller, one of the pair).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.uniform();
    let u2 = rng.uniform();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl<F: Float> ClusterModel<F> for GaussianMixtureModel {
    fn n_clusters(&self) -> usize {
        self.n_membership_columns()
    }
    fn predict_proba_into(&self, x: ArrayView2<'_, F>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        GaussianMixtureModel::predict_proba_into(self, x, out)
    }
    fn n_features(&self) -> usize {
        self.means.ncols()
    }
    fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        let lp = self.weighted_log_prob(x)?;
        Ok(Membership::from_log_scores(lp.view()))
    }
    /// Under the components' own covariances (`spread` is not used).
    fn typicality(&self, x: ArrayView2<'_, F>, _spread: Spread) -> Result<Typicality> {
        GaussianMixtureModel::typicality(self, x)
    }
}
