//! Fits whose data exceed the memory budget (`--memory-limit`): the `.npy` or Parquet file is
//! read once per pass, one block at a time, and every pass runs the core's block kernels and
//! loops (the ones the in-memory fits run), so peak memory is one block plus the model,
//! whatever the number of rows.
//!
//! The first pass gathers the column moments (means, and squared deviations merged across
//! blocks by Chan's rule, never raw moments), the bounding box, the total weight, and a uniform
//! Bernoulli sample of about [`SAMPLE_ROWS`] rows. The scaler comes from the moments; the fit
//! starts from the in-memory fit (same settings and restarts) on the standardised sample, then
//! runs full passes. Memberships are written block by block.

use crate::cli::{EmArgs, FcmArgs, GmmArgs, InputArgs, KmeansArgs, SaveArgs};
use crate::columns::ColumnSpec;
use crate::error::{lib_error, CliError, CliResult};
use crate::mixture::{config, convergence_note, em_params, model_json_with};
use crate::model_io::{self, OutputSummary, Shape};
use crate::output::{write_matrix, write_to};
use crate::progress::FitProgress;
use crate::report::{num, write_report, Timer};
use crate::source::{Source, BLOCK_ROWS};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde_json::json;
use softclust::fcm::{fcm_block_stats, fcm_final_block, fcm_loop, FcmPasses, FcmStats, FinalStats};
use softclust::gmm::block::{
    em_loop, em_stats, EmParams, EmPasses, EmSettings, EmStats, Regularizer,
};
use softclust::kmeans::block::{
    block_candidates, deviation_stats, lloyd_loop, lloyd_stats, merge_candidates, Candidate,
    Deviations, LloydPasses, LloydStats,
};
use softclust::{Criteria, KMeans, KMeansModel, Model, ModelFile, Scaler, Spread, Standardize};
use std::cell::RefCell;
use std::path::Path;

/// Expected rows of the sample that starts a fit.
pub const SAMPLE_ROWS: usize = 200_000;

/// The default budget: half the memory the system reports available (4 GiB when unknown).
pub fn default_budget() -> u64 {
    let avail = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    avail.map_or(4 << 30, |b| b / 2)
}

/// The file to stream when `input` is a `.npy` or Parquet file whose data (as f64) exceed the
/// budget; `None` when the data are read into memory.
pub fn plan(
    input: Option<&str>,
    opts: &InputArgs,
    weights: Option<&str>,
) -> CliResult<Option<Source>> {
    let Some(p) = input.filter(|p| *p != "-") else {
        return Ok(None);
    };
    let Some(src) = Source::open(p, &ColumnSpec::new(opts, weights))? else {
        return Ok(None);
    };
    let budget = opts.memory_limit.unwrap_or_else(default_budget);
    Ok((src.bytes_f64() > budget).then_some(src))
}

/// A raw copy of a Parquet file's rows (features, then the weight if any) in an unnamed
/// temporary file, made during the first pass: later passes read it with positioned reads
/// (from the page cache when it fits there) instead of decoding Parquet again. The file has no
/// name, so it goes away with the process, even on a signal.
struct Copy {
    file: std::fs::File,
    f32: bool,
    /// Values per row.
    width: usize,
}

impl Copy {
    fn new(f32: bool, width: usize) -> CliResult<Self> {
        let file = tempfile::tempfile().map_err(|e| {
            CliError::msg(format!(
                "cannot create a temporary file for the out-of-core passes: {e} (set TMPDIR to \
                 a directory with room for the data)"
            ))
        })?;
        Ok(Copy { file, f32, width })
    }

    fn item(&self) -> usize {
        if self.f32 {
            4
        } else {
            8
        }
    }

    fn append(&mut self, block: &Array2<f64>) -> CliResult<()> {
        use std::io::Write;
        let mut bytes = Vec::with_capacity(block.len() * self.item());
        for &v in block.iter() {
            if self.f32 {
                bytes.extend_from_slice(&(v as f32).to_le_bytes());
            } else {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| CliError::msg(format!("writing the temporary copy of the data: {e}")))
    }

    /// Rows `start..start + b` as a `b x width` block.
    fn read(&self, start: usize, b: usize) -> CliResult<Array2<f64>> {
        use std::os::unix::fs::FileExt;
        let item = self.item();
        let mut bytes = vec![0u8; b * self.width * item];
        self.file
            .read_exact_at(&mut bytes, (start * self.width * item) as u64)
            .map_err(|e| CliError::msg(format!("reading the temporary copy of the data: {e}")))?;
        let vals: Vec<f64> = if self.f32 {
            bytes
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        } else {
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()
        };
        Array2::from_shape_vec((b, self.width), vals).map_err(|e| CliError::msg(e.to_string()))
    }
}

/// A file prepared for passes: the weights column, the scaler and the first pass's statistics.
pub struct Streamed {
    src: Source,
    wcol: Option<usize>,
    /// Feature names (the weights column removed).
    pub columns: Vec<String>,
    pub scaler: Scaler<f64>,
    pub n: usize,
    /// Column means of the standardised data (the kernels' centring vector).
    pub mean_z: Array1<f64>,
    /// Mean feature variance of the standardised data.
    pub mean_var_z: f64,
    /// `ln` of the bounding box's volume in standardised units (None: a constant feature).
    pub log_volume_z: Option<f64>,
    /// The sample (standardised) and its weights.
    pub sample: Array2<f64>,
    pub sample_w: Array1<f64>,
    pub total_weight: f64,
    /// Passes over the file so far.
    pub passes: std::cell::Cell<usize>,
    /// The raw copy later passes read (Parquet input).
    copy: Option<Copy>,
}

/// Per-column count, mean and sum of squared deviations, merged across blocks (Chan et al.).
struct Moments {
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Moments {
    fn add_block(&mut self, x: ArrayView2<'_, f64>) {
        let nb = x.nrows() as f64;
        if nb == 0.0 {
            return;
        }
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let mb = col.sum() / nb;
            let m2b: f64 = col.iter().map(|v| (v - mb) * (v - mb)).sum();
            let n = self.n + nb;
            let delta = mb - self.mean[j];
            self.mean[j] += delta * nb / n;
            self.m2[j] += m2b + delta * delta * self.n * nb / n;
            for &v in col {
                self.lo[j] = self.lo[j].min(v);
                self.hi[j] = self.hi[j].max(v);
            }
        }
        self.n += nb;
    }
}

impl Streamed {
    /// The first pass over `src` (see the module documentation).
    pub fn prepare(
        src: Source,
        standardize: Standardize,
        seed: u64,
        quiet: bool,
    ) -> CliResult<Self> {
        let wcol = src.weights;
        let columns: Vec<String> = src
            .columns
            .iter()
            .enumerate()
            .filter(|&(j, _)| Some(j) != wcol)
            .map(|(_, c)| c.clone())
            .collect();
        let d = columns.len();
        if d == 0 {
            return Err(CliError::msg(format!(
                "{} has no feature columns besides the weights",
                src.source
            )));
        }
        let mut mo = Moments {
            n: 0.0,
            mean: vec![0.0; d],
            m2: vec![0.0; d],
            lo: vec![f64::INFINITY; d],
            hi: vec![f64::NEG_INFINITY; d],
        };
        let p = (SAMPLE_ROWS as f64 / src.n as f64).min(1.0);
        let mut rng = softclust::rng::Rng::new(softclust::rng::derive_seed(seed, 0x5a3b1e));
        let mut sample: Vec<f64> = Vec::new();
        let mut sample_w: Vec<f64> = Vec::new();
        let mut total_weight = 0.0;
        let source = src.source.clone();
        let mut copy = src
            .copy_as_f32()
            .map(|f32| Copy::new(f32, src.d()))
            .transpose()?;
        src.for_each_block(BLOCK_ROWS, &mut |start, block| {
            if let Some(c) = copy.as_mut() {
                c.append(&block)?;
            }
            let (x, w) = split(block, wcol, &source, start)?;
            mo.add_block(x.view());
            let wsum: f64 = w.as_ref().map_or(x.nrows() as f64, |w| w.sum());
            total_weight += wsum;
            for (i, row) in x.rows().into_iter().enumerate() {
                let wi = w.as_ref().map_or(1.0, |w| w[i]);
                if rng.uniform() < p && wi > 0.0 {
                    sample.extend(row.iter());
                    sample_w.push(wi);
                }
            }
            Ok(())
        })?;
        if total_weight.is_nan() || total_weight <= 0.0 {
            return Err(CliError::msg(
                "the sample weights sum to zero: give some rows a positive weight",
            ));
        }
        let var: Vec<f64> = mo.m2.iter().map(|m| m / mo.n).collect();
        let scaler: Scaler<f64> = standardize
            .from_moments(mo.n, &mo.mean, &var)
            .map_err(lib_error)?;
        if !quiet {
            for &j in scaler.unscaled_columns() {
                note!(
                    "softclust: note: column '{}' has zero spread; it is centred but left unscaled",
                    columns[j]
                );
            }
        }
        let (c, sc) = (scaler.center(), scaler.scale());
        let mean_z: Array1<f64> = (0..d).map(|j| (mo.mean[j] - c[j]) / sc[j]).collect();
        let mean_var_z = (0..d).map(|j| var[j] / (sc[j] * sc[j])).sum::<f64>() / d as f64;
        let log_volume_z = (0..d)
            .map(|j| {
                let e = (mo.hi[j] - mo.lo[j]) / sc[j];
                (e > 0.0).then(|| e.ln())
            })
            .sum::<Option<f64>>();
        let ns = sample_w.len();
        let mut sample =
            Array2::from_shape_vec((ns, d), sample).map_err(|e| CliError::msg(e.to_string()))?;
        scaler
            .transform_inplace(sample.view_mut())
            .map_err(lib_error)?;
        Ok(Streamed {
            n: src.n,
            src,
            wcol,
            columns,
            scaler,
            mean_z,
            mean_var_z,
            log_volume_z,
            sample,
            sample_w: Array1::from(sample_w),
            total_weight,
            passes: std::cell::Cell::new(1),
            copy,
        })
    }

    /// One pass: `f(first_row, standardised block, weights)` for every block, in order.
    pub fn each(&self, f: &mut BlockFn<'_>) -> CliResult<()> {
        self.passes.set(self.passes.get() + 1);
        let mut on_block = |start: usize, block: Array2<f64>| -> CliResult<()> {
            let (mut x, w) = split(block, self.wcol, &self.src.source, start)?;
            self.scaler
                .transform_inplace(x.view_mut())
                .map_err(lib_error)?;
            f(start, x.view(), w.as_ref())
        };
        match &self.copy {
            Some(c) => {
                let n = self.n;
                crate::source::pipeline(
                    &self.src.source,
                    &mut |send| {
                        for start in (0..n).step_by(BLOCK_ROWS) {
                            send(start, c.read(start, BLOCK_ROWS.min(n - start))?)?;
                        }
                        Ok(())
                    },
                    &mut on_block,
                )
            }
            None => self.src.for_each_block(BLOCK_ROWS, &mut on_block),
        }
    }

    pub fn model_file(&self, model: Model<f64>, typicality: Option<Spread>) -> ModelFile {
        ModelFile::new(self.columns.clone(), self.scaler.clone(), typicality, model)
    }

    /// The first pass, announced, with a sample of at least `k` rows; the timer has lapped
    /// "read".
    fn start(
        src: Source,
        standardize: Standardize,
        seed: u64,
        what: &str,
        k: usize,
        quiet: bool,
    ) -> CliResult<(Timer, Self)> {
        let mut timer = Timer::new();
        let s = Self::prepare(src, standardize, seed, quiet)?;
        if !quiet {
            note!(
                "softclust: {} is {} x {} ({:.1} GiB as f64), more than the memory budget: \
                 fitting {what} out of core, one block of {BLOCK_ROWS} rows at a time",
                s.src.source,
                s.n,
                s.src.d(),
                s.src.bytes_f64() as f64 / f64::from(1u32 << 30)
            );
        }
        timer.lap("read");
        if s.sample.nrows() < k.max(2) {
            return Err(CliError::msg(format!(
                "the start sample has {} rows, fewer than k = {k}; give more data",
                s.sample.nrows()
            )));
        }
        Ok((timer, s))
    }
}

/// A consumer of `(first row, standardised block, weights)`.
pub type BlockFn<'a> =
    dyn FnMut(usize, ArrayView2<'_, f64>, Option<&Array1<f64>>) -> CliResult<()> + 'a;

/// A block's features and, with a weights column, its (checked) weights.
fn split(
    block: Array2<f64>,
    wcol: Option<usize>,
    source: &str,
    start: usize,
) -> CliResult<(Array2<f64>, Option<Array1<f64>>)> {
    let Some(j) = wcol else {
        return Ok((block, None));
    };
    let w = block.column(j).to_owned();
    if let Some(i) = w.iter().position(|&v| !(v.is_finite() && v >= 0.0)) {
        return Err(CliError::msg(format!(
            "{source} row {}: weight {} is negative or not finite; weights must be >= 0",
            start + i + 1,
            w[i]
        )));
    }
    let keep: Vec<usize> = (0..block.ncols()).filter(|&c| c != j).collect();
    Ok((block.select(Axis(1), &keep), Some(w)))
}

/// Carries a CLI error out of a core loop (the loop sees an interruption).
struct Errors(RefCell<Option<CliError>>);

impl Errors {
    fn keep<T>(&self, r: CliResult<T>) -> softclust::Result<T> {
        r.map_err(|e| {
            *self.0.borrow_mut() = Some(e);
            softclust::Error::Interrupted
        })
    }
    fn finish<T>(self, r: softclust::Result<T>) -> CliResult<T> {
        match (self.0.into_inner(), r) {
            (Some(e), _) => Err(e),
            (None, r) => r.map_err(lib_error),
        }
    }
}

struct Passes<'a> {
    s: &'a Streamed,
    err: &'a Errors,
    progress: &'a FitProgress,
    it: usize,
}

impl LloydPasses<f64> for Passes<'_> {
    fn pass(&mut self, c: ArrayView2<'_, f64>) -> softclust::Result<LloydStats> {
        let mut t = LloydStats::zeros(c.nrows(), c.ncols());
        let mu = self.s.mean_z.view();
        let r = self.s.each(&mut |_, z, w| {
            let st = lloyd_stats(z, w.map(|w| w.view()), c, mu).map_err(lib_error)?;
            t.add(&st);
            Ok(())
        });
        self.err.keep(r)?;
        self.progress.tick(0, self.it, t.inertia);
        self.it += 1;
        Ok(t)
    }

    fn candidates(
        &mut self,
        old: ArrayView2<'_, f64>,
        m: usize,
    ) -> softclust::Result<Vec<Candidate>> {
        let mut all: Vec<(f64, usize, Candidate)> = Vec::new();
        let mu = self.s.mean_z.view();
        let r = self.s.each(&mut |start, z, w| {
            for (d2, i, c) in
                block_candidates(z, w.map(|w| w.view()), old, mu, m).map_err(lib_error)?
            {
                all.push((d2, start + i, c));
            }
            Ok(())
        });
        self.err.keep(r)?;
        Ok(merge_candidates(all, m))
    }
}

impl EmPasses for Passes<'_> {
    fn pass(&mut self, p: &EmParams) -> softclust::Result<EmStats> {
        let mut t = EmStats::zeros(p);
        let r = self.s.each(&mut |_, z, w| {
            t.add(&em_stats(z, w.map(|w| w.view()), p).map_err(lib_error)?);
            Ok(())
        });
        self.err.keep(r)?;
        self.progress
            .tick(0, self.it, t.log_likelihood() / self.s.total_weight);
        self.it += 1;
        Ok(t)
    }
}

struct FcmStream<'a> {
    s: &'a Streamed,
    err: &'a Errors,
    m: f64,
}

impl FcmPasses<f64> for FcmStream<'_> {
    fn pass(
        &mut self,
        prev: Option<ArrayView2<'_, f64>>,
        prev_is_start: bool,
        c: ArrayView2<'_, f64>,
    ) -> softclust::Result<FcmStats> {
        let mut t = FcmStats::zeros(c.nrows(), c.ncols());
        let mu = self.s.mean_z.view();
        let r = self.s.each(&mut |_, z, w| {
            let st = fcm_block_stats(
                z,
                w.map(|w| w.view()),
                prev.map(|p| (p, prev_is_start)),
                c,
                mu,
                self.m,
            )
            .map_err(lib_error)?;
            t.add(&st);
            Ok(())
        });
        self.err.keep(r)?;
        Ok(t)
    }
}

/// Writes the memberships of `file`'s model on every row of the stream, block by block.
pub fn write_outputs(
    output: Option<&Path>,
    file: &ModelFile,
    s: &Streamed,
    shape: Shape,
) -> CliResult<OutputSummary> {
    model_io::write_blocks(output, file, s.n, shape, &mut |sink| {
        if !s.src.has_front() {
            return s.each(&mut |_, z, _| sink(model_io::Rows::Dense(z), None));
        }
        // Carried columns come from the file itself (the raw copy holds numbers only).
        s.passes.set(s.passes.get() + 1);
        s.src
            .for_each_block_front(BLOCK_ROWS, &mut |start, block, front| {
                let (mut x, _) = split(block, s.wcol, &s.src.source, start)?;
                s.scaler
                    .transform_inplace(x.view_mut())
                    .map_err(lib_error)?;
                sink(
                    model_io::Rows::Dense(x.view()),
                    front.as_ref().map(|f| f.rows(0)),
                )
            })
    })
}

/// The model file, the report and a summary line: what every streamed fit ends with.
#[allow(clippy::too_many_arguments)]
fn finish(
    s: &Streamed,
    file: &ModelFile,
    output: Option<&Path>,
    save: &SaveArgs,
    opts: &InputArgs,
    timer: &mut Timer,
    mut report: serde_json::Value,
) -> CliResult<OutputSummary> {
    let summary = write_outputs(output, file, s, Shape { top_k: opts.top_k })?;
    timer.lap("memberships");
    if let Some(path) = &save.model_out {
        model_io::save(file, path)?;
    }
    timer.lap("write");
    report["n"] = json!(s.n);
    report["d"] = json!(s.columns.len());
    report["out_of_core"] = json!({
        "passes": s.passes.get(),
        "block_rows": BLOCK_ROWS,
        "start_sample_rows": s.sample.nrows(),
    });
    report["mean_max_p"] = num(summary.mean_max_p);
    // Out of core the pictures are drawn from the start sample (uniform over the file).
    crate::pictures::draw(
        &save.pictures,
        crate::pictures::Fit {
            file,
            z: s.sample.view(),
            n_total: s.n,
            title: crate::pictures::title_of(&report),
            summary: crate::pictures::summary_of(&report),
            selection: None,
        },
    )?;
    if let Some(path) = &save.report {
        write_report(path, report, timer)?;
    }
    Ok(summary)
}

/// `softclust kmeans` out of core.
pub fn kmeans(a: &KmeansArgs, src: Source, quiet: bool) -> CliResult<()> {
    let k = a.single_k("needs the data in memory (the input is beyond --memory-limit)")?;
    let (mut timer, s) = Streamed::start(src, a.standardize, a.seed, "k-means", k, quiet)?;
    let soft = a.soft_opts.spec(a.soft).method();
    if !soft.from_sums() && !matches!(soft, softclust::SoftMethod::Auto(_)) {
        return Err(CliError::msg(format!(
            "--soft {} needs the training distances, which an out-of-core fit does not keep: \
             use softmax or inverse-power, or raise --memory-limit",
            soft.name()
        )));
    }
    // The start: the in-memory k-means (same settings and restarts) on the sample.
    let init: softclust::Init<f64> = a.init.0.parse().map_err(lib_error)?;
    let mut km = KMeans::new(k)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .seed(a.seed)
        .init(init);
    if let Some(n) = a.n_init {
        km = km.n_init(n);
    }
    let start = km
        .fit(s.sample.view(), Some(s.sample_w.view()))
        .map_err(lib_error)?;
    let progress = FitProgress::new(quiet, "k-means", "inertia", 1, a.max_iter);
    let err = Errors(RefCell::new(None));
    let tol_abs = a.tol * s.mean_var_z;
    let out = {
        let mut passes = Passes {
            s: &s,
            err: &err,
            progress: &progress,
            it: 0,
        };
        lloyd_loop(
            &mut passes,
            start.centers().to_owned(),
            s.mean_z.view(),
            a.max_iter,
            tol_abs,
            &mut |_| false,
        )
    };
    progress.finish();
    let out = match out {
        Ok(o) => o,
        Err(e) => return err.finish(Err(e)),
    };
    let (k, d) = out.centers.dim();
    let mut dev = Deviations::zeros(k, d);
    let centers = out.centers.clone();
    s.each(&mut |_, z, w| {
        let part = deviation_stats(z, w.map(|w| w.view()), centers.view(), s.mean_z.view())
            .map_err(lib_error)?;
        dev.add(&part);
        Ok(())
    })?;
    let mut model = KMeansModel::from_block_stats(out, s.mean_z.clone(), dev, tol_abs, &soft)
        .map_err(lib_error)?;
    if matches!(soft, softclust::SoftMethod::Auto(_)) {
        // Auto weighs its variants on the data: one more pass.
        let mut ll = [0.0; 4];
        s.each(&mut |_, z, w| {
            let part = model
                .auto_soft_log_likelihoods(z, w.map(|w| w.view()))
                .map_err(lib_error)?;
            for (t, v) in ll.iter_mut().zip(part) {
                *t += v;
            }
            Ok(())
        })?;
        model = model.with_auto_soft(&soft, ll).map_err(lib_error)?;
    }
    timer.lap("fit");
    let dg = model.diagnostics().clone();
    let inertia = model.inertia();
    let fitted_soft = model.soft().cloned();
    let raw_centers = s
        .scaler
        .inverse_transform(model.centers())
        .map_err(lib_error)?;
    let file = s.model_file(
        Model::Kmeans(model),
        a.typ.typicality.then_some(a.typ.spread),
    );
    if let Some(path) = &a.centers_out {
        write_to(Some(path), |w| {
            write_matrix(w, &s.columns, raw_centers.view())
        })?;
    }
    let report = json!({
        "method": "kmeans",
        "parameters": {
            "k": k, "init": a.init.0, "max_iter": a.max_iter, "tol": a.tol, "seed": a.seed,
            "standardize": a.standardize.name(), "weights_column": a.weights,
            "soft": a.soft.name(),
            "soft_fitted": fitted_soft.as_ref().map(|f| f.method_name()),
            "soft_choice": fitted_soft.as_ref().map(crate::prepare::soft_choice_json),
            "sigma": fitted_soft.as_ref().and_then(|f| f.sigma()),
        },
        "k": k,
        "converged": dg.converged,
        "n_iter": dg.n_iter,
        "inertia": num(inertia),
        "inertia_history": dg.inertia_history.iter().map(|&v| num(v)).collect::<Vec<_>>(),
    });
    finish(
        &s,
        &file,
        a.output.as_deref(),
        &a.save,
        &a.input_opts,
        &mut timer,
        report,
    )?;
    if !quiet {
        note!(
            "softclust: k-means k={} on {} x {} ({}, out of core, {} passes): {} after {} \
             iterations, inertia {:.6}",
            k,
            s.n,
            s.columns.len(),
            a.standardize.name(),
            s.passes.get(),
            if dg.converged {
                "converged"
            } else {
                "NOT converged (raise --max-iter)"
            },
            dg.n_iter,
            inertia
        );
    }
    Ok(())
}

fn em_start(
    s: &Streamed,
    em: &EmArgs,
    k: usize,
    t: softclust::CovarianceType,
    noise: Option<f64>,
) -> softclust::Result<EmParams> {
    let mut cfg = config(em, k, t);
    if let Some(p0) = noise {
        cfg = cfg.noise(p0);
    }
    let m = cfg.fit(s.sample.view(), Some(s.sample_w.view()))?;
    let noise = match m.noise() {
        None => None,
        Some(mut nz) => {
            nz.log_volume = s.log_volume_z.ok_or(softclust::Error::InvalidParameter {
                name: "noise",
                value: "a constant feature".into(),
                expected: "a bounding box of positive extent in every feature (drop constant \
                           columns)",
            })?;
            Some(nz)
        }
    };
    Ok(EmParams {
        weights: m.weights().to_owned(),
        means: m.means().to_owned(),
        precisions_cholesky: m.precisions_cholesky().clone(),
        noise,
        m0: s.mean_z.to_vec(),
    })
}

/// A mixture fitted out of core from the in-memory fit on the sample, and its criteria on all
/// the data (one more pass). The outer error is the CLI's (reading the file); the inner one the
/// fit's (a singular covariance, for instance), which a sweep records and goes on.
fn fit_mixture(
    s: &Streamed,
    em: &EmArgs,
    k: usize,
    t: softclust::CovarianceType,
    noise: Option<f64>,
    quiet: bool,
) -> CliResult<softclust::Result<(softclust::GaussianMixtureModel, Criteria)>> {
    let start = match em_start(s, em, k, t, noise) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let err = Errors(RefCell::new(None));
    let progress = FitProgress::new(quiet, "EM", "mean log-likelihood", 1, em.max_iter);
    let mut reg = Regularizer::with_scale(em.reg_covar, em.auto_regularize, s.mean_var_z);
    let settings = EmSettings {
        covariance_type: t,
        total_weight: s.total_weight,
        max_iter: em.max_iter,
        tol: em.tol,
        start_lower_bound: f64::NEG_INFINITY,
    };
    let out = {
        let mut passes = Passes {
            s,
            err: &err,
            progress: &progress,
            it: 0,
        };
        em_loop(
            &mut passes,
            start,
            settings,
            &mut reg,
            &None,
            &mut |_, _| {},
        )
    };
    progress.finish();
    if let Some(e) = err.0.into_inner() {
        return Err(e);
    }
    let model = match out.and_then(|o| softclust::GaussianMixtureModel::from_em_outcome(o, &reg)) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let mut sums = [0.0; 3];
    s.each(&mut |_, z, w| {
        let part = model
            .criteria_sums(z, w.map(|w| w.view()))
            .map_err(lib_error)?;
        for (a, b) in sums.iter_mut().zip(part) {
            *a += b;
        }
        Ok(())
    })?;
    let c = Criteria::from_sums(sums[0], sums[1], sums[2], model.n_parameters());
    Ok(Ok((model, c)))
}

/// `softclust select` out of core: every candidate fitted as [`gmm`] fits one, the data read
/// once per pass; returns the prepared stream and the selection.
pub fn select(
    em: &EmArgs,
    ks: &[usize],
    types: &[softclust::CovarianceType],
    criterion: softclust::Criterion,
    src: Source,
    quiet: bool,
) -> CliResult<(Streamed, softclust::Selection)> {
    crate::mixture::check(em)?;
    let kmax = ks.iter().copied().max().unwrap_or(1);
    let (_, s) = Streamed::start(src, em.standardize, em.seed, "model selection", kmax, quiet)?;
    let d = s.columns.len();
    let mut failure: Option<CliError> = None;
    let sel = softclust::selection::select_by(ks, types, criterion, d, &mut |k, t| {
        match fit_mixture(&s, em, k, t, None, quiet) {
            Ok(r) => r,
            Err(e) => {
                // Reading the file failed: the sweep stops with that message.
                failure = Some(e);
                Err(softclust::Error::Interrupted)
            }
        }
    });
    match (failure, sel) {
        (Some(e), _) => Err(e),
        (None, Ok(sel)) => Ok((s, sel)),
        (None, Err(e)) => Err(lib_error(e)),
    }
}

/// `softclust gmm` out of core.
pub fn gmm(a: &GmmArgs, src: Source, quiet: bool) -> CliResult<()> {
    let em = &a.em;
    crate::mixture::check(em)?;
    let (mut timer, s) = Streamed::start(
        src,
        em.standardize,
        em.seed,
        "the Gaussian mixture",
        a.k,
        quiet,
    )?;
    let t = a.covariance;
    let (model, c) = fit_mixture(&s, em, a.k, t, a.noise, quiet)?.map_err(lib_error)?;
    timer.lap("fit");
    let typicality = a.typicality.then_some(Spread::Isotropic);
    let dg = model.diagnostics().clone();
    let file = s.model_file(Model::Gmm(model.clone()), typicality);
    let mut params = em_params(em);
    params["covariance_type"] = json!(t.name());
    params["noise_init"] = json!(a.noise);
    let mut report = model_json_with(&model, &c);
    report["method"] = json!("gmm");
    report["parameters"] = params;
    report["noise_weight"] = json!(model.noise().map(|nz| nz.log_weight.exp()));
    finish(
        &s,
        &file,
        a.output.as_deref(),
        &a.save,
        &a.input_opts,
        &mut timer,
        report,
    )?;
    if !quiet {
        note!(
            "softclust: Gaussian mixture k={} ({}) on {} x {} (out of core, {} passes): {} \
             after {} iterations, mean log-likelihood {:.6}",
            a.k,
            t.name(),
            s.n,
            s.columns.len(),
            s.passes.get(),
            convergence_note(&model, em.max_iter),
            dg.n_iter,
            dg.lower_bound
        );
    }
    Ok(())
}

/// `softclust fcm` out of core.
pub fn fcm(a: &FcmArgs, src: Source, quiet: bool) -> CliResult<()> {
    let (mut timer, s) = Streamed::start(src, a.standardize, a.seed, "fuzzy c-means", a.k, quiet)?;
    let local = softclust::fcm::FuzzyCMeans::new(a.k)
        .m(a.m)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .seed(a.seed)
        .fit(s.sample.view(), Some(s.sample_w.view()))
        .map_err(lib_error)?;
    let init = local.centers().to_owned();
    let mut start = FcmStats::zeros(a.k, s.columns.len());
    s.each(&mut |_, z, w| {
        let st = fcm_block_stats(
            z,
            w.map(|w| w.view()),
            None,
            init.view(),
            s.mean_z.view(),
            a.m,
        )
        .map_err(lib_error)?;
        start.add(&st);
        Ok(())
    })?;
    let err = Errors(RefCell::new(None));
    let out = {
        let mut passes = FcmStream {
            s: &s,
            err: &err,
            m: a.m,
        };
        fcm_loop(
            &mut passes,
            start,
            Some(init),
            s.mean_z.view(),
            a.max_iter,
            a.tol,
            &None,
        )
    };
    let out = err.finish(out)?;
    let mut fin: Option<FinalStats> = None;
    s.each(&mut |_, z, w| {
        let f = fcm_final_block(
            z,
            w.map(|w| w.view()),
            out.centers.view(),
            s.mean_z.view(),
            a.m,
        )
        .map_err(lib_error)?;
        match fin.as_mut() {
            None => fin = Some(f),
            Some(t) => t.add(&f),
        }
        Ok(())
    })?;
    let fin = fin.ok_or_else(|| CliError::msg("no rows were read"))?;
    let model = softclust::fcm::FuzzyCMeansModel::from_block_stats(out, a.m, s.mean_z.clone(), fin)
        .map_err(lib_error)?;
    timer.lap("fit");
    let dg = model.diagnostics().clone();
    let file = s.model_file(Model::Fcm(model), a.typ.typicality.then_some(a.typ.spread));
    let report = json!({
        "method": "fcm",
        "parameters": {
            "k": a.k, "m": a.m, "max_iter": a.max_iter, "tol": a.tol, "seed": a.seed,
            "standardize": a.standardize.name(), "weights_column": a.weights,
        },
        "k": a.k,
        "converged": dg.converged,
        "n_iter": dg.n_iter,
        "objective": dg.objective.last().copied().map(num),
        "partition_coefficient": num(dg.partition_coefficient),
        "partition_entropy": num(dg.partition_entropy),
    });
    finish(
        &s,
        &file,
        a.output.as_deref(),
        &a.save,
        &a.input_opts,
        &mut timer,
        report,
    )?;
    if !quiet {
        note!(
            "softclust: fuzzy c-means k={} m={} on {} x {} (out of core, {} passes): {} after {} \
             iterations",
            a.k,
            a.m,
            s.n,
            s.columns.len(),
            s.passes.get(),
            if dg.converged {
                "converged"
            } else {
                "NOT converged (raise --max-iter)"
            },
            dg.n_iter
        );
    }
    Ok(())
}

/// `softclust predict` on a `.npy` or Parquet file: read, scored and written block by block.
pub fn predict(
    file: &ModelFile,
    src: &Source,
    output: Option<&Path>,
    shape: Shape,
) -> CliResult<OutputSummary> {
    model_io::check_width(file, &src.source, src.d())?;
    model_io::write_blocks(output, file, src.n, shape, &mut |sink| {
        src.for_each_block_front(BLOCK_ROWS, &mut |_, mut z, front| {
            file.scaler
                .transform_inplace(z.view_mut())
                .map_err(lib_error)?;
            sink(
                model_io::Rows::Dense(z.view()),
                front.as_ref().map(|f| f.rows(0)),
            )
        })
    })
}
