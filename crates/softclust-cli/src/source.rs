//! Files read block by block: `.npy` (positioned reads of whole rows, C or Fortran order) and
//! Parquet (numeric columns of any row-group layout, through the arrow-rs `parquet` crate). A
//! fit whose data exceed the memory budget reads its file once per pass, one block at a time,
//! so its memory stays at one block whatever the number of rows; a fit that fits in memory reads
//! the same blocks once into one matrix.

use crate::cli::InputArgs;
use crate::columns::{carriable, resolve, Carried, ColumnSpec, Front, Plan};
use crate::error::{CliError, CliResult};
use crate::input::{npy_info, read_text_or_npy, NpyInfo, Table};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use ndarray::{Array2, Axis};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Rows per block of a pass: 65,536 (16 MiB of f64 at 32 features).
pub const BLOCK_ROWS: usize = 1 << 16;

/// A file that can be read block by block.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where the data come from, for messages.
    pub source: String,
    /// Names of the columns read as numbers (Parquet's, or `x_0, x_1, ...`): the features and
    /// the weights column, in file order.
    pub columns: Vec<String>,
    /// The weights column's place among `columns`.
    pub weights: Option<usize>,
    /// Names of the columns carried to the front of the output.
    pub front_names: Vec<String>,
    /// Rows.
    pub n: usize,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Npy {
        path: PathBuf,
        info: NpyInfo,
        /// The file's columns read as numbers, and those carried.
        numeric: Vec<usize>,
        front: Vec<usize>,
    },
    Parquet {
        path: PathBuf,
        /// Root columns read as numbers, those carried, and every root read (sorted).
        numeric: Vec<usize>,
        front: Vec<usize>,
        read: Vec<usize>,
        all_f32: bool,
    },
}

const PARQUET_MAGIC: &[u8] = b"PAR1";

/// Whether `p` names a Parquet file (by extension or by its first four bytes).
pub fn is_parquet(p: &str) -> bool {
    if p.to_ascii_lowercase().ends_with(".parquet") || p.to_ascii_lowercase().ends_with(".pq") {
        return true;
    }
    let mut head = [0u8; 4];
    File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == *PARQUET_MAGIC)
}

fn io_err(source: &str, e: impl std::fmt::Display) -> CliError {
    CliError::msg(format!("cannot read {source}: {e}"))
}

impl Source {
    /// Opens `path` as a block source when it is a `.npy` or Parquet file (`None` otherwise:
    /// text is read whole).
    pub fn open(path: &str, spec: &ColumnSpec) -> CliResult<Option<Source>> {
        let lower = path.to_ascii_lowercase();
        let source = format!("'{path}'");
        if crate::sparse_input::is_npz(Some(path)) {
            return Err(crate::sparse_input::dense_only(path));
        }
        if is_parquet(path) {
            return Self::parquet(path, source, spec).map(Some);
        }
        let mut head = [0u8; 6];
        let npy = lower.ends_with(".npy")
            || File::open(path)
                .and_then(|mut f| f.read_exact(&mut head))
                .is_ok_and(|()| &head == b"\x93NUMPY");
        if !npy {
            return Ok(None);
        }
        let file = File::open(path).map_err(|e| io_err(&source, e))?;
        let len = file.metadata().map_err(|e| io_err(&source, e))?.len();
        let info = npy_info(&source, std::io::BufReader::new(file), len)?;
        let names: Vec<String> = (0..info.d).map(|j| format!("x_{j}")).collect();
        let plan = resolve(spec, &names, &source)?;
        let numeric = plan.numeric();
        Ok(Some(Source {
            columns: numeric.iter().map(|&j| names[j].clone()).collect(),
            weights: plan.weights_among_numeric(),
            front_names: plan.front.iter().map(|&j| names[j].clone()).collect(),
            n: info.n,
            source,
            kind: Kind::Npy {
                path: PathBuf::from(path),
                info,
                numeric,
                front: plan.front,
            },
        }))
    }

    fn parquet(path: &str, source: String, spec: &ColumnSpec) -> CliResult<Source> {
        let file = File::open(path).map_err(|e| io_err(&source, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| CliError::msg(format!("{source}: not a readable Parquet file: {e}")))?;
        let n = builder.metadata().file_metadata().num_rows();
        let n = usize::try_from(n)
            .map_err(|_| CliError::msg(format!("{source}: bad row count {n}")))?;
        let schema = builder.schema().clone();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if names.is_empty() {
            return Err(CliError::msg(format!("{source} has no columns")));
        }
        if n == 0 {
            return Err(CliError::msg(format!("{source} is empty: no rows to read")));
        }
        let plan: Plan = resolve(spec, &names, &source)?;
        let numeric = plan.numeric();
        for &j in &numeric {
            let f = &schema.fields()[j];
            if !is_numeric(f.data_type()) {
                let role = if Some(j) == plan.weights {
                    "weights"
                } else {
                    "features"
                };
                return Err(CliError::msg(format!(
                    "{source}: column '{}' has type {}; softclust reads numeric columns (float, \
                     integer) as {role}: pick the feature columns with --columns (or --exclude) \
                     and carry identifiers with --id",
                    f.name(),
                    f.data_type()
                )));
            }
        }
        for &j in &plan.front {
            let f = &schema.fields()[j];
            if !carriable(f.data_type()) {
                return Err(CliError::msg(format!(
                    "{source}: column '{}' has type {}; columns copied to the output (--id, \
                     --append) must be text, integer, float or boolean",
                    f.name(),
                    f.data_type()
                )));
            }
        }
        let all_f32 = numeric
            .iter()
            .all(|&j| schema.fields()[j].data_type() == &DataType::Float32);
        Ok(Source {
            source,
            columns: numeric.iter().map(|&j| names[j].clone()).collect(),
            weights: plan.weights_among_numeric(),
            front_names: plan.front.iter().map(|&j| names[j].clone()).collect(),
            n,
            kind: Kind::Parquet {
                path: PathBuf::from(path),
                read: plan.read(),
                numeric,
                front: plan.front,
                all_f32,
            },
        })
    }

    /// How a pass over a copy of this file should store it: `None` when reading the file itself
    /// is cheap (`.npy`); `Some(true)` for Parquet whose columns are all float32 (a float32
    /// copy is exact), `Some(false)` for other Parquet files (float64).
    pub fn copy_as_f32(&self) -> Option<bool> {
        match &self.kind {
            Kind::Npy { .. } => None,
            Kind::Parquet { all_f32, .. } => Some(*all_f32),
        }
    }

    /// Features per row.
    pub fn d(&self) -> usize {
        self.columns.len()
    }

    /// The bytes the data take in memory as f64.
    pub fn bytes_f64(&self) -> u64 {
        (self.n as u64)
            .saturating_mul(self.d() as u64)
            .saturating_mul(8)
    }

    /// Calls `f(first_row, block)` for consecutive blocks of at most `rows` rows (Parquet:
    /// record batches of that size), in order. Non-finite values and nulls are errors naming
    /// the row (1-based) and column.
    ///
    /// A reader thread reads and decodes the next block while `f` works on this one (at most
    /// two blocks wait), so reading overlaps computing.
    pub fn for_each_block(
        &self,
        rows: usize,
        f: &mut dyn FnMut(usize, Array2<f64>) -> CliResult<()>,
    ) -> CliResult<()> {
        self.blocks(rows, false, &mut |start, b, _| f(start, b))
    }

    /// Whether the output carries columns of this file (`--id`, `--append`).
    pub fn has_front(&self) -> bool {
        !self.front_names.is_empty()
    }

    /// [`Self::for_each_block`] with the block's carried columns (see [`Self::has_front`]).
    pub fn for_each_block_front(
        &self,
        rows: usize,
        f: &mut dyn FnMut(usize, Array2<f64>, Option<Front>) -> CliResult<()>,
    ) -> CliResult<()> {
        self.blocks(rows, self.has_front(), f)
    }

    fn blocks(
        &self,
        rows: usize,
        with_front: bool,
        f: &mut dyn FnMut(usize, Array2<f64>, Option<Front>) -> CliResult<()>,
    ) -> CliResult<()> {
        let rows = rows.max(1);
        pipeline(
            &self.source,
            &mut |send| {
                let send = &mut |start, block, front| send(start, (block, front));
                match &self.kind {
                    Kind::Npy {
                        path,
                        info,
                        numeric,
                        front,
                    } => {
                        let front = with_front.then_some(front);
                        self.npy_blocks(path, info, numeric, front, rows, send)
                    }
                    Kind::Parquet {
                        path,
                        numeric,
                        front,
                        read,
                        ..
                    } => {
                        let front = with_front.then_some(front.as_slice());
                        self.parquet_blocks(path, numeric, front, read, rows, send)
                    }
                }
            },
            &mut |start, (block, front)| f(start, block, front),
        )
    }

    fn npy_blocks(
        &self,
        path: &Path,
        info: &NpyInfo,
        numeric: &[usize],
        front: Option<&Vec<usize>>,
        rows: usize,
        f: &mut dyn FnMut(usize, Array2<f64>, Option<Front>) -> CliResult<()>,
    ) -> CliResult<()> {
        let src = &self.source;
        let mut file = File::open(path).map_err(|e| io_err(src, e))?;
        let (n, d, size) = (info.n, info.d, info.item_size() as u64);
        let mut bytes = Vec::new();
        let mut vals = Vec::new();
        for start in (0..n).step_by(rows) {
            let b = rows.min(n - start);
            vals.clear();
            if info.fortran {
                // Column-major: one read per column, then transposed into rows.
                let mut cols = Vec::with_capacity(b * d);
                for j in 0..d {
                    let at = info.offset + (j as u64 * n as u64 + start as u64) * size;
                    bytes.resize(b * size as usize, 0);
                    file.seek(SeekFrom::Start(at)).map_err(|e| io_err(src, e))?;
                    file.read_exact(&mut bytes).map_err(|e| io_err(src, e))?;
                    info.decode(&bytes, &mut cols);
                }
                vals.extend((0..b * d).map(|t| cols[(t % d) * b + t / d]));
            } else {
                let at = info.offset + start as u64 * d as u64 * size;
                bytes.resize(b * d * size as usize, 0);
                file.seek(SeekFrom::Start(at)).map_err(|e| io_err(src, e))?;
                file.read_exact(&mut bytes).map_err(|e| io_err(src, e))?;
                info.decode(&bytes, &mut vals);
            }
            if let Some(t) = vals.iter().position(|v| !v.is_finite()) {
                return Err(CliError::msg(format!(
                    "{src} row {}, column {}: value {} is not finite; remove or impute missing \
                     and infinite values",
                    start + t / d + 1,
                    t % d + 1,
                    vals[t]
                )));
            }
            let block = Array2::from_shape_vec((b, d), std::mem::take(&mut vals))
                .map_err(|e| CliError::msg(format!("{src}: {e}")))?;
            let carried = front.map(|cols| Front {
                names: self.front_names.clone(),
                cols: cols
                    .iter()
                    .map(|&j| {
                        Carried::Text(block.column(j).iter().map(|v| v.to_string()).collect())
                    })
                    .collect(),
            });
            let block = if numeric.iter().copied().eq(0..d) {
                block
            } else {
                block.select(Axis(1), numeric)
            };
            f(start, block, carried)?;
        }
        Ok(())
    }

    fn parquet_blocks(
        &self,
        path: &Path,
        numeric: &[usize],
        front: Option<&[usize]>,
        read: &[usize],
        rows: usize,
        f: &mut dyn FnMut(usize, Array2<f64>, Option<Front>) -> CliResult<()>,
    ) -> CliResult<()> {
        // The batch holds the roots read, in file order; without carried columns only the
        // numeric ones are read.
        let roots: &[usize] = if front.is_some() { read } else { numeric };
        let at = |j: usize| roots.iter().position(|&r| r == j).unwrap_or(0);
        let numeric_at: Vec<usize> = numeric.iter().map(|&j| at(j)).collect();
        let src = &self.source;
        let file = File::open(path).map_err(|e| io_err(src, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| CliError::msg(format!("{src}: not a readable Parquet file: {e}")))?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(rows)
            .build()
            .map_err(|e| CliError::msg(format!("{src}: {e}")))?;
        let mut start = 0;
        for batch in reader {
            let batch = batch.map_err(|e| CliError::msg(format!("{src}: {e}")))?;
            let block = self.batch_to_rows(&batch, &numeric_at, start)?;
            let carried = front.map(|cols| Front {
                names: self.front_names.clone(),
                cols: cols
                    .iter()
                    .map(|&j| Carried::Arrow(batch.column(at(j)).clone()))
                    .collect(),
            });
            let b = block.nrows();
            f(start, block, carried)?;
            start += b;
        }
        if start != self.n {
            return Err(CliError::msg(format!(
                "{src}: the metadata say {} rows but {start} were read",
                self.n
            )));
        }
        Ok(())
    }

    /// A record batch as a row-major f64 block; nulls and non-finite values are errors.
    fn batch_to_rows(
        &self,
        batch: &RecordBatch,
        numeric_at: &[usize],
        start: usize,
    ) -> CliResult<Array2<f64>> {
        let (b, d) = (batch.num_rows(), numeric_at.len());
        let mut flat = vec![0.0f64; b * d];
        for (j, &c) in numeric_at.iter().enumerate() {
            let col = batch.column(c);
            let name = &self.columns[j];
            if col.null_count() > 0 {
                let i = (0..b).find(|&i| col.is_null(i)).unwrap_or(0);
                return Err(CliError::msg(format!(
                    "{} column '{name}' has missing values (null), the first at row {}; remove \
                     or impute them",
                    self.source,
                    start + i + 1
                )));
            }
            let vals: Vec<f64> = match col.data_type() {
                DataType::Float64 => col.as_primitive::<Float64Type>().values().to_vec(),
                DataType::Float32 => col
                    .as_primitive::<Float32Type>()
                    .values()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
                DataType::Int8 => prim::<Int8Type>(col.as_ref(), f64::from),
                DataType::Int16 => prim::<Int16Type>(col.as_ref(), f64::from),
                DataType::Int32 => prim::<Int32Type>(col.as_ref(), f64::from),
                DataType::Int64 => prim::<Int64Type>(col.as_ref(), |v| v as f64),
                DataType::UInt8 => prim::<UInt8Type>(col.as_ref(), f64::from),
                DataType::UInt16 => prim::<UInt16Type>(col.as_ref(), f64::from),
                DataType::UInt32 => prim::<UInt32Type>(col.as_ref(), f64::from),
                DataType::UInt64 => prim::<UInt64Type>(col.as_ref(), |v| v as f64),
                t => {
                    return Err(CliError::msg(format!(
                        "{} column '{name}' has type {t}; softclust reads numeric columns only",
                        self.source
                    )))
                }
            };
            if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
                return Err(CliError::msg(format!(
                    "{} row {}, column '{name}': value {} is not finite; remove or impute \
                     missing and infinite values",
                    self.source,
                    start + i + 1,
                    vals[i]
                )));
            }
            for (o, v) in flat.iter_mut().skip(j).step_by(d).zip(vals) {
                *o = v;
            }
        }
        Array2::from_shape_vec((b, d), flat).map_err(|e| CliError::msg(e.to_string()))
    }

    /// Every row in one matrix (the in-memory path), with the carried columns.
    pub fn read_all(&self) -> CliResult<Table> {
        let d = self.d();
        let mut values = Vec::with_capacity(self.n.saturating_mul(d));
        let mut front = self
            .has_front()
            .then(|| Front::new(self.front_names.clone()));
        self.for_each_block_front(BLOCK_ROWS, &mut |_, b, f| {
            values.extend(b.iter().copied());
            if let (Some(all), Some(f)) = (front.as_mut(), f) {
                all.extend(f)?;
            }
            Ok(())
        })?;
        let data = Array2::from_shape_vec((self.n, d), values)
            .map_err(|e| CliError::msg(format!("{}: {e}", self.source)))?;
        Ok(Table {
            source: self.source.clone(),
            columns: self.columns.clone(),
            data,
            weights: self.weights,
            front,
        })
    }
}

/// A block producer: it calls its argument with `(first row, block)` for every block in order.
pub type Producer<'a, T> =
    dyn FnMut(&mut dyn FnMut(usize, T) -> CliResult<()>) -> CliResult<()> + Send + 'a;

/// Runs `produce` on a thread of its own and `consume` here on each block it makes, with at
/// most two blocks waiting: reading and decoding overlap computing. The first error (either
/// side's) is returned; a consumer error stops the producer.
pub fn pipeline<T: Send>(
    source: &str,
    produce: &mut Producer<'_, T>,
    consume: &mut dyn FnMut(usize, T) -> CliResult<()>,
) -> CliResult<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<CliResult<(usize, T)>>(2);
        let reader = scope.spawn(move || {
            let mut send = |start: usize, block: T| -> CliResult<()> {
                // A closed channel means the consumer stopped (its error is reported).
                tx.send(Ok((start, block)))
                    .map_err(|_| CliError::msg("stopped"))
            };
            if let Err(e) = produce(&mut send) {
                let _ = tx.send(Err(e));
            }
        });
        let mut out = Ok(());
        for item in rx.iter() {
            if let Err(e) = item.and_then(|(start, block)| consume(start, block)) {
                out = Err(e);
                break;
            }
        }
        drop(rx);
        if reader.join().is_err() {
            return Err(CliError::msg(format!("{source}: the reader stopped")));
        }
        out
    })
}

fn prim<T: arrow_array::types::ArrowPrimitiveType>(
    col: &dyn Array,
    to: impl Fn(T::Native) -> f64,
) -> Vec<f64> {
    col.as_primitive::<T>()
        .values()
        .iter()
        .map(|&v| to(v))
        .collect()
}

/// Reads a whole table from `path` (`None` or `-` = standard input): Parquet, `.npy`, CSV or
/// TSV.
pub fn read_table(path: Option<&str>, opts: &InputArgs, spec: &ColumnSpec) -> CliResult<Table> {
    match path.filter(|p| *p != "-") {
        Some(p) if is_parquet(p) => Source::parquet(p, format!("'{p}'"), spec)?.read_all(),
        _ => read_text_or_npy(path, opts, spec),
    }
}

/// Whether a Parquet column of type `t` is read as numbers.
fn is_numeric(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float64
            | DataType::Float32
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}
