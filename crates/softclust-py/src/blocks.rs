//! Fits over row blocks that Python holds (a Dask cluster, files read in turn): stateless
//! block kernels that workers call on plain numpy arrays (they return flat statistics vectors
//! that add up element-wise), and drivers that run the core's own loops (the ones the
//! in-memory fits run) with each pass delegated to a Python callable.

use crate::common::{bad, err, pooled, with_data, Data};
use crate::gmm::cov_from_py;
use crate::model::{cov_to_py, PyModel};
use crate::soft::SoftOptions;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use softclust::fcm::{self, FcmPasses, FcmStats, FuzzyCMeansModel};
use softclust::gmm::block::{self as gb, EmParams, EmPasses, EmStats};
use softclust::kmeans::block::{self as kb, Candidate, LloydPasses, LloydStats};
use softclust::{CovarianceType, Float, GaussianMixtureModel, KMeansModel, Model};

type Weights<'py> = Option<PyReadonlyArray1<'py, f64>>;

fn view1<'a>(w: &'a Weights<'_>) -> Option<ArrayView1<'a, f64>> {
    w.as_ref().map(|w| w.as_array())
}

fn cast2<F: Float>(a: ArrayView2<'_, f64>) -> Array2<F> {
    a.mapv(F::of)
}

fn cast1<F: Float>(a: ArrayView1<'_, f64>) -> Array1<F> {
    a.mapv(F::of)
}

fn to64<F: Float>(a: ArrayView2<'_, F>) -> Array2<f64> {
    a.mapv(|v| v.as_f64())
}

/// Runs a block kernel with the GIL released on `n_threads` threads (1 inside a Dask task:
/// the workers are the parallelism).
fn run<T: Send>(
    py: Python<'_>,
    n_threads: usize,
    f: impl FnOnce() -> softclust::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| pooled(Some(n_threads.max(1)), f))?
        .map_err(err)
}

/// Runs `$body` with the GIL released on `$n` threads, with `$xv` the block and `$c`, `$m` the
/// centres (or candidates) and centring vector in the block's float type.
macro_rules! on_block {
    ($py:expr, $n:expr, $x:expr, $centers:expr, $centering:expr, |$xv:ident, $c:ident, $m:ident| $body:expr) => {{
        let (c0, m0) = ($centers.as_array(), $centering.as_array());
        with_data!($x, $xv, {
            run($py, $n, || {
                let ($c, $m) = (cast2(c0), cast1(m0));
                $body
            })
        })
    }};
}

/// `[n, column sums about shift]` (or squared deviations) of a block, validating it.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, shift, square, n_threads=1))]
pub fn block_column_stats<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    shift: Vec<f64>,
    square: bool,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = view1(&sample_weight);
    let v = with_data!(x, xv, {
        run(py, n_threads, || kb::column_stats(xv, w, &shift, square))
    })?;
    Ok(v.into_pyarray(py))
}

/// The flat Lloyd statistics of a block: `[inertia, W (k), counts (k), S (k x d)]`.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, centers, centering, n_threads=1))]
pub fn kmeans_block_stats<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = view1(&sample_weight);
    let v = on_block!(py, n_threads, x, centers, centering, |xv, c, m| {
        kb::lloyd_stats(xv, w, c.view(), m.view()).map(|s| s.to_flat())
    })?;
    Ok(v.into_pyarray(py))
}

/// Relocation candidates of a block: `(squared distances, rows, labels, weights, x - m)`,
/// farthest first, at most `m` of them.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, old, centering, m, n_threads=1))]
#[allow(clippy::type_complexity)]
pub fn kmeans_block_candidates<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    old: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    m: usize,
    n_threads: usize,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f64>>,
)> {
    let w = view1(&sample_weight);
    let d = old.as_array().ncols();
    let v = on_block!(py, n_threads, x, old, centering, |xv, c, mu| {
        kb::block_candidates(xv, w, c.view(), mu.view(), m)
    })?;
    let dist: Vec<f64> = v.iter().map(|t| t.0).collect();
    let rows: Vec<i64> = v.iter().map(|t| t.1 as i64).collect();
    let labels: Vec<i64> = v.iter().map(|t| t.2.label as i64).collect();
    let weights: Vec<f64> = v.iter().map(|t| t.2.weight).collect();
    let flat: Vec<f64> = v.iter().flat_map(|t| t.2.row.iter().copied()).collect();
    let coords =
        Array2::from_shape_vec((v.len(), d), flat).map_err(|e| bad(format!("candidates: {e}")))?;
    Ok((
        dist.into_pyarray(py),
        rows.into_pyarray(py),
        labels.into_pyarray(py),
        weights.into_pyarray(py),
        coords.into_pyarray(py),
    ))
}

/// One k-means|| round over a block: `(cost under the candidates, rows drawn)`.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, candidates, centering, factor, seed, n_threads=1))]
#[allow(clippy::too_many_arguments)]
pub fn kmeans_block_parallel_sample<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    candidates: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    factor: f64,
    seed: u64,
    n_threads: usize,
) -> PyResult<(f64, Bound<'py, PyArray1<i64>>)> {
    let w = view1(&sample_weight);
    let (cost, rows) = on_block!(py, n_threads, x, candidates, centering, |xv, c, m| {
        kb::parallel_sample(xv, w, c.view(), m.view(), factor, seed)
    })?;
    let rows: Vec<i64> = rows.into_iter().map(|r| r as i64).collect();
    Ok((cost, rows.into_pyarray(py)))
}

/// The final-pass statistics of a block: `[W (k), S (k x d)]` about the nearest centres.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, centers, centering, n_threads=1))]
pub fn kmeans_block_deviations<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = view1(&sample_weight);
    let v = on_block!(py, n_threads, x, centers, centering, |xv, c, m| {
        kb::deviation_stats(xv, w, c.view(), m.view()).map(|s| s.to_flat())
    })?;
    Ok(v.into_pyarray(py))
}

/// `auto`'s log-likelihoods on a block: its four softmax variants' implied mixtures, for a
/// k-means model fitted over blocks (whose soft step `PyModel.with_auto_soft` then chooses
/// from the sums over the blocks).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, model, n_threads=1))]
pub fn kmeans_block_auto_soft<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    model: PyRef<'py, PyModel>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = view1(&sample_weight);
    let m: &PyModel = &model;
    let v = with_data!(x, xv, {
        run(py, n_threads, || {
            let wf = w.map(|w| w.mapv(Float::of));
            m.kmeans_auto_block(xv, wf.as_ref().map(|w| w.view()))
        })
    })?;
    Ok(Array1::from(v).into_pyarray(py))
}

/// A Python callable standing in for the data: errors it raises are kept and re-raised after
/// the core's loop stops (the loop sees an interruption).
struct Delegate<'py> {
    calls: Vec<Bound<'py, PyAny>>,
    error: Option<PyErr>,
}

impl<'py> Delegate<'py> {
    fn call(
        &mut self,
        i: usize,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> softclust::Result<Bound<'py, PyAny>> {
        match self.calls[i].call1(args) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.error = Some(e);
                Err(softclust::Error::Interrupted)
            }
        }
    }

    fn flat(&mut self, v: Bound<'py, PyAny>) -> softclust::Result<Vec<f64>> {
        match v.extract::<PyReadonlyArray1<'py, f64>>() {
            Ok(a) => Ok(a.as_array().to_vec()),
            Err(e) => {
                self.error = Some(e);
                Err(softclust::Error::Interrupted)
            }
        }
    }

    /// The loop's result, or the Python error that stopped it.
    fn finish<T>(self, r: softclust::Result<T>) -> PyResult<T> {
        match (self.error, r) {
            (Some(e), _) => Err(e),
            (None, r) => r.map_err(err),
        }
    }
}

impl<'py, F: Float> LloydPasses<F> for Delegate<'py> {
    fn pass(&mut self, centers: ArrayView2<'_, F>) -> softclust::Result<LloydStats> {
        let (k, d) = centers.dim();
        let py = self.calls[0].py();
        let v = self.call(0, (to64(centers).into_pyarray(py),))?;
        let flat = self.flat(v)?;
        LloydStats::from_flat(k, d, &flat)
    }

    fn candidates(
        &mut self,
        old: ArrayView2<'_, F>,
        m: usize,
    ) -> softclust::Result<Vec<Candidate>> {
        let py = self.calls[1].py();
        let v = self.call(1, (to64(old).into_pyarray(py), m))?;
        type Cands<'a> = (
            PyReadonlyArray1<'a, i64>,
            PyReadonlyArray1<'a, f64>,
            PyReadonlyArray2<'a, f64>,
        );
        let (labels, weights, coords) = match v.extract::<Cands<'py>>() {
            Ok(t) => t,
            Err(e) => {
                self.error = Some(e);
                return Err(softclust::Error::Interrupted);
            }
        };
        let coords = coords.as_array();
        Ok(labels
            .as_array()
            .iter()
            .zip(weights.as_array().iter())
            .zip(coords.rows())
            .map(|((&l, &w), r)| Candidate {
                label: l.max(0) as usize,
                weight: w,
                row: r.to_vec(),
            })
            .collect())
    }
}

fn kmeans_drive<F: Float>(
    calls: Vec<Bound<'_, PyAny>>,
    init: ArrayView2<'_, f64>,
    centering: ArrayView1<'_, f64>,
    max_iter: usize,
    tol_abs: f64,
    soft: &softclust::SoftMethod,
) -> PyResult<KMeansModel<F>> {
    let py = calls[0].py();
    let mu = cast1::<F>(centering);
    let mut src = Delegate { calls, error: None };
    let out = kb::lloyd_loop::<F>(
        &mut src,
        cast2(init),
        mu.view(),
        max_iter,
        tol_abs,
        &mut |_| false,
    );
    let out = match out {
        Ok(o) => o,
        Err(e) => return src.finish(Err(e)),
    };
    let (k, d) = out.centers.dim();
    let v = src.call(2, (to64(out.centers.view()).into_pyarray(py),));
    let stats = match v
        .and_then(|v| src.flat(v))
        .and_then(|f| kb::Deviations::from_flat(k, d, &f))
    {
        Ok(s) => s,
        Err(e) => return src.finish(Err(e)),
    };
    src.finish(KMeansModel::from_block_stats(out, mu, stats, tol_abs, soft))
}

/// Runs the core's Lloyd loop with passes delegated to Python: `pass_fn(centers)` returns the
/// summed flat statistics, `candidates_fn(old, m)` the merged relocation candidates `(labels,
/// weights, x - m)`, `final_fn(centers)` the summed final-pass statistics. Returns the model.
#[pyfunction]
#[pyo3(signature = (float32, init, centering, max_iter, tol_abs, soft, pass_fn, candidates_fn, final_fn))]
#[allow(clippy::too_many_arguments)]
pub fn kmeans_fit_blocks<'py>(
    float32: bool,
    init: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    max_iter: usize,
    tol_abs: f64,
    soft: SoftOptions,
    pass_fn: Bound<'py, PyAny>,
    candidates_fn: Bound<'py, PyAny>,
    final_fn: Bound<'py, PyAny>,
) -> PyResult<PyModel> {
    if max_iter == 0 {
        return Err(err(softclust::Error::InvalidParameter {
            name: "max_iter",
            value: "0".into(),
            expected: "an integer >= 1",
        }));
    }
    let method = soft.spec()?.method();
    let calls = vec![pass_fn, candidates_fn, final_fn];
    let (init, mu) = (init.as_array(), centering.as_array());
    let d = init.ncols();
    if float32 {
        let m = kmeans_drive::<f32>(calls, init, mu, max_iter, tol_abs, &method)?;
        Ok(PyModel::fitted(Model::Kmeans(m), d))
    } else {
        let m = kmeans_drive::<f64>(calls, init, mu, max_iter, tol_abs, &method)?;
        Ok(PyModel::fitted(Model::Kmeans(m), d))
    }
}

/// Mixture parameters as Python gets and gives them (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct ParamsIn<'py> {
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_cholesky: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: String,
    m0: Vec<f64>,
}

impl ParamsIn<'_> {
    fn params(&self) -> PyResult<EmParams> {
        let t: CovarianceType = crate::common::parse(&self.covariance_type)?;
        let p = EmParams {
            weights: self.weights.as_array().to_owned(),
            means: self.means.as_array().to_owned(),
            precisions_cholesky: cov_from_py(
                t,
                self.precisions_cholesky.as_array().to_owned(),
                "precisions_cholesky",
            )?,
            noise: None,
            m0: self.m0.clone(),
        };
        p.check().map_err(err)?;
        Ok(p)
    }
}

fn params_out<'py>(py: Python<'py>, p: &EmParams) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("weights", p.weights.clone().into_pyarray(py))?;
    d.set_item("means", p.means.clone().into_pyarray(py))?;
    d.set_item(
        "precisions_cholesky",
        cov_to_py(py, p.precisions_cholesky.clone()),
    )?;
    d.set_item(
        "covariance_type",
        p.precisions_cholesky.covariance_type().name(),
    )?;
    d.set_item("m0", p.m0.clone())?;
    Ok(d)
}

/// The flat EM statistics of a block under the parameters (a dict as
/// [`gmm_fit_blocks`] passes them).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, params, n_threads=1))]
pub fn gmm_block_stats<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    params: ParamsIn<'py>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let p = params.params()?;
    let w = view1(&sample_weight);
    let v = with_data!(x, xv, {
        run(py, n_threads, || {
            gb::em_stats(xv, w, &p).map(|s| s.to_flat())
        })
    })?;
    Ok(v.into_pyarray(py))
}

impl EmPasses for Delegate<'_> {
    fn pass(&mut self, params: &EmParams) -> softclust::Result<EmStats> {
        let py = self.calls[0].py();
        let d = match params_out(py, params) {
            Ok(d) => d,
            Err(e) => {
                self.error = Some(e);
                return Err(softclust::Error::Interrupted);
            }
        };
        let v = self.call(0, (d,))?;
        let flat = self.flat(v)?;
        EmStats::from_flat(params, &flat)
    }
}

/// Runs the core's EM loop from `start` with passes delegated to `pass_fn(params) -> flat
/// statistics`; `scale` is the data's mean feature variance (for automatic regularisation).
#[pyfunction]
#[pyo3(signature = (start, total_weight, max_iter, tol, reg_covar, auto_regularize, scale, pass_fn))]
#[allow(clippy::too_many_arguments)]
pub fn gmm_fit_blocks<'py>(
    start: ParamsIn<'py>,
    total_weight: f64,
    max_iter: usize,
    tol: f64,
    reg_covar: f64,
    auto_regularize: bool,
    scale: f64,
    pass_fn: Bound<'py, PyAny>,
) -> PyResult<PyModel> {
    let p = start.params()?;
    let d = p.means.ncols();
    let settings = gb::EmSettings {
        covariance_type: p.precisions_cholesky.covariance_type(),
        total_weight,
        max_iter,
        tol,
        start_lower_bound: f64::NEG_INFINITY,
    };
    let mut reg = gb::Regularizer::with_scale(reg_covar, auto_regularize, scale);
    let mut src = Delegate {
        calls: vec![pass_fn],
        error: None,
    };
    let out = gb::em_loop(&mut src, p, settings, &mut reg, &None, &mut |_, _| {});
    let model = src.finish(out.and_then(|o| GaussianMixtureModel::from_em_outcome(o, &reg)))?;
    Ok(PyModel::fitted(Model::<f64>::Gmm(model), d))
}

/// The flat fuzzy c-means statistics of a block: the start pass (`prev = None`) or the pass
/// against `centers` after recomputing the memberships of `prev`.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, prev, prev_is_start, centers, centering, m, n_threads=1))]
#[allow(clippy::too_many_arguments)]
pub fn fcm_block_stats<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    prev: Option<PyReadonlyArray2<'py, f64>>,
    prev_is_start: bool,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    m: f64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = view1(&sample_weight);
    let pv = prev.as_ref().map(|p| p.as_array());
    let v = on_block!(py, n_threads, x, centers, centering, |xv, c, mu| {
        let p = pv.map(cast2);
        fcm::fcm_block_stats(
            xv,
            w,
            p.as_ref().map(|p| (p.view(), prev_is_start)),
            c.view(),
            mu.view(),
            m,
        )
        .map(|s| s.to_flat())
    })?;
    Ok(v.into_pyarray(py))
}

/// The flat final statistics of a block under the fitted centres.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, centers, centering, m, n_threads=1))]
pub fn fcm_block_final<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    m: f64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = view1(&sample_weight);
    let v = on_block!(py, n_threads, x, centers, centering, |xv, c, mu| {
        fcm::fcm_final_block(xv, w, c.view(), mu.view(), m).map(|s| s.to_flat())
    })?;
    Ok(v.into_pyarray(py))
}

impl<F: Float> FcmPasses<F> for Delegate<'_> {
    fn pass(
        &mut self,
        prev: Option<ArrayView2<'_, F>>,
        prev_is_start: bool,
        centers: ArrayView2<'_, F>,
    ) -> softclust::Result<FcmStats> {
        let (k, d) = centers.dim();
        let py = self.calls[0].py();
        let p = prev.map(|p| to64(p).into_pyarray(py));
        let v = self.call(0, (p, prev_is_start, to64(centers).into_pyarray(py)))?;
        let flat = self.flat(v)?;
        FcmStats::from_flat(k, d, &flat)
    }
}

fn fcm_drive<F: Float>(
    calls: Vec<Bound<'_, PyAny>>,
    start: FcmStats,
    init: ArrayView2<'_, f64>,
    centering: ArrayView1<'_, f64>,
    m: f64,
    max_iter: usize,
    tol: f64,
) -> PyResult<FuzzyCMeansModel<F>> {
    let py = calls[0].py();
    let mu = cast1::<F>(centering);
    let (k, d) = init.dim();
    let mut src = Delegate { calls, error: None };
    let out = fcm::fcm_loop::<F>(
        &mut src,
        start,
        Some(cast2(init)),
        mu.view(),
        max_iter,
        tol,
        &None,
    );
    let out = match out {
        Ok(o) => o,
        Err(e) => return src.finish(Err(e)),
    };
    let v = src.call(1, (to64(out.centers.view()).into_pyarray(py),));
    let flat = match v.and_then(|v| src.flat(v)) {
        Ok(f) => f,
        Err(e) => return src.finish(Err(e)),
    };
    let fin = match fcm::FinalStats::from_flat(k, d, &flat) {
        Ok(f) => f,
        Err(e) => return src.finish(Err(e)),
    };
    src.finish(FuzzyCMeansModel::from_block_stats(out, m, mu, fin))
}

/// Runs the core's fuzzy c-means loop from the start pass's flat statistics (`start`, of the
/// centres `init`), with passes delegated to `pass_fn(prev, prev_is_start, centers)` and the
/// final statistics to `final_fn(centers)`.
#[pyfunction]
#[pyo3(signature = (float32, start, init, centering, m, max_iter, tol, pass_fn, final_fn))]
#[allow(clippy::too_many_arguments)]
pub fn fcm_fit_blocks<'py>(
    float32: bool,
    start: PyReadonlyArray1<'py, f64>,
    init: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    m: f64,
    max_iter: usize,
    tol: f64,
    pass_fn: Bound<'py, PyAny>,
    final_fn: Bound<'py, PyAny>,
) -> PyResult<PyModel> {
    let (init, mu) = (init.as_array(), centering.as_array());
    let (k, d) = init.dim();
    let start =
        FcmStats::from_flat(k, d, start.as_array().as_slice().unwrap_or(&[])).map_err(err)?;
    let calls = vec![pass_fn, final_fn];
    if float32 {
        let model = fcm_drive::<f32>(calls, start, init, mu, m, max_iter, tol)?;
        Ok(PyModel::fitted(Model::Fcm(model), d))
    } else {
        let model = fcm_drive::<f64>(calls, start, init, mu, m, max_iter, tol)?;
        Ok(PyModel::fitted(Model::Fcm(model), d))
    }
}

/// Precision Cholesky factors (the core's convention) from precisions, or from covariances
/// with `covariances = true`: the start of a fit over blocks from given parameters.
#[pyfunction]
pub fn gmm_model_from_parameters<'py>(
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    params: PyReadonlyArrayDyn<'py, f64>,
    covariance_type: &str,
    covariances: bool,
) -> PyResult<PyModel> {
    let t: CovarianceType = crate::common::parse(covariance_type)?;
    let means = means.as_array().to_owned();
    let d = means.ncols();
    let p = cov_from_py(t, params.as_array().to_owned(), "precisions")?;
    let m =
        GaussianMixtureModel::from_parameters(weights.as_array().to_owned(), means, p, covariances)
            .map_err(err)?;
    Ok(PyModel::fitted(Model::<f64>::Gmm(m), d))
}

/// The model of one M-step from responsibilities (scikit-learn's private `_initialize`, which
/// its test suite calls).
#[pyfunction]
#[pyo3(signature = (x, resp, sample_weight, covariance_type, reg_covar))]
pub fn gmm_model_from_responsibilities<'py>(
    x: Data<'py>,
    resp: PyReadonlyArray2<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    covariance_type: &str,
    reg_covar: f64,
) -> PyResult<PyModel> {
    let t: CovarianceType = crate::common::parse(covariance_type)?;
    let r = resp.as_array();
    let w = sample_weight.as_ref().map(|w| w.as_array());
    let (m, d) = with_data!(x, xv, {
        (
            GaussianMixtureModel::from_responsibilities(xv, r, w, reg_covar, t),
            xv.ncols(),
        )
    });
    Ok(PyModel::fitted(Model::<f64>::Gmm(m.map_err(err)?), d))
}

/// One mini-batch's own M-step (no regularisation) under `params`:
/// `(n_c, means, covariances, sum_i w_i ln p(x_i))` for stepwise EM.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, params, n_threads=1))]
#[allow(clippy::type_complexity)]
pub fn gmm_batch_moments<'py>(
    py: Python<'py>,
    x: Data<'py>,
    sample_weight: Weights<'py>,
    params: ParamsIn<'py>,
    n_threads: usize,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, numpy::PyArrayDyn<f64>>,
    f64,
)> {
    let p = params.params()?;
    let w = view1(&sample_weight);
    let st = with_data!(x, xv, run(py, n_threads, || gb::em_stats(xv, w, &p)))?;
    let ll = st.log_likelihood();
    let (nk, means, cov) = st.moments(&p);
    Ok((
        nk.into_pyarray(py),
        means.into_pyarray(py),
        cov_to_py(py, cov),
        ll,
    ))
}

/// A k-means model from centres and summed final-pass statistics `[W (k), S (k x d)]`
/// (mini-batch k-means: the soft step is estimated from them as after a full fit).
#[pyfunction]
#[pyo3(signature = (float32, centers, centering, stats, n_iter, soft))]
pub fn kmeans_model_from_stats<'py>(
    float32: bool,
    centers: PyReadonlyArray2<'py, f64>,
    centering: PyReadonlyArray1<'py, f64>,
    stats: PyReadonlyArray1<'py, f64>,
    n_iter: usize,
    soft: SoftOptions,
) -> PyResult<PyModel> {
    let method = soft.spec()?.method();
    let (c, mu) = (centers.as_array(), centering.as_array());
    let (k, d) = c.dim();
    let stats = kb::Deviations::from_flat(k, d, &stats.as_array().to_vec()).map_err(err)?;
    fn build<F: Float>(
        c: ArrayView2<'_, f64>,
        mu: ArrayView1<'_, f64>,
        stats: kb::Deviations,
        n_iter: usize,
        method: &softclust::SoftMethod,
    ) -> softclust::Result<KMeansModel<F>> {
        let out = kb::LoopOutcome {
            centers: cast2::<F>(c),
            n_iter,
            converged: false,
            strict: false,
            history: Vec::new(),
            relocations: 0,
            stopped: false,
        };
        KMeansModel::from_block_stats(out, cast1(mu), stats, 0.0, method)
    }
    if float32 {
        let m = build::<f32>(c, mu, stats.clone(), n_iter, &method).map_err(err)?;
        Ok(PyModel::fitted(Model::Kmeans(m), d))
    } else {
        let m = build::<f64>(c, mu, stats, n_iter, &method).map_err(err)?;
        Ok(PyModel::fitted(Model::Kmeans(m), d))
    }
}
