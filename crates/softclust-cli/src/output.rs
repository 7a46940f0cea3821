//! Writing results: membership CSV with the fixed header, to standard output, through an
//! existing device or FIFO, or atomically to a file.
//!
//! Files are *staged*: each is written to a temporary file beside its destination and renamed
//! over it only by [`commit`], which `main` calls once the whole command has succeeded. A
//! failing command [`discard`]s them, and so does a SIGINT/SIGTERM/SIGHUP (see
//! [`install_signal_cleanup`]): no partial output and no stray temporary file is left. Every
//! output path is checked by [`check_paths`] before any work starts.

use crate::columns::{arrow_cell, CarriedCells, Front, FrontRows};
use crate::error::{lib_error, CliError, CliResult};
use ndarray::{Array1, Array2, ArrayView2};
use softclust::float::Shortest;
use softclust::{Membership, TopK};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Staged files: (temporary file, destination), in the order they were written.
static STAGED: Mutex<Vec<(tempfile::NamedTempFile, PathBuf)>> = Mutex::new(Vec::new());
/// Paths of temporary files that exist now (staged or being written), for the signal handler.
static TEMP_PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every temporary file on SIGINT, SIGTERM or SIGHUP, then exits with status 130.
pub fn install_signal_cleanup() {
    // Failure to install (another handler exists) only loses the clean-up, never the output.
    let _ = ctrlc::set_handler(|| {
        for p in lock(&TEMP_PATHS).drain(..) {
            let _ = std::fs::remove_file(p);
        }
        let _ = writeln!(io::stderr(), "softclust: interrupted; no output written");
        std::process::exit(130);
    });
}

/// Renames every staged file over its destination, in order.
pub fn commit() -> CliResult<()> {
    let staged: Vec<_> = lock(&STAGED).drain(..).collect();
    for (tmp, dest) in staged {
        let tmp_path = tmp.path().to_path_buf();
        let done = tmp.persist(&dest);
        lock(&TEMP_PATHS).retain(|p| p != &tmp_path);
        done.map_err(|e| CliError::msg(format!("writing '{}': {}", dest.display(), e.error)))?;
    }
    Ok(())
}

/// Deletes every staged file (the command failed).
pub fn discard() {
    lock(&STAGED).clear();
    lock(&TEMP_PATHS).clear();
}

/// Where an output goes.
enum Target {
    Stdout,
    /// An existing file that is not a regular file (device, FIFO, socket, `/dev/stdout`):
    /// written through, never replaced.
    Stream(PathBuf),
    /// A regular file (existing or new), reached through any symlinks: staged and renamed.
    File(PathBuf),
}

fn is_stream_path(p: &Path) -> bool {
    p.starts_with("/dev") || p.starts_with("/proc")
}

/// Follows symlinks (also dangling ones) to the path a write lands on.
fn resolve(p: &Path) -> CliResult<PathBuf> {
    let mut cur = p.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&cur).map_err(|e| {
                    CliError::msg(format!("cannot read the link '{}': {e}", cur.display()))
                })?;
                cur = match cur.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(cur),
        }
    }
    Err(CliError::msg(format!(
        "'{}': too many levels of symbolic links",
        p.display()
    )))
}

fn target(p: &Path) -> CliResult<Target> {
    if p.as_os_str() == "-" {
        return Ok(Target::Stdout);
    }
    if is_stream_path(p) {
        return Ok(Target::Stream(p.to_path_buf()));
    }
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => Err(CliError::msg(format!(
            "'{}' is a directory; give a file name",
            p.display()
        ))),
        Ok(m) if !m.is_file() => Ok(Target::Stream(p.to_path_buf())),
        _ => Ok(Target::File(resolve(p)?)),
    }
}

/// The directory a new file at `p` goes into.
fn dir_of(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// What identifies a file: device and inode when it exists, else its resolved path.
#[derive(PartialEq, Eq, Debug)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
}

fn file_id(p: &Path) -> Option<FileId> {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(p) {
        use std::os::unix::fs::MetadataExt;
        return Some(FileId::Inode(m.dev(), m.ino()));
    }
    let r = resolve(p).ok()?;
    let dir = std::fs::canonicalize(dir_of(&r)).ok()?;
    Some(FileId::Path(dir.join(r.file_name()?)))
}

/// Checks the outputs of a command before it starts: none is one of the `inputs` or another
/// output, at most one goes to standard output, and each can be created (its directory
/// exists and is writable). `outputs` pairs a flag with its path (`None`: standard output).
pub fn check_paths(inputs: &[&Path], outputs: &[(&str, Option<&Path>)]) -> CliResult<()> {
    let mut seen: Vec<(&str, FileId)> = Vec::new();
    let mut stdout_flag: Option<&str> = None;
    for &(flag, path) in outputs {
        let path = match path {
            Some(p) if p.as_os_str() != "-" => p,
            _ => {
                if let Some(other) = stdout_flag {
                    return Err(CliError::msg(format!(
                        "{other} and {flag} both write to standard output; send one of them to a \
                         file"
                    )));
                }
                stdout_flag = Some(flag);
                continue;
            }
        };
        let shown = path.display();
        let t =
            target(path).map_err(|CliError::Message(m)| CliError::msg(format!("{flag}: {m}")))?;
        let dest = match t {
            Target::Stdout | Target::Stream(_) => continue,
            Target::File(dest) => dest,
        };
        let Some(id) = file_id(&dest) else {
            return Err(CliError::msg(format!(
                "{flag} '{shown}': the directory '{}' does not exist",
                dir_of(&dest).display()
            )));
        };
        for input in inputs {
            if file_id(input).as_ref() == Some(&id) {
                return Err(CliError::msg(format!(
                    "{flag} '{shown}' is the input file '{}'; writing it would destroy the \
                     input: choose another output file",
                    input.display()
                )));
            }
        }
        if let Some((other, _)) = seen.iter().find(|(_, s)| *s == id) {
            return Err(CliError::msg(format!(
                "{other} and {flag} name the same file '{shown}'; give each output its own file"
            )));
        }
        // Creating (and at once deleting) a temporary file proves the directory writable.
        tempfile::Builder::new()
            .prefix(".softclust-")
            .tempfile_in(dir_of(&dest))
            .map_err(|e| {
                CliError::msg(format!(
                    "{flag} '{shown}': cannot create a file in '{}': {e}",
                    dir_of(&dest).display()
                ))
            })?;
        seen.push((flag, id));
    }
    Ok(())
}

/// Writes to a stream (standard output, a device, a FIFO): a reader that went away is not an
/// error.
fn stream(
    what: &str,
    out: impl Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> CliResult<()> {
    let mut w = BufWriter::new(out);
    match write(&mut w).and_then(|_| w.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|e| CliError::io(what, e)),
    }
}

/// Writes `write` to standard output (`None` or `-`), through an existing non-regular file
/// (a device or FIFO), or to a staged temporary file beside `path` that [`commit`] renames
/// over it once the command has succeeded (symlinks are followed and kept; an existing file's
/// mode is kept, a new file gets 0644).
///
/// A reader that closes standard output early is not an error: the rest of the command (and
/// its files) still completes, and the exit status is 0.
pub fn write_to(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> CliResult<()> {
    let t = match path {
        None => Target::Stdout,
        Some(p) => target(p)?,
    };
    match t {
        Target::Stdout => stream("writing standard output", io::stdout().lock(), write),
        Target::Stream(p) => {
            let what = format!("writing '{}'", p.display());
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| CliError::io(&what, e))?;
            stream(&what, f, write)
        }
        Target::File(dest) => {
            let what = format!("writing '{}'", dest.display());
            let dir = dir_of(&dest);
            let mut builder = tempfile::Builder::new();
            builder.prefix(".softclust-");
            #[cfg(unix)]
            {
                // Like a file created by a plain open(): keep an existing file's mode, else 0644.
                use std::os::unix::fs::PermissionsExt;
                let mode =
                    std::fs::metadata(&dest).map_or(0o644, |m| m.permissions().mode() & 0o7777);
                builder.permissions(std::fs::Permissions::from_mode(mode));
            }
            let mut tmp = {
                // Registered before anything is written, so a signal removes it.
                let mut paths = lock(&TEMP_PATHS);
                let tmp = builder.tempfile_in(dir).map_err(|e| {
                    CliError::msg(format!(
                        "{what}: cannot create a file in '{}': {e}",
                        dir.display()
                    ))
                })?;
                paths.push(tmp.path().to_path_buf());
                tmp
            };
            {
                let mut w = BufWriter::new(tmp.as_file_mut());
                write(&mut w)
                    .and_then(|_| w.flush())
                    .map_err(|e| CliError::msg(format!("{what}: {e}")))?;
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| CliError::msg(format!("{what}: {e}")))?;
            lock(&STAGED).push((tmp, dest));
            Ok(())
        }
    }
}

/// Columns written after the contract columns (typicality, intervals, raw scores), and whether
/// the last probability column is a noise component.
#[derive(Debug, Default, Clone)]
pub struct Columns {
    pub noise_last: bool,
    pub entries: Vec<Extra>,
}

/// One entry of [`Columns`]: a named column, or a per-cluster block `{prefix}_{j}`.
#[derive(Debug, Clone)]
pub enum Extra {
    Vector(String, Array1<f64>),
    Matrix(String, Array2<f64>),
}

impl Columns {
    pub fn push(&mut self, name: impl Into<String>, values: Array1<f64>) {
        self.entries.push(Extra::Vector(name.into(), values));
    }

    /// Every column of `m`, named `{prefix}_{j}` (with --top-k: `{prefix}_1..` at the top
    /// clusters of each row).
    pub fn push_matrix(&mut self, prefix: &str, m: ArrayView2<'_, f64>) {
        self.entries
            .push(Extra::Matrix(prefix.to_string(), m.to_owned()));
    }
}

/// The cells of one output column for a block of rows.
pub enum Cells<'a> {
    Text(&'a [String]),
    /// A carried Parquet column, written back with its type (as text to CSV).
    Arrow(arrow_array::ArrayRef),
    Float(Vec<f64>),
    Int(Vec<i64>),
}

/// A block of output rows as named columns: what the CSV and the Parquet writers take.
pub struct OutBlock<'a> {
    pub names: Vec<String>,
    pub cells: Vec<Cells<'a>>,
    pub n: usize,
}

impl<'a> OutBlock<'a> {
    /// The output rows of memberships `m` with `extra` columns after them and, before them,
    /// the carried columns `front`. With `top_k`, only each row's K largest probabilities and
    /// their clusters are written (`c_1,p_1,...`), per-cluster extras at those clusters, and a
    /// noise component's probability as `p_noise` after the summaries.
    pub fn new(
        m: &Membership<f64>,
        extra: &Columns,
        front: Option<FrontRows<'a>>,
        top_k: Option<usize>,
    ) -> CliResult<Self> {
        let n = m.n_samples();
        let mut b = OutBlock {
            names: Vec::new(),
            cells: Vec::new(),
            n,
        };
        if let Some(f) = front {
            for (j, name) in f.front.names.iter().enumerate() {
                b.names.push(name.clone());
                b.cells.push(match f.column(j, n) {
                    CarriedCells::Text(t) => Cells::Text(t),
                    CarriedCells::Arrow(a) => Cells::Arrow(a),
                });
            }
        }
        let k = m.n_clusters();
        let real = k - usize::from(extra.noise_last);
        let top = top_k
            .map(|t| TopK::from_membership(m, t, extra.noise_last).map_err(lib_error))
            .transpose()?;
        match &top {
            Some(t) => {
                for c in 0..t.k_top() {
                    b.push_int(
                        format!("c_{}", c + 1),
                        t.index.column(c).iter().map(|&v| v as i64),
                    );
                    b.push_float(format!("p_{}", c + 1), t.proba.column(c).to_vec());
                }
            }
            None => {
                for (j, col) in m.proba.columns().into_iter().enumerate() {
                    let name = if extra.noise_last && j + 1 == k {
                        "p_noise".to_string()
                    } else {
                        format!("p_{j}")
                    };
                    b.push_float(name, col.to_vec());
                }
            }
        }
        b.push_int("label".into(), m.label.iter().map(|&l| l as i64));
        b.push_float("max_p".into(), m.max_p.to_vec());
        b.push_float("margin".into(), m.margin.to_vec());
        b.push_float("entropy".into(), m.entropy.to_vec());
        if let Some(noise) = top.as_ref().and_then(|t| t.noise.as_ref()) {
            b.push_float("p_noise".into(), noise.to_vec());
        }
        for e in &extra.entries {
            match (e, &top) {
                (Extra::Vector(name, v), _) => b.push_float(name.clone(), v.to_vec()),
                (Extra::Matrix(prefix, v), Some(t)) if v.ncols() == real => {
                    let g = t.gather(v.view()).map_err(lib_error)?;
                    for (c, col) in g.columns().into_iter().enumerate() {
                        b.push_float(format!("{prefix}_{}", c + 1), col.to_vec());
                    }
                }
                (Extra::Matrix(prefix, v), _) => {
                    for (j, col) in v.columns().into_iter().enumerate() {
                        b.push_float(format!("{prefix}_{j}"), col.to_vec());
                    }
                }
            }
        }
        Ok(b)
    }

    fn push_float(&mut self, name: String, v: Vec<f64>) {
        self.names.push(name);
        self.cells.push(Cells::Float(v));
    }

    fn push_int(&mut self, name: String, v: impl Iterator<Item = i64>) {
        self.names.push(name);
        self.cells.push(Cells::Int(v.collect()));
    }
}

/// A CSV cell: quoted (with doubled quotes) when it holds a comma, a quote or a line break.
fn csv_cell(w: &mut dyn Write, cell: &str) -> io::Result<()> {
    if cell.contains([',', '"', '\n', '\r']) {
        write!(w, "\"{}\"", cell.replace('"', "\"\""))
    } else {
        w.write_all(cell.as_bytes())
    }
}

/// Writes blocks of output rows, as CSV (header before the first block) or as Parquet (one
/// row group per block).
pub struct BlockWriter {
    parquet: bool,
    pq: Option<ParquetBlocks>,
    started: bool,
}

impl BlockWriter {
    pub fn new(parquet: bool) -> Self {
        BlockWriter {
            parquet,
            pq: None,
            started: false,
        }
    }

    pub fn write(&mut self, w: &mut dyn Write, b: &OutBlock<'_>) -> io::Result<()> {
        if self.parquet {
            if self.pq.is_none() {
                self.pq = Some(ParquetBlocks::new(b)?);
            }
            if let Some(p) = self.pq.as_mut() {
                p.write(w, b)?;
            }
            return Ok(());
        }
        if !self.started {
            self.started = true;
            for (j, name) in b.names.iter().enumerate() {
                if j > 0 {
                    w.write_all(b",")?;
                }
                csv_cell(w, name)?;
            }
            writeln!(w)?;
        }
        for i in 0..b.n {
            for (j, c) in b.cells.iter().enumerate() {
                if j > 0 {
                    w.write_all(b",")?;
                }
                match c {
                    Cells::Text(t) => csv_cell(w, &t[i])?,
                    Cells::Arrow(a) => csv_cell(w, &arrow_cell(a.as_ref(), i))?,
                    Cells::Float(v) => write!(w, "{}", Shortest(v[i]))?,
                    Cells::Int(v) => write!(w, "{}", v[i])?,
                }
            }
            writeln!(w)?;
        }
        Ok(())
    }

    /// Ends the output (Parquet's footer).
    pub fn finish(self, w: &mut dyn Write) -> io::Result<()> {
        match self.pq {
            Some(p) => p.finish(w),
            None => Ok(()),
        }
    }
}

/// The membership CSV (or Parquet) of one whole matrix: `p_0,...,p_{k-1},label,max_p,margin,
/// entropy` (the last probability column named `p_noise` for a noise component), then any
/// extra columns; carried columns first, and the top-K form with `top_k`.
pub fn write_membership(
    w: &mut dyn Write,
    parquet: bool,
    m: &Membership<f64>,
    extra: &Columns,
    front: Option<&Front>,
    top_k: Option<usize>,
) -> io::Result<()> {
    let b = OutBlock::new(m, extra, front.map(|f| f.rows(0)), top_k)
        .map_err(|CliError::Message(e)| io::Error::other(e))?;
    let mut bw = BlockWriter::new(parquet);
    bw.write(w, &b)?;
    bw.finish(w)
}

/// A numeric matrix as CSV with the given header.
pub fn write_matrix(
    w: &mut dyn Write,
    header: &[String],
    x: ArrayView2<'_, f64>,
) -> io::Result<()> {
    writeln!(w, "{}", header.join(","))?;
    for row in x.rows() {
        let cells: Vec<String> = row.iter().map(|&v| Shortest(v).to_string()).collect();
        writeln!(w, "{}", cells.join(","))?;
    }
    Ok(())
}

/// Whether an output path asks for Parquet (`.parquet` or `.pq`).
pub fn wants_parquet(path: Option<&Path>) -> bool {
    path.and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// The output table written as Parquet, one row group per block: carried columns as text,
/// cluster indices and `label` as int64, the rest float64. The encoder writes into a buffer
/// that is moved to the output after every row group, so memory stays at one block.
pub struct ParquetBlocks {
    writer: parquet::arrow::ArrowWriter<Vec<u8>>,
    schema: std::sync::Arc<arrow_schema::Schema>,
}

fn parquet_io(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e.to_string())
}

impl ParquetBlocks {
    /// A writer for blocks with the columns of `b`.
    pub fn new(b: &OutBlock<'_>) -> io::Result<Self> {
        use arrow_schema::{DataType, Field, Schema};
        let fields: Vec<Field> = b
            .names
            .iter()
            .zip(&b.cells)
            .map(|(name, c)| {
                let (t, nullable) = match c {
                    Cells::Text(_) => (DataType::Utf8, false),
                    Cells::Arrow(a) => (a.data_type().clone(), true),
                    Cells::Float(_) => (DataType::Float64, false),
                    Cells::Int(_) => (DataType::Int64, false),
                };
                Field::new(name.clone(), t, nullable)
            })
            .collect();
        let schema = std::sync::Arc::new(Schema::new(fields));
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
            .map_err(parquet_io)?;
        Ok(ParquetBlocks { writer, schema })
    }

    /// Writes one block of rows as a row group.
    pub fn write(&mut self, w: &mut dyn Write, b: &OutBlock<'_>) -> io::Result<()> {
        use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
        let cols: Vec<ArrayRef> = b
            .cells
            .iter()
            .map(|c| -> ArrayRef {
                match c {
                    Cells::Text(t) => std::sync::Arc::new(StringArray::from_iter_values(t.iter())),
                    Cells::Arrow(a) => a.clone(),
                    Cells::Float(v) => {
                        std::sync::Arc::new(Float64Array::from_iter_values(v.iter().copied()))
                    }
                    Cells::Int(v) => {
                        std::sync::Arc::new(Int64Array::from_iter_values(v.iter().copied()))
                    }
                }
            })
            .collect();
        let batch = arrow_array::RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.writer.write(&batch).map_err(parquet_io)?;
        self.writer.flush().map_err(parquet_io)?;
        self.drain(w)
    }

    fn drain(&mut self, w: &mut dyn Write) -> io::Result<()> {
        let buf = self.writer.inner_mut();
        w.write_all(buf)?;
        buf.clear();
        Ok(())
    }

    /// Writes the footer.
    pub fn finish(mut self, w: &mut dyn Write) -> io::Result<()> {
        self.writer.finish().map_err(parquet_io)?;
        self.drain(w)
    }
}
