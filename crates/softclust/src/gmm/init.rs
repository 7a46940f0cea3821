//! Starting parameters of an EM run: from k-means labels (optionally trimmed for a noise
//! component), k-means++ seeds, random responsibilities or random points, then one M-step;
//! given weights, means or precisions replace the estimated ones. The data were validated by
//! the public `fit`: nested k-means fits run unchecked.

use super::config::{GaussianMixture, GmmInit};
use super::covariance::{precision_cholesky_from_precisions, CovMatrices};
use super::em;
use super::kernel::Evaluator;
use crate::assignment::min_cost_assignment;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::kmeans::{Init, KMeans};
use crate::rng::{derive_seed, Rng};
use ndarray::{Array1, Array2, ArrayView2};

impl GaussianMixture {
    /// Starting parameters for run `run`: `(weights, means, precision factors)`.
    pub(super) fn initialize<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        w: &[f64],
        run: usize,
        reg: &mut super::block::Regularizer,
    ) -> Result<(Array1<f64>, Array2<f64>, CovMatrices)> {
        if let Some(m) = &self.warm_start {
            return Ok((
                m.weights.clone(),
                m.means.clone(),
                m.precisions_cholesky.clone(),
            ));
        }
        let (n, _) = x.dim();
        let k = self.n_components;
        let seed = derive_seed(self.seed, run as u64);
        let mut rng = Rng::new(seed);
        let all_given = self.weights_init.is_some()
            && self.means_init.is_some()
            && self.precisions_init.is_some();
        let mut start_resp = None;
        let (mut weights, mut means, mut prec) = if all_given {
            (Array1::zeros(0), Array2::zeros((0, 0)), None)
        } else {
            let mut resp = Array2::<f64>::zeros((n, k));
            match self.init_params {
                GmmInit::KMeans => {
                    // Only the partition is used: the cheap soft step, from the fit's sums.
                    let km = KMeans::new(k)
                        .soft(crate::soft::SoftMethod::default())
                        .n_init(1)
                        .seed(seed)
                        .init(Init::KMeansPlusPlus)
                        .interrupt_opt(self.interrupt.clone());
                    let mut wv: Array1<F> = w.iter().map(|&v| F::of(v)).collect();
                    let mut model = km.fit_unchecked(x, Some(wv.view()), &mut |_| {})?;
                    let mut trimmed = vec![false; n];
                    if let Some(p0) = self.noise {
                        // Trimmed start (in the spirit of TCLUST): points of clusters too small
                        // to hold a covariance (fewer than d + 1 points, such as an extreme
                        // outlier that seized a centre) and the share p0 of points farthest from
                        // their centres start in the noise component; k-means is refitted
                        // without them, twice, so that outliers cannot seize a component.
                        let d = x.ncols();
                        let n_trim = ((p0 * n as f64).ceil() as usize).min(n.saturating_sub(k));
                        for _ in 0..2 {
                            let labels = model.labels();
                            let mut size = vec![0usize; k];
                            for (i, &l) in labels.iter().enumerate() {
                                if wv[i] > F::zero() {
                                    size[l] += 1;
                                }
                            }
                            let d2 = model.squared_distances_valid(x);
                            let mut far: Vec<(f64, usize)> = labels
                                .iter()
                                .enumerate()
                                .filter(|&(i, _)| !trimmed[i])
                                .map(|(i, &l)| {
                                    let key = if size[l] <= d {
                                        f64::INFINITY
                                    } else {
                                        d2[(i, l)].as_f64()
                                    };
                                    (key, i)
                                })
                                .collect();
                            far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                            let already = trimmed.iter().filter(|&&t| t).count();
                            let extra = far
                                .iter()
                                .take_while(|&&(key, _)| key.is_infinite())
                                .count()
                                .max(n_trim.saturating_sub(already));
                            for &(_, i) in far.iter().take(extra) {
                                trimmed[i] = true;
                                wv[i] = F::zero();
                            }
                            let kept = wv.iter().filter(|&&v| v > F::zero()).count();
                            if kept < k {
                                break;
                            }
                            model = km.fit_unchecked(x, Some(wv.view()), &mut |_| {})?;
                        }
                    }
                    for (i, &l) in model.labels().iter().enumerate() {
                        if !trimmed[i] {
                            resp[(i, l)] = 1.0;
                        }
                    }
                }
                GmmInit::KMeansPlusPlus => {
                    let wv: Array1<F> = w.iter().map(|&v| F::of(v)).collect();
                    let seeds = KMeans::new(k)
                        .seed(seed)
                        .seed_indices_unchecked(x, Some(wv.view()))?;
                    for (c, &i) in seeds.iter().enumerate() {
                        resp[(i, c)] = 1.0;
                    }
                }
                GmmInit::Random => {
                    for mut row in resp.rows_mut() {
                        row.mapv_inplace(|_| rng.uniform());
                        let s = row.sum();
                        row /= s;
                    }
                }
                GmmInit::RandomFromData => {
                    let mut chosen: Vec<usize> = Vec::with_capacity(k);
                    while chosen.len() < k {
                        let i = rng.below(n);
                        if !chosen.contains(&i) {
                            chosen.push(i);
                        }
                    }
                    for (c, &i) in chosen.iter().enumerate() {
                        resp[(i, c)] = 1.0;
                    }
                }
            }
            let t = self.covariance_type;
            let (nk, means, cov, prec) =
                reg.solve(|r| em::estimate_parameters(x, resp.view(), w, r, t))?;
            let total: f64 = w.iter().sum();
            start_resp = Some(resp);
            (nk / total, means, Some((cov, prec)))
        };
        if let Some(wi) = &self.weights_init {
            weights = wi.clone();
        }
        if let Some(mi) = &self.means_init {
            means = mi.clone();
        }
        let prec_chol = match &self.precisions_init {
            Some(p) => precision_cholesky_from_precisions(p)?,
            None => match prec.take() {
                Some((_, pc)) => pc,
                None => unreachable_prec()?,
            },
        };
        if let (Some(resp), None, Some(_)) = (&start_resp, &self.means_init, &self.precisions_init)
        {
            // Given precisions but estimated means: the start's numbering of its components is
            // arbitrary (it comes from the seeding), so each given precision goes to the start
            // component whose points it fits best (given weights go with their precisions),
            // and the components keep the start's numbering.
            let order = pair_with_precisions(x, resp.view(), means.view(), &prec_chol);
            let mut inv = vec![0; order.len()];
            for (l, &j) in order.iter().enumerate() {
                inv[j] = l;
            }
            if self.weights_init.is_some() {
                weights = weights.select(ndarray::Axis(0), &inv);
            }
            let prec_chol = match prec_chol {
                CovMatrices::Full(p) => CovMatrices::Full(p.select(ndarray::Axis(0), &inv)),
                CovMatrices::Diag(p) => CovMatrices::Diag(p.select(ndarray::Axis(0), &inv)),
                CovMatrices::Spherical(p) => {
                    CovMatrices::Spherical(p.select(ndarray::Axis(0), &inv))
                }
                tied => tied,
            };
            return Ok((weights, means, prec_chol));
        }
        Ok((weights, means, prec_chol))
    }
}

/// The start components to put in each slot of the given precision factors: the permutation
/// `order` (slot `l` takes start component `order[l]`) maximising
/// `sum_l sum_i r_{i,order[l]} ln N(x_i | mu_{order[l]}, P_l)`, by the Hungarian method on the
/// `k x k` responsibility-weighted log-densities. A tied precision is shared: no pairing.
fn pair_with_precisions<F: Float>(
    x: ArrayView2<'_, F>,
    resp: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    prec_chol: &CovMatrices,
) -> Vec<usize> {
    let (k, d) = means.dim();
    if matches!(prec_chol, CovMatrices::Tied(_)) || k < 2 {
        return (0..k).collect();
    }
    let m0 = means
        .mean_axis(ndarray::Axis(0))
        .map_or_else(|| vec![0.0; d], |m| m.to_vec());
    // cost[l, j]: minus the log-likelihood of start component j's points under slot l.
    let mut cost = Array2::<f64>::zeros((k, k));
    for j in 0..k {
        let same = Array2::from_shape_fn((k, d), |(_, t)| means[(j, t)]);
        let logp = Evaluator::new(
            &vec![0.0; k],
            same.view(),
            prec_chol,
            m0.clone(),
            None,
            false,
        )
        .evaluate(x);
        for l in 0..k {
            let v: f64 = resp
                .column(j)
                .iter()
                .zip(logp.column(l))
                .map(|(r, lp)| r * lp)
                .sum();
            cost[(l, j)] = if v.is_finite() { -v } else { f64::INFINITY };
        }
    }
    min_cost_assignment(cost.view())
}

fn unreachable_prec() -> Result<CovMatrices> {
    Err(Error::MissingParameter {
        name: "initial precisions",
        hint: "internal: no precisions were computed or given",
    })
}
