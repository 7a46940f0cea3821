//! Writing results: membership CSV with the fixed header, atomically to a file or to stdout.

use crate::error::{CliError, CliResult};
use ndarray::{Array1, ArrayView2};
use softclust::Membership;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `write` either to standard output or atomically to `path`: the data go to a temporary
/// file in the same directory, which is renamed over `path` only once everything is written.
pub fn write_to(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> CliResult<()> {
    match path {
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            write(&mut w)
                .and_then(|_| w.flush())
                .map_err(|e| CliError::io("writing standard output", e))
        }
        Some(p) if p.as_os_str() == "-" => write_to(None, write),
        Some(p) => {
            let what = format!("writing '{}'", p.display());
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mut builder = tempfile::Builder::new();
            builder.prefix(".softclust-");
            #[cfg(unix)]
            {
                // Like a file created by a plain open(): keep an existing file's mode, else 0644.
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(p).map_or(0o644, |m| m.permissions().mode() & 0o7777);
                builder.permissions(std::fs::Permissions::from_mode(mode));
            }
            let mut tmp = builder.tempfile_in(dir).map_err(|e| {
                CliError::msg(format!(
                    "{what}: cannot create a file in '{}': {e}",
                    dir.display()
                ))
            })?;
            {
                let mut w = BufWriter::new(tmp.as_file_mut());
                write(&mut w)
                    .and_then(|_| w.flush())
                    .map_err(|e| CliError::io(&what, e))?;
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| CliError::io(&what, e))?;
            tmp.persist(p)
                .map_err(|e| CliError::msg(format!("{what}: {}", e.error)))?;
            Ok(())
        }
    }
}

/// Shortest text that reads back as exactly `v`: plain notation for moderate magnitudes,
/// scientific notation (`1.5e-20`) for tiny and huge ones, so no value becomes a long run of
/// zeros.
pub struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0.abs();
        if a == 0.0 || (1e-4..1e15).contains(&a) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:e}", self.0)
        }
    }
}

/// Columns written after the contract columns (typicality, intervals, raw scores), and whether
/// the last probability column is a noise component.
#[derive(Debug, Default, Clone)]
pub struct Columns {
    pub noise_last: bool,
    pub names: Vec<String>,
    pub values: Vec<Array1<f64>>,
}

impl Columns {
    pub fn push(&mut self, name: impl Into<String>, values: Array1<f64>) {
        self.names.push(name.into());
        self.values.push(values);
    }

    /// Every column of `m`, named `{prefix}_{j}`.
    pub fn push_matrix(&mut self, prefix: &str, m: ArrayView2<'_, f64>) {
        for (j, col) in m.columns().into_iter().enumerate() {
            self.push(format!("{prefix}_{j}"), col.to_owned());
        }
    }
}

/// The membership CSV: `p_0,...,p_{k-1},label,max_p,margin,entropy` (the last probability column
/// named `p_noise` for a noise component), then any extra columns.
pub fn write_membership(w: &mut dyn Write, m: &Membership<f64>, extra: &Columns) -> io::Result<()> {
    let k = m.n_clusters();
    for j in 0..k {
        if extra.noise_last && j + 1 == k {
            write!(w, "p_noise,")?;
        } else {
            write!(w, "p_{j},")?;
        }
    }
    write!(w, "label,max_p,margin,entropy")?;
    for name in &extra.names {
        write!(w, ",{name}")?;
    }
    writeln!(w)?;
    for i in 0..m.n_samples() {
        for j in 0..k {
            write!(w, "{},", Num(m.proba[(i, j)]))?;
        }
        write!(
            w,
            "{},{},{},{}",
            m.label[i],
            Num(m.max_p[i]),
            Num(m.margin[i]),
            Num(m.entropy[i])
        )?;
        for col in &extra.values {
            write!(w, ",{}", Num(col[i]))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// A numeric matrix as CSV with the given header.
pub fn write_matrix(
    w: &mut dyn Write,
    header: &[String],
    x: ArrayView2<'_, f64>,
) -> io::Result<()> {
    writeln!(w, "{}", header.join(","))?;
    for row in x.rows() {
        let cells: Vec<String> = row.iter().map(|&v| Num(v).to_string()).collect();
        writeln!(w, "{}", cells.join(","))?;
    }
    Ok(())
}
