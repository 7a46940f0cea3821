//! Fuzzy c-means: the fit returns the model as a `Model` value.

use crate::common::{err, interruptible, owned1, weights_as, with_csr, with_data, Data, Input};
use crate::model::PyModel;
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use softclust::fcm::{FcmInit, FuzzyCMeans};
use softclust::{Float, Model};

/// Everything that configures a fuzzy c-means fit, as Python passes it (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct FcmConfig<'py> {
    n_clusters: usize,
    m: f64,
    max_iter: usize,
    tol: f64,
    seed: u64,
    init_centers: Option<PyReadonlyArray2<'py, f64>>,
}

/// Fits fuzzy c-means.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, config, n_threads=None))]
pub fn fcm_fit<'py>(
    py: Python<'py>,
    x: Input<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    config: FcmConfig<'py>,
    n_threads: Option<usize>,
) -> PyResult<PyModel> {
    let w = owned1(sample_weight);
    let c0 = config.init_centers.map(|c| c.as_array().to_owned());
    let (k, m, max_iter, tol, seed) = (
        config.n_clusters,
        config.m,
        config.max_iter,
        config.tol,
        config.seed,
    );
    let d = match &x {
        Input::Dense(Data::F64(a)) => a.as_array().ncols(),
        Input::Dense(Data::F32(a)) => a.as_array().ncols(),
        Input::Sparse(s) => s.4,
    };
    // One fit for every kind of input: `$fit(config, weights)`.
    macro_rules! fit_with {
        ($fit:expr) => {
            interruptible(py, n_threads, |stop| {
                let mut f = FuzzyCMeans::new(k)
                    .m(m)
                    .max_iter(max_iter)
                    .tol(tol)
                    .seed(seed)
                    .interrupt(stop);
                if let Some(c) = &c0 {
                    f = f.init(FcmInit::Centers(c.mapv(Float::of)));
                }
                let wf = weights_as(&w);
                $fit(&f, wf.as_ref().map(|w| w.view()))
                    .map(|model| PyModel::fitted(Model::Fcm(model), d))
            })
        };
    }
    match &x {
        Input::Dense(data) => with_data!(data, xv, {
            fit_with!(|f: &FuzzyCMeans<_>, w| f.fit(xv, w))
        }),
        Input::Sparse(sp) => with_csr!(sp, csr, {
            fit_with!(|f: &FuzzyCMeans<_>, w| f.fit_sparse(&csr, w))
        }),
    }?
    .map_err(err)
}
