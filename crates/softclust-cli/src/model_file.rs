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
use crate::output::{write_membership, write_to, Columns};
use ndarray::{Array1, Array2, Array3, Axis};
use serde::{Deserialize, Serialize};
use softclust::consensus::{consensus_predict, count_intervals};
use softclust::fcm::FuzzyCMeansModel;
use softclust::typicality::{ClusterSpread, Typicality};
use softclust::{DistanceKind, FittedSoft, GaussianMixtureModel, KMeansModel, Membership, Scaler};
use std::path::Path;

pub const FORMAT: &str = "softclust-model";
pub const SCHEMA_VERSION: u64 = 1;

/// The fitted part of a saved model. All parameters are in standardised units.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SavedModel {
    /// k-means centres, the distance kernel's centring vector, the fitted soft assignment, and
    /// per-cluster spreads when typicality was asked for.
    Kmeans {
        centers: Array2<f64>,
        centering: Array1<f64>,
        soft: FittedSoft,
        #[serde(default)]
        spread: Option<ClusterSpread>,
    },
    /// A Gaussian mixture (noise component included, if any).
    Gmm {
        mixture: GaussianMixtureModel,
        #[serde(default)]
        typicality: bool,
    },
    /// Fuzzy c-means centres and fuzzifier.
    Fcm {
        centers: Array2<f64>,
        centering: Array1<f64>,
        m: f64,
        #[serde(default)]
        spread: Option<ClusterSpread>,
    },
    /// Consensus k-means: the aligned centres of every run (`B x k x d`).
    Consensus {
        run_centers: Array3<f64>,
        centering: Array1<f64>,
    },
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

    /// Shapes fit together: features, scaler, model, soft assignment and spreads.
    fn check(&self) -> Result<(), String> {
        self.scaler.validate().map_err(|e| e.to_string())?;
        let d = self.scaler.n_features();
        if self.feature_names.len() != d {
            return Err(format!(
                "{} feature names but the scaler has {d} columns",
                self.feature_names.len()
            ));
        }
        let err = |e: softclust::Error| e.to_string();
        let check_spread = |spread: &Option<ClusterSpread>, k: usize| -> Result<(), String> {
            if let Some(sp) = spread {
                sp.validate().map_err(err)?;
                if sp.centers().dim() != (k, d) {
                    return Err(format!(
                        "spreads for {} x {} centres, model has {k} x {d}",
                        sp.centers().nrows(),
                        sp.centers().ncols()
                    ));
                }
            }
            Ok(())
        };
        let (model_d, k) = match &self.model {
            SavedModel::Kmeans {
                centers,
                centering,
                soft,
                spread,
            } => {
                KMeansModel::from_centers(centers.clone(), Some(centering.clone())).map_err(err)?;
                soft.validate().map_err(err)?;
                if soft.n_clusters() != centers.nrows() {
                    return Err(format!(
                        "{} centres but soft-assignment parameters for {} clusters",
                        centers.nrows(),
                        soft.n_clusters()
                    ));
                }
                check_spread(spread, centers.nrows())?;
                (centers.ncols(), centers.nrows())
            }
            SavedModel::Gmm { mixture, .. } => {
                mixture.validate().map_err(err)?;
                (mixture.n_features(), mixture.n_components())
            }
            SavedModel::Fcm {
                centers,
                centering,
                m,
                spread,
            } => {
                FuzzyCMeansModel::from_centers(centers.clone(), *m, Some(centering.clone()))
                    .map_err(err)?;
                check_spread(spread, centers.nrows())?;
                (centers.ncols(), centers.nrows())
            }
            SavedModel::Consensus {
                run_centers,
                centering,
            } => {
                let (b, k, dd) = run_centers.dim();
                if b == 0 || run_centers.iter().any(|v| !v.is_finite()) {
                    return Err("the consensus model has no runs or non-finite centres".into());
                }
                if centering.len() != dd {
                    return Err(format!(
                        "centring vector of {} values for {dd} features",
                        centering.len()
                    ));
                }
                (dd, k)
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

    /// Memberships and extra columns of standardised data `z`: the same code path for the
    /// fitting commands and for `softclust predict`, so both write identical files.
    pub fn outputs(&self, z: &Array2<f64>) -> CliResult<(Membership<f64>, Columns)> {
        let mut extra = Columns::default();
        let typicality = |t: Typicality, extra: &mut Columns| {
            extra.push_matrix("t", t.typicality.view());
            extra.push("outlier", t.outlier);
        };
        let m = match &self.model {
            SavedModel::Kmeans {
                centers,
                centering,
                soft,
                spread,
            } => {
                let km = KMeansModel::from_centers(centers.clone(), Some(centering.clone()))
                    .map_err(lib_error)?;
                let d = km.transform(z.view()).map_err(lib_error)?;
                if let Some(scores) = soft
                    .anchored_scores(d.view(), DistanceKind::Euclidean)
                    .map_err(lib_error)?
                {
                    extra.push_matrix("s", scores.view());
                }
                if let Some(sp) = spread {
                    typicality(sp.typicality(z.view()).map_err(lib_error)?, &mut extra);
                }
                soft.memberships(d.view(), DistanceKind::Euclidean)
                    .map_err(lib_error)?
            }
            SavedModel::Gmm {
                mixture,
                typicality: with_t,
            } => {
                extra.noise_last = mixture.noise().is_some();
                if *with_t {
                    typicality(mixture.typicality(z.view()).map_err(lib_error)?, &mut extra);
                }
                mixture.memberships(z.view()).map_err(lib_error)?
            }
            SavedModel::Fcm {
                centers,
                centering,
                m,
                spread,
            } => {
                let f =
                    FuzzyCMeansModel::from_centers(centers.clone(), *m, Some(centering.clone()))
                        .map_err(lib_error)?;
                if let Some(sp) = spread {
                    typicality(sp.typicality(z.view()).map_err(lib_error)?, &mut extra);
                }
                f.memberships(z.view()).map_err(lib_error)?
            }
            SavedModel::Consensus {
                run_centers,
                centering,
            } => {
                let (m, counts) = consensus_predict(run_centers.view(), centering.view(), z.view())
                    .map_err(lib_error)?;
                let (lo, hi) = count_intervals(counts.view(), run_centers.len_of(Axis(0)));
                extra.push("max_p_low", lo);
                extra.push("max_p_high", hi);
                m
            }
        };
        Ok((m, extra))
    }

    /// Human name of the model kind.
    pub fn kind_name(&self) -> &'static str {
        match self.model {
            SavedModel::Kmeans { .. } => "k-means",
            SavedModel::Gmm { .. } => "Gaussian mixture",
            SavedModel::Fcm { .. } => "fuzzy c-means",
            SavedModel::Consensus { .. } => "consensus k-means",
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
    let (m, extra) = model.outputs(&z)?;
    write_to(a.output.as_deref(), |w| write_membership(w, &m, &extra))?;
    if !quiet {
        eprintln!(
            "softclust: {} rows scored with the {} model '{}'",
            m.n_samples(),
            model.kind_name(),
            a.model.display()
        );
    }
    Ok(())
}
