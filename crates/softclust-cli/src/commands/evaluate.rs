//! `softclust evaluate`: memberships scored against known labels, or compared with a second
//! memberships file (the core's `metrics`; this file reads, names the classes and prints).

use crate::cli::EvaluateArgs;
use crate::columns::{arrow_cell, Carried, ColumnSpec};
use crate::error::{lib_error, CliError, CliResult};
use crate::model_io;
use crate::prepare::read_for_model;
use crate::report::num;
use crate::source::read_table;
use ndarray::{Array2, ArrayView2};
use serde_json::{json, Value};
use softclust::metrics::{score_against_labels, FuzzyRand, FuzzyRandIndex, LabelScores};
use softclust::ClusterModel;

/// Prints the scores to standard output (they are the result, so `--quiet` keeps them).
pub fn run(a: &EvaluateArgs) -> CliResult<()> {
    let (p, labels, source) = read_memberships(a)?;
    let mut out = serde_json::Map::new();
    let mut text = String::new();
    let header = format!(
        "softclust evaluate: {source}, {} rows x {} clusters",
        p.nrows(),
        p.ncols()
    );
    let fuzzy = FuzzyRand::new().max_points(a.max_points).seed(a.seed);
    if let Some((column, cells)) = labels {
        let (classes, idx) = classes_of(&cells);
        let s = score_against_labels(p.view(), &idx, classes.len(), a.n_bins).map_err(lib_error)?;
        let crisp = one_hot(&idx, classes.len());
        let fr = fuzzy.compute(p.view(), crisp.view()).map_err(lib_error)?;
        text.push_str(&format!(
            "{header}, {} classes in '{column}'\n\n",
            classes.len()
        ));
        text.push_str(&label_text(&s, &classes, &fr, a.n_bins));
        out.insert("labels".into(), label_json(&s, &classes, &fr, &column));
    } else {
        text.push_str(&format!("{header}\n"));
    }
    if let Some(other) = &a.against {
        let q = read_plain_memberships(other, a)?;
        let r = fuzzy.compute(p.view(), q.view()).map_err(lib_error)?;
        text.push_str(&format!(
            "\nagainst '{other}' ({} clusters):\n  fuzzy Rand index   {:.4}\n  adjusted           \
             {:.4}   (expected by chance {:.4}){}\n",
            q.ncols(),
            r.index,
            r.adjusted,
            r.expected,
            sample_note(&r, p.nrows())
        ));
        out.insert("against".into(), fuzzy_json(&r));
    }
    if a.json {
        let text = serde_json::to_string_pretty(&Value::Object(out))
            .map_err(|e| CliError::msg(format!("cannot encode the results: {e}")))?;
        println!("{text}");
    } else {
        print!("{text}");
    }
    Ok(())
}

/// The memberships (read, or computed by `--model` from the data), the labels column's name
/// and cells when `--labels` is given, and where they came from.
type Read = (Array2<f64>, Option<(String, Vec<String>)>, String);

fn read_memberships(a: &EvaluateArgs) -> CliResult<Read> {
    let mut opts = a.input_opts.clone();
    opts.id = a.labels.iter().cloned().collect();
    opts.append = false;
    let (p, table) = match &a.model {
        Some(path) => {
            let file = model_io::load(path)?;
            let (table, z) = read_for_model(&file, a.input.as_deref(), &opts)?;
            let m = file.model.memberships(z.view()).map_err(lib_error)?;
            (m.proba, table)
        }
        None => {
            let mut spec = ColumnSpec::new(&opts, None);
            spec.memberships = true;
            let mut table = read_table(a.input.as_deref(), &opts, &spec)?;
            (std::mem::take(&mut table.data), table)
        }
    };
    let labels = match (&a.labels, table.front) {
        (Some(_), Some(front)) => {
            let n = p.nrows();
            let cells = match &front.cols[0] {
                Carried::Text(v) => v.clone(),
                Carried::Arrow(col) => (0..n).map(|i| arrow_cell(col.as_ref(), i)).collect(),
            };
            Some((front.names[0].clone(), cells))
        }
        _ => None,
    };
    Ok((p, labels, table.source))
}

/// A second memberships file (`--against`): its probability columns, with the text flags
/// (delimiter, header) of the first.
fn read_plain_memberships(path: &str, a: &EvaluateArgs) -> CliResult<Array2<f64>> {
    let mut opts = a.input_opts.clone();
    opts.id.clear();
    opts.append = false;
    opts.columns = None;
    opts.exclude = None;
    let mut spec = ColumnSpec::new(&opts, None);
    spec.memberships = true;
    Ok(read_table(Some(path), &opts, &spec)?.data)
}

/// The distinct labels, in numeric order when every label is a number (else text order), and
/// each row's class index.
fn classes_of(cells: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut classes: Vec<String> = cells.to_vec();
    classes.sort();
    classes.dedup();
    let numbers: Option<Vec<f64>> = classes.iter().map(|c| c.trim().parse().ok()).collect();
    if let Some(v) = numbers {
        let mut order: Vec<usize> = (0..classes.len()).collect();
        order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        classes = order.into_iter().map(|i| classes[i].clone()).collect();
    }
    let index: std::collections::HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let idx = cells.iter().map(|c| index[c.as_str()]).collect();
    (classes, idx)
}

fn one_hot(idx: &[usize], c: usize) -> Array2<f64> {
    let mut m = Array2::zeros((idx.len(), c));
    for (i, &y) in idx.iter().enumerate() {
        m[(i, y)] = 1.0;
    }
    m
}

fn sample_note(r: &FuzzyRandIndex, n: usize) -> String {
    if r.n_points < n {
        format!(
            "\n  (on a random sample of {} of the {n} rows: --max-points)",
            r.n_points
        )
    } else {
        String::new()
    }
}

fn label_text(s: &LabelScores, classes: &[String], fr: &FuzzyRandIndex, bins: usize) -> String {
    let n: usize = s.reliability.iter().map(|b| b.count).sum();
    let mut t = String::new();
    t.push_str(&format!("  log-loss           {:.4}\n", s.log_loss));
    t.push_str(&format!(
        "  Brier score        {:.4}   (0 best, 2 worst)\n",
        s.brier
    ));
    t.push_str(&format!("  accuracy           {:.4}\n", s.accuracy));
    t.push_str(&format!(
        "  calibration error  {:.4}   (ECE over {bins} bins of max_p)\n",
        s.ece
    ));
    t.push_str(&format!(
        "  adjusted Rand      {:.4}   (argmax vs labels)\n",
        s.ari
    ));
    t.push_str(&format!(
        "  fuzzy Rand index   {:.4}   adjusted {:.4} (memberships vs labels){}\n",
        fr.index,
        fr.adjusted,
        sample_note(fr, n)
    ));
    let width = classes.iter().map(String::len).max().unwrap_or(0).max(5);
    t.push_str(&format!(
        "\n  {:<width$}  cluster   points   mass on it\n",
        "class"
    ));
    let c = &s.matching.contingency;
    for (ci, name) in classes.iter().enumerate() {
        let points: f64 = c.row(ci).sum();
        let (cl, mass) = match s.matching.cluster_of_class[ci] {
            Some(j) => (j.to_string(), c[(ci, j)]),
            None => ("-".to_string(), 0.0),
        };
        t.push_str(&format!(
            "  {name:<width$}  {cl:>7}  {points:>7.0}   {:>9.1}%\n",
            100.0 * mass / points.max(f64::MIN_POSITIVE)
        ));
    }
    t.push_str("\n  max_p bin      points   mean max_p   accuracy\n");
    for b in s.reliability.iter().filter(|b| b.count > 0) {
        t.push_str(&format!(
            "  [{:.2}, {:.2}{}  {:>7}   {:>10.3}   {:>8.3}\n",
            b.lower,
            b.upper,
            if b.upper >= 1.0 { "]" } else { ")" },
            b.count,
            b.mean_confidence,
            b.accuracy
        ));
    }
    t
}

fn fuzzy_json(r: &FuzzyRandIndex) -> Value {
    json!({
        "fuzzy_rand_index": num(r.index),
        "adjusted": num(r.adjusted),
        "expected": num(r.expected),
        "n_points": r.n_points,
    })
}

fn label_json(s: &LabelScores, classes: &[String], fr: &FuzzyRandIndex, column: &str) -> Value {
    let c: ArrayView2<'_, f64> = s.matching.contingency.view();
    let matching: Vec<Value> = classes
        .iter()
        .enumerate()
        .map(|(ci, name)| {
            json!({
                "class": name,
                "cluster": s.matching.cluster_of_class[ci],
                "points": num(c.row(ci).sum()),
                "mass": c.row(ci).iter().map(|&v| num(v)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let bins: Vec<Value> = s
        .reliability
        .iter()
        .map(|b| {
            json!({
                "lower": b.lower,
                "upper": b.upper,
                "count": b.count,
                "mean_max_p": num(b.mean_confidence),
                "accuracy": num(b.accuracy),
            })
        })
        .collect();
    json!({
        "column": column,
        "log_loss": num(s.log_loss),
        "brier": num(s.brier),
        "accuracy": num(s.accuracy),
        "ece": num(s.ece),
        "ari": num(s.ari),
        "fuzzy_rand": fuzzy_json(fr),
        "matching": matching,
        "reliability": bins,
    })
}
