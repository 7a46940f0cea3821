//! Helpers every binding uses: the error type, thread pools, the float64/float32 data enum,
//! and the conversions of the membership contract and typicality to dicts.

use ndarray::{Array1, ArrayView1};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use softclust::typicality::Typicality;
use softclust::{Float, Membership};

pyo3::create_exception!(
    _softclust,
    SoftclustError,
    PyValueError,
    "An error from the softclust core; the message says what to do."
);

pub(crate) fn err(e: softclust::Error) -> PyErr {
    match e {
        // scikit-learn's wording first (its users and tests match on it), then the core's.
        softclust::Error::IllConditioned { .. } => SoftclustError::new_err(format!(
            "Fitting the mixture model failed because some components have ill-defined \
             empirical covariance (for instance caused by singleton or collapsed samples). Try \
             to decrease the number of components, increase reg_covar, or scale the input \
             data. In detail: {e}"
        )),
        e => SoftclustError::new_err(e.to_string()),
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> PyErr {
    SoftclustError::new_err(msg.into())
}

/// A name parsed by the core's `FromStr` (covariance types, init methods, criteria, ...).
pub(crate) fn parse<T: std::str::FromStr<Err = softclust::Error>>(s: &str) -> PyResult<T> {
    s.parse().map_err(err)
}

/// Runs a fit `f` with the GIL released, in a pool of `n_threads` threads, on a helper thread
/// while this thread watches for signals every 50 ms: Ctrl-C (any Python signal handler that
/// raises) triggers the interrupt flag `f` passes to its fit, which stops within one
/// iteration, and the handler's exception (`KeyboardInterrupt`) is raised here.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    f: impl FnOnce(softclust::Interrupt) -> T + Send,
) -> PyResult<T> {
    interruptible_logged(py, n_threads, None, f)
}

/// Lines a fit reports as it goes (`verbose=`), printed with Python's `print` by the thread
/// that waits for the fit, so they appear while it runs and go wherever `sys.stdout` goes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Log(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    /// Queues one line.
    pub(crate) fn line(&self, s: String) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(s);
    }

    /// Prints the queued lines.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let lines: Vec<String> = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if lines.is_empty() {
            return Ok(());
        }
        let print = py.import("builtins")?.getattr("print")?;
        for l in lines {
            print.call1((l,))?;
        }
        Ok(())
    }
}

/// [`interruptible`], printing the lines `log` receives while the fit runs.
pub(crate) fn interruptible_logged<T: Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    log: Option<&Log>,
    f: impl FnOnce(softclust::Interrupt) -> T + Send,
) -> PyResult<T> {
    use std::sync::mpsc::{channel, RecvTimeoutError};
    let flag = softclust::Interrupt::new();
    let mut raised: Option<PyErr> = None;
    let out = py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = channel();
            let fit_flag = flag.clone();
            s.spawn(move || {
                let _ = tx.send(pooled(n_threads, move || f(fit_flag)));
            });
            loop {
                match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                    Ok(r) => return Some(r),
                    Err(RecvTimeoutError::Timeout) => {
                        if let Some(l) = log {
                            // A failing print (a closed stdout) never stops the fit.
                            let _ = Python::attach(|py| l.flush(py));
                        }
                        if raised.is_none() {
                            if let Err(e) = Python::attach(|py| py.check_signals()) {
                                raised = Some(e);
                                flag.trigger();
                            }
                        }
                    }
                    // The fit panicked; leaving the scope re-raises the panic.
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            }
        })
    });
    if let Some(l) = log {
        l.flush(py)?;
    }
    if let Some(e) = raised {
        return Err(e);
    }
    out.unwrap_or_else(|| Err(bad("the fit stopped unexpectedly")))
}

/// Runs `f` in a rayon pool of `n_threads` threads (all cores when `None`).
pub(crate) fn pooled<T: Send>(
    n_threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
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
pub(crate) enum Data<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

/// Dense (float64 or float32) or sparse CSR data.
#[derive(FromPyObject)]
pub(crate) enum Input<'py> {
    Dense(Data<'py>),
    Sparse(SparseData<'py>),
}

/// Calls `$body` with `$x` bound to an `ArrayView2<F>` of the data, for F = f64 or f32.
macro_rules! with_data {
    ($data:expr, $x:ident, $body:expr) => {
        match &$data {
            $crate::common::Data::F64(a) => {
                let $x = a.as_array();
                $body
            }
            $crate::common::Data::F32(a) => {
                let $x = a.as_array();
                $body
            }
        }
    };
}
pub(crate) use with_data;

/// Sample weights in the data's float type.
pub(crate) fn weights_as<F: Float>(w: &Option<Array1<f64>>) -> Option<Array1<F>> {
    w.as_ref().map(|w| w.mapv(F::of))
}

pub(crate) fn owned1(w: Option<PyReadonlyArray1<'_, f64>>) -> Option<Array1<f64>> {
    w.map(|w| w.as_array().to_owned())
}

pub(crate) fn labels_out(l: ArrayView1<'_, usize>) -> Array1<i64> {
    l.mapv(|v| v as i64)
}

/// A membership contract in f64 (a no-op for f64 data; float32 probabilities are widened, and
/// were normalised in f64).
pub(crate) fn membership_f64<F: Float>(m: Membership<F>) -> Membership<f64> {
    // float64 memberships are moved, not copied.
    let m = match (Box::new(m) as Box<dyn std::any::Any>).downcast::<Membership<f64>>() {
        Ok(m64) => return *m64,
        Err(other) => match other.downcast::<Membership<F>>() {
            Ok(m) => *m,
            Err(_) => unreachable!("the box holds a Membership<F>"),
        },
    };
    Membership {
        proba: m.proba.mapv(|v| v.as_f64()),
        label: m.label,
        max_p: m.max_p.mapv(|v| v.as_f64()),
        margin: m.margin.mapv(|v| v.as_f64()),
        entropy: m.entropy.mapv(|v| v.as_f64()),
    }
}

pub(crate) fn membership_dict<'py>(
    py: Python<'py>,
    m: Membership<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("proba", m.proba.into_pyarray(py))?;
    d.set_item("label", labels_out(m.label.view()).into_pyarray(py))?;
    d.set_item("max_p", m.max_p.into_pyarray(py))?;
    d.set_item("margin", m.margin.into_pyarray(py))?;
    d.set_item("entropy", m.entropy.into_pyarray(py))?;
    Ok(d)
}

pub(crate) fn typicality_dict<'py>(py: Python<'py>, t: Typicality) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("typicality", t.typicality.into_pyarray(py))?;
    d.set_item("log_typicality", t.log_typicality.into_pyarray(py))?;
    d.set_item("outlier", t.outlier.into_pyarray(py))?;
    Ok(d)
}

/// The core's defaults, so that the Python signatures and the CLI flags agree.
pub(crate) fn defaults<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    use softclust::{consensus, fcm, gmm, kmeans, soft};
    let d = PyDict::new(py);
    d.set_item("kmeans_max_iter", kmeans::defaults::MAX_ITER)?;
    d.set_item("kmeans_tol", kmeans::defaults::TOL)?;
    d.set_item("kmeans_random_n_init", kmeans::defaults::RANDOM_N_INIT)?;
    d.set_item("gmm_tol", gmm::defaults::TOL)?;
    d.set_item("gmm_reg_covar", gmm::defaults::REG_COVAR)?;
    d.set_item("gmm_max_iter", gmm::defaults::MAX_ITER)?;
    d.set_item("gmm_n_init", gmm::defaults::N_INIT)?;
    d.set_item("fcm_m", fcm::defaults::M)?;
    d.set_item("fcm_max_iter", fcm::defaults::MAX_ITER)?;
    d.set_item("fcm_tol", fcm::defaults::TOL)?;
    d.set_item("consensus_runs", consensus::defaults::RUNS)?;
    d.set_item("consensus_n_init", consensus::defaults::REFERENCE_N_INIT)?;
    d.set_item("far_value", soft::DEFAULT_FAR_VALUE)?;
    Ok(d)
}

/// A float64 or float32 vector.
#[derive(FromPyObject)]
pub(crate) enum Data1<'py> {
    F64(PyReadonlyArray1<'py, f64>),
    F32(PyReadonlyArray1<'py, f32>),
}

/// An int32 or int64 index vector (scipy uses either).
#[derive(FromPyObject)]
pub(crate) enum Index1<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

impl Index1<'_> {
    /// The entries as `usize`, converted in parallel (a negative entry is an error).
    fn to_usize(&self, what: &str) -> PyResult<Vec<usize>> {
        use rayon::prelude::*;
        let out: Result<Vec<usize>, i64> = match self {
            Index1::I32(a) => a
                .as_slice()?
                .par_iter()
                .map(|&v| usize::try_from(v).map_err(|_| i64::from(v)))
                .collect(),
            Index1::I64(a) => a
                .as_slice()?
                .par_iter()
                .map(|&v| usize::try_from(v).map_err(|_| v))
                .collect(),
        };
        out.map_err(|v| bad(format!("sparse data: negative {what} entry {v}")))
    }
}

/// Sparse data from Python as the tuple `(indptr, indices, data, n_rows, n_cols)` of a
/// canonical CSR matrix (int32 or int64 index arrays, float64 or float32 values).
#[derive(FromPyObject)]
pub(crate) struct SparseData<'py>(
    pub Index1<'py>,
    pub Index1<'py>,
    pub Data1<'py>,
    pub usize,
    pub usize,
);

impl SparseData<'_> {
    /// The row pointers as `usize` and the column indices as `u32`: int32 indices are
    /// borrowed as they are (after a check that none is negative), int64 ones converted.
    pub(crate) fn index(&self) -> PyResult<(Vec<usize>, std::borrow::Cow<'_, [u32]>)> {
        use rayon::prelude::*;
        use std::borrow::Cow;
        let indptr = self.0.to_usize("indptr")?;
        let indices = match &self.1 {
            Index1::I32(a) => {
                let v = a.as_slice()?;
                if let Some(&bad_v) = v.par_iter().find_any(|&&c| c < 0) {
                    return Err(bad(format!("sparse data: negative indices entry {bad_v}")));
                }
                Cow::Borrowed(bytemuck::cast_slice::<i32, u32>(v))
            }
            Index1::I64(a) => {
                let out: Result<Vec<u32>, i64> = a
                    .as_slice()?
                    .par_iter()
                    .map(|&c| u32::try_from(c).map_err(|_| c))
                    .collect();
                Cow::Owned(out.map_err(|c| {
                    bad(format!(
                        "sparse data: column index {c} is negative or beyond 2^32"
                    ))
                })?)
            }
        };
        Ok((indptr, indices))
    }
}

/// Calls `$body` with `$csr` bound to the `softclust::sparse::Csr<F>` of `$s` (F = f64 or
/// f32), its index arrays converted once into `$ip`, `$ix`.
macro_rules! with_csr {
    ($s:expr, $csr:ident, $body:expr) => {{
        let (ip, ix) = $s.index()?;
        match &$s.2 {
            $crate::common::Data1::F64(a) => {
                let v = a.as_slice()?;
                let $csr = softclust::sparse::Csr::new($s.3, $s.4, &ip, &ix, v)
                    .map_err($crate::common::err)?;
                $body
            }
            $crate::common::Data1::F32(a) => {
                let v = a.as_slice()?;
                let $csr = softclust::sparse::Csr::new($s.3, $s.4, &ip, &ix, v)
                    .map_err($crate::common::err)?;
                $body
            }
        }
    }};
}
pub(crate) use with_csr;
