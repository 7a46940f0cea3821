//! `softclust._softclust`: thin PyO3 glue over the Rust core, one file per domain. Arrays come
//! in as numpy views (float64 or float32, no copy when C-contiguous), every computation runs
//! with the GIL released inside a rayon pool of the requested size, and results go back as
//! numpy arrays. A fitted model crosses the boundary as a [`model::PyModel`] value (the core's
//! `ModelFile`: model, scaler, feature names), held by the Python estimator and never rebuilt
//! per call; configurations come in as dicts read item by item. Core errors become
//! `SoftclustError`, a `ValueError` subclass, with the core's message.

mod blocks;
mod common;
mod consensus;
mod fcm;
mod gmm;
mod kmeans;
mod metrics;
mod model;
mod soft;

use common::SoftclustError;
use pyo3::prelude::*;

#[pymodule]
fn _softclust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SoftclustError", py.get_type::<SoftclustError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULTS", common::defaults(py)?)?;
    m.add_class::<model::PyModel>()?;
    m.add_function(wrap_pyfunction!(model::model_from_json, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans::kmeans_fit, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans::kmeans_select_k, m)?)?;
    m.add_function(wrap_pyfunction!(soft::soft_assign, m)?)?;
    m.add_function(wrap_pyfunction!(gmm::gmm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(gmm::gmm_select, m)?)?;
    m.add_function(wrap_pyfunction!(fcm::fcm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(consensus::consensus_fit, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::score_labels, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::fuzzy_rand, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::block_column_stats, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_block_stats, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_block_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_block_deviations, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_block_auto_soft, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_block_parallel_sample, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_fit_blocks, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::gmm_block_stats, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::gmm_fit_blocks, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::fcm_block_stats, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::fcm_block_final, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::fcm_fit_blocks, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::gmm_model_from_parameters, m)?)?;
    m.add_function(wrap_pyfunction!(
        blocks::gmm_model_from_responsibilities,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(blocks::gmm_batch_moments, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::kmeans_model_from_stats, m)?)?;
    Ok(())
}
