//! `Model`: a fitted model as a Python value. It holds the core's `ModelFile` (the model, the
//! scaler its inputs go through, feature names), so that the estimators score data without
//! rebuilding or re-validating anything, pickle as the model file's JSON, and save and load
//! the same files as the CLI.

use crate::common::{
    err, labels_out, membership_dict, membership_f64, pooled, typicality_dict, with_csr, with_data,
    Data, Input,
};
use ndarray::{Array1, ArrayView2, CowArray, Ix2};
use numpy::{IntoPyArray, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use softclust::gmm::CovMatrices;
use softclust::sparse::Csr;
use softclust::{
    ClusterModel, Float, GaussianMixtureModel, Membership, Model, ModelFile, Scaler, Spread, TopK,
};
use std::any::Any;
use std::sync::OnceLock;

/// Runs `$dense` (with `$xv` the dense view) or `$sparse` (with `$csr` the CSR view) on the
/// input without the GIL, on `$n_threads` threads.
macro_rules! on_input {
    ($py:ident, $x:expr, $n_threads:expr, |$xv:ident| $dense:expr, |$csr:ident| $sparse:expr) => {
        match &$x {
            Input::Dense(d) => with_data!(d, $xv, { $py.detach(|| pooled($n_threads, || $dense)) }),
            Input::Sparse(s) => {
                with_csr!(s, $csr, { $py.detach(|| pooled($n_threads, || $sparse)) })
            }
        }
    };
}

/// A fitted softclust model (k-means with its soft step, Gaussian mixture, fuzzy c-means or
/// consensus k-means) with its scaler and feature names.
#[pyclass(name = "Model", module = "softclust._softclust", frozen)]
pub struct PyModel {
    file: ModelFile,
    /// The float32 twin of the model, made on first float32 input (or kept from a float32
    /// fit, so that its predictions are exactly the fit's).
    m32: OnceLock<Model<f32>>,
}

impl PyModel {
    /// A model fitted in the estimator on raw (unscaled) data of `d` features.
    pub(crate) fn fitted<F: Float>(model: Model<F>, d: usize) -> Self {
        let m32 = OnceLock::new();
        // A float64 fit is kept as it is; a float32 fit is kept too, beside its float64 copy.
        let m64 = match (Box::new(model) as Box<dyn Any>).downcast::<Model<f64>>() {
            Ok(m) => *m,
            Err(other) => match other.downcast::<Model<f32>>() {
                Ok(m) => {
                    let m64 = m.cast::<f64>();
                    let _ = m32.set(*m);
                    m64
                }
                Err(_) => unreachable!("Float is implemented for f32 and f64 only"),
            },
        };
        let names = (0..d).map(|j| format!("x{j}")).collect();
        PyModel {
            file: ModelFile::new(names, Scaler::identity(d), None, m64),
            m32,
        }
    }

    /// The model in the data's float type.
    fn model<F: Float>(&self) -> &Model<F> {
        let any: &dyn Any = if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>() {
            &self.file.model
        } else {
            self.m32.get_or_init(|| self.file.model.cast())
        };
        #[allow(clippy::expect_used)]
        any.downcast_ref::<Model<F>>()
            .expect("Float is implemented for f32 and f64 only")
    }

    /// `x` in the model's units: as given when there is no scaler (no copy).
    fn scaled<'a, F: Float>(
        &self,
        x: ArrayView2<'a, F>,
    ) -> softclust::Result<CowArray<'a, F, Ix2>> {
        if self.file.scaler.method() == softclust::Standardize::None {
            return Ok(CowArray::from(x));
        }
        Ok(CowArray::from(self.file.scaler.cast::<F>().transform(x)?))
    }

    /// `auto`'s log-likelihoods on a block of data in the model's units (a k-means model).
    pub(crate) fn kmeans_auto_block<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        w: Option<ndarray::ArrayView1<'_, F>>,
    ) -> softclust::Result<Vec<f64>> {
        match self.model::<F>() {
            Model::Kmeans(m) => Ok(m.auto_soft_log_likelihoods(x, w)?.to_vec()),
            other => Err(softclust::Error::InvalidModel {
                reason: format!("this is a {} model, not k-means", other.kind_name()),
            }),
        }
    }

    pub(crate) fn gmm(&self) -> PyResult<&GaussianMixtureModel> {
        match &self.file.model {
            Model::Gmm(m) => Ok(m),
            other => Err(crate::common::bad(format!(
                "this is a {} model, not a Gaussian mixture",
                other.kind_name()
            ))),
        }
    }

    /// The model in the data's float type, for sparse rows: they cannot go through a scaler
    /// that centres them (a standardised model from the CLI), so that is an error.
    fn sparse_model<F: Float>(&self) -> softclust::Result<&Model<F>> {
        if self.file.scaler.method() != softclust::Standardize::None {
            return Err(softclust::Error::InvalidModel {
                reason: "this model standardises its inputs, which would make sparse data \
                         dense; pass a dense array (X.toarray()) or fit without --standardize"
                    .into(),
            });
        }
        Ok(self.model::<F>())
    }

    fn sparse_memberships_of<F: Float>(
        &self,
        x: &Csr<'_, F>,
    ) -> softclust::Result<(Membership<f64>, Option<ndarray::Array2<f64>>)> {
        let model = self.sparse_model::<F>()?;
        let m = membership_f64(model.memberships_sparse(x)?);
        let scores = match model {
            Model::Kmeans(k) => k.anchored_scores_sparse(x)?,
            _ => None,
        };
        Ok((m, scores))
    }

    fn memberships_of<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
    ) -> softclust::Result<(Membership<f64>, Option<ndarray::Array2<f64>>)> {
        let z = self.scaled(x)?;
        let model = self.model::<F>();
        let m = membership_f64(model.memberships(z.view())?);
        let scores = match model {
            Model::Kmeans(k) => k.anchored_scores(z.view())?,
            _ => None,
        };
        Ok((m, scores))
    }

    fn top_k_of<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
        k_top: usize,
    ) -> softclust::Result<TopK<f64>> {
        let z = self.scaled(x)?;
        let model = self.model::<F>();
        Ok(top_k_f64(softclust::top_k(
            model,
            z.view(),
            k_top,
            model.has_noise(),
        )?))
    }

    fn sparse_top_k_of<F: Float>(
        &self,
        x: &Csr<'_, F>,
        k_top: usize,
    ) -> softclust::Result<TopK<f64>> {
        Ok(top_k_f64(self.sparse_model::<F>()?.top_k_sparse(x, k_top)?))
    }

    fn transform_of<F: Float>(
        &self,
        x: ArrayView2<'_, F>,
    ) -> softclust::Result<ndarray::Array2<f64>> {
        let z = self.scaled(x)?;
        let d = match self.model::<F>() {
            Model::Kmeans(m) => m.transform(z.view())?,
            Model::Fcm(m) => m.transform(z.view())?,
            Model::Consensus(m) => m.reference().transform(z.view())?,
            Model::Gmm(_) => {
                return Err(softclust::Error::InvalidModel {
                    reason: "a Gaussian mixture has no centre distances (use mahalanobis)".into(),
                })
            }
            _ => {
                return Err(softclust::Error::InvalidModel {
                    reason: "unknown model kind".into(),
                })
            }
        };
        Ok(d.mapv(|v| v.as_f64()))
    }
}

/// The top-K answer in f64.
fn top_k_f64<F: Float>(t: TopK<F>) -> TopK<f64> {
    TopK {
        index: t.index,
        proba: t.proba.mapv(|v| v.as_f64()),
        label: t.label,
        max_p: t.max_p.mapv(|v| v.as_f64()),
        margin: t.margin.mapv(|v| v.as_f64()),
        entropy: t.entropy.mapv(|v| v.as_f64()),
        noise: t.noise.map(|v| v.mapv(|p| p.as_f64())),
        n_clusters: t.n_clusters,
    }
}

pub(crate) fn cov_to_py<'py>(py: Python<'py>, c: CovMatrices) -> Bound<'py, PyArrayDyn<f64>> {
    match c {
        CovMatrices::Full(a) => a.into_dyn().into_pyarray(py),
        CovMatrices::Tied(a) | CovMatrices::Diag(a) => a.into_dyn().into_pyarray(py),
        CovMatrices::Spherical(a) => a.into_dyn().into_pyarray(py),
    }
}

/// A mixture's fitted attributes (scikit-learn's names without the trailing underscore).
pub(crate) fn gmm_params<'py>(
    py: Python<'py>,
    m: &GaussianMixtureModel,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let dg = m.diagnostics();
    d.set_item("n_components", m.n_components())?;
    d.set_item("covariance_type", m.covariance_type().name())?;
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
    d.set_item("n_parameters", m.n_parameters())?;
    d.set_item("noise_weight", m.noise().map(|n| n.log_weight.exp()))?;
    Ok(d)
}

/// Isotropic and diagonal spread variances (`None` without training statistics).
fn spreads(
    s: impl Fn(Spread) -> softclust::Result<softclust::typicality::ClusterSpread>,
) -> Option<(Array1<f64>, ndarray::Array2<f64>)> {
    let iso = s(Spread::Isotropic).ok()?;
    let diag = s(Spread::Diagonal).ok()?;
    Some((
        iso.variances().column(0).to_owned(),
        diag.variances().to_owned(),
    ))
}

#[pymethods]
impl PyModel {
    /// This k-means model with the soft step `auto` chooses from the training
    /// log-likelihoods `ll` (the sums of `kmeans_block_auto_soft` over the blocks).
    fn with_auto_soft(&self, ll: Vec<f64>, soft: crate::soft::SoftOptions) -> PyResult<PyModel> {
        let method = soft.spec()?.method();
        let ll: [f64; 4] = ll
            .try_into()
            .map_err(|_| crate::common::bad("ll must hold the four variants' log-likelihoods"))?;
        let Model::Kmeans(m) = &self.file.model else {
            return Err(crate::common::bad(format!(
                "this is a {} model, not k-means",
                self.file.model.kind_name()
            )));
        };
        let fitted = m.auto_soft(&method, ll).map_err(err)?;
        let mut file = self.file.clone();
        file.model = Model::Kmeans(m.clone().with_soft(fitted.clone()).map_err(err)?);
        let m32 = OnceLock::new();
        if let Some(Model::Kmeans(m)) = self.m32.get() {
            let _ = m32.set(Model::Kmeans(m.clone().with_soft(fitted).map_err(err)?));
        }
        Ok(PyModel { file, m32 })
    }

    /// `kmeans`, `gmm`, `fcm` or `consensus`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.file.model.kind()
    }

    /// Membership columns (clusters, plus a noise column for a mixture with noise).
    #[getter]
    fn n_clusters(&self) -> usize {
        ClusterModel::<f64>::n_clusters(&self.file.model)
    }

    /// Features the model takes.
    #[getter]
    fn n_features(&self) -> usize {
        self.file.scaler.n_features()
    }

    /// Feature names stored with the model.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.file.feature_names.clone()
    }

    /// The scaler inputs go through: `(method, center, scale)`.
    fn scaler<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        &'static str,
        Bound<'py, numpy::PyArray1<f64>>,
        Bound<'py, numpy::PyArray1<f64>>,
    ) {
        let s = &self.file.scaler;
        (
            s.method().name(),
            s.center().to_owned().into_pyarray(py),
            s.scale().to_owned().into_pyarray(py),
        )
    }

    /// The membership contract of `x` (plus the anchored soft step's raw `scores`); `x` dense
    /// or sparse (k-means and fuzzy c-means).
    #[pyo3(signature = (x, n_threads=None))]
    fn memberships<'py>(
        &self,
        py: Python<'py>,
        x: Input<'py>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (m, scores) = on_input!(py, x, n_threads, |xv| self.memberships_of(xv), |csr| self
            .sparse_memberships_of(&csr))?
        .map_err(err)?;
        let d = membership_dict(py, m)?;
        if let Some(s) = scores {
            d.set_item("scores", s.into_pyarray(py))?;
        }
        Ok(d)
    }

    /// The `k_top` largest memberships of every row (`index`, `proba`, `n x k_top`) with the
    /// full rows' label, max_p, margin and entropy, and a noise component's probability
    /// (`noise`); computed in row chunks, never as the dense `n x k` matrix.
    #[pyo3(signature = (x, k_top, n_threads=None))]
    fn top_k<'py>(
        &self,
        py: Python<'py>,
        x: Input<'py>,
        k_top: usize,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let t = on_input!(py, x, n_threads, |xv| self.top_k_of(xv, k_top), |csr| self
            .sparse_top_k_of(&csr, k_top))?
        .map_err(err)?;
        let d = PyDict::new(py);
        d.set_item("index", t.index.mapv(|v| v as i64).into_pyarray(py))?;
        d.set_item("proba", t.proba.into_pyarray(py))?;
        d.set_item("label", labels_out(t.label.view()).into_pyarray(py))?;
        d.set_item("max_p", t.max_p.into_pyarray(py))?;
        d.set_item("margin", t.margin.into_pyarray(py))?;
        d.set_item("entropy", t.entropy.into_pyarray(py))?;
        d.set_item("noise", t.noise.map(|v| v.into_pyarray(py)))?;
        d.set_item("n_clusters", t.n_clusters)?;
        Ok(d)
    }

    /// The most probable cluster of every row (dense or sparse rows).
    #[pyo3(signature = (x, n_threads=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: Input<'py>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, numpy::PyArray1<i64>>> {
        let l = on_input!(
            py,
            x,
            n_threads,
            |xv| {
                let z = self.scaled(xv)?;
                self.model().predict(z.view())
            },
            |csr| self.sparse_model()?.predict_sparse(&csr)
        )?
        .map_err(err)?;
        Ok(labels_out(l.view()).into_pyarray(py))
    }

    /// Probabilities only, written once into `out` (an `n x k` float64 C-contiguous, writeable
    /// array the caller may reuse) or into a new NumPy array (NumPy's allocator, which asks
    /// for huge pages): distances or densities, log-scores and normalisation are fused per
    /// row block, so nothing `n x k` is allocated besides the output.
    #[pyo3(signature = (x, n_threads=None, out=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: Input<'py>,
        n_threads: Option<usize>,
        out: Option<Bound<'py, PyArray2<f64>>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let n = match &x {
            Input::Dense(d) => with_data!(d, xv, xv.nrows()),
            Input::Sparse(s) => s.3,
        };
        let k = self.file.model.n_clusters();
        let out = match out {
            Some(o) => o,
            None => PyArray2::<f64>::zeros(py, [n, k], false),
        };
        {
            let mut rw = out.try_readwrite().map_err(|e| {
                crate::common::bad(format!("out must be a writeable float64 array: {e}"))
            })?;
            let view = rw.as_array_mut();
            on_input!(
                py,
                x,
                n_threads,
                |xv| {
                    let z = self.scaled(xv)?;
                    self.model().predict_proba_into(z.view(), view)
                },
                |csr| {
                    let m = membership_f64(self.sparse_model()?.memberships_sparse(&csr)?);
                    let mut view = view;
                    if view.dim() != m.proba.dim() {
                        return Err(softclust::Error::ShapeMismatch {
                            what: "output array",
                            expected: format!("{} x {} (rows x clusters)", n, k),
                            found: format!("{} x {}", view.nrows(), view.ncols()),
                        });
                    }
                    view.assign(&m.proba);
                    Ok(())
                }
            )?
            .map_err(err)?;
        }
        Ok(out)
    }

    /// Euclidean distances to the centres (k-means, fuzzy c-means, consensus reference; dense
    /// or sparse rows for the first two).
    #[pyo3(signature = (x, n_threads=None))]
    fn transform<'py>(
        &self,
        py: Python<'py>,
        x: Input<'py>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
        let d = on_input!(py, x, n_threads, |xv| self.transform_of(xv), |csr| {
            self.sparse_model()?
                .squared_distances_sparse(&csr)
                .map(|d| d.mapv(f64::sqrt))
        })?
        .map_err(err)?;
        Ok(d.into_pyarray(py))
    }

    /// Chi-square typicality and the outlier score (`spread`: isotropic or diagonal, for the
    /// centroid models).
    #[pyo3(signature = (x, spread="isotropic", n_threads=None))]
    fn typicality<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        spread: &str,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let spread: Spread = crate::common::parse(spread)?;
        let t = with_data!(x, xv, {
            py.detach(|| {
                pooled(n_threads, || {
                    let z = self.scaled(xv)?;
                    self.model().typicality(z.view(), spread)
                })
            })
        })?
        .map_err(err)?;
        typicality_dict(py, t)
    }

    /// Consensus: how many runs put each row in each cluster.
    #[pyo3(signature = (x, n_threads=None))]
    fn predict_counts<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, numpy::PyArray2<i64>>> {
        let c = with_data!(x, xv, {
            py.detach(|| {
                pooled(n_threads, || match self.model() {
                    Model::Consensus(m) => {
                        let z = self.scaled(xv)?;
                        m.predict_counts(z.view())
                    }
                    other => Err(softclust::Error::InvalidModel {
                        reason: format!("a {} model has no run counts", other.kind_name()),
                    }),
                })
            })
        })?
        .map_err(err)?;
        Ok(c.mapv(i64::from).into_pyarray(py))
    }

    /// Gaussian mixture: `(log_resp, log_prob)` from one E-step.
    #[pyo3(signature = (x, n_threads=None))]
    #[allow(clippy::type_complexity)]
    fn score_samples_and_log_proba<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        n_threads: Option<usize>,
    ) -> PyResult<(
        Bound<'py, numpy::PyArray2<f64>>,
        Bound<'py, numpy::PyArray1<f64>>,
    )> {
        let g = self.gmm()?;
        let (ln, lr) = with_data!(x, xv, {
            py.detach(|| {
                pooled(n_threads, || {
                    let z = self.scaled(xv)?;
                    g.score_samples_and_log_proba(z.view())
                })
            })
        })?
        .map_err(err)?;
        Ok((lr.into_pyarray(py), ln.into_pyarray(py)))
    }

    /// Gaussian mixture: log-likelihood, mean log-likelihood, BIC, AIC, ICL (one E-step, with
    /// optional sample weights).
    #[pyo3(signature = (x, sample_weight=None, n_threads=None))]
    fn criteria<'py>(
        &self,
        py: Python<'py>,
        x: Data<'py>,
        sample_weight: Option<PyReadonlyArray1<'py, f64>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let g = self.gmm()?;
        let w = crate::common::owned1(sample_weight);
        let c = with_data!(x, xv, {
            py.detach(|| {
                pooled(n_threads, || {
                    let z = self.scaled(xv)?;
                    let wf = crate::common::weights_as(&w);
                    g.criteria(z.view(), wf.as_ref().map(|w| w.view()))
                })
            })
        })?
        .map_err(err)?;
        let d = PyDict::new(py);
        d.set_item("log_likelihood", c.log_likelihood)?;
        d.set_item("mean_log_likelihood", c.mean_log_likelihood)?;
        d.set_item("total_weight", c.total_weight)?;
        d.set_item("n_parameters", c.n_parameters)?;
        d.set_item("bic", c.bic)?;
        d.set_item("aic", c.aic)?;
        d.set_item("icl", c.icl)?;
        Ok(d)
    }

    /// Gaussian mixture: draws `n` points, `(X, component)`, in the model's units.
    #[allow(clippy::type_complexity)]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> PyResult<(
        Bound<'py, numpy::PyArray2<f64>>,
        Bound<'py, numpy::PyArray1<i64>>,
    )> {
        let g = self.gmm()?;
        let (xs, ys) = py.detach(|| g.sample(n, seed));
        Ok((xs.into_pyarray(py), labels_out(ys.view()).into_pyarray(py)))
    }

    /// The fitted attributes, by kind (centres, weights, diagnostics, ...).
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = match &self.file.model {
            Model::Kmeans(m) => {
                let d = PyDict::new(py);
                let dg = m.diagnostics();
                d.set_item("cluster_centers", m.centers().to_owned().into_pyarray(py))?;
                d.set_item("inertia", m.inertia())?;
                d.set_item("n_iter", dg.n_iter)?;
                d.set_item("converged", dg.converged)?;
                d.set_item("inertia_history", dg.inertia_history.clone())?;
                d.set_item("run_inertia", dg.run_inertia.clone())?;
                if !m.labels().is_empty() {
                    d.set_item("labels", labels_out(m.labels()).into_pyarray(py))?;
                }
                if let Some(s) = m.soft() {
                    d.set_item("soft", crate::soft::describe(py, s)?)?;
                }
                if let Some((iso, diag)) = spreads(|k| m.spread(k)) {
                    d.set_item("cluster_variances", iso.into_pyarray(py))?;
                    d.set_item("cluster_feature_variances", diag.into_pyarray(py))?;
                }
                d
            }
            Model::Gmm(m) => gmm_params(py, m)?,
            Model::Fcm(m) => {
                let d = PyDict::new(py);
                let dg = m.diagnostics();
                d.set_item("cluster_centers", m.centers().to_owned().into_pyarray(py))?;
                d.set_item("m", m.m())?;
                d.set_item("n_iter", dg.n_iter)?;
                d.set_item("converged", dg.converged)?;
                d.set_item("objective", dg.objective.clone())?;
                d.set_item("partition_coefficient", dg.partition_coefficient)?;
                d.set_item("partition_entropy", dg.partition_entropy)?;
                if m.training_memberships().nrows() > 0 {
                    d.set_item(
                        "memberships",
                        m.training_memberships().to_owned().into_pyarray(py),
                    )?;
                    d.set_item("labels", labels_out(m.training_labels()).into_pyarray(py))?;
                }
                if let Some((iso, diag)) = spreads(|k| m.spread(k)) {
                    d.set_item("cluster_variances", iso.into_pyarray(py))?;
                    d.set_item("cluster_feature_variances", diag.into_pyarray(py))?;
                }
                d
            }
            Model::Consensus(m) => {
                let d = PyDict::new(py);
                d.set_item(
                    "reference_centers",
                    m.reference().centers().to_owned().into_pyarray(py),
                )?;
                d.set_item("run_centers", m.run_centers().to_owned().into_pyarray(py))?;
                d.set_item("stability", m.stability().to_owned().into_pyarray(py))?;
                d.set_item("n_iter", m.reference().diagnostics().n_iter)?;
                if m.counts().nrows() > 0 {
                    let (lo, hi) = m.top_probability_intervals();
                    d.set_item("counts", m.counts().mapv(i64::from).into_pyarray(py))?;
                    d.set_item("training", membership_dict(py, m.memberships())?)?;
                    d.set_item("max_p_low", lo.into_pyarray(py))?;
                    d.set_item("max_p_high", hi.into_pyarray(py))?;
                }
                d
            }
            _ => PyDict::new(py),
        };
        Ok(d)
    }

    /// The model file's text (the CLI's `--model-out` format), with these feature names if
    /// given.
    #[pyo3(signature = (feature_names=None))]
    fn to_json(&self, feature_names: Option<Vec<String>>) -> PyResult<String> {
        match feature_names {
            None => self.file.to_json().map_err(err),
            Some(names) => {
                if names.len() != self.file.feature_names.len() {
                    return Err(crate::common::bad(format!(
                        "{} feature names for a model of {} features",
                        names.len(),
                        self.file.feature_names.len()
                    )));
                }
                let mut f = self.file.clone();
                f.feature_names = names;
                f.to_json().map_err(err)
            }
        }
    }

    /// Pickles as the model file's text.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let f = py
            .import("softclust._softclust")?
            .getattr("model_from_json")?;
        let args = PyTuple::new(
            py,
            [self.file.to_json().map_err(err)?, "pickle".to_string()],
        )?;
        Ok((f, args))
    }
}

/// Reads a model file's text (written by the CLI's `--model-out` or by `model.save`); `name`
/// goes into error messages.
#[pyfunction]
#[pyo3(signature = (text, name="model"))]
pub fn model_from_json(text: &str, name: &str) -> PyResult<PyModel> {
    let file = ModelFile::from_json(text, name).map_err(err)?;
    Ok(PyModel {
        file,
        m32: OnceLock::new(),
    })
}
