//! Models as values: any fitted model in one type, and one versioned JSON file format that the
//! CLI (`--model-out`, `softclust predict --model`) and the Python package (`model.save`,
//! `softclust.load`) both read and write.
//!
//! ```text
//! {"format": "softclust-model", "schema_version": 2, "softclust_version": "...",
//!  "feature_names": [...], "scaler": {...}, "typicality": null | "isotropic" | "diagonal",
//!  "model": {"kind": "kmeans" | "gmm" | "fcm" | "consensus", ...}}
//! ```
//!
//! Parameters are stored in the units the model was fitted in (after the scaler) and read back
//! bit for bit, so a model predicts the same memberships from either face. Training-row data
//! (labels, training memberships, consensus counts) are not part of a model and are not saved.

use crate::consensus::ConsensusModel;
use crate::error::{Error, Result};
use crate::fcm::FuzzyCMeansModel;
use crate::float::Float;
use crate::gmm::GaussianMixtureModel;
use crate::kmeans::KMeansModel;
use crate::membership::{ClusterModel, Membership};
use crate::scale::Scaler;
use crate::sparse::Csr;
use crate::typicality::{Spread, Typicality};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

/// Any fitted model. `F` is the float type of the centroid models' centres (a Gaussian mixture
/// keeps f64 parameters and scores either type).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(
        tag = "kind",
        rename_all = "lowercase",
        bound(
            serialize = "F: serde::Serialize",
            deserialize = "F: serde::Deserialize<'de>"
        )
    )
)]
#[non_exhaustive]
// One model is held per estimator or file; boxing the variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Model<F: Float> {
    /// k-means with its soft step.
    Kmeans(KMeansModel<F>),
    /// A Gaussian mixture (noise component included, if any).
    Gmm(GaussianMixtureModel),
    /// Fuzzy c-means.
    Fcm(FuzzyCMeansModel<F>),
    /// Consensus k-means.
    Consensus(ConsensusModel<F>),
}

impl<F: Float> Model<F> {
    /// The kind as the file spells it: `kmeans`, `gmm`, `fcm`, `consensus`.
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Kmeans(_) => "kmeans",
            Model::Gmm(_) => "gmm",
            Model::Fcm(_) => "fcm",
            Model::Consensus(_) => "consensus",
        }
    }

    /// The kind in words, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Model::Kmeans(_) => "k-means",
            Model::Gmm(_) => "Gaussian mixture",
            Model::Fcm(_) => "fuzzy c-means",
            Model::Consensus(_) => "consensus k-means",
        }
    }

    fn inner(&self) -> &dyn ClusterModel<F> {
        match self {
            Model::Kmeans(m) => m,
            Model::Gmm(m) => m,
            Model::Fcm(m) => m,
            Model::Consensus(m) => m,
        }
    }

    /// The same model in another float type.
    pub fn cast<G: Float>(&self) -> Model<G> {
        match self {
            Model::Kmeans(m) => Model::Kmeans(m.cast()),
            Model::Gmm(m) => Model::Gmm(m.clone()),
            Model::Fcm(m) => Model::Fcm(m.cast()),
            Model::Consensus(m) => Model::Consensus(m.cast()),
        }
    }

    /// Whether the last membership column is a noise component.
    pub fn has_noise(&self) -> bool {
        matches!(self, Model::Gmm(m) if m.noise().is_some())
    }

    /// The memberships of `x` with the method-specific columns that go with them: the anchored
    /// soft step's raw scores (`s`, k-means), and the 95% Wilson interval of the top
    /// probability (`max_p_low`, `max_p_high`, consensus, from the same run counts as the
    /// memberships: the runs are scored once).
    pub fn memberships_with_extra(
        &self,
        x: ArrayView2<'_, F>,
    ) -> Result<(Membership<F>, Vec<Extra>)> {
        Ok(match self {
            Model::Kmeans(m) => {
                let extra = m
                    .anchored_scores(x)?
                    .map(|s| vec![Extra::Matrix("s", s)])
                    .unwrap_or_default();
                (m.memberships(x)?, extra)
            }
            Model::Consensus(m) => {
                let counts = m.predict_counts(x)?;
                let (lo, hi) = crate::consensus::count_intervals(counts.view(), m.n_runs());
                let extra = vec![
                    Extra::Vector("max_p_low", lo),
                    Extra::Vector("max_p_high", hi),
                ];
                (m.memberships_from_counts(counts.view()), extra)
            }
            _ => (self.memberships(x)?, Vec::new()),
        })
    }

    /// Squared Euclidean distances of sparse rows to the centres (k-means and fuzzy c-means;
    /// the other kinds take dense data).
    pub fn squared_distances_sparse(&self, x: &Csr<'_, F>) -> Result<Array2<f64>> {
        match self {
            Model::Kmeans(m) => m.squared_distances_sparse(x),
            Model::Fcm(m) => m.squared_distances_sparse(x),
            _ => Err(self.dense_only()),
        }
    }

    /// The memberships of sparse rows (k-means and fuzzy c-means).
    pub fn memberships_sparse(&self, x: &Csr<'_, F>) -> Result<Membership<F>> {
        match self {
            Model::Kmeans(m) => m.memberships_sparse(x),
            Model::Fcm(m) => m.memberships_sparse(x),
            _ => Err(self.dense_only()),
        }
    }

    /// The label of every sparse row: the nearest centre (k-means), the most probable
    /// cluster (fuzzy c-means).
    pub fn predict_sparse(&self, x: &Csr<'_, F>) -> Result<Array1<usize>> {
        match self {
            Model::Kmeans(m) => m.predict_sparse(x),
            Model::Fcm(m) => Ok(m.memberships_sparse(x)?.label),
            _ => Err(self.dense_only()),
        }
    }

    /// The `k_top` largest memberships of every sparse row ([`crate::topk::top_k`]), in chunks
    /// of rows so that the dense `n x k` matrix is never held.
    pub fn top_k_sparse(&self, x: &Csr<'_, F>, k_top: usize) -> Result<crate::topk::TopK<F>> {
        crate::topk::top_k_chunks(x.nrows(), self.n_clusters(), k_top, false, |a, b| {
            let (indptr, indices, data) = x.row_block(a, b);
            self.memberships_sparse(&Csr::new(b - a, x.ncols(), &indptr, indices, data)?)
        })
    }

    fn dense_only(&self) -> Error {
        Error::InvalidModel {
            reason: format!(
                "a {} model takes dense data; sparse input works with k-means and fuzzy \
                 c-means (densify the matrix, e.g. X.toarray(), if it fits in memory)",
                self.kind_name()
            ),
        }
    }

    /// Checks that the parameters fit together and are usable (for models read back).
    pub fn validate(&self) -> Result<()> {
        match self {
            Model::Kmeans(m) => m.validate(),
            Model::Gmm(m) => m.validate(),
            Model::Fcm(m) => m.validate(),
            Model::Consensus(m) => m.validate(),
        }
    }
}

/// A named column (`Vector`) or block of columns `name_0..` (`Matrix`) beside the memberships.
#[derive(Debug, Clone, PartialEq)]
pub enum Extra {
    /// One value per row.
    Vector(&'static str, Array1<f64>),
    /// `k` values per row, columns named `name_j`.
    Matrix(&'static str, Array2<f64>),
}

impl<F: Float> ClusterModel<F> for Model<F> {
    fn n_clusters(&self) -> usize {
        self.inner().n_clusters()
    }
    fn n_features(&self) -> usize {
        self.inner().n_features()
    }
    fn memberships(&self, x: ArrayView2<'_, F>) -> Result<Membership<F>> {
        self.inner().memberships(x)
    }
    fn predict(&self, x: ArrayView2<'_, F>) -> Result<Array1<usize>> {
        self.inner().predict(x)
    }
    fn predict_proba_into(&self, x: ArrayView2<'_, F>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        self.inner().predict_proba_into(x, out)
    }
    fn typicality(&self, x: ArrayView2<'_, F>, spread: Spread) -> Result<Typicality> {
        self.inner().typicality(x, spread)
    }
}

/// The `format` field of every model file.
pub const FORMAT: &str = "softclust-model";
/// The schema this softclust writes (and the newest it reads).
pub const SCHEMA_VERSION: u64 = 2;

/// A model file: the model, the scaler its inputs go through (identity when none was used), the
/// feature names, and whether typicality columns go with its outputs.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u64,
    /// The version of softclust that wrote it.
    pub softclust_version: String,
    /// One name per feature, in order.
    pub feature_names: Vec<String>,
    /// Maps raw inputs to the model's units.
    pub scaler: Scaler<f64>,
    /// Typicality columns with the outputs, and the centroid spread they use.
    #[cfg_attr(feature = "serde", serde(default))]
    pub typicality: Option<Spread>,
    /// The fitted model.
    pub model: Model<f64>,
}

impl ModelFile {
    /// A file for `model`, whose inputs are standardised by `scaler` (use
    /// [`Scaler::identity`] for raw inputs).
    pub fn new(
        feature_names: Vec<String>,
        scaler: Scaler<f64>,
        typicality: Option<Spread>,
        model: Model<f64>,
    ) -> Self {
        ModelFile {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            softclust_version: env!("CARGO_PKG_VERSION").into(),
            feature_names,
            scaler,
            typicality,
            model,
        }
    }

    /// Feature names, number of features and the model fit together; the model's parameters
    /// are usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Error::InvalidModel { reason };
        self.scaler.validate()?;
        let d = self.scaler.n_features();
        if self.feature_names.len() != d {
            return Err(bad(format!(
                "{} feature names but the scaler has {d} columns",
                self.feature_names.len()
            )));
        }
        self.model.validate()?;
        let md = ClusterModel::<f64>::n_features(&self.model);
        if md != d {
            return Err(bad(format!(
                "the model has {md} features but the scaler {d}"
            )));
        }
        Ok(())
    }

    /// The memberships, typicality and extra columns of raw data `x` (scaled here): the one
    /// output path of every face, so fitting and predicting give identical files.
    pub fn outputs(&self, x: ArrayView2<'_, f64>) -> Result<Outputs> {
        let z = self.scaler.transform(x)?;
        self.outputs_scaled(z.view())
    }

    /// [`Self::outputs`] of data already in the model's units (the scaler applied).
    pub fn outputs_scaled(&self, z: ArrayView2<'_, f64>) -> Result<Outputs> {
        let (memberships, extra) = self.model.memberships_with_extra(z)?;
        let typicality = match self.typicality {
            Some(s) => Some(self.model.typicality(z, s)?),
            None => None,
        };
        Ok(Outputs {
            memberships,
            typicality,
            extra,
        })
    }
}

impl ModelFile {
    /// [`ModelFile::outputs_scaled`] for sparse rows (k-means and fuzzy c-means models with no
    /// scaler: centring would make the rows dense; typicality columns take dense rows).
    pub fn outputs_sparse(&self, x: &Csr<'_, f64>) -> Result<Outputs> {
        if self.scaler.method() != crate::scale::Standardize::None {
            return Err(Error::InvalidModel {
                reason: "this model standardises its inputs, which would make sparse rows \
                         dense; fit it with --standardize none to score sparse data"
                    .into(),
            });
        }
        if self.typicality.is_some() {
            return Err(Error::InvalidModel {
                reason: "typicality columns need dense rows; leave out --typicality for \
                         sparse data"
                    .into(),
            });
        }
        let memberships = self.model.memberships_sparse(x)?;
        let extra = match &self.model {
            Model::Kmeans(m) => m
                .anchored_scores_sparse(x)?
                .map(|s| vec![Extra::Matrix("s", s)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(Outputs {
            memberships,
            typicality: None,
            extra,
        })
    }
}

/// What a model file's model says about some data.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The membership contract.
    pub memberships: Membership<f64>,
    /// Typicality, when the file asks for it.
    pub typicality: Option<Typicality>,
    /// Method-specific columns.
    pub extra: Vec<Extra>,
}

#[cfg(feature = "serde")]
impl ModelFile {
    /// The file's text (one line of JSON; floats read back bit for bit).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::InvalidModel {
            reason: format!("cannot encode the model: {e}"),
        })
    }

    /// Reads and checks a model file's text: format, schema version, then shapes and values.
    /// `name` (a path, say) goes into the messages.
    pub fn from_json(text: &str, name: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidModel { reason };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                bad(format!(
                    "model '{name}' ends early (line {}, column {}): the file is truncated; save the model again",
                    e.line(),
                    e.column()
                ))
            } else {
                bad(format!(
                    "model '{name}' is not valid JSON ({e}); is it a softclust model file?"
                ))
            }
        })?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(bad(format!(
                "'{name}' is not a softclust model file (no \"format\": \"{FORMAT}\"); write one with --model-out or model.save()"
            )));
        }
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(bad(format!(
                    "model '{name}' uses schema version {v}, newer than this softclust (reads up to {SCHEMA_VERSION}); upgrade softclust"
                )))
            }
            Some(v) if v < SCHEMA_VERSION => {
                return Err(bad(format!(
                    "model '{name}' uses schema version {v}, which this softclust no longer reads (it reads {SCHEMA_VERSION}); fit and save the model again"
                )))
            }
            Some(_) => {}
            None => return Err(bad(format!("model '{name}' has no valid schema_version"))),
        }
        let file: ModelFile = serde_json::from_value(value)
            .map_err(|e| bad(format!("model '{name}' is malformed: {e}")))?;
        file.validate()
            .map_err(|e| bad(format!("model '{name}' is inconsistent: {e}")))?;
        Ok(file)
    }
}
