//! Saved models: versioned JSON holding the scaler and the fitted model, and `softclust predict`.
//!
//! ```text
//! {"format": "softclust-model", "schema_version": 1, "softclust_version": "...",
//!  "feature_names": [...], "scaler": {...}, "model": {"kind": "kmeans" | "gmm", ...}}
//! ```

use crate::cli::PredictArgs;
use crate::commands::lib_error;
use crate::error::{CliError, CliResult};
use crate::input::read_table;
use crate::output::{write_membership, write_to};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use softclust::{DistanceKind, FittedSoft, GaussianMixtureModel, KMeansModel, Membership, Scaler};
use std::path::Path;

pub const FORMAT: &str = "softclust-model";
pub const SCHEMA_VERSION: u64 = 1;

/// The fitted part of a saved model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SavedModel {
    /// k-means centres (in standardised units), the distance kernel's centring vector, and the
    /// fitted soft assignment.
    Kmeans {
        centers: Array2<f64>,
        centering: Array1<f64>,
        soft: FittedSoft,
    },
    /// A Gaussian mixture (in standardised units).
    Gmm { mixture: GaussianMixtureModel },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub format: String,
    pub schema_version: u64,
    pub softclust_version: String,
    pub feature_names: Vec<String>,
    pub scaler: Scaler<f64>,
    pub model: SavedModel,
}

impl ModelFile {
    pub fn new(feature_names: Vec<String>, scaler: Scaler<f64>, model: SavedModel) -> Self {
        ModelFile {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            softclust_version: env!("CARGO_PKG_VERSION").into(),
            feature_names,
            scaler,
            model,
        }
    }

    pub fn save(&self, path: &Path) -> CliResult<()> {
        let text = serde_json::to_string(self)
            .map_err(|e| CliError::msg(format!("cannot encode the model: {e}")))?;
        write_to(Some(path), |w| {
            w.write_all(text.as_bytes())?;
            w.write_all(b"\n")
        })
    }

    /// Reads and checks a model file: format, schema version, then shapes.
    pub fn load(path: &Path) -> CliResult<ModelFile> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::msg(format!("cannot read model '{name}': {e}")))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            if e.is_eof() {
                CliError::msg(format!("model '{name}' ends early (line {}, column {}): the file is truncated; save the model again", e.line(), e.column()))
            } else {
                CliError::msg(format!("model '{name}' is not valid JSON ({e}); is it a softclust model file?"))
            }
        })?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(CliError::msg(format!(
                "'{name}' is not a softclust model file (no \"format\": \"{FORMAT}\"); write one with --model-out"
            )));
        }
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(CliError::msg(format!(
                    "model '{name}' uses schema version {v}, newer than this softclust (reads up to {SCHEMA_VERSION}); upgrade softclust"
                )))
            }
            Some(_) => {}
            None => return Err(CliError::msg(format!("model '{name}' has no valid schema_version"))),
        }
        let file: ModelFile = serde_json::from_value(value)
            .map_err(|e| CliError::msg(format!("model '{name}' is malformed: {e}")))?;
        file.check()
            .map_err(|m| CliError::msg(format!("model '{name}' is inconsistent: {m}")))?;
        Ok(file)
    }

    /// Shapes fit together: features, scaler, model and soft assignment.
    fn check(&self) -> Result<(), String> {
        self.scaler.validate().map_err(|e| e.to_string())?;
        let d = self.scaler.n_features();
        if self.feature_names.len() != d {
            return Err(format!(
                "{} feature names but the scaler has {d} columns",
                self.feature_names.len()
            ));
        }
        let (model_d, k) = match &self.model {
            SavedModel::Kmeans {
                centers,
                centering,
                soft,
            } => {
                KMeansModel::from_centers(centers.clone(), Some(centering.clone()))
                    .map_err(|e| e.to_string())?;
                soft.validate().map_err(|e| e.to_string())?;
                if soft.n_clusters() != centers.nrows() {
                    return Err(format!(
                        "{} centres but soft-assignment parameters for {} clusters",
                        centers.nrows(),
                        soft.n_clusters()
                    ));
                }
                (centers.ncols(), centers.nrows())
            }
            SavedModel::Gmm { mixture } => {
                mixture.validate().map_err(|e| e.to_string())?;
                (mixture.n_features(), mixture.n_components())
            }
        };
        if model_d != d {
            return Err(format!(
                "the model has {model_d} features but the scaler {d}"
            ));
        }
        if k == 0 {
            return Err("the model has no clusters".into());
        }
        Ok(())
    }

    /// Memberships of standardised data `z`.
    pub fn memberships(&self, z: &Array2<f64>) -> CliResult<Membership<f64>> {
        match &self.model {
            SavedModel::Kmeans {
                centers,
                centering,
                soft,
            } => {
                let km = KMeansModel::from_centers(centers.clone(), Some(centering.clone()))
                    .map_err(lib_error)?;
                let d = km.transform(z.view()).map_err(lib_error)?;
                soft.memberships(d.view(), DistanceKind::Euclidean)
                    .map_err(lib_error)
            }
            SavedModel::Gmm { mixture } => mixture.memberships(z.view()).map_err(lib_error),
        }
    }
}

pub fn predict(a: &PredictArgs, quiet: bool) -> CliResult<()> {
    let model = ModelFile::load(&a.model)?;
    let table = read_table(a.input.as_deref(), &a.input_opts)?;
    let d = model.scaler.n_features();
    if table.data.ncols() != d {
        return Err(CliError::msg(format!(
            "{} has {} columns but the model was fitted on {d} ({}); give the same features in the same order",
            table.source,
            table.data.ncols(),
            model.feature_names.join(", ")
        )));
    }
    let z = model
        .scaler
        .transform(table.data.view())
        .map_err(lib_error)?;
    let m = model.memberships(&z)?;
    write_to(a.output.as_deref(), |w| write_membership(w, &m))?;
    if !quiet {
        let kind = match model.model {
            SavedModel::Kmeans { .. } => "k-means",
            SavedModel::Gmm { .. } => "Gaussian mixture",
        };
        eprintln!(
            "softclust: {} rows scored with the {kind} model '{}'",
            m.n_samples(),
            a.model.display()
        );
    }
    Ok(())
}
