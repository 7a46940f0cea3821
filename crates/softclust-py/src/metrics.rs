//! Membership metrics (`softclust.metrics`): the core computes, Python names the classes.

use crate::common::err;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use softclust::metrics::{score_against_labels, FuzzyRand};

fn option_index(v: &[Option<usize>]) -> Vec<i64> {
    v.iter()
        .map(|c| c.map_or(-1, |j| i64::try_from(j).unwrap_or(i64::MAX)))
        .collect()
}

/// Scores memberships against class indices `0..n_classes` (Python maps the labels to them):
/// the matching (`cluster_of_class`, `class_of_cluster`, -1 where none), the contingency
/// table, log-loss, Brier, accuracy, ECE, ARI and the reliability table as arrays.
#[pyfunction]
#[pyo3(signature = (proba, labels, n_classes, n_bins))]
pub fn score_labels<'py>(
    py: Python<'py>,
    proba: PyReadonlyArray2<'py, f64>,
    labels: PyReadonlyArray1<'py, i64>,
    n_classes: usize,
    n_bins: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let p = proba.as_array();
    let l: Vec<usize> = labels
        .as_array()
        .iter()
        .map(|&v| usize::try_from(v).unwrap_or(usize::MAX))
        .collect();
    let s = py
        .detach(|| score_against_labels(p, &l, n_classes, n_bins))
        .map_err(err)?;
    let d = PyDict::new(py);
    d.set_item("log_loss", s.log_loss)?;
    d.set_item("brier", s.brier)?;
    d.set_item("accuracy", s.accuracy)?;
    d.set_item("ece", s.ece)?;
    d.set_item("ari", s.ari)?;
    d.set_item(
        "cluster_of_class",
        option_index(&s.matching.cluster_of_class),
    )?;
    d.set_item(
        "class_of_cluster",
        option_index(&s.matching.class_of_cluster),
    )?;
    d.set_item("contingency", s.matching.contingency.into_pyarray(py))?;
    let r = &s.reliability;
    d.set_item("bin_lower", r.iter().map(|b| b.lower).collect::<Vec<_>>())?;
    d.set_item("bin_upper", r.iter().map(|b| b.upper).collect::<Vec<_>>())?;
    d.set_item("bin_count", r.iter().map(|b| b.count).collect::<Vec<_>>())?;
    d.set_item(
        "bin_confidence",
        r.iter().map(|b| b.mean_confidence).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "bin_accuracy",
        r.iter().map(|b| b.accuracy).collect::<Vec<_>>(),
    )?;
    Ok(d)
}

/// The fuzzy Rand index of two membership matrices, its exact adjusted form, the expected
/// index and the number of points used.
#[pyfunction]
#[pyo3(signature = (p, q, max_points, seed))]
pub fn fuzzy_rand<'py>(
    py: Python<'py>,
    p: PyReadonlyArray2<'py, f64>,
    q: PyReadonlyArray2<'py, f64>,
    max_points: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let (pa, qa) = (p.as_array(), q.as_array());
    let r = py
        .detach(|| {
            FuzzyRand::new()
                .max_points(max_points)
                .seed(seed)
                .compute(pa, qa)
        })
        .map_err(err)?;
    let d = PyDict::new(py);
    d.set_item("index", r.index)?;
    d.set_item("adjusted", r.adjusted)?;
    d.set_item("expected", r.expected)?;
    d.set_item("n_points", r.n_points)?;
    Ok(d)
}
