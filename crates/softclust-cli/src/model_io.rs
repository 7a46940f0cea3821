//! Model files on disk (the format is the core's `softclust::ModelFile`, shared with the
//! Python package) and a model's outputs as columns of the membership file.

use crate::error::{lib_error, CliError, CliResult};
use crate::output::{
    wants_parquet, write_membership_header, write_membership_rows, write_to, Columns,
    ParquetMemberships,
};
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

/// Checks that data from `source` have the `d` columns `file`'s model was fitted on.
pub fn check_width(file: &ModelFile, source: &str, d: usize) -> CliResult<()> {
    let want = file.scaler.n_features();
    if d != want {
        return Err(CliError::msg(format!(
            "{source} has {d} columns but the model was fitted on {want} ({}); give the same \
             features in the same order",
            file.feature_names.join(", ")
        )));
    }
    Ok(())
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
    write_blocks(output, file, n, &mut |sink| {
        for a in (0..n).step_by(BLOCK_ROWS) {
            sink(z.slice(s![a..(a + BLOCK_ROWS).min(n), ..]))?;
        }
        Ok(())
    })
}

/// A consumer of blocks of data in the model's units.
pub type Sink<'s> = dyn FnMut(ArrayView2<'_, f64>) -> CliResult<()> + 's;

/// Writes the outputs of `file`'s model on the `n` rows that `feed` hands to its sink, block by
/// block, as CSV or (for a `.parquet` path) Parquet: what a fit in memory, a fit out of core and
/// `predict` all write.
pub fn write_blocks(
    output: Option<&Path>,
    file: &ModelFile,
    n: usize,
    feed: &mut dyn FnMut(&mut Sink<'_>) -> CliResult<()>,
) -> CliResult<OutputSummary> {
    let has_noise = file.model.has_noise();
    let parquet = wants_parquet(output);
    let mut sum_max_p = 0.0;
    let mut failure: Option<CliError> = None;
    let written = write_to(output, |w| {
        let mut pq: Option<ParquetMemberships> = None;
        let mut first = true;
        // A write error keeps its kind (a reader that went away is not an error).
        let mut io_failure: Option<std::io::Error> = None;
        let r = feed(&mut |z| {
            let out = file.outputs_scaled(z).map_err(lib_error)?;
            let cols = columns(&out, has_noise);
            let mut put = || -> std::io::Result<()> {
                if first {
                    first = false;
                    let k = out.memberships.n_clusters();
                    if parquet {
                        pq = Some(ParquetMemberships::new(k, &cols)?);
                    } else {
                        write_membership_header(w, k, &cols)?;
                    }
                }
                match pq.as_mut() {
                    Some(p) => p.write(w, &out.memberships, &cols),
                    None => write_membership_rows(w, &out.memberships, &cols),
                }
            };
            sum_max_p += out.memberships.max_p.sum();
            put().map_err(|e| {
                let c = CliError::io(
                    "writing the memberships",
                    std::io::Error::new(e.kind(), e.to_string()),
                );
                io_failure = Some(e);
                c
            })
        });
        if let Err(e) = r {
            if let Some(io) = io_failure {
                return Err(io);
            }
            failure = Some(e);
            return Err(std::io::Error::other("stopped"));
        }
        match pq {
            Some(p) => p.finish(w),
            None => Ok(()),
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    written?;
    Ok(OutputSummary {
        n,
        mean_max_p: sum_max_p / n as f64,
    })
}
