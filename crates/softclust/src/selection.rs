//! Choosing the number of components and the covariance type by an information criterion.
//!
//! Every `(k, covariance type)` pair is fitted with the same settings; a fit that fails because
//! a covariance is singular is recorded as failed and the sweep goes on (as mclust does). The
//! table is ranked by the criterion, **lower is better** for all three, as in scikit-learn:
//!
//! * BIC `= -2 ln L + p ln N`, the default: consistent for choosing `k`;
//! * AIC `= -2 ln L + 2 p`: lighter penalty, tends to pick more components;
//! * ICL `= BIC - 2 sum_i ln max_k r_ik`: BIC plus a penalty for overlapping components, so it
//!   prefers well-separated clusters.

use crate::data::{check_matrix, check_weights};
use crate::error::{invalid, Error, Result};
use crate::float::Float;
use crate::gmm::{CovarianceType, Criteria, GaussianMixture, GaussianMixtureModel};
use ndarray::{ArrayView1, ArrayView2};

/// An information criterion (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Bayesian information criterion.
    Bic,
    /// Akaike information criterion.
    Aic,
    /// Integrated completed likelihood.
    Icl,
}

impl Criterion {
    /// The three criteria.
    pub const ALL: [Criterion; 3] = [Criterion::Bic, Criterion::Aic, Criterion::Icl];
    /// `bic`, `aic` or `icl`.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Bic => "bic",
            Criterion::Aic => "aic",
            Criterion::Icl => "icl",
        }
    }
}

crate::error::impl_names!(
    Criterion,
    "criterion",
    "one of bic, aic, icl",
    Criterion::ALL
);

/// One fitted (or failed) candidate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Candidate {
    /// Number of components.
    pub k: usize,
    /// Covariance type.
    pub covariance_type: CovarianceType,
    /// The ranking criterion's value (`NaN` if the fit failed).
    pub criterion: f64,
    /// BIC (`NaN` if failed).
    pub bic: f64,
    /// AIC (`NaN` if failed).
    pub aic: f64,
    /// ICL (`NaN` if failed).
    pub icl: f64,
    /// Mean log-likelihood per sample (`NaN` if failed).
    pub mean_log_likelihood: f64,
    /// Free parameters.
    pub n_parameters: usize,
    /// Whether EM converged.
    pub converged: bool,
    /// Why the fit failed, if it did.
    pub failed: Option<String>,
}

/// The ranked table and the winning model.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Selection {
    /// The criterion used.
    pub criterion: Criterion,
    /// Candidates, best first; failed fits last, in sweep order.
    pub table: Vec<Candidate>,
    /// The best model (the first row of the table).
    pub best: GaussianMixtureModel,
}

/// Fits every `k` in `ks` with every type in `types`, using `base` for all other settings, and
/// ranks them by `criterion`.
pub fn select_model<F: Float>(
    x: ArrayView2<'_, F>,
    sample_weight: Option<ArrayView1<'_, F>>,
    ks: &[usize],
    types: &[CovarianceType],
    criterion: Criterion,
    base: &GaussianMixture,
) -> Result<Selection> {
    // The data are validated once here; every candidate fits and is scored without another
    // scan, and its criteria come from one E-step.
    check_matrix(x, "data")?;
    if let Some(w) = sample_weight {
        check_weights(w, x.nrows())?;
    }
    select_by(ks, types, criterion, x.ncols(), &mut |k, t| {
        let mut cfg = base.clone().covariance_type(t);
        cfg.n_components = k;
        let model = cfg.fit_unchecked(x, sample_weight, &mut |_, _, _| {})?;
        let c = model.criteria_valid(x, sample_weight);
        Ok((model, c))
    })
}

/// The sweep of [`select_model`] over any way of fitting and scoring a candidate: `fit(k, type)`
/// returns the fitted mixture and its criteria (from data in memory, or from passes over data
/// held elsewhere). Fits that fail with a singular covariance or too few points are recorded as
/// failed rows; other errors stop the sweep.
pub fn select_by(
    ks: &[usize],
    types: &[CovarianceType],
    criterion: Criterion,
    n_features: usize,
    fit: &mut dyn FnMut(usize, CovarianceType) -> Result<(GaussianMixtureModel, Criteria)>,
) -> Result<Selection> {
    if ks.is_empty() {
        return Err(invalid(
            "k range",
            "empty",
            "at least one number of components",
        ));
    }
    if types.is_empty() {
        return Err(invalid(
            "covariance types",
            "none",
            "at least one covariance type",
        ));
    }
    let mut table = Vec::new();
    let mut best: Option<(f64, GaussianMixtureModel)> = None;
    for &k in ks {
        for &t in types {
            let n_parameters = t.n_parameters(k, n_features);
            match fit(k, t) {
                Ok((model, c)) => {
                    let value = match criterion {
                        Criterion::Bic => c.bic,
                        Criterion::Aic => c.aic,
                        Criterion::Icl => c.icl,
                    };
                    table.push(Candidate {
                        k,
                        covariance_type: t,
                        criterion: value,
                        bic: c.bic,
                        aic: c.aic,
                        icl: c.icl,
                        mean_log_likelihood: c.mean_log_likelihood,
                        n_parameters: c.n_parameters,
                        converged: model.converged(),
                        failed: None,
                    });
                    if best.as_ref().is_none_or(|(b, _)| value < *b) {
                        best = Some((value, model));
                    }
                }
                Err(e @ (Error::IllConditioned { .. } | Error::TooFewPoints { .. })) => {
                    table.push(Candidate {
                        k,
                        covariance_type: t,
                        criterion: f64::NAN,
                        bic: f64::NAN,
                        aic: f64::NAN,
                        icl: f64::NAN,
                        mean_log_likelihood: f64::NAN,
                        n_parameters,
                        converged: false,
                        failed: Some(e.to_string()),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }
    let Some((_, best)) = best else {
        let why = table
            .first()
            .and_then(|c| c.failed.clone())
            .unwrap_or_default();
        return Err(Error::MissingParameter {
            name: "a model",
            hint: if why.contains("clusters need") {
                "every candidate has more components than there are points; lower the k range"
            } else {
                "every candidate failed with a singular covariance; use fewer components, a larger \
                 reg_covar or automatic regularisation, or standardise the data"
            },
        });
    };
    // Stable sort: ties keep sweep order; failed (NaN) rows go last.
    table.sort_by(|a, b| match (a.failed.is_some(), b.failed.is_some()) {
        (false, false) => a.criterion.total_cmp(&b.criterion),
        (false, true) => std::cmp::Ordering::Less,
        (true, false) => std::cmp::Ordering::Greater,
        (true, true) => std::cmp::Ordering::Equal,
    });
    Ok(Selection {
        criterion,
        table,
        best,
    })
}
