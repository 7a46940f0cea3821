//! Model files on disk (the format is the core's `softclust::ModelFile`, shared with the
//! Python package) and a model's outputs as columns of the membership file.

use crate::columns::{Front, FrontRows};
use crate::error::{lib_error, CliError, CliResult};
use crate::output::{wants_parquet, write_to, BlockWriter, Columns, OutBlock};
use ndarray::{s, ArrayView2};
use softclust::model::{Extra, Outputs};
use softclust::sparse::Csr;
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

/// How the membership rows are written: with carried columns (`--id`, `--append`) and in the
/// top-K form (`--top-k`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub top_k: Option<usize>,
}

impl Shape {
    /// Checks `--top-k` against the model's clusters.
    pub fn check(&self, file: &ModelFile) -> CliResult<()> {
        use softclust::ClusterModel as _;
        let Some(t) = self.top_k else {
            return Ok(());
        };
        let k = file.model.n_clusters() - usize::from(file.model.has_noise());
        if t == 0 || t > k {
            return Err(CliError::msg(format!(
                "--top-k {t}: the model has {k} clusters; give a K from 1 to {k}"
            )));
        }
        Ok(())
    }
}

/// Writes the outputs of `file`'s model on data `z` (already in the model's units) to `output`
/// (standard output when `None`), block by block: the n x k memberships and their columns are
/// never all in memory at once, so peak memory stays at the data plus one block. `front`
/// holds the carried columns of every row.
pub fn write_outputs(
    output: Option<&Path>,
    file: &ModelFile,
    z: ArrayView2<'_, f64>,
    front: Option<&Front>,
    shape: Shape,
) -> CliResult<OutputSummary> {
    let n = z.nrows();
    write_blocks(output, file, n, shape, &mut |sink| {
        for a in (0..n).step_by(BLOCK_ROWS) {
            sink(
                Rows::Dense(z.slice(s![a..(a + BLOCK_ROWS).min(n), ..])),
                front.map(|f| f.rows(a)),
            )?;
        }
        Ok(())
    })
}

/// A block of rows in the model's units: dense, or sparse (CSR, at most
/// [`softclust::topk::chunk_rows`] rows in the top-K form).
pub enum Rows<'a> {
    Dense(ArrayView2<'a, f64>),
    Sparse(&'a Csr<'a, f64>),
}

/// A consumer of blocks of data in the model's units, with their carried columns.
pub type Sink<'s> = dyn FnMut(Rows<'_>, Option<FrontRows<'_>>) -> CliResult<()> + 's;

/// Writes the outputs of `file`'s model on the sparse rows `x` (CSR, no carried columns),
/// block by block as [`write_outputs`].
pub fn write_sparse_outputs(
    output: Option<&Path>,
    file: &ModelFile,
    x: &Csr<'_, f64>,
    shape: Shape,
) -> CliResult<OutputSummary> {
    use softclust::ClusterModel as _;
    let n = x.nrows();
    let step = match shape.top_k {
        Some(_) => softclust::topk::chunk_rows(file.model.n_clusters()).clamp(1, BLOCK_ROWS),
        None => BLOCK_ROWS,
    };
    write_blocks(output, file, n, shape, &mut |sink| {
        for a in (0..n).step_by(step) {
            let b = (a + step).min(n);
            let (indptr, indices, data) = x.row_block(a, b);
            let block = Csr::new(b - a, x.ncols(), &indptr, indices, data).map_err(lib_error)?;
            sink(Rows::Sparse(&block), None)?;
        }
        Ok(())
    })
}

/// Writes the outputs of `file`'s model on the `n` rows that `feed` hands to its sink, block by
/// block, as CSV or (for a `.parquet` path) Parquet: what a fit in memory, a fit out of core and
/// `predict` all write. In the top-K form a block is scored in chunks of
/// [`softclust::topk::chunk_rows`] rows, so the dense memberships of a block are never held
/// when k is large.
pub fn write_blocks(
    output: Option<&Path>,
    file: &ModelFile,
    n: usize,
    shape: Shape,
    feed: &mut dyn FnMut(&mut Sink<'_>) -> CliResult<()>,
) -> CliResult<OutputSummary> {
    use softclust::ClusterModel as _;
    shape.check(file)?;
    let has_noise = file.model.has_noise();
    let chunk = match shape.top_k {
        Some(_) => softclust::topk::chunk_rows(file.model.n_clusters()),
        None => usize::MAX,
    };
    let mut sum_max_p = 0.0;
    let mut failure: Option<CliError> = None;
    let written = write_to(output, |w| {
        let mut bw = BlockWriter::new(wants_parquet(output));
        // A write error keeps its kind (a reader that went away is not an error).
        let mut io_failure: Option<std::io::Error> = None;
        let r = feed(&mut |block, front| {
            let (rows, step) = match &block {
                Rows::Dense(z) => (z.nrows(), chunk.min(z.nrows()).max(1)),
                Rows::Sparse(x) => (x.nrows(), x.nrows().max(1)),
            };
            for a in (0..rows).step_by(step) {
                let b = a.saturating_add(step).min(rows);
                let out = match &block {
                    Rows::Dense(z) => file.outputs_scaled(z.slice(s![a..b, ..])),
                    Rows::Sparse(x) => file.outputs_sparse(x),
                }
                .map_err(lib_error)?;
                let cols = columns(&out, has_noise);
                let block = OutBlock::new(
                    &out.memberships,
                    &cols,
                    front.map(|f| f.offset(a)),
                    shape.top_k,
                )?;
                sum_max_p += out.memberships.max_p.sum();
                bw.write(w, &block).map_err(|e| {
                    let c = CliError::io(
                        "writing the memberships",
                        std::io::Error::new(e.kind(), e.to_string()),
                    );
                    io_failure = Some(e);
                    c
                })?;
            }
            Ok(())
        });
        if let Err(e) = r {
            if let Some(io) = io_failure {
                return Err(io);
            }
            failure = Some(e);
            return Err(std::io::Error::other("stopped"));
        }
        bw.finish(w)
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
