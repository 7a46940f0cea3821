//! End-to-end tests of the `softclust` binary: happy paths and every bad-input case.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn bin() -> Command {
    Command::cargo_bin("softclust").unwrap()
}

fn iris_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/iris.csv")
}

/// The Iris measurements without the species column, with a header.
fn iris_numeric(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(iris_path()).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split(',').collect();
        out.push_str(&cells[..4].join(","));
        out.push('\n');
    }
    let p = dir.join("iris4.csv");
    std::fs::write(&p, out).unwrap();
    p
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Parses membership CSV output; checks the header (extra columns may follow the contract's)
/// and the contract on every row. Returns the contract columns of each row.
fn check_membership(csv: &str, k: usize) -> Vec<Vec<f64>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut want: Vec<String> = (0..k).map(|j| format!("p_{j}")).collect();
    want.extend(["label", "max_p", "margin", "entropy"].map(String::from));
    assert_eq!(
        &header[..k + 4],
        &want.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap()).collect())
        .collect();
    for r in &rows {
        let p = &r[..k];
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{r:?}");
        let best = (0..k).fold(0, |b, j| if p[j] > p[b] { j } else { b });
        assert_eq!(r[k] as usize, best);
        assert_eq!(r[k + 1], p[best]);
    }
    rows
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

// ---- happy paths ---------------------------------------------------------------------------

#[test]
fn demo_prints_a_summary() {
    bin()
        .arg("demo")
        .assert()
        .success()
        .stdout(predicate::str::contains("Iris"))
        .stdout(predicate::str::contains("confident"))
        .stdout(predicate::str::contains("ambiguous"))
        .stdout(predicate::str::contains("softmax, sigma ="))
        .stdout(predicate::str::contains("minmax"))
        .stdout(predicate::str::contains("setosa"));
}

#[test]
fn kmeans_on_a_csv_with_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = iris_numeric(dir.path());
    let out = stdout_of(
        bin()
            .args(["kmeans", "-k", "3", "--n-init", "10", "-q"])
            .arg(&input),
    );
    let rows = check_membership(&out, 3);
    assert_eq!(rows.len(), 150);
    // The first 50 flowers (setosa) share a cluster, nearly all with near-certain probability.
    let l0 = rows[0][3];
    assert!(rows[..50].iter().all(|r| r[3] == l0));
    assert!(rows[..50].iter().filter(|r| r[4] > 0.99).count() >= 48);
    assert!(rows[50..].iter().all(|r| r[3] != l0));
    // Tiny probabilities are written in scientific notation, not as long runs of zeros.
    assert!(out.lines().all(|l| l.len() < 200));
    assert!(out.contains("e-"));
}

#[test]
fn kmeans_algorithms_write_the_same_memberships() {
    // Hamerly's bounds (the default) and every distance give Lloyd's run: identical output.
    let dir = tempfile::tempdir().unwrap();
    let input = iris_numeric(dir.path());
    let run = |alg: &str| {
        stdout_of(
            bin()
                .args([
                    "kmeans",
                    "-k",
                    "4",
                    "--n-init",
                    "5",
                    "-q",
                    "--algorithm",
                    alg,
                ])
                .arg(&input),
        )
    };
    let auto = run("auto");
    assert_eq!(auto, run("exhaustive"));
    assert_eq!(auto, run("hamerly"));
    check_membership(&auto, 4);
    bin()
        .args(["kmeans", "-k", "3", "--algorithm", "elkan"])
        .arg(&input)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "possible values: auto, exhaustive, hamerly",
        ));
}

#[test]
fn kmeans_reads_stdin_tsv_without_header_and_npy() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(iris_numeric(dir.path())).unwrap();
    let body: String = csv
        .lines()
        .skip(1)
        .map(|l| l.replace(',', "\t") + "\n")
        .collect();
    let from_stdin = stdout_of(
        bin()
            .args(["kmeans", "-k", "3", "-q"])
            .write_stdin(body.clone()),
    );
    let dash = stdout_of(
        bin()
            .args(["kmeans", "-", "-k", "3", "-q"])
            .write_stdin(body.clone()),
    );
    let tsv = write(dir.path(), "iris.tsv", &body);
    let from_file = stdout_of(bin().args(["kmeans", "-k", "3", "-q"]).arg(&tsv));
    let with_header = stdout_of(
        bin()
            .args(["kmeans", "-k", "3", "-q"])
            .arg(dir.path().join("iris4.csv")),
    );
    assert_eq!(from_stdin, from_file);
    assert_eq!(dash, from_file);
    assert_eq!(with_header, from_file);
    // The same numbers as .npy, f64 and f32.
    let x: Vec<f64> = body
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect();
    let a = ndarray::Array2::from_shape_vec((150, 4), x).unwrap();
    let npy = dir.path().join("iris.npy");
    ndarray_npy::write_npy(&npy, &a).unwrap();
    let from_npy = stdout_of(bin().args(["kmeans", "-k", "3", "-q"]).arg(&npy));
    assert_eq!(from_npy, from_file);
    let npy32 = dir.path().join("iris32.npy");
    ndarray_npy::write_npy(&npy32, &a.mapv(|v| v as f32)).unwrap();
    let from_npy32 = stdout_of(bin().args(["kmeans", "-k", "3", "-q"]).arg(&npy32));
    check_membership(&from_npy32, 3);
    // A 1-D array is one feature.
    let one = dir.path().join("one.npy");
    ndarray_npy::write_npy(&one, &ndarray::array![0.0, 0.1, 0.2, 5.0, 5.1, 5.2]).unwrap();
    let rows = check_membership(
        &stdout_of(bin().args(["kmeans", "-k", "2", "-q"]).arg(&one)),
        2,
    );
    assert_eq!(rows.len(), 6);
    assert_ne!(rows[0][2], rows[5][2]);
    // .npy on stdin is recognised by its magic bytes.
    let bytes = std::fs::read(&npy).unwrap();
    let npy_stdin = stdout_of(bin().args(["kmeans", "-k", "3", "-q"]).write_stdin(bytes));
    assert_eq!(npy_stdin, from_file);
}

#[test]
fn kmeans_writes_output_and_centres_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = iris_numeric(dir.path());
    let out = dir.path().join("m.csv");
    let centers = dir.path().join("c.csv");
    bin()
        .args(["kmeans", "-k", "3", "--n-init", "4"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--centers-out")
        .arg(&centers)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("converged"));
    check_membership(&std::fs::read_to_string(&out).unwrap(), 3);
    let c = std::fs::read_to_string(&centers).unwrap();
    let mut lines = c.lines();
    assert_eq!(
        lines.next().unwrap(),
        "sepal_length,sepal_width,petal_length,petal_width"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    // Centres are in centimetres again: the setosa centre has petal length about 1.46.
    assert!(rows.iter().any(|r| (r[2] - 1.462).abs() < 0.01), "{rows:?}");
    // A new file gets the usual mode; rewriting an existing file keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o644);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
        bin()
            .args(["kmeans", "-k", "3", "-q", "-o"])
            .arg(&out)
            .arg(&input)
            .assert()
            .success();
        assert_eq!(mode(&out), 0o600);
    }
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".softclust-")),
        "{names:?}"
    );
}

#[test]
fn kmeans_every_soft_method_and_standardisation() {
    let dir = tempfile::tempdir().unwrap();
    let input = iris_numeric(dir.path());
    for soft in ["softmax", "inverse-power", "minmax"] {
        for std in ["zscore", "robust", "none"] {
            let out = stdout_of(
                bin()
                    .args([
                        "kmeans",
                        "-k",
                        "3",
                        "-q",
                        "--soft",
                        soft,
                        "--standardize",
                        std,
                    ])
                    .arg(&input),
            );
            assert_eq!(check_membership(&out, 3).len(), 150);
        }
    }
    let out = stdout_of(
        bin()
            .args([
                "kmeans",
                "-k",
                "3",
                "-q",
                "--per-cluster-variance",
                "--size-weights",
                "--temperature",
                "2",
            ])
            .arg(&input),
    );
    check_membership(&out, 3);
    let out = stdout_of(
        bin()
            .args([
                "kmeans", "-k", "3", "-q", "--sigma", "0.5", "--init", "random",
            ])
            .arg(&input),
    );
    check_membership(&out, 3);
}

#[test]
fn kmeans_weights_column_by_name_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = "x,w,y\n0,1,0\n0.1,2,0\n5,1,5\n5.1,1,5\n";
    let p = write(dir.path(), "w.csv", text);
    let by_name = stdout_of(
        bin()
            .args([
                "kmeans",
                "-k",
                "2",
                "-q",
                "--weights",
                "w",
                "--standardize",
                "none",
            ])
            .arg(&p),
    );
    let by_pos = stdout_of(
        bin()
            .args([
                "kmeans",
                "-k",
                "2",
                "-q",
                "--weights",
                "2",
                "--standardize",
                "none",
            ])
            .arg(&p),
    );
    assert_eq!(by_name, by_pos);
    let rows = check_membership(&by_name, 2);
    assert_eq!(rows[0][2], rows[1][2]);
    assert_ne!(rows[0][2], rows[2][2]);
}

#[test]
fn thread_count_does_not_change_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,c\n");
    let mut s = 1u64;
    for i in 0..12_000 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        text.push_str(&format!(
            "{},{},{}\n",
            (i % 4) as f64 * 3.0 + u,
            u * 2.0,
            (i % 7) as f64 - u
        ));
    }
    let p = write(dir.path(), "big.csv", &text);
    let one = stdout_of(
        bin()
            .args(["--threads", "1", "kmeans", "-k", "4", "-q", "--n-init", "2"])
            .arg(&p),
    );
    let two = stdout_of(
        bin()
            .args(["kmeans", "-k", "4", "-q", "--n-init", "2", "--threads", "2"])
            .arg(&p),
    );
    assert_eq!(one, two);
}

#[test]
fn soft_from_a_distance_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "d.csv", "d0,d1,d2\n1,2,4\n0,3,3\n");
    let out = stdout_of(
        bin()
            .args(["soft", "--method", "inverse-power", "--power", "2", "-q"])
            .arg(&p),
    );
    let rows = check_membership(&out, 3);
    assert!((rows[0][0] - 16.0 / 21.0).abs() < 1e-15);
    assert_eq!(&rows[1][..3], &[1.0, 0.0, 0.0]);
    // Squared distances with the gravity default for D = 3 (p = 2) give the same.
    let sq = write(dir.path(), "d2.csv", "1,4,16\n0,9,9\n");
    let out2 = stdout_of(
        bin()
            .args([
                "soft",
                "--method",
                "inverse-power",
                "--squared",
                "--dim",
                "3",
                "-q",
            ])
            .arg(&sq),
    );
    assert_eq!(out, out2);
    // Softmax with sigma estimated from --dim.
    let out = stdout_of(bin().args(["soft", "--dim", "2"]).arg(&p));
    check_membership(&out, 3);
    // Without --dim, the dimension is estimated from the distances, and said so.
    let many = write(
        dir.path(),
        "d6.csv",
        "1,4,5\n2,0.5,5\n4,5,1.5\n0.7,3,4\n3,2.5,4\n5,4,0.2\n",
    );
    let assert = bin().arg("soft").arg(&many).assert().success();
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(err.contains("the dimension was estimated"), "{err}");
    check_membership(
        &String::from_utf8(assert.get_output().stdout.clone()).unwrap(),
        3,
    );
    let out = stdout_of(bin().args(["soft", "--method", "minmax", "-q"]).arg(&p));
    check_membership(&out, 3);
}

#[test]
fn closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("{},{}\n", i % 10, (i * 7) % 13));
    }
    let p = write(dir.path(), "many.csv", &text);
    let (m, r) = (dir.path().join("m.json"), dir.path().join("r.json"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("softclust"))
        .args(["kmeans", "-k", "3", "-q"])
        .arg(&p)
        .arg("--model-out")
        .arg(&m)
        .arg("--report")
        .arg(&r)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("p_0,"));
    // The reader is gone: the rest of the output goes to a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // `| head -1` once lost the other outputs: the model and the report are still written.
    assert!(m.exists() && r.exists(), "model or report missing");
}

#[test]
fn help_and_version() {
    bin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("kmeans"));
    bin().arg("--version").assert().success();
    bin()
        .args(["kmeans", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--standardize"));
}

// ---- bad input: exit 2, one line naming the problem, no output file -------------------------

/// Runs a failing command with `-o OUT` where OUT already holds "old": it must exit 2, say
/// `needle` on one line of stderr, and leave OUT untouched.
fn fails(args: &[&str], input: Option<&Path>, stdin: Option<&str>, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "old").unwrap();
    let mut cmd = bin();
    cmd.args(args);
    if let Some(p) = input {
        cmd.arg(p);
    }
    cmd.arg("-o").arg(&out);
    if let Some(s) = stdin {
        cmd.write_stdin(s.to_string());
    }
    let assert = cmd.assert().code(2).stdout("");
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "more than one line: {err:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "old",
        "output file was touched"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary file left behind");
}

fn bad_file(name: &str, text: &str, args: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, text);
    fails(args, Some(&p), None, needle);
}

const KM: &[&str] = &["kmeans", "-k", "2"];

#[test]
fn empty_file() {
    bad_file("e.csv", "", KM, "is empty");
    bad_file("e.csv", "\n  \n", KM, "is empty");
    fails(KM, None, Some(""), "standard input is empty");
}

#[test]
fn header_without_rows() {
    bad_file("h.csv", "a,b,c\n", KM, "header but no data rows");
}

#[test]
fn non_numeric_cell_names_line_and_column() {
    bad_file(
        "n.csv",
        "a,b\n1,2\n3,x7\n4,5\n",
        KM,
        "line 3, column 2 ('b'): 'x7' is not a number",
    );
    // The species column of the shipped Iris file.
    fails(
        KM,
        Some(&iris_path()),
        None,
        "line 2, column 5 ('species'): 'setosa' is not a number",
    );
}

#[test]
fn ragged_row_names_the_line() {
    bad_file(
        "r.csv",
        "1,2,3\n4,5,6\n7,8\n",
        KM,
        "line 3: 2 fields, but the first row has 3",
    );
}

#[test]
fn missing_and_non_finite_values() {
    bad_file(
        "m.csv",
        "a,b\n1,2\n3,\n",
        KM,
        "line 3, column 2 ('b'): empty cell",
    );
    bad_file(
        "m.csv",
        "a,b\n1,2\nNaN,4\n",
        KM,
        "line 3, column 1 ('a'): 'NaN' is not finite",
    );
    bad_file(
        "m.csv",
        "1,2\n3,inf\n5,6\n",
        KM,
        "line 2, column 2 ('x_1'): 'inf' is not finite",
    );
}

#[test]
fn first_row_mixing_text_and_numbers() {
    bad_file("x.csv", "1,abc\n2,3\n", KM, "pass --header");
    // With --header the row is taken as names.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.csv", "1,abc\n2,3\n4,5\n6,8\n");
    bin()
        .args(["kmeans", "-k", "2", "-q", "--header"])
        .arg(&p)
        .assert()
        .success();
    // With --no-header a text first row is an error naming it.
    bad_file(
        "y.csv",
        "a,b\n1,2\n3,4\n",
        &["kmeans", "-k", "2", "--no-header"],
        "line 1, column 1 ('x_0'): 'a' is not a number",
    );
}

#[test]
fn more_clusters_than_points() {
    bad_file(
        "k.csv",
        "1,2\n3,4\n5,6\n",
        &["kmeans", "-k", "4"],
        "4 clusters need at least 4 points, but the data have 3",
    );
}

#[test]
fn invalid_parameters_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let p = iris_numeric(dir.path());
    fails(&["kmeans", "-k", "0"], Some(&p), None, "invalid -k '0'");
    fails(
        &["kmeans", "-k", "3", "--max-iter", "0"],
        Some(&p),
        None,
        "invalid --max-iter 0",
    );
    fails(
        &["kmeans", "-k", "3", "--n-init", "0"],
        Some(&p),
        None,
        "invalid --n-init 0",
    );
    fails(
        &["kmeans", "-k", "3", "--tol=-1"],
        Some(&p),
        None,
        "invalid --tol -1",
    );
    fails(
        &["kmeans", "-k", "3", "--sigma=-1"],
        Some(&p),
        None,
        "invalid --sigma -1",
    );
    fails(
        &[
            "kmeans",
            "-k",
            "3",
            "--soft",
            "inverse-power",
            "--power",
            "0",
        ],
        Some(&p),
        None,
        "invalid --power 0",
    );
    fails(
        &["kmeans", "-k", "3", "--temperature", "0"],
        Some(&p),
        None,
        "invalid --temperature 0",
    );
    fails(
        &["kmeans", "-k", "3", "--threads", "0"],
        Some(&p),
        None,
        "invalid --threads 0",
    );
    fails(
        &["kmeans", "-k", "3", "--soft", "linear"],
        Some(&p),
        None,
        "invalid value 'linear'",
    );
    fails(&["kmeans"], Some(&p), None, "-k <K>");
}

#[test]
fn missing_file() {
    fails(
        KM,
        Some(Path::new("/nonexistent/data.csv")),
        None,
        "cannot read '/nonexistent/data.csv'",
    );
}

#[test]
fn bad_npy_files() {
    bad_file(
        "bad.npy",
        "this is not numpy",
        KM,
        "not a readable .npy file",
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.npy");
    ndarray_npy::write_npy(
        &p,
        &ndarray::array![[1.0, 2.0], [f64::NAN, 1.0], [3.0, 3.0]],
    )
    .unwrap();
    fails(
        KM,
        Some(&p),
        None,
        "row 2, column 1: value NaN is not finite",
    );
}

#[test]
fn bad_weights() {
    bad_file(
        "w.csv",
        "x,w\n1,1\n2,-1\n3,1\n",
        &["kmeans", "-k", "2", "--weights", "w"],
        "weights must be >= 0",
    );
    bad_file(
        "w.csv",
        "x,w\n1,1\n2,1\n",
        &["kmeans", "-k", "2", "--weights", "nope"],
        "--weights 'nope': no such column",
    );
    bad_file(
        "w.csv",
        "x,w\n1,0\n2,0\n",
        &["kmeans", "-k", "2", "--weights", "w"],
        "all zeros",
    );
    bad_file(
        "w.csv",
        "w\n1\n2\n",
        &["kmeans", "-k", "1", "--weights", "w"],
        "leaves no features",
    );
}

#[test]
fn soft_needs_dimension_or_parameter_when_the_distances_cannot_tell() {
    // Every nearest distance equal: nothing to estimate the dimension from.
    bad_file("d.csv", "1,2\n2,1\n", &["soft"], "--dim D");
    bad_file(
        "d.csv",
        "1,2\n2,1\n",
        &["soft", "--method", "inverse-power"],
        "--power P",
    );
    bad_file(
        "d.csv",
        "1,-2\n2,1\n",
        &["soft", "--method", "minmax"],
        "negative entry (-2) at row 0, column 1",
    );
    bad_file(
        "d.csv",
        "1,2\n2,1\n",
        &["soft", "--dim", "0"],
        "invalid --dim 0",
    );
}

#[test]
fn unwritable_output_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = iris_numeric(dir.path());
    bin()
        .args(["kmeans", "-k", "3", "-o", "/nonexistent/dir/out.csv"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/dir"));
}

#[test]
fn binary_garbage_is_not_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.csv");
    std::fs::File::create(&p)
        .unwrap()
        .write_all(&[0xff, 0xfe, 0x00, 0x31, 0x0a, 0x80, 0x81, 0x0a])
        .unwrap();
    fails(KM, Some(&p), None, "line");
}

// ---- Gaussian mixtures, model selection, reports and saved models ---------------------------

/// Three elongated, rotated clusters (150 points each) as CSV with a header.
fn elongated_csv(dir: &Path) -> PathBuf {
    let mut s = 7u64;
    let mut unif = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u1, u2) = (unif(), unif());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut text = String::from("u,v\n");
    for (cx, cy, ang) in [(0.0, 0.0, 0.3f64), (8.0, 8.0, -0.8), (-6.0, 9.0, 1.2)] {
        let (sn, cs) = ang.sin_cos();
        for _ in 0..150 {
            let a = 3.0 * normal();
            let b = 0.3 * normal();
            text.push_str(&format!(
                "{},{}\n",
                cx + cs * a - sn * b,
                cy + sn * a + cs * b
            ));
        }
    }
    write(dir, "elongated.csv", &text)
}

#[test]
fn gmm_every_covariance_type() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    for cov in ["full", "tied", "diag", "spherical"] {
        for init in ["kmeans", "k-means++", "random", "random_from_data"] {
            let out = stdout_of(
                bin()
                    .args(["gmm", "-k", "3", "-q", "--covariance", cov, "--init", init])
                    .arg(&p),
            );
            assert_eq!(check_membership(&out, 3).len(), 450, "{cov} {init}");
        }
    }
}

#[test]
fn gmm_report_and_model_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(elongated_csv(dir.path())).unwrap();
    let weighted: String = base
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},w\n")
            } else {
                format!("{l},{}\n", 1 + i % 3)
            }
        })
        .collect();
    let p = write(dir.path(), "weighted.csv", &weighted);
    let report = dir.path().join("r.json");
    let model = dir.path().join("m.json");
    let out = stdout_of(
        bin()
            .args(["gmm", "-k", "3", "--n-init", "2", "--weights", "3"])
            .arg(&p)
            .arg("--report")
            .arg(&report)
            .arg("--model-out")
            .arg(&model)
            .args(["--standardize", "robust"]),
    );
    check_membership(&out, 3);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["method"], "gmm");
    assert_eq!(r["n"], 450);
    assert_eq!(r["d"], 2); // the third column became the weights
    assert_eq!(r["parameters"]["weights_column"], "3");
    assert_eq!(r["k"], 3);
    assert_eq!(r["parameters"]["n_init"], 2);
    assert_eq!(r["parameters"]["standardize"], "robust");
    for key in [
        "converged",
        "n_iter",
        "lower_bound",
        "mean_log_likelihood",
        "bic",
        "aic",
        "n_parameters",
    ] {
        assert!(!r[key].is_null(), "{key} missing from {r}");
    }
    assert!(r["timings"]["total_s"].as_f64().unwrap() >= r["timings"]["fit_s"].as_f64().unwrap());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["format"], "softclust-model");
    assert_eq!(m["schema_version"], 2);
    assert_eq!(m["model"]["kind"], "gmm");
}

#[test]
fn saved_models_predict_exactly_what_the_fit_gave() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    for args in [
        vec!["gmm", "-k", "3"],
        vec!["gmm", "-k", "3", "--covariance", "diag"],
        vec!["kmeans", "-k", "3"],
        vec!["kmeans", "-k", "3", "--soft", "inverse-power"],
        vec![
            "kmeans",
            "-k",
            "3",
            "--soft",
            "minmax",
            "--standardize",
            "none",
        ],
        vec![
            "kmeans",
            "-k",
            "3",
            "--per-cluster-variance",
            "--size-weights",
        ],
    ] {
        let model = dir.path().join("model.json");
        let fitted = stdout_of(
            bin()
                .args(&args)
                .arg("-q")
                .arg(&p)
                .arg("--model-out")
                .arg(&model),
        );
        let predicted = stdout_of(bin().args(["predict", "-q", "--model"]).arg(&model).arg(&p));
        assert_eq!(fitted, predicted, "{args:?}");
    }
}

#[test]
fn kmeans_report_has_the_fit_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = iris_numeric(dir.path());
    let report = dir.path().join("r.json");
    bin()
        .args(["kmeans", "-k", "3", "-q", "--n-init", "3"])
        .arg(&p)
        .arg("--report")
        .arg(&report)
        .assert()
        .success();
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["method"], "kmeans");
    assert_eq!(
        (r["n"].as_u64(), r["d"].as_u64(), r["k"].as_u64()),
        (Some(150), Some(4), Some(3))
    );
    assert_eq!(r["parameters"]["n_init"], 3);
    assert!(r["inertia"].as_f64().unwrap() > 0.0);
    assert!(r["converged"].as_bool().unwrap());
    assert!(r["bic"].is_null() && r["mean_log_likelihood"].is_null());
    assert!(r["timings"]["fit_s"].is_number());
}

#[test]
fn select_picks_three_elongated_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    let out = dir.path().join("best.csv");
    let text = stdout_of(
        bin()
            .args(["select", "--k", "1..6", "-q"])
            .arg(&p)
            .arg("-o")
            .arg(&out),
    );
    assert!(text.contains("lower is better"), "{text}");
    let chosen = text.lines().find(|l| l.starts_with("chosen:")).unwrap();
    assert!(chosen.contains("k = 3"), "{chosen}");
    assert!(!chosen.contains("spherical"), "{chosen}");
    check_membership(&std::fs::read_to_string(&out).unwrap(), 3);
    let json = stdout_of(
        bin()
            .args([
                "select",
                "--k",
                "2,3,4",
                "--covariance",
                "full,diag",
                "--json",
                "--criterion",
                "icl",
                "-q",
            ])
            .arg(&p),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["criterion"], "icl");
    assert_eq!(v["lower_is_better"], true);
    assert_eq!(v["table"].as_array().unwrap().len(), 6);
    assert_eq!(v["chosen"]["k"], 3);
}

#[test]
fn select_records_failed_fits() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "few.csv", "0\n0\n1\n1\n1.5\n");
    let text = stdout_of(
        bin()
            .args([
                "select",
                "--k",
                "1..7",
                "--covariance",
                "full",
                "--standardize",
                "none",
                "--reg-covar",
                "0",
                "-q",
            ])
            .arg(&p),
    );
    assert!(text.contains("failed:"), "{text}");
    assert!(text.contains("chosen: k = "), "{text}");
}

#[test]
fn gmm_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    fails(&["gmm", "-k", "0"], Some(&p), None, "invalid -k 0");
    fails(
        &["gmm", "-k", "3", "--reg-covar=-1"],
        Some(&p),
        None,
        "invalid --reg-covar -1",
    );
    fails(
        &["gmm", "-k", "3", "--max-iter", "0"],
        Some(&p),
        None,
        "invalid --max-iter 0",
    );
    fails(
        &["gmm", "-k", "3", "--n-init", "0"],
        Some(&p),
        None,
        "invalid --n-init 0",
    );
    fails(
        &["gmm", "-k", "3", "--tol=-1"],
        Some(&p),
        None,
        "invalid --tol -1",
    );
    fails(
        &["gmm", "-k", "3", "--covariance", "round"],
        Some(&p),
        None,
        "invalid value 'round'",
    );
    bad_file(
        "k.csv",
        "1,2\n3,4\n",
        &["gmm", "-k", "3"],
        "3 clusters need at least 3 points, but the data have 2",
    );
    bad_file(
        "n.csv",
        "a,b\n1,2\n3,oops\n",
        &["gmm", "-k", "1"],
        "line 3, column 2 ('b'): 'oops' is not a number",
    );
    // Collapsed components without regularisation: the message names the component and remedies.
    bad_file(
        "c.csv",
        "0,0\n0,0\n5,5\n5,5.5\n9,0\n9.5,0.5\n",
        &[
            "gmm",
            "-k",
            "3",
            "--covariance",
            "diag",
            "--reg-covar",
            "0",
            "--standardize",
            "none",
            "--init",
            "kmeans",
        ],
        "is not positive definite",
    );
    // ...and --auto-regularize fits it.
    let c = write(dir.path(), "c2.csv", "0,0\n0,0\n5,5\n5,5\n9,0\n9,0\n");
    bin()
        .args([
            "gmm",
            "-k",
            "3",
            "--reg-covar",
            "0",
            "--standardize",
            "none",
            "--auto-regularize",
        ])
        .arg(&c)
        .assert()
        .success()
        .stderr(predicate::str::contains("reg_covar raised"));
}

#[test]
fn select_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    fails(
        &["select", "--k", "5..2"],
        Some(&p),
        None,
        "invalid -k '5..2'",
    );
    fails(
        &["select", "--k", "0..3"],
        Some(&p),
        None,
        "invalid -k '0..3'",
    );
    fails(
        &["select", "--k", "a,b"],
        Some(&p),
        None,
        "invalid -k 'a,b'",
    );
    fails(
        &["select", "--covariance", "full,round"],
        Some(&p),
        None,
        "invalid --covariance 'round'",
    );
    bad_file(
        "few.csv",
        "1\n2\n",
        &["select", "--k", "3..4"],
        "lower the k range",
    );
}

#[test]
fn predict_bad_models_and_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    let model = dir.path().join("m.json");
    bin()
        .args(["gmm", "-k", "3", "-q", "--model-out"])
        .arg(&model)
        .arg(&p)
        .assert()
        .success();
    let text = std::fs::read_to_string(&model).unwrap();
    let m = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.to_string_lossy().into_owned()
    };
    let predict =
        |model: &str, needle: &str| fails(&["predict", "--model", model], Some(&p), None, needle);
    predict("/nonexistent/m.json", "cannot read model");
    predict(&m("trunc.json", &text[..text.len() / 2]), "truncated");
    predict(
        &m("other.json", "{\"hello\": 1}"),
        "not a softclust model file",
    );
    predict(
        &m(
            "newer.json",
            &text.replace("\"schema_version\":2", "\"schema_version\":99"),
        ),
        "schema version 99, newer than this softclust",
    );
    predict(
        &m(
            "older.json",
            &text.replace("\"schema_version\":2", "\"schema_version\":1"),
        ),
        "schema version 1, which this softclust no longer reads",
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["feature_names"] = serde_json::json!(["u"]);
    predict(
        &m("names.json", &v.to_string()),
        "inconsistent: 1 feature names but the scaler has 2 columns",
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["model"]["weights"]["data"] = serde_json::json!([0.5, 0.5]);
    v["model"]["weights"]["dim"] = serde_json::json!([2]);
    predict(&m("shapes.json", &v.to_string()), "inconsistent");
    // Data with the wrong number of columns.
    let q = write(dir.path(), "three.csv", "a,b,c\n1,2,3\n");
    fails(
        &["predict", "--model", model.to_str().unwrap()],
        Some(&q),
        None,
        "has 3 columns but the model was fitted on 2 (u, v)",
    );
}

// ---- fuzzy c-means, consensus, typicality, anchored score, noise ----------------------------

fn header(out: &str) -> Vec<String> {
    out.lines()
        .next()
        .unwrap()
        .split(',')
        .map(String::from)
        .collect()
}

/// Parses the CSV into columns by name.
fn column(out: &str, name: &str) -> Vec<f64> {
    let h = header(out);
    let j = h
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {h:?}"));
    out.lines()
        .skip(1)
        .map(|l| l.split(',').nth(j).unwrap().parse().unwrap())
        .collect()
}

/// The elongated clusters plus one far outlier as the last row.
fn with_outlier(dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(elongated_csv(dir)).unwrap();
    text.push_str("300,-300\n");
    write(dir, "outlier.csv", &text)
}

#[test]
fn fcm_and_consensus_happy_paths() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    let out = stdout_of(bin().args(["fcm", "-k", "3", "-q"]).arg(&p));
    assert_eq!(check_membership(&out, 3).len(), 450);
    let fuzzier = stdout_of(bin().args(["fcm", "-k", "3", "-m", "3", "-q"]).arg(&p));
    let mean = |o: &str| column(o, "max_p").iter().sum::<f64>() / 450.0;
    assert!(mean(&fuzzier) < mean(&out));
    let report = dir.path().join("r.json");
    let out = stdout_of(
        bin()
            .args(["consensus", "-k", "3", "--runs", "20", "-q"])
            .arg(&p)
            .arg("--report")
            .arg(&report),
    );
    let rows = check_membership(&out, 3);
    assert_eq!(rows.len(), 450);
    assert_eq!(
        &header(&out)[7..],
        &["max_p_low".to_string(), "max_p_high".to_string()]
    );
    // Probabilities are multiples of 1/20.
    for r in &rows {
        for p in &r[..3] {
            assert!((p * 20.0 - (p * 20.0).round()).abs() < 1e-9);
        }
        assert!(r[7] <= r[4] && r[4] <= r[8]);
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["method"], "consensus");
    assert_eq!(r["stability"].as_array().unwrap().len(), 3);
    for scheme in ["subsample:0.5", "reseed"] {
        let out = stdout_of(
            bin()
                .args([
                    "consensus",
                    "-k",
                    "3",
                    "--runs",
                    "8",
                    "-q",
                    "--resample",
                    scheme,
                ])
                .arg(&p),
        );
        check_membership(&out, 3);
    }
    let co = dir.path().join("co.npy");
    bin()
        .args([
            "consensus",
            "-k",
            "3",
            "--runs",
            "5",
            "-q",
            "--coassociation-out",
        ])
        .arg(&co)
        .arg(&p)
        .assert()
        .success();
    let m: ndarray::Array2<f32> = ndarray_npy::read_npy(&co).unwrap();
    assert_eq!(m.dim(), (450, 450));
    assert!((0..450).all(|i| m[(i, i)] == 1.0));
}

#[test]
fn typicality_columns_flag_the_outlier() {
    // Fit on clean data, score data with a far outlier appended (as the last row).
    let dir = tempfile::tempdir().unwrap();
    let clean = elongated_csv(dir.path());
    let p = with_outlier(dir.path());
    for args in [
        vec!["kmeans", "-k", "3", "--typicality"],
        vec!["kmeans", "-k", "3", "--typicality", "--spread", "diagonal"],
        vec!["gmm", "-k", "3", "--typicality"],
        vec!["fcm", "-k", "3", "--typicality"],
    ] {
        let model = dir.path().join("m.json");
        let fitted = stdout_of(
            bin()
                .args(&args)
                .arg("-q")
                .arg(&clean)
                .arg("--model-out")
                .arg(&model),
        );
        assert_eq!(
            &header(&fitted)[7..],
            &["t_0", "t_1", "t_2", "outlier"].map(String::from),
            "{args:?}"
        );
        let typical = column(&fitted, "outlier")
            .iter()
            .filter(|&&o| o < 0.99)
            .count();
        assert!(typical > 400, "{args:?}: only {typical} typical points");
        let out = stdout_of(bin().args(["predict", "-q", "--model"]).arg(&model).arg(&p));
        let outlier = column(&out, "outlier");
        assert!(outlier[450] > 1.0 - 1e-6, "{args:?}: {}", outlier[450]);
        // ...while the outlier's memberships still sum to 1.
        check_membership(&out, 3);
    }
}

#[test]
fn gmm_noise_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_outlier(dir.path());
    let out = stdout_of(
        bin()
            .args(["gmm", "-k", "3", "--noise", "0.05", "-q"])
            .arg(&p),
    );
    assert_eq!(
        &header(&out)[..4],
        &["p_0", "p_1", "p_2", "p_noise"].map(String::from)
    );
    let rows: Vec<Vec<f64>> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    for r in &rows {
        assert!((r[..4].iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert_eq!(rows[450][4], 3.0, "the outlier is labelled noise");
    fails(
        &["gmm", "-k", "3", "--noise", "1.5"],
        Some(&p),
        None,
        "invalid --noise 1.5",
    );
}

#[test]
fn anchored_scores_from_a_distance_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(
        dir.path(),
        "d.csv",
        "0.5,9\n1,8\n2,7\n9,0.2\n8,1.5\n3.5,4\n",
    );
    let out = stdout_of(bin().args(["soft", "--method", "anchored", "-q"]).arg(&d));
    assert_eq!(&header(&out)[6..], &["s_0", "s_1"].map(String::from));
    let s0 = column(&out, "s_0");
    // Closest point of cluster 0 scores 1, its farthest (3.5) 0.5, the farthest of all (9) 0.01.
    assert_eq!(s0[0], 1.0);
    assert!((s0[5] - 0.5).abs() < 1e-12);
    assert!((s0[3] - 0.01).abs() < 1e-12);
    check_membership(&out, 2);
    let out = stdout_of(
        bin()
            .args([
                "soft",
                "--method",
                "anchored",
                "--near",
                "0",
                "--half",
                "q:0.5",
                "--far",
                "20",
                "--far-value",
                "0.001",
                "-q",
            ])
            .arg(&d),
    );
    check_membership(&out, 2);
    bad_file(
        "d.csv",
        "1,2\n2,1\n",
        &["soft", "--method", "anchored", "--half", "q:2"],
        "invalid --half 2",
    );
    bad_file(
        "d.csv",
        "1,2\n2,1\n",
        &["soft", "--method", "anchored", "--near", "close"],
        "invalid value 'close' for '--near <A>': invalid anchor",
    );
    bad_file(
        "d.csv",
        "1,2\n2,1\n",
        &["soft", "--method", "anchored", "--far-value", "0.9"],
        "invalid --far-value 0.9",
    );
    // Through k-means as well.
    let p = elongated_csv(dir.path());
    let out = stdout_of(
        bin()
            .args(["kmeans", "-k", "3", "--soft", "anchored", "-q"])
            .arg(&p),
    );
    assert_eq!(&header(&out)[7..], &["s_0", "s_1", "s_2"].map(String::from));
}

#[test]
fn every_model_kind_predicts_what_it_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let p = with_outlier(dir.path());
    for args in [
        vec!["fcm", "-k", "3", "--typicality"],
        vec!["consensus", "-k", "3", "--runs", "10"],
        vec!["gmm", "-k", "3", "--noise", "0.05", "--typicality"],
        vec![
            "kmeans",
            "-k",
            "3",
            "--typicality",
            "--spread",
            "diagonal",
            "--soft",
            "anchored",
        ],
    ] {
        let model = dir.path().join("model.json");
        let fitted = stdout_of(
            bin()
                .args(&args)
                .arg("-q")
                .arg(&p)
                .arg("--model-out")
                .arg(&model),
        );
        let predicted = stdout_of(bin().args(["predict", "-q", "--model"]).arg(&model).arg(&p));
        assert_eq!(fitted, predicted, "{args:?}");
    }
}

#[test]
fn fcm_and_consensus_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = elongated_csv(dir.path());
    fails(
        &["fcm", "-k", "3", "-m", "1"],
        Some(&p),
        None,
        "invalid --m 1",
    );
    fails(&["fcm", "-k", "0"], Some(&p), None, "invalid -k 0");
    fails(
        &["fcm", "-k", "3", "--max-iter", "0"],
        Some(&p),
        None,
        "invalid --max-iter 0",
    );
    bad_file(
        "k.csv",
        "1,2\n3,4\n",
        &["fcm", "-k", "3"],
        "3 clusters need at least 3 points",
    );
    fails(
        &["consensus", "-k", "3", "--runs", "0"],
        Some(&p),
        None,
        "invalid --runs 0",
    );
    fails(
        &["consensus", "-k", "3", "--resample", "jackknife"],
        Some(&p),
        None,
        "invalid value 'jackknife' for '--resample <SCHEME>'",
    );
    fails(
        &["consensus", "-k", "3", "--resample", "subsample:1.5"],
        Some(&p),
        None,
        "invalid --resample subsample:F 1.5",
    );
    bad_file(
        "k.csv",
        "1,2\n3,4\n",
        &["consensus", "-k", "3"],
        "3 clusters need at least 3 points",
    );
    let big: String = (0..20_001).map(|i| format!("{}\n", i % 7)).collect();
    bad_file(
        "big.csv",
        &big,
        &["consensus", "-k", "2", "--coassociation-out", "co.npy"],
        "at most 20,000 points",
    );
}

// ---- predictions against an oracle computed from the model file ---------------------------

/// The `data` array of an ndarray serialised by serde (`{"v": 1, "dim": [..], "data": [..]}`).
fn arr(v: &serde_json::Value) -> Vec<f64> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Normalises rows of log-scores into probabilities.
fn softmax_rows(scores: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    scores
        .into_iter()
        .map(|s| {
            let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
            let z: f64 = e.iter().sum();
            e.into_iter().map(|v| v / z).collect()
        })
        .collect()
}

/// `softclust predict` on data the model never saw, against memberships computed here from the
/// saved parameters by the textbook formulas (not by the code path that wrote the fit's file):
/// z-scores from the scaler, then the k-means softmax `exp(-|z - c_j|² / (2 sigma²))`, and the
/// spherical mixture's `pi_j N(z | mu_j, s_j² I)`.
#[test]
fn predict_agrees_with_the_saved_parameters_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let train = iris_numeric(dir.path());
    let new = write(
        dir.path(),
        "new.csv",
        "a,b,c,d\n5.0,3.4,1.5,0.2\n6.3,2.8,5.1,1.5\n5.9,3.0,4.2,1.5\n7.9,3.8,6.4,2.0\n4.3,2.0,1.0,0.1\n",
    );
    let rows: Vec<Vec<f64>> = std::fs::read_to_string(&new)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    for args in [
        vec!["kmeans", "-k", "3", "--soft", "softmax"],
        vec!["gmm", "-k", "3", "--covariance", "spherical"],
    ] {
        let model = dir.path().join("m.json");
        bin()
            .args(&args)
            .arg("-q")
            .arg(&train)
            .arg("--model-out")
            .arg(&model)
            .arg("-o")
            .arg(dir.path().join("fit.csv"))
            .assert()
            .success();
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
        let (center, scale) = (arr(&m["scaler"]["center"]), arr(&m["scaler"]["scale"]));
        let z: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| (0..4).map(|j| (r[j] - center[j]) / scale[j]).collect())
            .collect();
        let md = &m["model"];
        let sq =
            |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
        let expected = if args[0] == "kmeans" {
            let c = arr(&md["centers"]);
            let sigma = md["soft"]["model"]["sigma"][0].as_f64().unwrap();
            softmax_rows(
                z.iter()
                    .map(|zi| {
                        (0..3)
                            .map(|j| -sq(zi, &c[4 * j..4 * j + 4]) / (2.0 * sigma * sigma))
                            .collect()
                    })
                    .collect(),
            )
        } else {
            let (w, mu) = (arr(&md["weights"]), arr(&md["means"]));
            // Spherical precision factors are 1 / s_j.
            let u = arr(&md["precisions_cholesky"]["values"]);
            softmax_rows(
                z.iter()
                    .map(|zi| {
                        (0..3)
                            .map(|j| {
                                w[j].ln() + 4.0 * u[j].ln()
                                    - 0.5 * u[j] * u[j] * sq(zi, &mu[4 * j..4 * j + 4])
                            })
                            .collect()
                    })
                    .collect(),
            )
        };
        let out = stdout_of(
            bin()
                .args(["predict", "-q", "--model"])
                .arg(&model)
                .arg(&new),
        );
        let got = check_membership(&out, 3);
        for (g, e) in got.iter().zip(&expected) {
            for j in 0..3 {
                assert!((g[j] - e[j]).abs() < 1e-9, "{args:?}: {g:?} vs {e:?}");
            }
        }
    }
}

/// `softclust evaluate ARGS --json` on `input`: the parsed JSON.
fn evaluate_json(input: &Path, args: &[&str]) -> serde_json::Value {
    let out = stdout_of(bin().arg("evaluate").arg(input).args(args).arg("--json"));
    serde_json::from_str(&out).unwrap()
}

fn evaluate_fails(input: &Path, args: &[&str], needle: &str) {
    let assert = bin()
        .arg("evaluate")
        .arg(input)
        .args(args)
        .assert()
        .code(2)
        .stdout("");
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
}

#[test]
fn evaluate_memberships_against_labels_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    // Class "a" sits in cluster 1, "b" in cluster 0; the other columns are left out.
    let p = write(
        dir.path(),
        "m.csv",
        "name,p_0,p_1,label,max_p\nx,0.2,0.8,1,0.8\ny,0.9,0.1,0,0.9\nz,0.4,0.6,1,0.6\n",
    );
    let labels = write(
        dir.path(),
        "l.csv",
        "species,p_0,p_1\na,0.2,0.8\nb,0.9,0.1\na,0.4,0.6\n",
    );
    let v = evaluate_json(&labels, &["--labels", "species"]);
    let l = &v["labels"];
    let close = |x: &serde_json::Value, want: f64| {
        assert!((x.as_f64().unwrap() - want).abs() < 1e-12, "{x} != {want}")
    };
    close(&l["log_loss"], 0.279_776_563_579_342_3);
    close(&l["brier"], 0.14);
    close(&l["accuracy"], 1.0);
    close(&l["ece"], 0.7 / 3.0);
    close(&l["ari"], 1.0);
    assert_eq!(l["matching"][0]["class"], "a");
    assert_eq!(l["matching"][0]["cluster"], 1);
    assert_eq!(l["matching"][1]["cluster"], 0);
    assert_eq!(l["reliability"].as_array().unwrap().len(), 10);
    // The same labels by position, and a second file: identical memberships agree fully.
    let w = evaluate_json(
        &labels,
        &["--labels", "1", "--against", p.to_str().unwrap()],
    );
    assert_eq!(w["labels"]["log_loss"], l["log_loss"]);
    close(&w["against"]["fuzzy_rand_index"], 1.0);
    close(&w["against"]["adjusted"], 1.0);
    // The human tables name the classes.
    let text = stdout_of(bin().args(["evaluate", "--labels", "species"]).arg(&labels));
    assert!(text.contains("log-loss") && text.contains("  a "), "{text}");
}

#[test]
fn evaluate_crisp_files_give_the_adjusted_rand_index() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.csv", "p_0,p_1\n1,0\n1,0\n0,1\n0,1\n");
    let b = write(
        dir.path(),
        "b.csv",
        "p_0,p_1,p_2\n1,0,0\n1,0,0\n0,1,0\n0,0,1\n",
    );
    let v = evaluate_json(&a, &["--against", b.to_str().unwrap()]);
    // ARI of (0,0,1,1) and (0,0,1,2) is 4/7.
    let adj = v["against"]["adjusted"].as_f64().unwrap();
    assert!((adj - 4.0 / 7.0).abs() < 1e-12, "{adj}");
    assert_eq!(v["against"]["n_points"], 4);
}

#[test]
fn evaluate_a_model_on_labelled_data() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("gmm.json");
    bin()
        .args(["gmm", "-k", "3", "--columns", "1-4", "-q", "--model-out"])
        .arg(&model)
        .arg("-o")
        .arg(dir.path().join("m.csv"))
        .arg(iris_path())
        .assert()
        .success();
    let v = evaluate_json(
        &iris_path(),
        &["--model", model.to_str().unwrap(), "--labels", "species"],
    );
    let acc = v["labels"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "{v}");
    let classes: Vec<&str> = v["labels"]["matching"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["setosa", "versicolor", "virginica"]);
}

#[test]
fn evaluate_refuses_what_is_not_memberships() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "m.csv", "y,p_0,p_1\na,0.5,0.2\nb,0.5,0.5\n");
    evaluate_fails(&bad, &["--labels", "y"], "row 0 (0-based) sums to 0.7");
    let ok = write(dir.path(), "n.csv", "y,p_0,p_1\na,0.5,0.5\nb,0.5,0.5\n");
    evaluate_fails(&ok, &["--labels", "species"], "species");
    evaluate_fails(&ok, &[], "--labels");
    evaluate_fails(&ok, &["--labels", "y", "--n-bins", "0"], "--n-bins 0");
    let short = write(dir.path(), "s.csv", "p_0,p_1\n1,0\n");
    evaluate_fails(&ok, &["--against", short.to_str().unwrap()], "rows");
}

/// Three clusters 40 apart along the first axis in 3-D, with the given spreads (a fixed
/// pseudo-random sequence).
fn spread_family(dir: &Path, spreads: [f64; 3]) -> PathBuf {
    let mut state: u64 = 12345;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut s = String::from("a,b,c\n");
    for (c, sd) in spreads.iter().enumerate() {
        for _ in 0..300 {
            let mut v = [0.0; 3];
            for x in v.iter_mut() {
                let (u1, u2) = (uniform(), uniform());
                *x = sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            }
            v[0] += 40.0 * c as f64;
            s.push_str(&format!("{},{},{}\n", v[0], v[1], v[2]));
        }
    }
    write(dir, "family.csv", &s)
}

/// `softclust kmeans ARGS DATA --report R -o OUT` in `dir`: stderr and the parsed report.
fn kmeans_with_report(dir: &Path, data: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let report = dir.join("r.json");
    let assert = bin()
        .arg("kmeans")
        .args(args)
        .arg(data)
        .arg("--report")
        .arg(&report)
        .arg("-o")
        .arg(dir.join("m.csv"))
        .assert()
        .success();
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    let r = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    (err, r)
}

#[test]
fn kmeans_auto_soft_reports_its_choice() {
    let dir = tempfile::tempdir().unwrap();
    let plain = ["-k", "3", "--n-init", "3", "--standardize", "none"];
    for (spreads, want) in [
        ([1.0, 1.0, 1.0], "shared sigma"),
        ([0.5, 1.0, 3.0], "per-cluster sigma"),
    ] {
        let data = spread_family(dir.path(), spreads);
        let (err, r) = kmeans_with_report(dir.path(), &data, &plain);
        assert!(err.contains(&format!("auto chose {want} by BIC")), "{err}");
        let choice = &r["parameters"]["soft_choice"];
        assert_eq!(choice["chosen"], want);
        assert_eq!(choice["candidates"].as_array().unwrap().len(), 4);
        assert_eq!(r["parameters"]["soft"], "auto");
    }
    // --soft softmax keeps the shared sigma and reports no choice.
    let data = spread_family(dir.path(), [0.5, 1.0, 3.0]);
    let (_, r) = kmeans_with_report(dir.path(), &data, &["-k", "3", "-q", "--soft", "softmax"]);
    assert!(r["parameters"]["soft_choice"].is_null());
}

#[test]
fn kmeans_chooses_k_from_a_range_by_bic() {
    let dir = tempfile::tempdir().unwrap();
    let data = spread_family(dir.path(), [0.5, 1.0, 3.0]);
    let args = ["-k", "1..6", "--n-init", "3", "--standardize", "none"];
    let (err, r) = kmeans_with_report(dir.path(), &data, &args);
    assert!(
        err.contains("k chosen by the BIC") && err.contains("<- chosen"),
        "{err}"
    );
    assert_eq!(r["k"], 3);
    assert_eq!(r["k_selection"]["chosen"], 3);
    let table = r["k_selection"]["table"].as_array().unwrap();
    assert_eq!(table.len(), 6);
    let best = table
        .iter()
        .map(|row| row["bic"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(table[2]["bic"].as_f64().unwrap(), best);
    check_membership(
        &std::fs::read_to_string(dir.path().join("m.csv")).unwrap(),
        3,
    );
    // A list works too; bad ranges are refused.
    let r2 = stdout_of(bin().args(["kmeans", "-k", "2,3", "-q"]).arg(&data));
    check_membership(&r2, 3);
    bad_file(
        "d.csv",
        "1,2\n2,1\n3,3\n",
        &["kmeans", "-k", "0..3"],
        "invalid -k '0..3'",
    );
    bad_file(
        "d.csv",
        "1,2\n2,1\n3,3\n",
        &["kmeans", "-k", "3..2"],
        "invalid -k '3..2'",
    );
}
