//! Reading numeric tables: CSV or TSV (header detected or forced) and `.npy` files, from a path
//! or standard input. Every defect is reported with the line and column it is on.

use crate::cli::InputArgs;
use crate::columns::{resolve, Carried, ColumnSpec, Front, Plan};
use crate::error::{CliError, CliResult};
use ndarray::{Array2, Axis};
use std::io::Read;

/// A numeric table (the features and the weights column, in file order) with its column
/// names, and the columns carried to the front of the output.
#[derive(Debug, Clone)]
pub struct Table {
    /// Where the data came from, for messages.
    pub source: String,
    /// Column names (from the header, else `x_0, x_1, ...`) of `data`.
    pub columns: Vec<String>,
    pub data: Array2<f64>,
    /// The weights column's place in `data`, if any.
    pub weights: Option<usize>,
    /// Columns copied to the front of every output row (`--id`, `--append`).
    pub front: Option<Front>,
}

impl Table {
    /// A table of every column of `data` named `columns`, selected by `spec` (`.npy` and
    /// numeric Parquet input: carried columns are the numbers as text).
    pub fn select(
        source: String,
        columns: Vec<String>,
        data: Array2<f64>,
        spec: &ColumnSpec,
    ) -> CliResult<Table> {
        let plan = resolve(spec, &columns, &source)?;
        let front = (!plan.front.is_empty()).then(|| Front {
            names: plan.front.iter().map(|&j| columns[j].clone()).collect(),
            cols: plan
                .front
                .iter()
                .map(|&j| Carried::Text(data.column(j).iter().map(|v| v.to_string()).collect()))
                .collect(),
        });
        let numeric = plan.numeric();
        let data = if plan.numeric_is_all(columns.len()) {
            data
        } else {
            data.select(Axis(1), &numeric)
        };
        Ok(Table {
            source,
            columns: numeric.iter().map(|&j| columns[j].clone()).collect(),
            data,
            weights: plan.weights_among_numeric(),
            front,
        })
    }
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

/// Whether `path` names an `.npz` file.
pub fn is_npz(path: Option<&str>) -> bool {
    path.is_some_and(|p| p.to_ascii_lowercase().ends_with(".npz"))
}

/// The error for a sparse `.npz` input to a command that takes dense tables.
pub fn dense_only(path: &str) -> CliError {
    CliError::msg(format!(
        "'{path}' is a sparse .npz matrix; sparse input works with kmeans, fcm and predict \
         (Gaussian mixtures, consensus and soft take dense tables: save X.toarray() with \
         numpy.save if it fits in memory)"
    ))
}

/// Reads a text or `.npy` table from `path` (`None` or `-` = standard input); Parquet goes
/// through [`crate::source::read_table`].
pub fn read_text_or_npy(
    path: Option<&str>,
    opts: &InputArgs,
    spec: &ColumnSpec,
) -> CliResult<Table> {
    if let Some(p) = path.filter(|p| *p != "-") {
        if is_npz(Some(p)) {
            return Err(dense_only(p));
        }
        if p.to_ascii_lowercase().ends_with(".npy") || starts_with_npy_magic(p) {
            let source = format!("'{p}'");
            let file = std::fs::File::open(p)
                .map_err(|e| CliError::msg(format!("cannot read '{p}': {e}")))?;
            let len = file
                .metadata()
                .map_err(|e| CliError::msg(format!("cannot read '{p}': {e}")))?
                .len();
            return read_npy(&source, std::io::BufReader::new(file), len, spec);
        }
    }
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
    if bytes.starts_with(NPY_MAGIC) {
        return read_npy(&source, bytes.as_slice(), bytes.len() as u64, spec);
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
    read_text(&source, &bytes, delimiter, Header::from(opts), spec)
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

/// A cell as quoted in a message: control characters escaped, at most 40 characters.
fn shown(cell: &str) -> String {
    let mut s: String = cell.chars().take(40).flat_map(char::escape_debug).collect();
    if cell.chars().count() > 40 {
        s.push_str("...");
    }
    s
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok()
}

/// How to pick the columns: every column, or the flags' choice.
const COLUMNS_HINT: &str =
    "pick the feature columns with --columns (or --exclude) and carry identifiers with --id";

fn read_text(
    source: &str,
    bytes: &[u8],
    delimiter: u8,
    header: Header,
    spec: &ColumnSpec,
) -> CliResult<Table> {
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
    let n_cols = first.len();
    let generic: Vec<String> = (0..n_cols).map(|j| format!("x_{j}")).collect();
    let as_names: Vec<String> = first.iter().map(str::to_string).collect();
    let is_header = match header {
        Header::Yes => true,
        Header::No => false,
        Header::Auto => {
            if numeric.iter().all(|&b| !b) {
                true
            } else if numeric.iter().all(|&b| b) {
                false
            } else if spec.selects() && !spec.positional() {
                // Names pick the columns, so the first row must hold them.
                resolve(spec, &as_names, source)?;
                true
            } else if spec.selects() {
                // Positions: a header unless every cell read as a number is one.
                let plan = resolve(spec, &generic, source)?;
                !plan.numeric().iter().all(|&j| numeric[j])
            } else {
                let bad = numeric.iter().position(|&b| !b).unwrap_or(0);
                return Err(CliError::msg(format!(
                    "{source} line {}: the first row mixes numbers and text (column {} is '{}'); \
                     if it is a header, pass --header; if some columns are not features, \
                     {COLUMNS_HINT}; otherwise fix the cell",
                    line_of(&first),
                    bad + 1,
                    shown(&first[bad])
                )));
            }
        }
    };
    let columns = if is_header { as_names } else { generic };
    let plan: Plan = resolve(spec, &columns, source)?;
    let numeric_cols = plan.numeric();
    let mut front = (!plan.front.is_empty())
        .then(|| Front::new(plan.front.iter().map(|&j| columns[j].clone()).collect()));
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
        for &j in &numeric_cols {
            let cell = &r[j];
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
                    "{source} line {line}, column {} ('{name}'): '{}' is not a number; if the \
                     column is not a feature, {COLUMNS_HINT}",
                    j + 1,
                    shown(cell)
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
        if let Some(f) = front.as_mut() {
            for (c, &j) in f.cols.iter_mut().zip(&plan.front) {
                if let Carried::Text(v) = c {
                    v.push(r[j].to_string());
                }
            }
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
    let data = Array2::from_shape_vec((n_rows, numeric_cols.len()), values)
        .map_err(|e| CliError::msg(format!("{source}: {e}")))?;
    Ok(Table {
        source: source.to_string(),
        columns: numeric_cols.iter().map(|&j| columns[j].clone()).collect(),
        data,
        weights: plan.weights_among_numeric(),
        front,
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

fn starts_with_npy_magic(p: &str) -> bool {
    let mut head = [0u8; 6];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == *NPY_MAGIC)
}

/// The element types of .npy files softclust reads: floats, signed and unsigned integers of
/// the usual sizes, either byte order.
#[derive(Debug, Clone, Copy)]
struct Dtype {
    kind: u8,
    size: usize,
    big_endian: bool,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Self> {
        let b = descr.as_bytes();
        if b.len() < 3 {
            return None;
        }
        let big_endian = match b[0] {
            b'<' | b'|' | b'=' => false,
            b'>' => true,
            _ => return None,
        };
        let size: usize = std::str::from_utf8(&b[2..]).ok()?.parse().ok()?;
        let ok = match b[1] {
            b'f' => matches!(size, 4 | 8),
            b'i' | b'u' => matches!(size, 1 | 2 | 4 | 8),
            _ => false,
        };
        ok.then_some(Dtype {
            kind: b[1],
            size,
            big_endian,
        })
    }

    /// One element as f64.
    fn value(self, e: &[u8]) -> f64 {
        let mut buf = [0u8; 8];
        buf[..self.size].copy_from_slice(e);
        if self.big_endian {
            buf[..self.size].reverse();
        }
        match (self.kind, self.size) {
            (b'f', 8) => f64::from_le_bytes(buf),
            (b'f', _) => f64::from(f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])),
            (b'i', 1) => f64::from(buf[0] as i8),
            (b'i', 2) => f64::from(i16::from_le_bytes([buf[0], buf[1]])),
            (b'i', 4) => f64::from(i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])),
            (b'i', _) => i64::from_le_bytes(buf) as f64,
            (_, 1) => f64::from(buf[0]),
            (_, 2) => f64::from(u16::from_le_bytes([buf[0], buf[1]])),
            (_, 4) => f64::from(u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])),
            _ => u64::from_le_bytes(buf) as f64,
        }
    }
}

/// The value of `key` in a .npy header dict (`{'descr': '<f8', 'fortran_order': False,
/// 'shape': (3, 2), }`): the text after `'key':` up to the next top-level comma or brace.
fn header_field<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?;
    let rest = rest.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// What a .npy header says: element type, order, shape, and where the data start.
#[derive(Debug, Clone, Copy)]
pub struct NpyInfo {
    dtype: Dtype,
    pub fortran: bool,
    pub n: usize,
    pub d: usize,
    /// Bytes before the data.
    pub offset: u64,
}

impl NpyInfo {
    /// Bytes per element.
    pub fn item_size(&self) -> usize {
        self.dtype.size
    }

    /// Decodes `bytes` (whole elements) to f64, appending to `out`.
    pub fn decode(&self, bytes: &[u8], out: &mut Vec<f64>) {
        out.extend(
            bytes
                .chunks_exact(self.dtype.size)
                .map(|e| self.dtype.value(e)),
        );
    }
}

/// Reads and checks the header of a .npy array of `len` bytes in all from `r` (leaving `r` at
/// the first data byte). The header is checked against the file's length, so a header that
/// claims more data than the file holds is an error, not an allocation.
pub fn npy_info(source: &str, mut r: impl Read, len: u64) -> CliResult<NpyInfo> {
    let bad = |what: String| CliError::msg(format!("{source}: not a readable .npy file: {what}"));
    let mut pre = [0u8; 10];
    r.read_exact(&mut pre)
        .map_err(|_| bad("shorter than a .npy header".into()))?;
    if !pre.starts_with(NPY_MAGIC) {
        return Err(bad("it does not start with the .npy signature".into()));
    }
    let (header_len, prefix) = match pre[6] {
        1 => (u64::from(u16::from_le_bytes([pre[8], pre[9]])), 10u64),
        2 | 3 => {
            let mut more = [0u8; 2];
            r.read_exact(&mut more)
                .map_err(|_| bad("shorter than a .npy header".into()))?;
            (
                u64::from(u32::from_le_bytes([pre[8], pre[9], more[0], more[1]])),
                12,
            )
        }
        v => {
            return Err(bad(format!(
                "format version {v} is not supported (1, 2 or 3 are)"
            )))
        }
    };
    if prefix + header_len > len {
        return Err(bad(format!(
            "the header claims {header_len} bytes but the file has {len} in all (truncated?)"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    r.read_exact(&mut header)
        .map_err(|e| bad(format!("cannot read the header: {e}")))?;
    let header = String::from_utf8_lossy(&header);
    let header = header.trim();
    let descr = header_field(header, "descr")
        .map(|d| d.trim_matches(['\'', '"']))
        .ok_or_else(|| bad("the header has no 'descr'".into()))?;
    let dtype = Dtype::parse(descr).ok_or_else(|| {
        CliError::msg(format!(
            "{source}: element type '{descr}' is not supported; softclust reads float64, float32 \
             and integer arrays (convert with numpy's astype)"
        ))
    })?;
    let fortran = match header_field(header, "fortran_order") {
        Some("True") => true,
        Some("False") => false,
        _ => return Err(bad("the header has no valid 'fortran_order'".into())),
    };
    let shape_text =
        header_field(header, "shape").ok_or_else(|| bad("the header has no 'shape'".into()))?;
    let dims: Vec<u64> = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("invalid shape {shape_text}")))?;
    let (n, d) = match dims.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        _ => {
            return Err(CliError::msg(format!(
                "{source}: the array has shape {shape_text} ({}-D); softclust reads 1-D or 2-D \
                 arrays (rows x features): reshape it first",
                dims.len()
            )))
        }
    };
    let data_len = len - prefix - header_len;
    let need = n
        .checked_mul(d)
        .and_then(|c| c.checked_mul(dtype.size as u64));
    if need != Some(data_len) {
        return Err(CliError::msg(format!(
            "{source}: the header says shape {shape_text} of '{descr}' ({} bytes of data) but the \
             file holds {data_len} bytes after the header: the file is truncated or corrupt",
            need.map_or("more than 2^64".to_string(), |b| b.to_string())
        )));
    }
    if n == 0 {
        return Err(CliError::msg(format!(
            "{source} is empty: the array has no rows"
        )));
    }
    if d == 0 {
        return Err(CliError::msg(format!("{source}: the array has no columns")));
    }
    Ok(NpyInfo {
        dtype,
        fortran,
        n: n as usize,
        d: d as usize,
        offset: prefix + header_len,
    })
}

/// Reads a .npy array (1-D: one column; 2-D: rows x columns) of `len` bytes in all from `r`,
/// as f64 (see [`npy_info`]).
fn read_npy(source: &str, mut r: impl Read, len: u64, spec: &ColumnSpec) -> CliResult<Table> {
    let bad = |what: String| CliError::msg(format!("{source}: not a readable .npy file: {what}"));
    let info = npy_info(source, &mut r, len)?;
    let (n, d, dtype, fortran) = (info.n, info.d, info.dtype, info.fortran);
    // The file holds n * d * size bytes, so this allocation is at most 8x the file's size.
    let mut values: Vec<f64> = Vec::with_capacity(n * d);
    let mut chunk = vec![0u8; dtype.size * 8192];
    let mut left = n * d;
    while left > 0 {
        let m = left.min(8192);
        let bytes = &mut chunk[..m * dtype.size];
        r.read_exact(bytes)
            .map_err(|e| bad(format!("cannot read the data: {e}")))?;
        for e in bytes.chunks_exact(dtype.size) {
            let v = dtype.value(e);
            if !v.is_finite() {
                let at = values.len();
                let (i, j) = if fortran {
                    (at % n, at / n)
                } else {
                    (at / d, at % d)
                };
                return Err(CliError::msg(format!(
                    "{source} row {}, column {}: value {v} is not finite; remove or impute \
                     missing and infinite values",
                    i + 1,
                    j + 1
                )));
            }
            values.push(v);
        }
        left -= m;
    }
    let data = if fortran {
        Array2::from_shape_vec((d, n), values)
            .map(|a| a.reversed_axes().as_standard_layout().into_owned())
    } else {
        Array2::from_shape_vec((n, d), values)
    }
    .map_err(|e| bad(e.to_string()))?;
    let columns = (0..d).map(|j| format!("x_{j}")).collect();
    Table::select(source.to_string(), columns, data, spec)
}

impl Table {
    /// Removes the weights column (if the table has one) and returns it, checked: no negative
    /// weight, not all zero.
    pub fn take_weights(&mut self) -> CliResult<Option<Vec<f64>>> {
        let Some(j) = self.weights.take() else {
            return Ok(None);
        };
        if self.columns.len() < 2 {
            return Err(CliError::msg(format!(
                "--weights '{}': {} has only that column, which leaves no features",
                self.columns[j], self.source
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
        Ok(Some(col))
    }
}
