//! Choosing `k` for k-means by the BIC of the spherical Gaussian mixture each fit implies.
//!
//! k-means has no likelihood of its own, but its soft step does: every fit, with its centres
//! and the variances and weights of its softmax variant, is a spherical Gaussian mixture
//! `sum_j pi_j N(c_j, sigma_j² I)`, and its BIC `-2 L + (k D + n_var + n_weights) ln W` on the
//! training data ranks the fits (lower is better), as for mixtures (see
//! [`crate::soft`] for the variants). With the `auto` soft step each `k` is scored by the
//! variant it chooses; with a plain softmax by that variant; with the other soft methods by the
//! shared variance k-means assumes.

use super::{KMeans, KMeansModel};
use crate::error::{invalid, Result};
use crate::float::Float;
use crate::soft::{SoftMethod, AUTO_VARIANTS};
use ndarray::{ArrayView1, ArrayView2};

/// One `k` of a [`KMeans::select_k`] sweep.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KCandidate {
    /// Number of clusters.
    pub k: usize,
    /// BIC of the implied mixture (lower is better).
    pub bic: f64,
    /// Its log-likelihood on the training data.
    pub log_likelihood: f64,
    /// Its free parameters.
    pub n_parameters: f64,
    /// The variant scored: one variance per cluster.
    pub per_cluster_variance: bool,
    /// The variant scored: mixing weights from the cluster sizes.
    pub size_weights: bool,
    /// Inertia of the fit.
    pub inertia: f64,
    /// Iterations of the fit's best run.
    pub n_iter: usize,
    /// Whether that run converged.
    pub converged: bool,
}

/// The sweep: every `k` in the order given, and the fit with the least BIC.
#[derive(Debug, Clone)]
pub struct KSelection<F: Float> {
    /// One row per `k`, in the order given.
    pub candidates: Vec<KCandidate>,
    /// Index of the chosen row (least BIC; the smaller `k` on ties).
    pub best: usize,
    /// The chosen fit.
    pub model: KMeansModel<F>,
}

impl<F: Float> KMeans<F> {
    /// Fits k-means for every `k` in `ks` (with these settings otherwise) and keeps the fit
    /// whose implied spherical Gaussian mixture has the least BIC (see the
    /// [module documentation](self)). The data are validated once.
    pub fn select_k(
        &self,
        x: ArrayView2<'_, F>,
        sample_weight: Option<ArrayView1<'_, F>>,
        ks: &[usize],
    ) -> Result<KSelection<F>> {
        if ks.is_empty() {
            return Err(invalid("k range", "empty", "at least one k"));
        }
        if let Some(&k) = ks.iter().find(|&&k| k == 0) {
            return Err(invalid("k range", k, "every k >= 1"));
        }
        for (i, k) in ks.iter().enumerate() {
            if ks[..i].contains(k) {
                return Err(invalid("k range", k, "each k once"));
            }
        }
        self.validate(x, sample_weight)?;
        let mut candidates: Vec<KCandidate> = Vec::with_capacity(ks.len());
        let mut best: Option<(usize, KMeansModel<F>)> = None;
        for &k in ks {
            let mut cfg = self.clone();
            cfg.n_clusters = k;
            let model = cfg.fit_unchecked(x, sample_weight, &mut |_| {})?;
            let row = score(&cfg.soft, &model, x, sample_weight, k)?;
            let better = best
                .as_ref()
                .is_none_or(|(b, _)| row.bic < candidates[*b].bic);
            candidates.push(row);
            if better {
                best = Some((candidates.len() - 1, model));
            }
        }
        let (best, model) = best.expect("ks is not empty");
        Ok(KSelection {
            candidates,
            best,
            model,
        })
    }
}

/// The criterion of one fit: its auto choice, or the variant its soft step is.
fn score<F: Float>(
    soft: &SoftMethod,
    model: &KMeansModel<F>,
    x: ArrayView2<'_, F>,
    w: Option<ArrayView1<'_, F>>,
    k: usize,
) -> Result<KCandidate> {
    let choice = match model.soft().and_then(|s| s.choice()) {
        Some(c) => c.clone(),
        None => {
            // Not auto: weigh the variants anyway and read off the one this soft step is.
            let ll = model.auto_soft_log_likelihoods_valid(x, w)?;
            let auto = SoftMethod::Auto(crate::soft::Softmax::new());
            let fitted = model.auto_soft(&auto, ll)?;
            let mut c = fitted.choice().cloned().expect("auto records its choice");
            c.chosen = match soft {
                SoftMethod::Softmax(s) => AUTO_VARIANTS
                    .iter()
                    .position(|&v| v == s.variant())
                    .unwrap_or(0),
                _ => 0,
            };
            c
        }
    };
    let b = choice.best();
    let dg = model.diagnostics();
    Ok(KCandidate {
        k,
        bic: b.bic,
        log_likelihood: b.log_likelihood,
        n_parameters: b.n_parameters,
        per_cluster_variance: b.per_cluster_variance,
        size_weights: b.size_weights,
        inertia: model.inertia(),
        n_iter: dg.n_iter,
        converged: dg.converged,
    })
}
