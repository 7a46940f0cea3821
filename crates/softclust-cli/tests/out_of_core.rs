//! Parquet in and out, and fits out of core: a `--memory-limit` smaller than the data makes
//! kmeans, gmm and fcm read the file once per pass, block by block, with the in-memory fit's
//! loops, so they agree with the fit in memory.
#![allow(clippy::unwrap_used)]

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray};
use assert_cmd::Command;
use ndarray::Array2;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn bin() -> Command {
    Command::cargo_bin("softclust").unwrap()
}

/// Two clusters in 3 features, 30,000 rows (more than two blocks of 65,536 values... and more
/// than one block of rows only with small blocks, so the files span several row groups).
fn data(n: usize) -> Array2<f64> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Array2::zeros((n, 3));
    for i in 0..n {
        let c = if u() < 0.4 { 0.0 } else { 4.0 };
        for j in 0..3 {
            // Sum of uniforms: roughly normal.
            let z: f64 = (0..4).map(|_| u()).sum::<f64>() - 2.0;
            x[(i, j)] = c * (1.0 + j as f64 * 0.5) + z * (1.0 + j as f64);
        }
    }
    x
}

fn parquet(path: &Path, cols: Vec<(&str, ArrayRef)>, row_group: usize) {
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn x_parquet(dir: &Path, x: &Array2<f64>, weights: bool) -> PathBuf {
    let p = dir.join(if weights { "xw.parquet" } else { "x.parquet" });
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("a", Arc::new(Float64Array::from(x.column(0).to_vec()))),
        (
            "b",
            Arc::new(Float32Array::from(
                x.column(1).iter().map(|&v| v as f32).collect::<Vec<_>>(),
            )),
        ),
        ("c", Arc::new(Float64Array::from(x.column(2).to_vec()))),
    ];
    if weights {
        let w: Vec<i32> = (0..x.nrows()).map(|i| 1 + (i % 3) as i32).collect();
        cols.push(("w", Arc::new(Int32Array::from(w))));
    }
    parquet(&p, cols, 7000);
    p
}

/// The same data as `x_parquet` (column b rounded to f32) as CSV.
fn x_csv(dir: &Path, x: &Array2<f64>, weights: bool) -> PathBuf {
    let mut s = String::from(if weights { "a,b,c,w\n" } else { "a,b,c\n" });
    for (i, r) in x.rows().into_iter().enumerate() {
        s.push_str(&format!(
            "{:?},{:?},{:?}",
            r[0],
            f64::from(r[1] as f32),
            r[2]
        ));
        if weights {
            s.push_str(&format!(",{}", 1 + i % 3));
        }
        s.push('\n');
    }
    let p = dir.join(if weights { "xw.csv" } else { "x.csv" });
    std::fs::write(&p, s).unwrap();
    p
}

fn rows(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect()
}

fn max_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(r, s)| r.iter().zip(s).map(|(u, v)| (u - v).abs()))
        .fold(0.0, f64::max)
}

fn run(args: &[&str]) -> String {
    let out = bin().args(args).arg("-q").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn kmeans_out_of_core_equals_the_fit_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(30_000);
    let npy = dir.path().join("x.npy");
    ndarray_npy::write_npy(&npy, &x).unwrap();
    let (r1, r2) = (dir.path().join("r1.json"), dir.path().join("r2.json"));
    let npy_s = npy.to_str().unwrap();
    // 30,000 x 3 f64 is 720 KB: a 100K budget streams it.
    let streamed = run(&[
        "kmeans",
        npy_s,
        "-k",
        "2",
        "--memory-limit",
        "100K",
        "--report",
        r1.to_str().unwrap(),
    ]);
    let memory = run(&["kmeans", npy_s, "-k", "2", "--report", r2.to_str().unwrap()]);
    assert!(max_diff(&rows(&streamed), &rows(&memory)) < 1e-9);
    let (a, b) = (report(&r1), report(&r2));
    assert!(a["out_of_core"]["passes"].as_u64().unwrap() >= 4, "{a}");
    assert!(b.get("out_of_core").is_none());
    let (ia, ib) = (
        a["inertia"].as_f64().unwrap(),
        b["inertia"].as_f64().unwrap(),
    );
    assert!((ia - ib).abs() < 1e-9 * ib);
    // Fortran order reads the same rows.
    let f = dir.path().join("xf.npy");
    ndarray_npy::write_npy(&f, &x.t().as_standard_layout().reversed_axes()).unwrap();
    let fortran = run(&[
        "kmeans",
        f.to_str().unwrap(),
        "-k",
        "2",
        "--memory-limit",
        "100K",
    ]);
    assert!(max_diff(&rows(&fortran), &rows(&streamed)) < 1e-12);
}

#[test]
fn mixtures_and_fcm_out_of_core_match_the_fit_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(20_000);
    let pq = x_parquet(dir.path(), &x, true);
    let csv = x_csv(dir.path(), &x, true);
    for (cmd, tol) in [
        (vec!["gmm", "-k", "2"], 1e-3),
        (vec!["gmm", "-k", "2", "--covariance", "diag"], 1e-3),
        (vec!["fcm", "-k", "2"], 1e-6),
    ] {
        let r = dir.path().join("r.json");
        let mut a = cmd.clone();
        a.extend([
            pq.to_str().unwrap(),
            "--weights",
            "w",
            "--memory-limit",
            "64K",
        ]);
        a.extend(["--report", r.to_str().unwrap()]);
        let streamed = run(&a);
        assert!(report(&r)["out_of_core"]["passes"].as_u64().unwrap() >= 3);
        let mut b = cmd.clone();
        b.extend([csv.to_str().unwrap(), "--weights", "w"]);
        let memory = run(&b);
        let d = max_diff(&rows(&streamed), &rows(&memory));
        assert!(d < tol, "{cmd:?}: {d}");
    }
}

#[test]
fn parquet_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(5_000);
    let pq = x_parquet(dir.path(), &x, false);
    let csv = x_csv(dir.path(), &x, false);
    let from_pq = run(&["gmm", pq.to_str().unwrap(), "-k", "2"]);
    let from_csv = run(&["gmm", csv.to_str().unwrap(), "-k", "2"]);
    assert_eq!(from_pq, from_csv);
    // -o out.parquet: the same table, label as int64.
    let out = dir.path().join("m.parquet");
    let model = dir.path().join("m.json");
    run(&[
        "gmm",
        pq.to_str().unwrap(),
        "-k",
        "2",
        "-o",
        out.to_str().unwrap(),
        "--model-out",
        model.to_str().unwrap(),
    ]);
    let f = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let want = rows(&from_pq);
    let mut got: Vec<Vec<f64>> = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["p_0", "p_1", "label", "max_p", "margin", "entropy"]);
        assert_eq!(b.column(2).data_type(), &arrow_schema::DataType::Int64);
        for i in 0..b.num_rows() {
            let mut r = Vec::new();
            for (j, c) in b.columns().iter().enumerate() {
                r.push(if j == 2 {
                    c.as_any()
                        .downcast_ref::<arrow_array::Int64Array>()
                        .unwrap()
                        .value(i) as f64
                } else {
                    c.as_any().downcast_ref::<Float64Array>().unwrap().value(i)
                });
            }
            got.push(r);
        }
    }
    assert_eq!(max_diff(&got, &want), 0.0);
    // predict streams Parquet and .npy input, with the same rows as the fit.
    let pred = run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        pq.to_str().unwrap(),
    ]);
    assert_eq!(pred, from_pq);
    let pred_pq = dir.path().join("p.parquet");
    run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        pq.to_str().unwrap(),
        "-o",
        pred_pq.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&pred_pq).unwrap(),
        std::fs::read(&out).unwrap()
    );
}

#[test]
fn parquet_and_out_of_core_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nulls.parquet");
    parquet(
        &p,
        vec![
            ("a", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0]))),
            (
                "b",
                Arc::new(Float64Array::from(vec![
                    Some(1.0),
                    Some(2.0),
                    None,
                    Some(4.0),
                ])),
            ),
        ],
        10,
    );
    bin()
        .args(["kmeans", p.to_str().unwrap(), "-k", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "column 'b' has missing values (null), the first at row 3",
        ));
    let s = dir.path().join("text.parquet");
    parquet(
        &s,
        vec![
            ("a", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
            ("name", Arc::new(StringArray::from(vec!["x", "y"]))),
        ],
        10,
    );
    bin()
        .args(["gmm", s.to_str().unwrap(), "-k", "1"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("column 'name' has type Utf8")
                .and(predicate::str::contains("numeric columns")),
        );
    let x = data(2_000);
    let npy = dir.path().join("x.npy");
    ndarray_npy::write_npy(&npy, &x).unwrap();
    let npy = npy.to_str().unwrap();
    bin()
        .args([
            "kmeans",
            npy,
            "-k",
            "2",
            "--memory-limit",
            "1K",
            "--standardize",
            "robust",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("robust scaler needs quantiles"));
    bin()
        .args([
            "kmeans",
            npy,
            "-k",
            "2",
            "--memory-limit",
            "1K",
            "--soft",
            "minmax",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--soft minmax needs the training distances",
        ));
    bin()
        .args(["kmeans", npy, "-k", "2", "--memory-limit", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a size"));
    let mut bad = x.clone();
    bad[(1500, 1)] = f64::NAN;
    let badp = dir.path().join("bad.npy");
    ndarray_npy::write_npy(&badp, &bad).unwrap();
    bin()
        .args([
            "gmm",
            badp.to_str().unwrap(),
            "-k",
            "2",
            "--memory-limit",
            "1K",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("row 1501, column 2"));
    // A failed streamed fit leaves no output behind.
    let out = dir.path().join("o.csv");
    bin()
        .args([
            "gmm",
            badp.to_str().unwrap(),
            "-k",
            "2",
            "--memory-limit",
            "1K",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    assert!(!out.exists());
}

#[test]
fn select_out_of_core_ranks_as_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(12_000);
    let pq = x_parquet(dir.path(), &x, false);
    let csv = x_csv(dir.path(), &x, false);
    let r = dir.path().join("r.json");
    let args = ["-k", "1..3", "--covariance", "full,spherical", "--json"];
    let mut a = vec![
        "select",
        pq.to_str().unwrap(),
        "--memory-limit",
        "64K",
        "--report",
        r.to_str().unwrap(),
    ];
    a.extend(args);
    let streamed: serde_json::Value = serde_json::from_str(&run(&a)).unwrap();
    let mut b = vec!["select", csv.to_str().unwrap()];
    b.extend(args);
    let memory: serde_json::Value = serde_json::from_str(&run(&b)).unwrap();
    assert_eq!(streamed["chosen"], memory["chosen"]);
    let (ta, tb) = (
        streamed["table"].as_array().unwrap(),
        memory["table"].as_array().unwrap(),
    );
    assert_eq!(ta.len(), 6);
    for (u, v) in ta.iter().zip(tb) {
        assert_eq!(
            (&u["k"], &u["covariance_type"]),
            (&v["k"], &v["covariance_type"])
        );
        // The same fit or, where EM has several optima (k = 3 on two clusters), a better one:
        // out of core continues from the converged fit on the sample.
        let (bu, bv) = (u["bic"].as_f64().unwrap(), v["bic"].as_f64().unwrap());
        assert!(bu <= bv + 1e-6 * bv.abs(), "{u} {v}");
    }
    assert!(report(&r)["out_of_core"]["passes"].as_u64().unwrap() > 6);
}
