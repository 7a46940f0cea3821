//! `--plot` and `--report-html`: a fitted model drawn on (a sample of) its data.
//!
//! The rows drawn are a uniform sample of at most [`SAMPLE_ROWS`] rows (seeded, so the same
//! picture every run); the scatter shows the first [`MAX_POINTS`] of them. Outliers are the
//! points whose typicality is below 1% in every cluster (outlier score above 0.99).

use crate::cli::PictureArgs;
use crate::error::{lib_error, CliError, CliResult};
use crate::output::write_to;
use crate::plot::{figure, html_page, Curves, Histograms, HtmlTable, Panel, Scatter};
use ndarray::{Array2, ArrayView2, Axis};
use softclust::projection::PrincipalAxes;
use softclust::selection::Selection;
use softclust::{ClusterModel, Model, ModelFile, Spread};

/// Rows the pictures are computed from, at most.
pub const SAMPLE_ROWS: usize = 20_000;
/// Points drawn in the scatter, at most.
pub const MAX_POINTS: usize = 5_000;
/// Typicality below which, in every cluster, a point is ringed as an outlier.
pub const OUTLIER_TYPICALITY: f64 = 0.01;

/// What a fit gives the pictures.
pub struct Fit<'a> {
    pub file: &'a ModelFile,
    /// Rows in the model's units (all the data, or a sample of them).
    pub z: ArrayView2<'a, f64>,
    /// Rows of the whole data.
    pub n_total: usize,
    pub title: String,
    pub summary: Vec<(String, String)>,
    pub selection: Option<&'a Selection>,
}

/// The pictures' title from a fit report: `softclust gmm, k = 3, full covariances`.
pub fn title_of(r: &serde_json::Value) -> String {
    let method = r["method"].as_str().unwrap_or("fit");
    let mut t = format!("softclust {method}");
    if let Some(k) = r["k"].as_u64() {
        t.push_str(&format!(", k = {k}"));
    }
    if let Some(c) = r["parameters"]["covariance_type"].as_str() {
        t.push_str(&format!(", {c} covariances"));
    }
    t
}

/// The report's scalar results as rows of the HTML summary.
pub fn summary_of(r: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let keys = [
        "method",
        "k",
        "n",
        "d",
        "converged",
        "n_iter",
        "inertia",
        "lower_bound",
        "mean_log_likelihood",
        "bic",
        "aic",
        "mean_max_p",
    ];
    for key in keys {
        let v = &r[key];
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(x) => match x.as_f64() {
                Some(f) if x.is_f64() => format!("{f:.6}"),
                _ => x.to_string(),
            },
            other => other.to_string(),
        };
        out.push((key.replace('_', " "), text));
    }
    if let Some(params) = r["parameters"].as_object() {
        let p: Vec<String> = params
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string)))
            .collect();
        out.push(("parameters".into(), p.join(", ")));
    }
    out
}

/// Row indices of a seeded uniform sample of at most `cap` of `n` rows, in a random order
/// (so any prefix is a uniform sample too).
fn sample(n: usize, cap: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = softclust::rng::Rng::new(softclust::rng::derive_seed(0x9107, n as u64));
    let m = cap.min(n);
    for i in 0..m {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx
}

/// The model's centres in its units (none for a model without them).
fn centres(model: &Model<f64>) -> Option<Array2<f64>> {
    Some(match model {
        Model::Kmeans(m) => m.centers().to_owned(),
        Model::Gmm(m) => m.means().to_owned(),
        Model::Fcm(m) => m.centers().to_owned(),
        Model::Consensus(m) => m.reference().centers().to_owned(),
        _ => return None,
    })
}

/// Writes the pictures `args` asks for.
pub fn draw(args: &PictureArgs, fit: Fit<'_>) -> CliResult<()> {
    if !args.any() {
        return Ok(());
    }
    let file = fit.file;
    let idx = sample(fit.z.nrows(), SAMPLE_ROWS);
    let zs = fit.z.select(Axis(0), &idx);
    let out = file.outputs_scaled(zs.view()).map_err(lib_error)?;
    let m = &out.memberships;
    let has_noise = file.model.has_noise();
    let k = m.n_clusters();
    let noise = has_noise.then_some(k - 1);
    let spread = file.typicality.unwrap_or(Spread::Isotropic);
    // Typicality is a diagnostic of the picture: a model without it simply rings nothing.
    let outlier: Vec<bool> = match file.model.typicality(zs.view(), spread) {
        Ok(t) => t
            .outlier
            .iter()
            .map(|&o| o > 1.0 - OUTLIER_TYPICALITY)
            .collect(),
        Err(_) => vec![false; idx.len()],
    };
    let names: Vec<String> = (0..k)
        .map(|j| {
            if Some(j) == noise {
                "noise".to_string()
            } else {
                format!("cluster {j}")
            }
        })
        .collect();
    let shown = idx.len().min(MAX_POINTS);
    let cen = centres(&file.model);
    let (x_label, y_label, coords, cen_xy) = match &args.plot_columns {
        Some(spec) => {
            let (a, b) = two_columns(spec, &file.feature_names)?;
            let (c, s) = (file.scaler.center(), file.scaler.scale());
            let raw = |v: f64, j: usize| v * s[j] + c[j];
            let coords: Vec<(f64, f64)> = (0..shown)
                .map(|i| (raw(zs[(i, a)], a), raw(zs[(i, b)], b)))
                .collect();
            let cen_xy = cen
                .as_ref()
                .map(|cm| {
                    cm.rows()
                        .into_iter()
                        .map(|r| (raw(r[a], a), raw(r[b], b)))
                        .collect()
                })
                .unwrap_or_default();
            (
                file.feature_names[a].clone(),
                file.feature_names[b].clone(),
                coords,
                cen_xy,
            )
        }
        None => {
            let pa = PrincipalAxes::fit(zs.view(), 2).map_err(lib_error)?;
            let y = pa.project(zs.view());
            let ex = pa.explained();
            let two = y.ncols() > 1;
            let coords: Vec<(f64, f64)> = (0..shown)
                .map(|i| (y[(i, 0)], if two { y[(i, 1)] } else { 0.0 }))
                .collect();
            let cen_xy = cen
                .as_ref()
                .map(|cm| {
                    pa.project(cm.view())
                        .rows()
                        .into_iter()
                        .map(|r| (r[0], if two { r[1] } else { 0.0 }))
                        .collect()
                })
                .unwrap_or_default();
            let pct = |t: usize| ex.get(t).map_or(0.0, |v| 100.0 * v);
            (
                format!("PC1 ({:.1}% of the variance)", pct(0)),
                if two {
                    format!("PC2 ({:.1}% of the variance)", pct(1))
                } else {
                    "(one feature)".into()
                },
                coords,
                cen_xy,
            )
        }
    };
    let sampled = if idx.len() < fit.n_total {
        format!(" (a sample of {} of {} rows)", idx.len(), fit.n_total)
    } else {
        String::new()
    };
    let scatter = Scatter {
        title: "Clusters".into(),
        x_label,
        y_label,
        points: coords,
        label: m.label.iter().take(shown).copied().collect(),
        alpha: m.max_p.iter().take(shown).copied().collect(),
        outlier: outlier.iter().take(shown).copied().collect(),
        centres: cen_xy,
        noise,
        names: names.clone(),
    };
    let mut values = vec![Vec::new(); k];
    for (&l, &p) in m.label.iter().zip(&m.max_p) {
        values[l].push(p);
    }
    let hist = Histograms {
        title: "How sure is each assignment?".into(),
        values: values.clone(),
        names: names.clone(),
        noise,
    };
    let mut panels = vec![Panel::Scatter(scatter), Panel::Histograms(hist)];
    if let Some(sel) = fit.selection {
        panels.push(Panel::Curves(selection_curves(sel)));
    }
    let svg = figure(&format!("{}{sampled}", fit.title), &panels);
    if let Some(path) = &args.plot {
        write_to(Some(path), |w| w.write_all(svg.as_bytes()))?;
    }
    if let Some(path) = &args.report_html {
        let mut tables = vec![cluster_table(&names, &values, &outlier, &m.label.to_vec())];
        if let Some(sel) = fit.selection {
            tables.push(selection_table(sel));
        }
        let mut summary = fit.summary.clone();
        summary.push(("rows".into(), fit.n_total.to_string()));
        if !sampled.is_empty() {
            summary.push((
                "tables and pictures from".into(),
                sampled.trim().to_string(),
            ));
        }
        let page = html_page(&fit.title, &summary, &tables, &[svg]);
        write_to(Some(path), |w| w.write_all(page.as_bytes()))?;
    }
    Ok(())
}

/// Two columns `a,b` (names or 1-based positions) among the model's features.
fn two_columns(spec: &str, names: &[String]) -> CliResult<(usize, usize)> {
    let find = |t: &str| -> CliResult<usize> {
        let t = t.trim();
        if let Some(j) = names.iter().position(|c| c == t) {
            return Ok(j);
        }
        match t.parse::<usize>() {
            Ok(p) if (1..=names.len()).contains(&p) => Ok(p - 1),
            _ => Err(CliError::msg(format!(
                "--plot-columns: '{t}' is not one of the model's features ({}), nor a position \
                 from 1 to {}",
                names.join(", "),
                names.len()
            ))),
        }
    };
    match spec.split(',').collect::<Vec<_>>().as_slice() {
        [a, b] => Ok((find(a)?, find(b)?)),
        _ => Err(CliError::msg(format!(
            "--plot-columns '{spec}': give two columns separated by a comma, e.g. x,y"
        ))),
    }
}

fn selection_curves(sel: &Selection) -> Curves {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for c in &sel.table {
        let name = c.covariance_type.name().to_string();
        match series.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1.push((c.k as f64, c.criterion)),
            None => series.push((name, vec![(c.k as f64, c.criterion)])),
        }
    }
    for s in &mut series {
        s.1.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let winner = sel.table.first().map(|c| (c.k as f64, c.criterion));
    Curves {
        title: format!("{} against k", sel.criterion.name().to_uppercase()),
        x_label: "k (components)".into(),
        y_label: format!("{} (lower is better)", sel.criterion.name().to_uppercase()),
        series,
        winner,
    }
}

fn cluster_table(
    names: &[String],
    values: &[Vec<f64>],
    outlier: &[bool],
    label: &[usize],
) -> HtmlTable {
    let rows = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let v = &values[j];
            let n = v.len();
            let mean = if n > 0 {
                v.iter().sum::<f64>() / n as f64
            } else {
                f64::NAN
            };
            let conf = v.iter().filter(|&&p| p > 0.9).count();
            let amb = v.iter().filter(|&&p| p < 0.6).count();
            let outl = label
                .iter()
                .zip(outlier)
                .filter(|(&l, &o)| l == j && o)
                .count();
            vec![
                name.clone(),
                n.to_string(),
                format!("{mean:.3}"),
                conf.to_string(),
                amb.to_string(),
                outl.to_string(),
            ]
        })
        .collect();
    HtmlTable {
        caption: "Clusters".into(),
        header: [
            "cluster",
            "points",
            "mean max_p",
            "confident (max_p > 0.9)",
            "ambiguous (max_p < 0.6)",
            "outliers",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn selection_table(sel: &Selection) -> HtmlTable {
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.2}")
        } else {
            "failed".into()
        }
    };
    HtmlTable {
        caption: format!(
            "Candidates, best {} first",
            sel.criterion.name().to_uppercase()
        ),
        header: [
            "k",
            "covariance",
            "criterion",
            "BIC",
            "AIC",
            "mean log-likelihood",
        ]
        .map(String::from)
        .to_vec(),
        rows: sel
            .table
            .iter()
            .map(|c| {
                vec![
                    c.k.to_string(),
                    c.covariance_type.name().to_string(),
                    f(c.criterion),
                    f(c.bic),
                    f(c.aic),
                    format!("{:.4}", c.mean_log_likelihood),
                ]
            })
            .collect(),
    }
}
