//! Reading numeric tables: CSV or TSV (header detected or forced) and `.npy` files, from a path
//! or standard input. Every defect is reported with the line and column it is on.

use crate::cli::InputArgs;
use crate::error::{CliError, CliResult};
use ndarray::{Array, Array2, Axis, Dimension, Ix1, Ix2};
use std::io::Read;

/// A numeric table with column names and, for text input, the file line of every data row.
#[derive(Debug, Clone)]
pub struct Table {
    /// Where the data came from, for messages.
    pub source: String,
    /// Column names (from the header, else `x_0, x_1, ...`).
    pub columns: Vec<String>,
    pub data: Array2<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    Auto,
    Yes,
    No,
}

impl From<&InputArgs> for Header {
    fn from(a: &InputArgs) -> Self {
        if a.header {
            Header::Yes
        } else if a.no_header {
            Header::No
        } else {
            Header::Auto
        }
    }
}

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a table from `path` (`None` or `-` = standard input).
pub fn read_table(path: Option<&str>, opts: &InputArgs) -> CliResult<Table> {
    let (source, bytes) = match path {
        None | Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| CliError::msg(format!("cannot read standard input: {e}")))?;
            ("standard input".to_string(), buf)
        }
        Some(p) => {
            let buf =
                std::fs::read(p).map_err(|e| CliError::msg(format!("cannot read '{p}': {e}")))?;
            (format!("'{p}'"), buf)
        }
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(CliError::msg(format!("{source} is empty: no rows to read")));
    }
    let is_npy = path.is_some_and(|p| p.to_ascii_lowercase().ends_with(".npy"))
        || bytes.starts_with(NPY_MAGIC);
    if is_npy {
        return read_npy(&source, &bytes);
    }
    let delimiter = match opts.delimiter {
        Some(c) if c.is_ascii() => c as u8,
        Some(c) => {
            return Err(CliError::msg(format!(
                "--delimiter '{c}' is not a single ASCII character"
            )))
        }
        None => sniff_delimiter(path, &bytes),
    };
    read_text(&source, &bytes, delimiter, Header::from(opts))
}

fn sniff_delimiter(path: Option<&str>, bytes: &[u8]) -> u8 {
    if let Some(p) = path {
        let p = p.to_ascii_lowercase();
        if p.ends_with(".tsv") || p.ends_with(".tab") {
            return b'\t';
        }
    }
    let first = bytes
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .unwrap_or(&[]);
    if first.contains(&b'\t') && !first.contains(&b',') {
        b'\t'
    } else {
        b','
    }
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok()
}

fn read_text(source: &str, bytes: &[u8], delimiter: u8, header: Header) -> CliResult<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.records();
    let first = match records.next() {
        None => return Err(CliError::msg(format!("{source} is empty: no rows to read"))),
        Some(r) => r.map_err(|e| csv_error(source, e))?,
    };
    let line_of = |r: &csv::StringRecord| r.position().map_or(0, |p| p.line());
    let numeric: Vec<bool> = first
        .iter()
        .map(|c| !c.is_empty() && parse_number(c).is_some())
        .collect();
    let is_header = match header {
        Header::Yes => true,
        Header::No => false,
        Header::Auto => {
            if numeric.iter().all(|&b| !b) {
                true
            } else if numeric.iter().all(|&b| b) {
                false
            } else {
                let bad = numeric.iter().position(|&b| !b).unwrap_or(0);
                return Err(CliError::msg(format!(
                    "{source} line {}: the first row mixes numbers and text (column {} is '{}'); \
                     if it is a header, pass --header, otherwise fix the cell",
                    line_of(&first),
                    bad + 1,
                    &first[bad]
                )));
            }
        }
    };
    let n_cols = first.len();
    let columns: Vec<String> = if is_header {
        first.iter().map(str::to_string).collect()
    } else {
        (0..n_cols).map(|j| format!("x_{j}")).collect()
    };
    let mut values: Vec<f64> = Vec::new();
    let mut n_rows = 0usize;
    let mut parse_row = |r: &csv::StringRecord| -> CliResult<()> {
        let line = line_of(r);
        if r.len() != n_cols {
            return Err(CliError::msg(format!(
                "{source} line {line}: {} fields, but the first row has {n_cols}; every row needs \
                 the same number of fields",
                r.len()
            )));
        }
        for (j, cell) in r.iter().enumerate() {
            let name = &columns[j];
            if cell.is_empty() {
                return Err(CliError::msg(format!(
                    "{source} line {line}, column {} ('{name}'): empty cell; remove or impute \
                     missing values",
                    j + 1
                )));
            }
            let v = parse_number(cell).ok_or_else(|| {
                CliError::msg(format!(
                    "{source} line {line}, column {} ('{name}'): '{cell}' is not a number",
                    j + 1
                ))
            })?;
            if !v.is_finite() {
                return Err(CliError::msg(format!(
                    "{source} line {line}, column {} ('{name}'): '{cell}' is not finite; remove or \
                     impute missing and infinite values",
                    j + 1
                )));
            }
            values.push(v);
        }
        n_rows += 1;
        Ok(())
    };
    if !is_header {
        parse_row(&first)?;
    }
    for r in records {
        let r = r.map_err(|e| csv_error(source, e))?;
        parse_row(&r)?;
    }
    if n_rows == 0 {
        return Err(CliError::msg(format!(
            "{source} has a header but no data rows"
        )));
    }
    let data = Array2::from_shape_vec((n_rows, n_cols), values)
        .map_err(|e| CliError::msg(format!("{source}: {e}")))?;
    Ok(Table {
        source: source.to_string(),
        columns,
        data,
    })
}

fn csv_error(source: &str, e: csv::Error) -> CliError {
    let line = e.position().map(|p| p.line());
    match (line, e.kind()) {
        (Some(l), csv::ErrorKind::Utf8 { .. }) => CliError::msg(format!(
            "{source} line {l}: not valid UTF-8 text; is this a binary file?"
        )),
        (Some(l), _) => CliError::msg(format!("{source} line {l}: {e}")),
        (None, _) => CliError::msg(format!("{source}: {e}")),
    }
}

/// Reads a float64, float32, int64 or int32 array of dimension `D` as f64.
fn read_as_f64<D: Dimension>(b: &[u8]) -> Result<Array<f64, D>, ndarray_npy::ReadNpyError> {
    use ndarray_npy::ReadNpyExt;
    if let Ok(a) = Array::<f64, D>::read_npy(b) {
        return Ok(a);
    }
    if let Ok(a) = Array::<f32, D>::read_npy(b) {
        return Ok(a.mapv(f64::from));
    }
    if let Ok(a) = Array::<i64, D>::read_npy(b) {
        return Ok(a.mapv(|v| v as f64));
    }
    Array::<i32, D>::read_npy(b).map(|a| a.mapv(f64::from))
}

fn read_npy(source: &str, bytes: &[u8]) -> CliResult<Table> {
    let bad = |e: ndarray_npy::ReadNpyError| {
        CliError::msg(format!(
            "{source}: cannot read as a .npy array of numbers ({e}); softclust reads 1-D or 2-D \
             float64, float32, int64 or int32 arrays"
        ))
    };
    let data = match read_as_f64::<Ix2>(bytes) {
        Ok(a) => a,
        Err(e2) => match read_as_f64::<Ix1>(bytes) {
            Ok(a) => a.insert_axis(Axis(1)),
            Err(_) => return Err(bad(e2)),
        },
    };
    if data.nrows() == 0 {
        return Err(CliError::msg(format!(
            "{source} is empty: the array has no rows"
        )));
    }
    if data.ncols() == 0 {
        return Err(CliError::msg(format!("{source}: the array has no columns")));
    }
    for (i, row) in data.rows().into_iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(CliError::msg(format!(
                    "{source} row {}, column {}: value {v} is not finite; remove or impute missing \
                     and infinite values",
                    i + 1,
                    j + 1
                )));
            }
        }
    }
    let columns = (0..data.ncols()).map(|j| format!("x_{j}")).collect();
    Ok(Table {
        source: source.to_string(),
        columns,
        data,
    })
}

impl Table {
    /// Removes the column named by `spec` (header name, or 1-based position) and returns it.
    pub fn take_column(&mut self, spec: &str) -> CliResult<Vec<f64>> {
        let by_name = self.columns.iter().position(|c| c == spec);
        let j = match by_name {
            Some(j) => j,
            None => match spec.parse::<usize>() {
                Ok(p) if (1..=self.columns.len()).contains(&p) => p - 1,
                _ => {
                    return Err(CliError::msg(format!(
                        "--weights '{spec}': no such column in {}; give a header name or a \
                         position from 1 to {}",
                        self.source,
                        self.columns.len()
                    )))
                }
            },
        };
        if self.columns.len() < 2 {
            return Err(CliError::msg(format!(
                "--weights '{spec}': {} has only that column, which leaves no features",
                self.source
            )));
        }
        let col = self.data.column(j).to_vec();
        let keep: Vec<usize> = (0..self.columns.len()).filter(|&c| c != j).collect();
        self.data = self.data.select(Axis(1), &keep);
        let name = self.columns.remove(j);
        for (i, &w) in col.iter().enumerate() {
            if w < 0.0 {
                return Err(CliError::msg(format!(
                    "{} data row {}: weight column '{name}' has {w}; weights must be >= 0",
                    self.source,
                    i + 1
                )));
            }
        }
        if col.iter().all(|&w| w == 0.0) {
            return Err(CliError::msg(format!(
                "weight column '{name}' is all zeros; give at least one point a positive weight"
            )));
        }
        Ok(col)
    }
}
