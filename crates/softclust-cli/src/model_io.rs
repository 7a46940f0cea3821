//! Model files on disk (the format is the core's `softclust::ModelFile`, shared with the
//! Python package) and a model's outputs as columns of the membership file.

use crate::error::{lib_error, CliError, CliResult};
use crate::output::{write_membership_header, write_membership_rows, write_to, Columns};
use ndarray::{s, ArrayView2};
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

/// Rows per block of [`write_outputs`]: a multiple of the core's parallel segment (4096 rows),
/// so every row is computed exactly as in one call on all the data.
const BLOCK_ROWS: usize = 16 * 4096;

/// What the report needs of the outputs, gathered while they are written.
#[derive(Debug, Clone, Copy)]
pub struct OutputSummary {
    pub n: usize,
    pub mean_max_p: f64,
}

/// Writes the outputs of `file`'s model on data `z` (already in the model's units) to `output`
/// (standard output when `None`), block by block: the n x k memberships and their columns are
/// never all in memory at once, so peak memory stays at the data plus one block.
pub fn write_outputs(
    output: Option<&Path>,
    file: &ModelFile,
    z: ArrayView2<'_, f64>,
) -> CliResult<OutputSummary> {
    let n = z.nrows();
    let has_noise = file.model.has_noise();
    let block = |a: usize| -> softclust::Result<Outputs> {
        file.outputs_scaled(z.slice(s![a..(a + BLOCK_ROWS).min(n), ..]))
    };
    // The first block is computed here, so that an error is the library's, not a write error.
    let mut first = Some(block(0).map_err(lib_error)?);
    let mut sum_max_p = 0.0;
    write_to(output, |w| {
        for a in (0..n).step_by(BLOCK_ROWS) {
            let out = match first.take() {
                Some(out) => {
                    let k = out.memberships.n_clusters();
                    write_membership_header(w, k, &columns(&out, has_noise))?;
                    out
                }
                None => block(a).map_err(|e| std::io::Error::other(e.to_string()))?,
            };
            sum_max_p += out.memberships.max_p.sum();
            write_membership_rows(w, &out.memberships, &columns(&out, has_noise))?;
        }
        Ok(())
    })?;
    Ok(OutputSummary {
        n,
        mean_max_p: sum_max_p / n as f64,
    })
}
