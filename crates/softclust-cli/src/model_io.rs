//! Model files on disk (the format is the core's `softclust::ModelFile`, shared with the
//! Python package) and a model's outputs as columns of the membership file.

use crate::error::{CliError, CliResult};
use crate::output::{write_membership, write_to, Columns};
use softclust::model::{Extra, Outputs};
use softclust::ModelFile;
use std::path::Path;

/// Writes `file` atomically to `path`.
pub fn save(file: &ModelFile, path: &Path) -> CliResult<()> {
    let text = file.to_json().map_err(CliError::from)?;
    write_to(Some(path), |w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")
    })
}

/// Reads and checks a model file.
pub fn load(path: &Path) -> CliResult<ModelFile> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::msg(format!("cannot read model '{name}': {e}")))?;
    ModelFile::from_json(&text, &name).map_err(CliError::from)
}

/// The columns that follow the contract's: method-specific ones, then typicality.
pub fn columns(out: &Outputs, has_noise: bool) -> Columns {
    let mut extra = Columns {
        noise_last: has_noise,
        ..Columns::default()
    };
    for e in &out.extra {
        match e {
            Extra::Vector(name, v) => extra.push(*name, v.clone()),
            Extra::Matrix(name, m) => extra.push_matrix(name, m.view()),
        }
    }
    if let Some(t) = &out.typicality {
        extra.push_matrix("t", t.typicality.view());
        extra.push("outlier", t.outlier.clone());
    }
    extra
}

/// Writes a model's outputs (memberships and extra columns) to `output` (standard output when
/// `None`), atomically.
pub fn write_outputs(output: Option<&Path>, out: &Outputs, has_noise: bool) -> CliResult<()> {
    let extra = columns(out, has_noise);
    write_to(output, |w| write_membership(w, &out.memberships, &extra))
}
