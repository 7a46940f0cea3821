//! `softclust._softclust`: thin PyO3 glue over the Rust core. Arrays come in as numpy views
//! (float64 or float32, no copy when C-contiguous), every computation runs with the GIL released
//! inside a rayon pool of the requested size, and results go back as numpy arrays. Core errors
//! become `SoftclustError`, a `ValueError` subclass, with the core's message.

use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView1, Ix1, Ix2, Ix3};
use numpy::{
    IntoPyArray, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
    PyReadonlyArrayDyn,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use softclust::consensus::{consensus_predict, ConsensusKMeans, Resample};
use softclust::fcm::{FcmInit, FuzzyCMeans, FuzzyCMeansModel};
use softclust::gmm::selection::{select_model as core_select, Criterion};
use softclust::gmm::Noise;
use softclust::typicality::{ClusterSpread, Spread, Typicality};
use softclust::{
    Anchor, Anchored, CovMatrices, CovarianceType, DistanceKind, FittedSoft, Float,
    GaussianMixture, GaussianMixtureModel, GmmInit, Init, InversePower, KMeans, KMeansModel,
    Membership, SoftMethod, Softmax,
};

/// A previous fit's parameters for a warm start: weights, means, precision factors, noise.
type WarmStart<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArrayDyn<'py, f64>,
    Option<(f64, f64)>,
);

/// A pair of arrays returned to Python.
type Pair<'py, A, B> = (
    Bound<'py, numpy::PyArray2<A>>,
    Bound<'py, numpy::PyArray1<B>>,
);

pyo3::create_exception!(
    _softclust,
    SoftclustError,
    PyValueError,
    "An error from the softclust core; the message says what to do."
);

fn err(e: softclust::Error) -> PyErr {
    SoftclustError::new_err(e.to_string())
}

fn bad(msg: impl Into<String>) -> PyErr {
    SoftclustError::new_err(msg.into())
}

/// Runs `f` in a rayon pool of `n_threads` threads (all cores when `None`).
fn pooled<T: Send>(n_threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match n_threads {
        None => Ok(f()),
        Some(0) => Err(bad(
            "n_jobs must be a positive number of threads, -1 or None",
        )),
        Some(t) => Ok(pool_of(t)?.install(f)),
    }
}

/// One thread pool per requested size, kept for the life of the process: starting threads on
/// every call would cost more than a small fit (fresh threads also start with fresh allocator
/// arenas, so their buffers page-fault again).
fn pool_of(t: usize) -> PyResult<std::sync::Arc<rayon::ThreadPool>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&t) {
        return Ok(Arc::clone(p));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .map_err(|e| bad(format!("cannot start {t} threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.insert(t, Arc::clone(&pool));
    Ok(pool)
}

/// float64 or float32 data.
#[derive(FromPyObject)]
enum Data<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

/// Calls `$body` with `$x` bound to an `ArrayView2<F>` of the data, for F = f64 or f32.
macro_rules! with_data {
    ($data:expr, $x:ident, $body:expr) => {
        match &$data {
            Data::F64(a) => {
                let $x = a.as_array();
                $body
            }
            Data::F32(a) => {
                let $x = a.as_array();
                $body
            }
        }
    };
}

fn weights_as<F: Float>(w: &Option<Array1<f64>>) -> Option<Array1<F>> {
    w.as_ref().map(|w| w.mapv(F::of))
}

fn owned1(w: Option<PyReadonlyArray1<'_, f64>>) -> Option<Array1<f64>> {
    w.map(|w| w.as_array().to_owned())
}

fn labels_out(l: ArrayView1<'_, usize>) -> Array1<i64> {
    l.mapv(|v| v as i64)
}

fn membership_dict<'py>(py: Python<'py>, m: Membership<f64>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("proba", m.proba.into_pyarray(py))?;
    d.set_item("label", labels_out(m.label.view()).into_pyarray(py))?;
    d.set_item("max_p", m.max_p.into_pyarray(py))?;
    d.set_item("margin", m.margin.into_pyarray(py))?;
    d.set_item("entropy", m.entropy.into_pyarray(py))?;
    Ok(d)
}

// ---- k-means ----------------------------------------------------------------------------------

/// Soft options fitted from the k-means model: (method, sigma, power, per-cluster variance,
/// size weights, temperature).
type SoftSpec = (String, Option<f64>, Option<f64>, bool, bool, f64);

/// Fits k-means; returns a dict of fitted arrays and diagnostics.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, n_clusters, init, init_centers, n_init, max_iter, tol, seed, n_threads, soft=None))]
#[allow(clippy::too_many_arguments)]
fn kmeans_fit<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    n_clusters: usize,
    init: &str,
    init_centers: Option<PyReadonlyArray2<'py, f64>>,
    n_init: Option<usize>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_threads: Option<usize>,
    soft: Option<SoftSpec>,
) -> PyResult<Bound<'py, PyDict>> {
    let w = owned1(sample_weight);
    let centers0 = init_centers.map(|c| c.as_array().to_owned());
    // Softmax and inverse-power are estimated from the model's per-cluster sums (no distance
    // matrix); the Python side fits the other methods on training distances.
    let soft = soft
        .map(|(m, sigma, power, pcv, sw, t)| {
            soft_method(&m, sigma, power, pcv, sw, t, (None, None, None), 0.01)
        })
        .transpose()?;
    let init = init.to_string();
    let out = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                let init = match (init.as_str(), &centers0) {
                    (_, Some(c)) => Init::Centers(c.mapv(Float::of)),
                    ("random", None) => Init::Random,
                    _ => Init::KMeansPlusPlus,
                };
                let mut km = KMeans::new(n_clusters)
                    .init(init)
                    .max_iter(max_iter)
                    .tol(tol)
                    .seed(seed);
                if let Some(n) = n_init {
                    km = km.n_init(n);
                }
                let wf = weights_as(&w);
                let m = km.fit(xv, wf.as_ref().map(|w| w.view()))?;
                let fitted_soft = soft.as_ref().map(|s| s.fit_kmeans(&m)).transpose()?;
                let iso = ClusterSpread::from_kmeans(&m, Spread::Isotropic)?;
                let diag = ClusterSpread::from_kmeans(&m, Spread::Diagonal)?;
                Ok::<_, softclust::Error>((
                    m.centers().mapv(|v| v.as_f64()),
                    m.centering().mapv(|v| v.as_f64()),
                    labels_out(m.labels()),
                    m.inertia(),
                    m.diagnostics().clone(),
                    fitted_soft,
                    (
                        iso.variances().column(0).to_owned(),
                        diag.variances().to_owned(),
                    ),
                ))
            })
        })
    })?
    .map_err(err)?;
    let (centers, centering, labels, inertia, dg, fitted_soft, (iso, diag)) = out;
    let soft_params = fitted_soft
        .map(|f| serde_json::to_string(&f))
        .transpose()
        .map_err(|e| bad(format!("cannot encode soft parameters: {e}")))?;
    let d = PyDict::new(py);
    d.set_item("cluster_centers", centers.into_pyarray(py))?;
    d.set_item("centering", centering.into_pyarray(py))?;
    d.set_item("labels", labels.into_pyarray(py))?;
    d.set_item("inertia", inertia)?;
    d.set_item("n_iter", dg.n_iter)?;
    d.set_item("converged", dg.converged)?;
    d.set_item("inertia_history", dg.inertia_history)?;
    d.set_item("run_inertia", dg.run_inertia)?;
    d.set_item("soft_params", soft_params)?;
    d.set_item("cluster_variances", iso.into_pyarray(py))?;
    d.set_item("cluster_feature_variances", diag.into_pyarray(py))?;
    Ok(d)
}

fn kmeans_model<F: Float>(
    centers: &Array2<f64>,
    centering: &Array1<f64>,
) -> softclust::Result<KMeansModel<F>> {
    KMeansModel::from_centers(centers.mapv(F::of), Some(centering.mapv(F::of)))
}

/// Euclidean distances to the centres (the kernel centres data on `centering`).
#[pyfunction]
fn kmeans_transform<'py>(
    py: Python<'py>,
    x: Data<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
    let c = centers.as_array().to_owned();
    let mu = centering.as_array().to_owned();
    let out = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                kmeans_model(&c, &mu)
                    .and_then(|m| m.transform(xv))
                    .map(|d| d.mapv(|v| v.as_f64()))
            })
        })
    })?
    .map_err(err)?;
    Ok(out.into_pyarray(py))
}

/// The membership contract of `x` from k-means centres and fitted soft parameters, computed
/// block by block (no distance matrix).
#[pyfunction]
fn kmeans_memberships<'py>(
    py: Python<'py>,
    x: Data<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    params: &str,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let c = centers.as_array().to_owned();
    let mu = centering.as_array().to_owned();
    let f = fitted_soft(params)?;
    let m = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                kmeans_model(&c, &mu)
                    .and_then(|m| m.memberships(xv, &f))
                    .map(membership_f64)
            })
        })
    })?
    .map_err(err)?;
    membership_dict(py, m)
}

/// A membership contract in f64 (a no-op for f64 data).
fn membership_f64<F: Float>(m: Membership<F>) -> Membership<f64> {
    Membership {
        proba: m.proba.mapv(|v| v.as_f64()),
        label: m.label,
        max_p: m.max_p.mapv(|v| v.as_f64()),
        margin: m.margin.mapv(|v| v.as_f64()),
        entropy: m.entropy.mapv(|v| v.as_f64()),
    }
}

/// Nearest centre of each row.
#[pyfunction]
fn kmeans_predict<'py>(
    py: Python<'py>,
    x: Data<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, numpy::PyArray1<i64>>> {
    let c = centers.as_array().to_owned();
    let mu = centering.as_array().to_owned();
    let out = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                kmeans_model(&c, &mu)
                    .and_then(|m| m.predict(xv))
                    .map(|l| labels_out(l.view()))
            })
        })
    })?
    .map_err(err)?;
    Ok(out.into_pyarray(py))
}

// ---- soft assignment ----------------------------------------------------------------------------

fn anchor(s: Option<(&str, f64)>) -> PyResult<Option<Anchor>> {
    Ok(match s {
        None => None,
        Some(("quantile", v)) => Some(Anchor::Quantile(v)),
        Some(("distance", v)) => Some(Anchor::Distance(v)),
        Some((other, _)) => {
            return Err(bad(format!(
                "unknown anchor kind {other:?}: use 'quantile' or 'distance'"
            )))
        }
    })
}

/// The soft-assignment method and its options, from the Python arguments.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn soft_method(
    method: &str,
    sigma: Option<f64>,
    power: Option<f64>,
    per_cluster_variance: bool,
    size_weights: bool,
    temperature: f64,
    (near, half, far): (
        Option<(String, f64)>,
        Option<(String, f64)>,
        Option<(String, f64)>,
    ),
    far_value: f64,
) -> PyResult<SoftMethod> {
    Ok(match method {
        "softmax" => {
            let mut s = Softmax::new()
                .per_cluster_variance(per_cluster_variance)
                .size_weights(size_weights)
                .temperature(temperature);
            if let Some(v) = sigma {
                s = s.sigma(v);
            }
            SoftMethod::Softmax(s)
        }
        "inverse-power" | "inverse_power" => {
            let mut p = InversePower::new();
            if let Some(v) = power {
                p = p.power(v);
            }
            SoftMethod::InversePower(p)
        }
        "minmax" => SoftMethod::MinMax,
        "anchored" => {
            let mut a = Anchored::new().far_value(far_value);
            if let Some(x) = anchor(near.as_ref().map(|(k, v)| (k.as_str(), *v)))? {
                a = a.near(x);
            }
            if let Some(x) = anchor(half.as_ref().map(|(k, v)| (k.as_str(), *v)))? {
                a = a.half(x);
            }
            if let Some(x) = anchor(far.as_ref().map(|(k, v)| (k.as_str(), *v)))? {
                a = a.far(x);
            }
            SoftMethod::Anchored(a)
        }
        other => {
            return Err(bad(format!(
                "unknown method {other:?}: use 'softmax', 'inverse-power', 'minmax' or 'anchored'"
            )))
        }
    })
}

/// Fits a soft-assignment method on training distances; returns its parameters as JSON.
#[pyfunction]
#[pyo3(signature = (distances, squared, method, sigma=None, power=None, per_cluster_variance=false, size_weights=false, temperature=1.0, n_features=None, sample_weight=None, near=None, half=None, far=None, far_value=0.01))]
#[allow(clippy::too_many_arguments)]
fn soft_fit(
    py: Python<'_>,
    distances: PyReadonlyArray2<'_, f64>,
    squared: bool,
    method: &str,
    sigma: Option<f64>,
    power: Option<f64>,
    per_cluster_variance: bool,
    size_weights: bool,
    temperature: f64,
    n_features: Option<usize>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    near: Option<(String, f64)>,
    half: Option<(String, f64)>,
    far: Option<(String, f64)>,
    far_value: f64,
) -> PyResult<String> {
    let m = soft_method(
        method,
        sigma,
        power,
        per_cluster_variance,
        size_weights,
        temperature,
        (near, half, far),
        far_value,
    )?;
    let kind = if squared {
        DistanceKind::Squared
    } else {
        DistanceKind::Euclidean
    };
    let d = distances.as_array();
    let w = sample_weight.as_ref().map(|w| w.as_array());
    let fitted = py.detach(|| m.fit(d, kind, n_features, w)).map_err(err)?;
    serde_json::to_string(&fitted).map_err(|e| bad(format!("cannot encode soft parameters: {e}")))
}

fn fitted_soft(params: &str) -> PyResult<FittedSoft> {
    let f: FittedSoft =
        serde_json::from_str(params).map_err(|e| bad(format!("invalid soft parameters: {e}")))?;
    f.validate().map_err(err)?;
    Ok(f)
}

/// Applies fitted soft parameters to distances: the membership contract as a dict (plus the raw
/// anchored scores under "scores" for the anchored method).
#[pyfunction]
fn soft_apply<'py>(
    py: Python<'py>,
    params: &str,
    distances: PyReadonlyArray2<'py, f64>,
    squared: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let f = fitted_soft(params)?;
    let kind = if squared {
        DistanceKind::Squared
    } else {
        DistanceKind::Euclidean
    };
    let d = distances.as_array();
    let (m, scores) = py
        .detach(|| -> softclust::Result<_> {
            Ok((f.memberships(d, kind)?, f.anchored_scores(d, kind)?))
        })
        .map_err(err)?;
    let out = membership_dict(py, m)?;
    if let Some(s) = scores {
        out.set_item("scores", s.into_pyarray(py))?;
    }
    Ok(out)
}

/// Summary of fitted soft parameters: method, sigma, weights, power, anchors.
#[pyfunction]
fn soft_describe<'py>(py: Python<'py>, params: &str) -> PyResult<Bound<'py, PyDict>> {
    let f = fitted_soft(params)?;
    let d = PyDict::new(py);
    d.set_item("method", f.method_name())?;
    d.set_item("sigma", f.sigma().map(|s| s.to_vec()))?;
    d.set_item("weights", f.weights())?;
    d.set_item("power", f.power())?;
    d.set_item("anchors", f.anchors())?;
    Ok(d)
}

// ---- Gaussian mixtures ------------------------------------------------------------------------

fn cov_type(s: &str) -> PyResult<CovarianceType> {
    CovarianceType::parse(s).ok_or_else(|| {
        bad(format!(
            "covariance_type must be 'full', 'tied', 'diag' or 'spherical', got {s:?}"
        ))
    })
}

fn cov_from_py(t: CovarianceType, a: ArrayD<f64>, what: &str) -> PyResult<CovMatrices> {
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

fn cov_to_py<'py>(py: Python<'py>, c: CovMatrices) -> Bound<'py, PyArrayDyn<f64>> {
    match c {
        CovMatrices::Full(a) => a.into_dyn().into_pyarray(py),
        CovMatrices::Tied(a) | CovMatrices::Diag(a) => a.into_dyn().into_pyarray(py),
        CovMatrices::Spherical(a) => a.into_dyn().into_pyarray(py),
    }
}

fn model_dict<'py>(py: Python<'py>, m: &GaussianMixtureModel) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let dg = m.diagnostics();
    d.set_item("weights", m.weights().to_owned().into_pyarray(py))?;
    d.set_item("means", m.means().to_owned().into_pyarray(py))?;
    d.set_item(
        "precisions_cholesky",
        cov_to_py(py, m.precisions_cholesky().clone()),
    )?;
    d.set_item("covariances", cov_to_py(py, m.covariances()))?;
    d.set_item("precisions", cov_to_py(py, m.precisions()))?;
    d.set_item("converged", dg.converged)?;
    d.set_item("n_iter", dg.n_iter)?;
    d.set_item("lower_bound", dg.lower_bound)?;
    d.set_item("lower_bounds", dg.lower_bounds.clone())?;
    d.set_item("reg_covar", dg.reg_covar)?;
    d.set_item("regularization_increases", dg.regularization_increases)?;
    d.set_item("noise", m.noise().map(|n| (n.log_weight, n.log_volume)))?;
    Ok(d)
}

fn rebuild_gmm(
    weights: PyReadonlyArray1<'_, f64>,
    means: PyReadonlyArray2<'_, f64>,
    prec_chol: PyReadonlyArrayDyn<'_, f64>,
    covariance_type: &str,
    noise: Option<(f64, f64)>,
) -> PyResult<GaussianMixtureModel> {
    let t = cov_type(covariance_type)?;
    let pc = cov_from_py(t, prec_chol.as_array().to_owned(), "precisions_cholesky_")?;
    GaussianMixtureModel::from_cholesky(
        weights.as_array().to_owned(),
        means.as_array().to_owned(),
        pc,
        noise.map(|(log_weight, log_volume)| Noise {
            log_weight,
            log_volume,
        }),
    )
    .map_err(err)
}

/// Everything that configures an EM fit, as Python passes it.
#[derive(FromPyObject)]
struct GmmConfig<'py> {
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

fn gmm_config(c: &GmmConfig<'_>) -> PyResult<GaussianMixture> {
    let t = cov_type(&c.covariance_type)?;
    let init = match c.init_params.as_str() {
        "kmeans" => GmmInit::KMeans,
        "k-means++" => GmmInit::KMeansPlusPlus,
        "random" => GmmInit::Random,
        "random_from_data" => GmmInit::RandomFromData,
        other => {
            return Err(bad(format!(
                "init_params must be 'kmeans', 'k-means++', 'random' or 'random_from_data', got {other:?}"
            )))
        }
    };
    let mut g = GaussianMixture::new(c.n_components)
        .covariance_type(t)
        .tol(c.tol)
        .reg_covar(c.reg_covar)
        .max_iter(c.max_iter)
        .n_init(c.n_init)
        .init_params(init)
        .seed(c.seed)
        .auto_regularize(c.auto_regularize);
    if let Some(w) = &c.weights_init {
        g = g.weights_init(w.as_array().to_owned());
    }
    if let Some(m) = &c.means_init {
        g = g.means_init(m.as_array().to_owned());
    }
    if let Some(p) = &c.precisions_init {
        g = g.precisions_init(cov_from_py(t, p.as_array().to_owned(), "precisions_init")?);
    }
    if let Some(p0) = c.noise {
        g = g.noise(p0);
    }
    Ok(g)
}

/// Fits a Gaussian mixture by EM (optionally warm-started from a previous fit's parameters).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, config, warm=None, n_threads=None))]
fn gmm_fit<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    config: GmmConfig<'py>,
    warm: Option<WarmStart<'py>>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut cfg = gmm_config(&config)?;
    if let Some((w, m, pc, noise)) = warm {
        let prev = rebuild_gmm(w, m, pc, &config.covariance_type, noise)?;
        cfg = cfg.warm_start(&prev);
    }
    let w = owned1(sample_weight);
    let model = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                let wf = weights_as(&w);
                cfg.fit(xv, wf.as_ref().map(|w| w.view()))
            })
        })
    })?
    .map_err(err)?;
    model_dict(py, &model)
}

/// `(log_resp, log_prob_norm)` of `x` under a mixture given by its parameters.
#[pyfunction]
#[pyo3(signature = (x, weights, means, precisions_cholesky, covariance_type, noise=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn gmm_score<'py>(
    py: Python<'py>,
    x: Data<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_cholesky: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: &str,
    noise: Option<(f64, f64)>,
    n_threads: Option<usize>,
) -> PyResult<Pair<'py, f64, f64>> {
    let model = rebuild_gmm(weights, means, precisions_cholesky, covariance_type, noise)?;
    let (ln, lr) = with_data!(x, xv, {
        py.detach(|| pooled(n_threads, || model.score_samples_and_log_proba(xv)))
    })?
    .map_err(err)?;
    Ok((lr.into_pyarray(py), ln.into_pyarray(py)))
}

/// Responsibilities of `x` under a mixture given by its parameters (normalised in the same pass
/// as the densities).
#[pyfunction]
#[pyo3(signature = (x, weights, means, precisions_cholesky, covariance_type, noise=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn gmm_proba<'py>(
    py: Python<'py>,
    x: Data<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_cholesky: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: &str,
    noise: Option<(f64, f64)>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
    let model = rebuild_gmm(weights, means, precisions_cholesky, covariance_type, noise)?;
    let p = with_data!(x, xv, {
        py.detach(|| pooled(n_threads, || model.predict_proba(xv)))
    })?
    .map_err(err)?;
    Ok(p.into_pyarray(py))
}

/// The membership contract of `x` under a mixture given by its parameters.
#[pyfunction]
#[pyo3(signature = (x, weights, means, precisions_cholesky, covariance_type, noise=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn gmm_memberships<'py>(
    py: Python<'py>,
    x: Data<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_cholesky: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: &str,
    noise: Option<(f64, f64)>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let model = rebuild_gmm(weights, means, precisions_cholesky, covariance_type, noise)?;
    let m = with_data!(
        x,
        xv,
        py.detach(|| pooled(n_threads, || model.memberships(xv)))
    )?
    .map_err(err)?;
    membership_dict(py, m)
}

/// Draws `n` points: `(X, component)`.
#[pyfunction]
#[pyo3(signature = (weights, means, precisions_cholesky, covariance_type, n, seed))]
fn gmm_sample<'py>(
    py: Python<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_cholesky: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: &str,
    n: usize,
    seed: u64,
) -> PyResult<Pair<'py, f64, i64>> {
    let model = rebuild_gmm(weights, means, precisions_cholesky, covariance_type, None)?;
    let (xs, ys) = py.detach(|| model.sample(n, seed));
    Ok((xs.into_pyarray(py), labels_out(ys.view()).into_pyarray(py)))
}

fn typicality_out<'py>(py: Python<'py>, t: Typicality) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("typicality", t.typicality.into_pyarray(py))?;
    d.set_item("log_typicality", t.log_typicality.into_pyarray(py))?;
    d.set_item("outlier", t.outlier.into_pyarray(py))?;
    Ok(d)
}

/// Chi-square typicality of every row for every component of a mixture.
#[pyfunction]
#[pyo3(signature = (x, weights, means, precisions_cholesky, covariance_type, n_threads=None))]
fn gmm_typicality<'py>(
    py: Python<'py>,
    x: Data<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_cholesky: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: &str,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let model = rebuild_gmm(weights, means, precisions_cholesky, covariance_type, None)?;
    let t = with_data!(
        x,
        xv,
        py.detach(|| pooled(n_threads, || model.typicality(xv)))
    )?
    .map_err(err)?;
    typicality_out(py, t)
}

fn spread_kind(s: &str) -> PyResult<Spread> {
    match s {
        "isotropic" => Ok(Spread::Isotropic),
        "diagonal" => Ok(Spread::Diagonal),
        other => Err(bad(format!(
            "spread must be 'isotropic' or 'diagonal', got {other:?}"
        ))),
    }
}

/// Typicality from centres and fitted spreads.
#[pyfunction]
fn spread_typicality<'py>(
    py: Python<'py>,
    x: Data<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    variances: PyReadonlyArray2<'py, f64>,
    spread: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let s = ClusterSpread::from_parts(
        spread_kind(spread)?,
        centers.as_array().to_owned(),
        variances.as_array().to_owned(),
    )
    .map_err(err)?;
    let t = with_data!(x, xv, py.detach(|| s.typicality(xv))).map_err(err)?;
    typicality_out(py, t)
}

// ---- fuzzy c-means -----------------------------------------------------------------------------

/// Fits fuzzy c-means.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, n_clusters, m, max_iter, tol, seed, init_centers, n_threads))]
#[allow(clippy::too_many_arguments)]
fn fcm_fit<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    n_clusters: usize,
    m: f64,
    max_iter: usize,
    tol: f64,
    seed: u64,
    init_centers: Option<PyReadonlyArray2<'py, f64>>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let w = owned1(sample_weight);
    let c0 = init_centers.map(|c| c.as_array().to_owned());
    let out = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                let mut f = FuzzyCMeans::new(n_clusters)
                    .m(m)
                    .max_iter(max_iter)
                    .tol(tol)
                    .seed(seed);
                if let Some(c) = &c0 {
                    f = f.init(FcmInit::Centers(c.mapv(Float::of)));
                }
                let wf = weights_as(&w);
                let model = f.fit(xv, wf.as_ref().map(|w| w.view()))?;
                let iso = ClusterSpread::from_fcm(&model, Spread::Isotropic)?;
                let diag = ClusterSpread::from_fcm(&model, Spread::Diagonal)?;
                Ok::<_, softclust::Error>((
                    model.centers().mapv(|v| v.as_f64()),
                    model.centering().mapv(|v| v.as_f64()),
                    model.training_memberships().to_owned(),
                    model.diagnostics().clone(),
                    (
                        iso.variances().column(0).to_owned(),
                        diag.variances().to_owned(),
                    ),
                ))
            })
        })
    })?
    .map_err(err)?;
    let (centers, centering, u, dg, (iso, diag)) = out;
    let d = PyDict::new(py);
    d.set_item("cluster_centers", centers.into_pyarray(py))?;
    d.set_item("centering", centering.into_pyarray(py))?;
    d.set_item("memberships", u.into_pyarray(py))?;
    d.set_item("n_iter", dg.n_iter)?;
    d.set_item("converged", dg.converged)?;
    d.set_item("objective", dg.objective)?;
    d.set_item("partition_coefficient", dg.partition_coefficient)?;
    d.set_item("partition_entropy", dg.partition_entropy)?;
    d.set_item("cluster_variances", iso.into_pyarray(py))?;
    d.set_item("cluster_feature_variances", diag.into_pyarray(py))?;
    Ok(d)
}

/// Fuzzy c-means memberships of any data, in closed form from the centres.
#[pyfunction]
#[pyo3(signature = (x, centers, centering, m, n_threads=None))]
fn fcm_memberships<'py>(
    py: Python<'py>,
    x: Data<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    m: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let c = centers.as_array().to_owned();
    let mu = centering.as_array().to_owned();
    let mem = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                FuzzyCMeansModel::from_centers(c.mapv(Float::of), m, Some(mu.mapv(Float::of)))
                    .and_then(|f| f.memberships(xv))
                    .map(|mm| Membership::from_probabilities(mm.proba.mapv(|v| v.as_f64())))
            })
        })
    })?
    .map_err(err)?;
    membership_dict(py, mem)
}

// ---- consensus ---------------------------------------------------------------------------------

/// Fits consensus k-means.
#[pyfunction]
#[pyo3(signature = (x, n_clusters, runs, resample, fraction, seed, reference_n_init, max_iter, tol, n_threads))]
#[allow(clippy::too_many_arguments)]
fn consensus_fit<'py>(
    py: Python<'py>,
    x: Data<'py>,
    n_clusters: usize,
    runs: usize,
    resample: &str,
    fraction: f64,
    seed: u64,
    reference_n_init: usize,
    max_iter: usize,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let scheme = match resample {
        "bootstrap" => Resample::Bootstrap,
        "subsample" => Resample::Subsample(fraction),
        "reseed" => Resample::Reseed,
        other => {
            return Err(bad(format!(
                "resample must be 'bootstrap', 'subsample' or 'reseed', got {other:?}"
            )))
        }
    };
    let cfg = ConsensusKMeans::new(n_clusters)
        .runs(runs)
        .resample(scheme)
        .seed(seed)
        .reference_n_init(reference_n_init)
        .max_iter(max_iter)
        .tol(tol);
    let out = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                cfg.fit(xv).map(|m| {
                    let (lo, hi) = m.top_probability_intervals();
                    (
                        m.run_centers().mapv(|v| v.as_f64()),
                        m.reference().centering().mapv(|v| v.as_f64()),
                        m.reference().centers().mapv(|v| v.as_f64()),
                        m.counts().mapv(i64::from),
                        m.stability().to_owned(),
                        m.memberships(),
                        lo,
                        hi,
                        m.reference().diagnostics().n_iter,
                    )
                })
            })
        })
    })?
    .map_err(err)?;
    let (run_centers, centering, reference, counts, stability, mem, lo, hi, n_iter) = out;
    let d = membership_dict(py, mem)?;
    d.set_item("run_centers", run_centers.into_pyarray(py))?;
    d.set_item("centering", centering.into_pyarray(py))?;
    d.set_item("reference_centers", reference.into_pyarray(py))?;
    d.set_item("counts", counts.into_pyarray(py))?;
    d.set_item("stability", stability.into_pyarray(py))?;
    d.set_item("max_p_low", lo.into_pyarray(py))?;
    d.set_item("max_p_high", hi.into_pyarray(py))?;
    d.set_item("n_iter", n_iter)?;
    Ok(d)
}

/// Consensus memberships of new data from aligned run centres.
#[pyfunction]
#[pyo3(signature = (x, run_centers, centering, n_threads=None))]
fn consensus_predict_proba<'py>(
    py: Python<'py>,
    x: Data<'py>,
    run_centers: PyReadonlyArray3<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let rc: Array3<f64> = run_centers.as_array().to_owned();
    let mu = centering.as_array().to_owned();
    let (m, counts) = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                consensus_predict(rc.mapv(Float::of).view(), mu.mapv(Float::of).view(), xv)
            })
        })
    })?
    .map_err(err)?;
    let d = membership_dict(py, m)?;
    d.set_item("counts", counts.mapv(i64::from).into_pyarray(py))?;
    Ok(d)
}

// ---- model selection -------------------------------------------------------------------------

/// Fits every (k, covariance type) pair; returns (table rows, best model dict).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, ks, covariance_types, criterion, config, n_threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn select_model<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    ks: Vec<usize>,
    covariance_types: Vec<String>,
    criterion: &str,
    config: GmmConfig<'py>,
    n_threads: Option<usize>,
) -> PyResult<(Vec<Bound<'py, PyDict>>, Bound<'py, PyDict>)> {
    let types: Vec<CovarianceType> = covariance_types
        .iter()
        .map(|t| cov_type(t))
        .collect::<PyResult<_>>()?;
    let crit = match criterion {
        "bic" => Criterion::Bic,
        "aic" => Criterion::Aic,
        "icl" => Criterion::Icl,
        other => {
            return Err(bad(format!(
                "criterion must be 'bic', 'aic' or 'icl', got {other:?}"
            )))
        }
    };
    let base = gmm_config(&config)?;
    let w = owned1(sample_weight);
    let sel = with_data!(x, xv, {
        py.detach(|| {
            pooled(n_threads, || {
                let wf = weights_as(&w);
                core_select(xv, wf.as_ref().map(|w| w.view()), &ks, &types, crit, &base)
            })
        })
    })?
    .map_err(err)?;
    let mut rows = Vec::new();
    for c in &sel.table {
        let d = PyDict::new(py);
        d.set_item("k", c.k)?;
        d.set_item("covariance_type", c.covariance_type.name())?;
        d.set_item("criterion", c.criterion)?;
        d.set_item("bic", c.bic)?;
        d.set_item("aic", c.aic)?;
        d.set_item("icl", c.icl)?;
        d.set_item("mean_log_likelihood", c.mean_log_likelihood)?;
        d.set_item("n_parameters", c.n_parameters)?;
        d.set_item("converged", c.converged)?;
        d.set_item("failed", c.failed.clone())?;
        rows.push(d);
    }
    let best = model_dict(py, &sel.best)?;
    best.set_item("covariance_type", sel.best.covariance_type().name())?;
    best.set_item("n_components", sel.best.n_components())?;
    Ok((rows, best))
}

#[pymodule]
fn _softclust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SoftclustError", m.py().get_type::<SoftclustError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(kmeans_fit, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_transform, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_predict, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_memberships, m)?)?;
    m.add_function(wrap_pyfunction!(soft_fit, m)?)?;
    m.add_function(wrap_pyfunction!(soft_apply, m)?)?;
    m.add_function(wrap_pyfunction!(soft_describe, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_score, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_sample, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_memberships, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_proba, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_typicality, m)?)?;
    m.add_function(wrap_pyfunction!(spread_typicality, m)?)?;
    m.add_function(wrap_pyfunction!(fcm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(fcm_memberships, m)?)?;
    m.add_function(wrap_pyfunction!(consensus_fit, m)?)?;
    m.add_function(wrap_pyfunction!(consensus_predict_proba, m)?)?;
    m.add_function(wrap_pyfunction!(select_model, m)?)?;
    Ok(())
}
