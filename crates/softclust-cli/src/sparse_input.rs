//! Sparse matrices from `.npz` files as scipy writes them (`scipy.sparse.save_npz`: a zip of
//! `format.npy`, `shape.npy`, `indptr.npy`, `indices.npy` and `data.npy`, deflated or stored),
//! in CSR or CSC form, read into a canonical CSR matrix (CSC transposed, column indices sorted
//! within rows, duplicates summed).

use crate::error::{CliError, CliResult};
use crate::input::npy_info;
use softclust::sparse::Csr;
use std::io::Read;
use std::path::Path;

pub use crate::input::{dense_only, is_npz};

/// A sparse matrix in canonical CSR form, owned.
#[derive(Debug, Clone)]
pub struct SparseMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f64>,
}

impl SparseMatrix {
    /// The core's checked view (non-finite values are errors naming the row and column).
    pub fn csr(&self) -> CliResult<Csr<'_, f64>> {
        Csr::new(
            self.n_rows,
            self.n_cols,
            &self.indptr,
            &self.indices,
            &self.data,
        )
        .map_err(CliError::from)
    }
}

/// The bytes of one member of the archive.
fn member(
    zip: &mut zip::ZipArchive<std::fs::File>,
    source: &str,
    name: &str,
) -> CliResult<Vec<u8>> {
    let mut f = zip.by_name(name).map_err(|_| {
        CliError::msg(format!(
            "{source}: no {name} in the archive; softclust reads sparse matrices saved by \
             scipy.sparse.save_npz (CSR or CSC)"
        ))
    })?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| CliError::msg(format!("{source}: cannot read {name}: {e}")))?;
    Ok(bytes)
}

/// A 1-D numeric member as f64 (an empty array is an empty vector).
fn numbers(
    zip: &mut zip::ZipArchive<std::fs::File>,
    source: &str,
    name: &str,
) -> CliResult<Vec<f64>> {
    let bytes = member(zip, source, name)?;
    if is_empty_npy(&bytes) {
        return Ok(Vec::new());
    }
    let what = format!("{source} ({name})");
    let info = npy_info(&what, bytes.as_slice(), bytes.len() as u64)?;
    let mut out = Vec::with_capacity(info.n * info.d);
    info.decode(&bytes[info.offset as usize..], &mut out);
    Ok(out)
}

/// The data part of a `.npy` member (after the header), for the string array `format.npy`.
fn npy_payload(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return None;
    }
    let (len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        let b: [u8; 4] = bytes.get(8..12)?.try_into().ok()?;
        (u32::from_le_bytes(b) as usize, 12)
    };
    bytes.get(start + len..)
}

/// Whether a `.npy` member holds a shape `(0,)` array (scipy writes those for an all-zero
/// matrix).
fn is_empty_npy(bytes: &[u8]) -> bool {
    npy_payload(bytes).is_some_and(|p| p.is_empty())
        && String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).contains("(0,)")
}

/// Exact non-negative integers from f64 (index arrays), else an error naming the array.
fn indices_of(v: &[f64], source: &str, name: &str) -> CliResult<Vec<usize>> {
    v.iter()
        .map(|&x| {
            if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 {
                Ok(x as usize)
            } else {
                Err(CliError::msg(format!(
                    "{source}: {name} holds {x}, which is not an index"
                )))
            }
        })
        .collect()
}

/// Reads a scipy sparse `.npz` file.
pub fn read_npz(path: &Path) -> CliResult<SparseMatrix> {
    let source = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::msg(format!("cannot open {source}: {e}")))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        CliError::msg(format!(
            "{source}: not a readable .npz (zip) file: {e} (a .npz is read from a regular \
                 file, not a pipe)"
        ))
    })?;
    let fmt_bytes = member(&mut zip, &source, "format.npy")?;
    let format: String = npy_payload(&fmt_bytes)
        .unwrap_or(&[])
        .iter()
        .filter(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let csc = match format.trim() {
        "csr" => false,
        "csc" => true,
        other => {
            return Err(CliError::msg(format!(
                "{source}: the matrix is in '{other}' form; softclust reads CSR and CSC \
                 (save it with scipy.sparse.save_npz(path, X.tocsr()))"
            )))
        }
    };
    let shape = indices_of(&numbers(&mut zip, &source, "shape.npy")?, &source, "shape")?;
    let [n_rows, n_cols] = shape[..] else {
        return Err(CliError::msg(format!(
            "{source}: shape.npy holds {} numbers; a matrix has 2",
            shape.len()
        )));
    };
    if n_rows == 0 || n_cols == 0 {
        return Err(CliError::msg(format!(
            "{source} is empty: the matrix is {n_rows} x {n_cols}"
        )));
    }
    if n_cols > u32::MAX as usize {
        return Err(CliError::msg(format!(
            "{source}: {n_cols} columns; softclust's sparse kernels take at most 2^32 - 1"
        )));
    }
    let indptr = indices_of(
        &numbers(&mut zip, &source, "indptr.npy")?,
        &source,
        "indptr",
    )?;
    let indices = indices_of(
        &numbers(&mut zip, &source, "indices.npy")?,
        &source,
        "indices",
    )?;
    let data = numbers(&mut zip, &source, "data.npy")?;
    let (outer, inner) = if csc {
        (n_cols, n_rows)
    } else {
        (n_rows, n_cols)
    };
    let bad = |what: String| CliError::msg(format!("{source}: not a valid sparse matrix: {what}"));
    if indptr.len() != outer + 1
        || indptr[0] != 0
        || indptr.windows(2).any(|w| w[1] < w[0])
        || indptr[outer] != indices.len()
        || indices.len() != data.len()
    {
        return Err(bad(format!(
            "indptr ({} entries), indices ({}) and data ({}) do not fit a {} matrix of \
             {n_rows} x {n_cols}",
            indptr.len(),
            indices.len(),
            data.len(),
            if csc { "CSC" } else { "CSR" }
        )));
    }
    if let Some(&i) = indices.iter().find(|&&i| i >= inner) {
        return Err(bad(format!(
            "index {i} is beyond the {inner} {}",
            if csc { "rows" } else { "columns" }
        )));
    }
    // Triples (row, column, value) in row-major order, then duplicates summed.
    let mut triples: Vec<(usize, usize, f64)> = Vec::with_capacity(data.len());
    for o in 0..outer {
        for p in indptr[o]..indptr[o + 1] {
            let (r, c) = if csc {
                (indices[p], o)
            } else {
                (o, indices[p])
            };
            triples.push((r, c, data[p]));
        }
    }
    triples.sort_by_key(|a| (a.0, a.1));
    let mut out = SparseMatrix {
        n_rows,
        n_cols,
        indptr: vec![0; n_rows + 1],
        indices: Vec::with_capacity(triples.len()),
        data: Vec::with_capacity(triples.len()),
    };
    let mut last: Option<(usize, usize)> = None;
    for (r, c, v) in triples {
        if last == Some((r, c)) {
            *out.data.last_mut().expect("a previous entry") += v;
        } else {
            out.indices.push(c as u32);
            out.data.push(v);
            out.indptr[r + 1] += 1;
            last = Some((r, c));
        }
    }
    for r in 0..n_rows {
        out.indptr[r + 1] += out.indptr[r];
    }
    Ok(out)
}

/// Refuses the options a sparse `.npz` input cannot honour (they name table columns, or need
/// dense rows), one message each saying what to do.
pub fn check_options(
    opts: &crate::cli::InputArgs,
    weights: Option<&str>,
    typicality: bool,
    save: Option<&crate::cli::SaveArgs>,
) -> CliResult<()> {
    let refuse = |flag: &str, why: &str| {
        Err(CliError::msg(format!(
            "{flag} does not apply to a sparse .npz input: {why}"
        )))
    };
    if opts.columns.is_some() || opts.exclude.is_some() {
        return refuse(
            "--columns/--exclude",
            "select the columns in Python (X[:, cols]) before saving",
        );
    }
    if !opts.id.is_empty() || opts.append {
        return refuse(
            "--id/--append",
            "the matrix has no id columns; rows are written in order",
        );
    }
    if weights.is_some() {
        return refuse("--weights", "a sparse matrix has no named weight column");
    }
    if typicality {
        return refuse("--typicality", "typicality needs dense rows");
    }
    if save.is_some_and(|s| s.report.is_some() || s.pictures.any()) {
        return refuse(
            "--report/--plot/--report-html",
            "pictures and reports need dense rows",
        );
    }
    Ok(())
}

/// The sparse matrix a fit reads from `input` (an `.npz` path), after refusing the options it
/// cannot honour and noting that it is not standardised.
pub fn read_for_fit(
    input: Option<&str>,
    opts: &crate::cli::InputArgs,
    weights: Option<&str>,
    typ: &crate::cli::TypicalityArgs,
    save: &crate::cli::SaveArgs,
    standardize: softclust::Standardize,
    quiet: bool,
) -> CliResult<SparseMatrix> {
    check_options(opts, weights, typ.typicality, Some(save))?;
    standardize_note(standardize, quiet);
    read_npz(Path::new(input.unwrap_or_default()))
}

/// The note for `--standardize` on sparse input (centring would make the rows dense, so they
/// are used as they are).
pub fn standardize_note(s: softclust::Standardize, quiet: bool) {
    if s != softclust::Standardize::None && !quiet {
        note!(
            "softclust: sparse input is used as it is, not standardised (--standardize {} \
             would centre the rows and make them dense; scale TF-IDF-like data before saving)",
            s.name()
        );
    }
}

/// Feature names of a sparse matrix: `x0`, `x1`, ...
pub fn feature_names(d: usize) -> Vec<String> {
    (0..d).map(|j| format!("x{j}")).collect()
}
