//! Soft assignment: the options dict the estimators and `soft_assign` pass, lowered into the
//! core's `SoftSpec` (so anchors and method names are parsed by the core, once), and
//! memberships from distances the user brings.

use crate::common::{bad, err, membership_dict, parse};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use softclust::{Anchor, DistanceKind, FittedSoft, SoftSpec};

/// The soft options as Python passes them (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct SoftOptions {
    method: String,
    sigma: Option<f64>,
    power: Option<f64>,
    per_cluster_variance: bool,
    size_weights: bool,
    temperature: f64,
    near: Option<String>,
    half: Option<String>,
    far: Option<String>,
    far_value: f64,
}

impl SoftOptions {
    pub fn spec(&self) -> PyResult<SoftSpec> {
        let anchor = |a: &Option<String>| -> PyResult<Option<Anchor>> {
            a.as_deref().map(parse::<Anchor>).transpose()
        };
        Ok(SoftSpec {
            kind: parse(&self.method.replace('_', "-"))?,
            sigma: self.sigma,
            power: self.power,
            per_cluster_variance: self.per_cluster_variance,
            size_weights: self.size_weights,
            temperature: self.temperature,
            near: anchor(&self.near)?,
            half: anchor(&self.half)?,
            far: anchor(&self.far)?,
            far_value: self.far_value,
        })
    }
}

/// A fitted soft step as a dict: method, sigma, weights, power, anchors.
pub fn describe<'py>(py: Python<'py>, f: &FittedSoft) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("method", f.method_name())?;
    d.set_item("sigma", f.sigma().map(|s| s.to_vec()))?;
    d.set_item("weights", f.weights())?;
    d.set_item("power", f.power())?;
    d.set_item("anchors", f.anchors())?;
    let est = f.estimated_dimension();
    d.set_item("estimated_dim", est.map(|e| e.dim))?;
    d.set_item("estimated_sigma", est.map(|e| e.sigma))?;
    match f.choice() {
        Some(c) => {
            let rows = pyo3::types::PyList::empty(py);
            for k in &c.candidates {
                let r = PyDict::new(py);
                r.set_item("per_cluster_variance", k.per_cluster_variance)?;
                r.set_item("size_weights", k.size_weights)?;
                r.set_item("log_likelihood", k.log_likelihood)?;
                r.set_item("n_parameters", k.n_parameters)?;
                r.set_item("bic", k.bic)?;
                rows.append(r)?;
            }
            d.set_item("auto_candidates", rows)?;
            d.set_item("auto_chosen", c.chosen)?;
        }
        None => {
            d.set_item("auto_candidates", py.None())?;
            d.set_item("auto_chosen", py.None())?;
        }
    }
    Ok(d)
}

/// Fits a soft step on a distance matrix and returns the memberships of its rows (plus the
/// anchored method's raw `scores`, and the fitted step under `soft`).
#[pyfunction]
#[pyo3(signature = (distances, squared, options, n_features=None, sample_weight=None))]
pub fn soft_assign<'py>(
    py: Python<'py>,
    distances: PyReadonlyArray2<'py, f64>,
    squared: bool,
    options: SoftOptions,
    n_features: Option<usize>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let method = options.spec()?.method();
    let kind = if squared {
        DistanceKind::Squared
    } else {
        DistanceKind::Euclidean
    };
    let d = distances.as_array();
    if d.ncols() == 0 {
        return Err(bad("the distance matrix has no columns (one per cluster)"));
    }
    let w = sample_weight.as_ref().map(|w| w.as_array());
    let (fitted, m, scores) = py
        .detach(|| -> softclust::Result<_> {
            let f = method.fit(d, kind, n_features, w)?;
            let m = f.memberships(d, kind)?;
            let s = f.anchored_scores(d, kind)?;
            Ok((f, m, s))
        })
        .map_err(err)?;
    let out = membership_dict(py, m)?;
    if let Some(s) = scores {
        out.set_item("scores", s.into_pyarray(py))?;
    }
    out.set_item("soft", describe(py, &fitted)?)?;
    Ok(out)
}
