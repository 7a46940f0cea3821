//! Gaussian mixtures: the fit and the model selection sweep return `Model` values.

use crate::common::{
    bad, err, interruptible, interruptible_logged, owned1, parse, weights_as, with_data, Data, Log,
};
use crate::model::PyModel;
use ndarray::{ArrayD, Ix1, Ix2, Ix3};
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use softclust::selection::select_model;
use softclust::{CovMatrices, CovarianceType, Criterion, GaussianMixture, GmmInit, Model};

/// Everything that configures an EM fit, as Python passes it (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct GmmConfig<'py> {
    n_components: usize,
    covariance_type: String,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    n_init: usize,
    init_params: String,
    weights_init: Option<PyReadonlyArray1<'py, f64>>,
    means_init: Option<PyReadonlyArray2<'py, f64>>,
    precisions_init: Option<PyReadonlyArrayDyn<'py, f64>>,
    seed: u64,
    auto_regularize: bool,
    noise: Option<f64>,
}

pub(crate) fn cov_from_py(t: CovarianceType, a: ArrayD<f64>, what: &str) -> PyResult<CovMatrices> {
    let shape = a.shape().to_vec();
    let wrong = || {
        bad(format!(
            "{what} has shape {shape:?}, which does not fit covariance_type={:?}",
            t.name()
        ))
    };
    Ok(match t {
        CovarianceType::Full => {
            CovMatrices::Full(a.into_dimensionality::<Ix3>().map_err(|_| wrong())?)
        }
        CovarianceType::Tied => {
            CovMatrices::Tied(a.into_dimensionality::<Ix2>().map_err(|_| wrong())?)
        }
        CovarianceType::Diag => {
            CovMatrices::Diag(a.into_dimensionality::<Ix2>().map_err(|_| wrong())?)
        }
        CovarianceType::Spherical => {
            CovMatrices::Spherical(a.into_dimensionality::<Ix1>().map_err(|_| wrong())?)
        }
    })
}

impl GmmConfig<'_> {
    fn config(&self) -> PyResult<GaussianMixture> {
        let t: CovarianceType = parse(&self.covariance_type)?;
        let init: GmmInit = parse(&self.init_params)?;
        let mut g = GaussianMixture::new(self.n_components)
            .covariance_type(t)
            .tol(self.tol)
            .reg_covar(self.reg_covar)
            .max_iter(self.max_iter)
            .n_init(self.n_init)
            .init_params(init)
            .seed(self.seed)
            .auto_regularize(self.auto_regularize);
        if let Some(w) = &self.weights_init {
            g = g.weights_init(w.as_array().to_owned());
        }
        if let Some(m) = &self.means_init {
            g = g.means_init(m.as_array().to_owned());
        }
        if let Some(p) = &self.precisions_init {
            g = g.precisions_init(cov_from_py(t, p.as_array().to_owned(), "precisions_init")?);
        }
        if let Some(p0) = self.noise {
            g = g.noise(p0);
        }
        Ok(g)
    }
}

fn n_cols(x: &Data<'_>) -> usize {
    match x {
        Data::F64(a) => a.as_array().ncols(),
        Data::F32(a) => a.as_array().ncols(),
    }
}

/// Fits a Gaussian mixture by EM (warm-started from a previous fit's model if given).
#[pyfunction]
///
/// `verbose` 1 prints one line per initialisation, 2 also every `verbose_interval`-th
/// iteration with its lower bound and change (as scikit-learn does).
#[pyo3(signature = (x, sample_weight, config, warm=None, n_threads=None, verbose=0, verbose_interval=10))]
#[allow(clippy::too_many_arguments)]
pub fn gmm_fit<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    config: GmmConfig<'py>,
    warm: Option<Bound<'py, PyModel>>,
    n_threads: Option<usize>,
    verbose: usize,
    verbose_interval: usize,
) -> PyResult<PyModel> {
    let mut cfg = config.config()?;
    if let Some(prev) = &warm {
        cfg = cfg.warm_start(prev.get().gmm()?);
    }
    let w = owned1(sample_weight);
    let d = n_cols(&x);
    let log = Log::default();
    let every = verbose_interval.max(1);
    with_data!(x, xv, {
        interruptible_logged(py, n_threads, (verbose > 0).then_some(&log), |stop| {
            let wf = weights_as(&w);
            let start = std::time::Instant::now();
            // (run, iterations, lower bound) of the run in progress.
            let mut run: Option<(usize, usize, f64)> = None;
            let end = |r: Option<(usize, usize, f64)>| {
                if let Some((run, it, lb)) = r {
                    log.line(format!(
                        "Initialization {run} finished after {it} iterations. time lapse {:.5}s\t \
                         lower bound {lb:.5}.",
                        start.elapsed().as_secs_f64()
                    ));
                }
            };
            let fitted = cfg.clone().interrupt(stop).fit_with_progress(
                xv,
                wf.as_ref().map(|w| w.view()),
                &mut |r, it, lb| {
                    if verbose == 0 {
                        return;
                    }
                    let prev = run.filter(|p| p.0 == r).map(|p| p.2);
                    if run.is_some_and(|p| p.0 != r) {
                        end(run.take());
                    }
                    if prev.is_none() {
                        log.line(format!("Initialization {r}"));
                    }
                    if verbose >= 2 && (it + 1) % every == 0 {
                        let change = prev.map_or(f64::NAN, |p| lb - p);
                        log.line(format!(
                            "  Iteration {}\t lower bound {lb:.5}\t ll change {change:.5}",
                            it + 1
                        ));
                    }
                    run = Some((r, it + 1, lb));
                },
            );
            end(run.take());
            fitted
        })
    })?
    .map_err(err)
    .map(|m| PyModel::fitted(Model::<f64>::Gmm(m), d))
}

/// Fits every (k, covariance type) pair with one E-step of scoring each; returns (table rows,
/// the best model).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, ks, covariance_types, criterion, config, n_threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn gmm_select<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    ks: Vec<usize>,
    covariance_types: Vec<String>,
    criterion: &str,
    config: GmmConfig<'py>,
    n_threads: Option<usize>,
) -> PyResult<(Vec<Bound<'py, PyDict>>, PyModel)> {
    let types: Vec<CovarianceType> = covariance_types
        .iter()
        .map(|t| parse(t))
        .collect::<PyResult<_>>()?;
    let crit: Criterion = parse(criterion)?;
    let base = config.config()?;
    let w = owned1(sample_weight);
    let d = n_cols(&x);
    let sel = with_data!(x, xv, {
        interruptible(py, n_threads, |stop| {
            let wf = weights_as(&w);
            let base = base.clone().interrupt(stop);
            select_model(xv, wf.as_ref().map(|w| w.view()), &ks, &types, crit, &base)
        })
    })?
    .map_err(err)?;
    let mut rows = Vec::new();
    for c in &sel.table {
        let r = PyDict::new(py);
        r.set_item("k", c.k)?;
        r.set_item("covariance_type", c.covariance_type.name())?;
        r.set_item("criterion", c.criterion)?;
        r.set_item("bic", c.bic)?;
        r.set_item("aic", c.aic)?;
        r.set_item("icl", c.icl)?;
        r.set_item("mean_log_likelihood", c.mean_log_likelihood)?;
        r.set_item("n_parameters", c.n_parameters)?;
        r.set_item("converged", c.converged)?;
        r.set_item("failed", c.failed.clone())?;
        rows.push(r);
    }
    Ok((rows, PyModel::fitted(Model::<f64>::Gmm(sel.best), d)))
}
