//! Real tables in, results people can look at out: feature columns and carried IDs
//! (`--columns`, `--exclude`, `--id`, `--append`) for CSV, TSV, stdin, Parquet and `.npy`, in
//! memory, out of core, in `predict` and `soft`; the top-K form (`--top-k`) against the dense
//! output; pictures (`--plot`, `--report-html`, `softclust plot`) checked by parsing the SVG;
//! completions and the version line.
#![allow(clippy::unwrap_used)]

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn bin() -> Command {
    Command::cargo_bin("softclust").unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = bin().args(args).arg("-q").assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

fn fails(args: &[&str], needle: &str) {
    bin()
        .args(args)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(needle));
}

/// A small deterministic table of records: an integer id, a name with a comma in one cell,
/// three features around two centres and a text category.
fn records(n: usize) -> (Vec<i64>, Vec<String>, Vec<[f64; 3]>, Vec<String>) {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let mut x = Vec::new();
    let mut cat = Vec::new();
    for i in 0..n {
        let c = if i % 3 == 0 { 5.0 } else { 0.0 };
        ids.push(1000 + i as i64);
        names.push(if i == 1 {
            "smith, \"jr\"".to_string()
        } else {
            format!("p{i}")
        });
        x.push([c + u() * 2.0, c * 0.5 + u(), u() * 3.0 - c]);
        cat.push(["red", "blue"][i % 2].to_string());
    }
    (ids, names, x, cat)
}

fn quote(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn records_csv(dir: &Path, n: usize, sep: &str) -> PathBuf {
    let (ids, names, x, cat) = records(n);
    let mut t = ["id", "name", "a", "b", "c", "colour"].join(sep) + "\n";
    for i in 0..n {
        let name = if sep == "," {
            quote(&names[i])
        } else {
            names[i].clone()
        };
        t.push_str(
            &[
                ids[i].to_string(),
                name,
                x[i][0].to_string(),
                x[i][1].to_string(),
                x[i][2].to_string(),
                cat[i].clone(),
            ]
            .join(sep),
        );
        t.push('\n');
    }
    let p = dir.join(if sep == "," { "rec.csv" } else { "rec.tsv" });
    std::fs::write(&p, t).unwrap();
    p
}

fn records_parquet(dir: &Path, n: usize) -> PathBuf {
    let (ids, names, x, cat) = records(n);
    let col = |j: usize| -> ArrayRef {
        Arc::new(Float64Array::from(
            x.iter().map(|r| r[j]).collect::<Vec<_>>(),
        ))
    };
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("name", Arc::new(StringArray::from(names)) as ArrayRef),
        ("a", col(0)),
        ("b", col(1)),
        ("c", col(2)),
        ("colour", Arc::new(StringArray::from(cat)) as ArrayRef),
    ])
    .unwrap();
    let p = dir.join("rec.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .build();
    let f = std::fs::File::create(&p).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    p
}

/// CSV text as a header and rows of cells (quoted cells unquoted).
fn table(csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col<'a>(t: &'a (Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<&'a str> {
    let j =
        t.0.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"));
    t.1.iter().map(|r| r[j].as_str()).collect()
}

fn num(t: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<f64> {
    col(t, name).iter().map(|c| c.parse().unwrap()).collect()
}

#[test]
fn a_csv_with_ids_and_text_runs_in_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let csv = records_csv(dir.path(), 60, ",");
    let csv = csv.to_str().unwrap();
    // The reproducer: text columns are an error that points at the flags.
    fails(
        &["kmeans", csv, "-k", "2"],
        "'p0' is not a number; if the column is not a feature, pick the feature columns with \
         --columns (or --exclude) and carry identifiers with --id",
    );
    let out = ok(&[
        "kmeans",
        csv,
        "-k",
        "2",
        "--id",
        "id",
        "--id",
        "name",
        "--exclude",
        "colour",
    ]);
    let t = table(&out);
    assert_eq!(&t.0[..4], ["id", "name", "p_0", "p_1"]);
    let (ids, names, _, _) = records(60);
    assert_eq!(
        col(&t, "id"),
        ids.iter().map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        col(&t, "name"),
        names.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // The features are a, b, c whichever way they are named.
    let by_names = ok(&["kmeans", csv, "-k", "2", "--columns", "a,b,c"]);
    let by_range = ok(&["kmeans", csv, "-k", "2", "--columns", "3-5"]);
    let mixed = ok(&["kmeans", csv, "-k", "2", "--columns", "a,4-5"]);
    assert_eq!(by_names, by_range);
    assert_eq!(by_names, mixed);
    // And they are the memberships of the numeric columns alone.
    let numeric = dir.path().join("num.csv");
    let (_, _, x, _) = records(60);
    let mut text = "a,b,c\n".to_string();
    for r in &x {
        text.push_str(&format!("{},{},{}\n", r[0], r[1], r[2]));
    }
    std::fs::write(&numeric, text).unwrap();
    assert_eq!(
        by_names,
        ok(&["kmeans", numeric.to_str().unwrap(), "-k", "2"])
    );
    let ided = table(&out);
    let plain = table(&by_names);
    assert_eq!(num(&ided, "p_0"), num(&plain, "p_0"));
}

#[test]
fn append_writes_the_input_row_first_for_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let csv = records_csv(dir.path(), 40, ",");
    let tsv = records_csv(dir.path(), 40, "\t");
    let pq = records_parquet(dir.path(), 40);
    let base = [
        "gmm",
        "-k",
        "2",
        "--covariance",
        "diag",
        "--columns",
        "a,b,c",
        "--append",
    ];
    let from_csv = ok(&[&base[..], &[csv.to_str().unwrap()]].concat());
    let t = table(&from_csv);
    assert_eq!(
        &t.0[..8],
        ["id", "name", "a", "b", "c", "colour", "p_0", "p_1"]
    );
    assert_eq!(t.1[1][1], "smith, \"jr\"");
    let from_tsv = ok(&[&base[..], &[tsv.to_str().unwrap()]].concat());
    assert_eq!(from_csv, from_tsv);
    // Standard input, TSV.
    let out = bin()
        .args(base)
        .arg("-q")
        .write_stdin(std::fs::read(&tsv).unwrap())
        .assert()
        .success();
    assert_eq!(
        String::from_utf8(out.get_output().stdout.clone()).unwrap(),
        from_tsv
    );
    // Parquet: the same memberships; the carried cells are the values as text.
    let from_pq = table(&ok(&[&base[..], &[pq.to_str().unwrap()]].concat()));
    assert_eq!(col(&from_pq, "id"), col(&t, "id"));
    assert_eq!(col(&from_pq, "name"), col(&t, "name"));
    assert_eq!(num(&from_pq, "a"), num(&t, "a"));
    for c in ["p_0", "p_1", "max_p", "entropy"] {
        assert_eq!(num(&from_pq, c), num(&t, c));
    }
    // Parquet to Parquet: carried columns keep their types (int64 ids, text names).
    let out = dir.path().join("o.parquet");
    ok(&[
        &base[..],
        &[pq.to_str().unwrap(), "-o", out.to_str().unwrap()],
    ]
    .concat());
    let f = std::fs::File::open(&out).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    use arrow_schema::DataType;
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
    assert_eq!(schema.field(2).data_type(), &DataType::Float64);
    let ids = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.value(3), 1003);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 40);
}

#[test]
fn ids_through_predict_soft_npy_and_parquet_output() {
    let dir = tempfile::tempdir().unwrap();
    let csv = records_csv(dir.path(), 50, ",");
    let csv = csv.to_str().unwrap();
    let model = dir.path().join("m.json");
    let fit = ok(&[
        "kmeans",
        csv,
        "-k",
        "2",
        "--columns",
        "a-c",
        "--id",
        "name",
        "--model-out",
        model.to_str().unwrap(),
    ]);
    // predict takes the same selection flags and writes the same rows.
    let pred = ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        csv,
        "--columns",
        "a-c",
        "--id",
        "name",
    ]);
    assert_eq!(fit, pred);
    // A wrong selection is a width error naming the model's features.
    fails(
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            csv,
            "--columns",
            "a,b",
            "--id",
            "name",
        ],
        "has 2 columns but the model was fitted on 3 (a, b, c)",
    );
    // Without --columns, predict picks the model's features from the header by name, in the
    // model's order, whatever the file's order and other columns.
    let (ids, names, x, cat) = records(50);
    let mut shuffled = "c,colour,name,b,id,a\n".to_string();
    for i in 0..50 {
        shuffled.push_str(&format!(
            "{},{},{},{},{},{}\n",
            x[i][2],
            cat[i],
            quote(&names[i]),
            x[i][1],
            ids[i],
            x[i][0]
        ));
    }
    let sh = dir.path().join("shuffled.csv");
    std::fs::write(&sh, shuffled).unwrap();
    let by_name = ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        sh.to_str().unwrap(),
        "--id",
        "name",
    ]);
    assert_eq!(by_name, fit);
    // --columns keeps the order given: the model's order here, so the same again.
    let given = ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        sh.to_str().unwrap(),
        "--columns",
        "a,b,c",
        "--id",
        "name",
    ]);
    assert_eq!(given, fit);
    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, "a,b,z\n1,2,3\n").unwrap();
    fails(
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
        "has no column named c of the model's features (a, b, c); give the features in the \
         model's order with --columns",
    );
    // Parquet output carries the IDs as a text column.
    let out_pq = dir.path().join("o.parquet");
    ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        csv,
        "--columns",
        "a-c",
        "--id",
        "id",
        "-o",
        out_pq.to_str().unwrap(),
    ]);
    let f = std::fs::File::open(&out_pq).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    assert_eq!(schema.field(0).name(), "id");
    assert_eq!(schema.field(0).data_type(), &arrow_schema::DataType::Utf8);
    let ids = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(ids.value(0), "1000");
    // soft: a distance matrix with an ID column in front.
    let d = dir.path().join("d.csv");
    std::fs::write(&d, "key,d0,d1\nx,0.1,2.0\ny,1.0,1.1\nz,3.0,0.2\n").unwrap();
    let t = table(&ok(&[
        "soft",
        d.to_str().unwrap(),
        "--id",
        "key",
        "--sigma",
        "1",
    ]));
    assert_eq!(col(&t, "key"), ["x", "y", "z"]);
    assert!(num(&t, "p_0")[0] > 0.8);
    // .npy: positions name the columns; a carried column is the number as text.
    let npy = dir.path().join("x.npy");
    let (ids, _, x, _) = records(30);
    let mut a = ndarray::Array2::<f64>::zeros((30, 4));
    for i in 0..30 {
        a[(i, 0)] = ids[i] as f64;
        for j in 0..3 {
            a[(i, j + 1)] = x[i][j];
        }
    }
    ndarray_npy::write_npy(&npy, &a).unwrap();
    let t = table(&ok(&[
        "kmeans",
        npy.to_str().unwrap(),
        "-k",
        "2",
        "--id",
        "1",
    ]));
    assert_eq!(t.0[0], "x_0");
    assert_eq!(col(&t, "x_0")[0], "1000");
}

#[test]
fn ids_out_of_core_match_the_fit_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let pq = records_parquet(dir.path(), 3000);
    let pq = pq.to_str().unwrap();
    let args = [
        "kmeans",
        pq,
        "-k",
        "2",
        "--columns",
        "a-c",
        "--id",
        "id",
        "--id",
        "name",
    ];
    let mem = table(&ok(&args));
    let ooc = table(&ok(&[&args[..], &["--memory-limit", "16K"]].concat()));
    assert_eq!(ooc.0, mem.0);
    assert_eq!(col(&ooc, "id"), col(&mem, "id"));
    assert_eq!(col(&ooc, "name"), col(&mem, "name"));
    // Same file, same start (the sample is all rows here): memberships agree closely.
    for (a, b) in num(&ooc, "p_0").iter().zip(num(&mem, "p_0")) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn column_flags_reject_what_they_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let csv = records_csv(dir.path(), 20, ",");
    let csv = csv.to_str().unwrap();
    fails(
        &["kmeans", csv, "-k", "2", "--columns", "a,nope"],
        "--columns 'nope': no such column in",
    );
    fails(
        &[
            "kmeans",
            csv,
            "-k",
            "2",
            "--columns",
            "a-c",
            "--id",
            "name",
            "--id",
            "2",
        ],
        "--id '2': column 'name' is given twice",
    );
    fails(
        &[
            "kmeans",
            csv,
            "-k",
            "2",
            "--columns",
            "a-c",
            "--id",
            "missing",
        ],
        "--id 'missing': no such column",
    );
    fails(
        &["kmeans", csv, "-k", "2", "--columns", "3-9"],
        "--columns '3-9': the range 3-9 is not within the columns 1 to 6",
    );
    fails(
        &["kmeans", csv, "-k", "2", "--columns", "a,name"],
        "'p0' is not a number",
    );
    fails(
        &["kmeans", csv, "-k", "2", "--columns", "a,b", "--id", "a"],
        "given to both --columns and --id",
    );
    fails(
        &[
            "kmeans",
            csv,
            "-k",
            "2",
            "--columns",
            "a,b",
            "--weights",
            "b",
        ],
        "given to both --columns and --weights",
    );
    fails(
        &["kmeans", csv, "-k", "2", "--columns", "a", "--exclude", "a"],
        "no feature columns are left",
    );
    fails(
        &["kmeans", csv, "-k", "2", "--columns", "a,,b"],
        "an empty item",
    );
    let pq = records_parquet(dir.path(), 20);
    fails(
        &[
            "kmeans",
            pq.to_str().unwrap(),
            "-k",
            "2",
            "--columns",
            "a,name",
        ],
        "column 'name' has type Utf8; softclust reads numeric columns (float, integer) as \
         features: pick the feature columns with --columns",
    );
    // A first row that mixes text and numbers suggests the flags too.
    let mixed = dir.path().join("mixed.csv");
    std::fs::write(&mixed, "1,a,0.5\n2,b,0.7\n3,c,5.0\n").unwrap();
    fails(
        &["kmeans", mixed.to_str().unwrap(), "-k", "2"],
        "if some columns are not features, pick the feature columns with --columns",
    );
    // Without a header, positions pick the columns and the first row is data.
    let t = table(&ok(&[
        "kmeans",
        mixed.to_str().unwrap(),
        "-k",
        "2",
        "--id",
        "2",
        "--exclude",
        "1",
    ]));
    assert_eq!(t.0[0], "x_1");
    assert_eq!(col(&t, "x_1"), ["a", "b", "c"]);
}

/// The dense output's rows as maps from column name to cell.
fn rows(csv: &str) -> Vec<HashMap<String, f64>> {
    let t = table(csv);
    t.1.iter()
        .map(|r| {
            t.0.iter()
                .cloned()
                .zip(r.iter().map(|c| c.parse::<f64>().unwrap()))
                .collect()
        })
        .collect()
}

/// Checks the top-K output against the dense one: the K largest probabilities in decreasing
/// order with their clusters, the same summaries, per-cluster extras gathered.
fn check_top_k(dense: &str, top: &str, k: usize, kt: usize, noise: bool, extras: &[&str]) {
    let (d, t) = (rows(dense), rows(top));
    assert_eq!(d.len(), t.len());
    for (dr, tr) in d.iter().zip(&t) {
        let mut p: Vec<(f64, usize)> = (0..k).map(|j| (dr[&format!("p_{j}")], j)).collect();
        p.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (c, &(pj, j)) in p.iter().take(kt).enumerate() {
            assert_eq!(tr[&format!("c_{}", c + 1)] as usize, j);
            assert!((tr[&format!("p_{}", c + 1)] - pj).abs() <= 1e-12);
            for e in extras {
                let want = dr[&format!("{e}_{j}")];
                assert!((tr[&format!("{e}_{}", c + 1)] - want).abs() <= 1e-12);
            }
        }
        for s in ["label", "max_p", "margin", "entropy"] {
            assert!((tr[s] - dr[s]).abs() <= 1e-12, "{s}");
        }
        if noise {
            assert!((tr["p_noise"] - dr["p_noise"]).abs() <= 1e-12);
        }
    }
    assert!(!top.lines().next().unwrap().contains("p_0,"));
}

#[test]
fn top_k_agrees_with_the_dense_output() {
    let dir = tempfile::tempdir().unwrap();
    let csv = records_csv(dir.path(), 300, ",");
    let csv = csv.to_str().unwrap();
    let sel = ["--columns", "a-c"];
    for (cmd, k, extra, noise, extras) in [
        ("kmeans", 5, vec!["--typicality"], false, vec!["t"]),
        ("gmm", 4, vec!["--noise", "0.05"], true, vec![]),
        ("fcm", 4, vec![], false, vec![]),
        ("consensus", 3, vec!["--runs", "20"], false, vec![]),
    ] {
        let ks = k.to_string();
        let base: Vec<&str> = [&[cmd, csv, "-k", &ks][..], &sel, &extra].concat();
        let dense = ok(&base);
        for kt in [1, 2] {
            let kts = kt.to_string();
            let top = ok(&[&base[..], &["--top-k", &kts]].concat());
            check_top_k(&dense, &top, k, kt, noise, &extras);
        }
        fails(
            &[&base[..], &["--top-k", &(k + 1).to_string()]].concat(),
            &format!("--top-k {}: the model has {k} clusters", k + 1),
        );
    }
    fails(
        &["kmeans", csv, "-k", "3", "--columns", "a-c", "--top-k", "0"],
        "--top-k 0: the model has 3 clusters; give a K from 1 to 3",
    );
    // predict on a saved model writes the same top-K rows as the fit.
    let model = dir.path().join("m.json");
    let fit = ok(&[
        "gmm",
        csv,
        "-k",
        "3",
        "--columns",
        "a-c",
        "--top-k",
        "2",
        "--model-out",
        model.to_str().unwrap(),
    ]);
    let pred = ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        csv,
        "--columns",
        "a-c",
        "--top-k",
        "2",
    ]);
    assert_eq!(fit, pred);
}

fn count(svg: &str, class: &str) -> usize {
    svg.matches(&format!("class=\"{class}\"")).count()
}

#[test]
fn plots_draw_every_point_axes_and_a_legend() {
    let dir = tempfile::tempdir().unwrap();
    let csv = records_csv(dir.path(), 120, ",");
    let csv = csv.to_str().unwrap();
    let svg = dir.path().join("k.svg");
    let html = dir.path().join("k.html");
    ok(&[
        "kmeans",
        csv,
        "-k",
        "2",
        "--columns",
        "a-c",
        "--plot",
        svg.to_str().unwrap(),
        "--report-html",
        html.to_str().unwrap(),
    ]);
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(count(&s, "point"), 120);
    assert_eq!(count(&s, "centre"), 2);
    assert_eq!(count(&s, "axis"), 2, "a scatter and a histogram panel");
    assert_eq!(count(&s, "legend"), 2);
    assert_eq!(count(&s, "histogram"), 2);
    assert!(s.contains("PC1 (") && s.contains("% of the variance)"));
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<svg") && h.ends_with("</html>\n"));
    assert!(h.contains("<caption>Clusters</caption>") && h.contains("inertia"));
    // Named columns instead of principal components, for a mixture with an outlier ringed.
    let mut text = std::fs::read_to_string(csv).unwrap();
    // Far enough to be atypical of both components, not so far that it takes one of its own.
    text.push_str("9999,far,15,15,15,red\n");
    let far = dir.path().join("far.csv");
    std::fs::write(&far, text).unwrap();
    let svg2 = dir.path().join("g.svg");
    ok(&[
        "gmm",
        far.to_str().unwrap(),
        "-k",
        "2",
        "--columns",
        "a-c",
        "--id",
        "id",
        "--plot",
        svg2.to_str().unwrap(),
        "--plot-columns",
        "a,c",
    ]);
    let s2 = std::fs::read_to_string(&svg2).unwrap();
    assert_eq!(count(&s2, "point"), 121);
    assert!(count(&s2, "outlier") >= 1);
    assert!(s2.contains(">a</text>") && s2.contains(">c</text>"));
    fails(
        &[
            "gmm",
            csv,
            "-k",
            "2",
            "--columns",
            "a-c",
            "--plot",
            svg2.to_str().unwrap(),
            "--plot-columns",
            "a,zz",
        ],
        "--plot-columns: 'zz' is not one of the model's features (a, b, c)",
    );
    // select: the criterion against k with the winner ringed, and its table in the page.
    let svg3 = dir.path().join("s.svg");
    let html3 = dir.path().join("s.html");
    bin()
        .args([
            "select",
            csv,
            "-k",
            "1..4",
            "--covariance",
            "full,diag",
            "--columns",
            "a-c",
            "--plot",
            svg3.to_str().unwrap(),
            "--report-html",
            html3.to_str().unwrap(),
            "-q",
        ])
        .assert()
        .success();
    let s3 = std::fs::read_to_string(&svg3).unwrap();
    assert_eq!(count(&s3, "curve"), 2);
    assert_eq!(count(&s3, "marker"), 8);
    assert_eq!(count(&s3, "winner"), 1);
    assert_eq!(count(&s3, "legend"), 3);
    let h3 = std::fs::read_to_string(&html3).unwrap();
    assert!(h3.contains("Candidates, best BIC first"));
    // softclust plot: a saved model on new data; the scatter is capped at 5000 points.
    let big = records_csv(dir.path(), 6000, ",");
    let model = dir.path().join("m.json");
    ok(&[
        "fcm",
        csv,
        "-k",
        "2",
        "--columns",
        "a-c",
        "--model-out",
        model.to_str().unwrap(),
    ]);
    let svg4 = dir.path().join("p.svg");
    ok(&[
        "plot",
        "--model",
        model.to_str().unwrap(),
        big.to_str().unwrap(),
        "--columns",
        "a-c",
        "--plot",
        svg4.to_str().unwrap(),
    ]);
    let s4 = std::fs::read_to_string(&svg4).unwrap();
    assert_eq!(count(&s4, "point"), 5000);
    assert!(s4.contains("5000 points drawn"));
    fails(
        &[
            "plot",
            "--model",
            model.to_str().unwrap(),
            big.to_str().unwrap(),
        ],
        "needs --plot FILE.svg or --report-html FILE.html",
    );
}

#[test]
fn completions_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&["completions", shell]);
        assert!(
            out.contains("softclust") && out.contains("top-k"),
            "{shell}"
        );
    }
    fails(&["completions", "tcsh"], "invalid value 'tcsh'");
    let v = bin().arg("--version").assert().success();
    let v = String::from_utf8(v.get_output().stdout.clone()).unwrap();
    assert!(
        v.starts_with("softclust 0.") && v.contains("(SIMD: "),
        "{v}"
    );
}
