//! Consensus k-means: the fit returns the model as a `Model` value (training counts included
//! until it is saved or pickled).

use crate::common::{err, interruptible, with_data, Data};
use crate::model::PyModel;
use pyo3::prelude::*;
use softclust::consensus::{ConsensusKMeans, Resample};
use softclust::Model;

/// Everything that configures a consensus fit, as Python passes it (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct ConsensusConfig {
    n_clusters: usize,
    runs: usize,
    /// `bootstrap`, `subsample:F` or `reseed` (the core's names).
    resample: String,
    seed: u64,
    reference_n_init: usize,
    max_iter: usize,
    tol: f64,
}

/// Fits consensus k-means.
#[pyfunction]
#[pyo3(signature = (x, config, n_threads=None))]
pub fn consensus_fit<'py>(
    py: Python<'py>,
    x: Data<'py>,
    config: ConsensusConfig,
    n_threads: Option<usize>,
) -> PyResult<PyModel> {
    let scheme: Resample = crate::common::parse(&config.resample)?;
    let cfg = ConsensusKMeans::new(config.n_clusters)
        .runs(config.runs)
        .resample(scheme)
        .seed(config.seed)
        .reference_n_init(config.reference_n_init)
        .max_iter(config.max_iter)
        .tol(config.tol);
    with_data!(x, xv, {
        interruptible(py, n_threads, |stop| {
            cfg.clone()
                .interrupt(stop)
                .fit(xv)
                .map(|m| PyModel::fitted(Model::Consensus(m), xv.ncols()))
        })
    })?
    .map_err(err)
}
