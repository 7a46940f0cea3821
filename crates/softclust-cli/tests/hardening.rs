//! Regression tests of the hardening campaign (issue "nothing aborts, hangs, lies or
//! clobbers"): every reproducer it listed, run against the binary, with a time limit so that a
//! hang fails the test instead of stalling it.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn bin() -> Command {
    let mut c = Command::cargo_bin("softclust").unwrap();
    c.timeout(LIMIT);
    c
}

fn bin_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("softclust")
}

/// Two blobs of 30 points in 3-D (deterministic), with a header.
fn blobs(dir: &Path, name: &str, edit: impl Fn(usize, usize, f64) -> f64) -> PathBuf {
    let mut s = String::from("a,b,c\n");
    for i in 0..60 {
        let row: Vec<String> = (0..3)
            .map(|j| {
                let base = if i < 30 { 0.0 } else { 4.0 };
                let v = base + (((i * 7 + j * 13) % 17) as f64 - 8.0) / 8.0;
                edit(i, j, v).to_string()
            })
            .collect();
        s.push_str(&row.join(","));
        s.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p
}

fn plain(dir: &Path) -> PathBuf {
    blobs(dir, "d.csv", |_, _, v| v)
}

/// Runs `args`; asserts exit 2 with one stderr line containing `needle`.
fn refused(args: &[&str], needle: &str) {
    let out = bin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr {err:?} lacks {needle:?}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".softclust-"))
        .collect()
}

fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo failed");
}

// ---- output safety ---------------------------------------------------------------------------

/// `-o` onto a FIFO writes through it (it stays a FIFO, the reader gets the memberships).
#[test]
fn output_to_a_fifo_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            s
        })
    };
    bin()
        .args(["kmeans", s(&d), "-k", "2", "-q", "-o", s(&fifo)])
        .assert()
        .success();
    let text = reader.join().unwrap();
    assert!(text.starts_with("p_0,p_1,label"), "{text:?}");
    assert_eq!(text.lines().count(), 61);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(temp_files(dir.path()).is_empty());
}

/// `-o` onto a character device writes through it and leaves the device in place (as root,
/// `-o /dev/null` once replaced /dev/null). The device here is a private copy of /dev/null made
/// with mknod, so a regression cannot clobber the machine's; without the right to mknod (not
/// root) the test has nothing to check.
#[test]
fn output_to_a_character_device_keeps_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let null = dir.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    // A filesystem mounted nodev refuses to open device nodes at all.
    let usable = made && std::fs::OpenOptions::new().write(true).open(&null).is_ok();
    if !usable {
        eprintln!("no usable device node here; character-device case not checked");
        return;
    }
    bin()
        .args(["kmeans", s(&d), "-k", "2", "-q", "-o", s(&null)])
        .assert()
        .success();
    let ft = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(ft.is_char_device(), "the device was replaced");
    assert!(temp_files(dir.path()).is_empty());
}

/// `-o /dev/stdout` writes to standard output instead of replacing the device link.
#[test]
fn output_to_dev_stdout_goes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let out = bin()
        .args(["kmeans", s(&d), "-k", "2", "-q", "-o", "/dev/stdout"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("p_0,p_1,label"));
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A symlink named by `-o` is followed: the target gets the data, the link stays a link.
#[test]
fn output_through_a_symlink_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let target = dir.path().join("real.csv");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    bin()
        .args(["kmeans", s(&d), "-k", "2", "-q", "-o", s(&link)])
        .assert()
        .success();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with("p_0,p_1,label"));
    // A dangling link is followed too: the file is created where it points.
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink("new.csv", &dangling).unwrap();
    bin()
        .args(["kmeans", s(&d), "-k", "2", "-q", "-o", s(&dangling)])
        .assert()
        .success();
    assert!(std::fs::read_to_string(dir.path().join("new.csv"))
        .unwrap()
        .starts_with("p_0"));
}

#[test]
fn output_equal_to_the_input_or_another_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let before = std::fs::read_to_string(&d).unwrap();
    refused(
        &["kmeans", s(&d), "-k", "2", "-o", s(&d)],
        "is the input file",
    );
    // Through another spelling of the same file.
    let alias = dir.path().join(".").join("d.csv");
    refused(
        &["kmeans", s(&d), "-k", "2", "--model-out", s(&alias)],
        "is the input file",
    );
    assert_eq!(std::fs::read_to_string(&d).unwrap(), before);
    let o = dir.path().join("o.csv");
    refused(
        &["kmeans", s(&d), "-k", "2", "-o", s(&o), "--report", s(&o)],
        "name the same file",
    );
    refused(
        &["kmeans", s(&d), "-k", "2", "--report", "-"],
        "both write to standard output",
    );
    let m = dir.path().join("m.json");
    bin()
        .args([
            "kmeans",
            s(&d),
            "-k",
            "2",
            "-q",
            "-o",
            s(&o),
            "--model-out",
            s(&m),
        ])
        .assert()
        .success();
    refused(
        &["predict", "--model", s(&m), s(&d), "-o", s(&m)],
        "is the input file",
    );
    assert!(o.exists(), "the successful run wrote -o");
    assert!(temp_files(dir.path()).is_empty());
}

/// No output is written when any step fails: the bad path is found before fitting, and files
/// written before a failure are never renamed into place.
#[test]
fn a_failing_command_writes_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let o = dir.path().join("o.csv");
    let c = dir.path().join("c.csv");
    refused(
        &[
            "gmm",
            s(&d),
            "-k",
            "2",
            "-o",
            s(&o),
            "--model-out",
            "/nonexistent/m.json",
        ],
        "the directory '/nonexistent' does not exist",
    );
    refused(
        &[
            "kmeans",
            s(&d),
            "-k",
            "2",
            "--centers-out",
            s(&c),
            "-o",
            "/nonexistent/o.csv",
        ],
        "does not exist",
    );
    refused(
        &[
            "kmeans",
            s(&d),
            "-k",
            "2",
            "-o",
            s(&o),
            "--report",
            s(dir.path()),
        ],
        "is a directory",
    );
    // A failure after fitting (k > n is found by the fit): nothing renamed into place.
    refused(
        &[
            "kmeans",
            s(&d),
            "-k",
            "99",
            "-o",
            s(&o),
            "--centers-out",
            s(&c),
        ],
        "clusters need at least",
    );
    assert!(!o.exists() && !c.exists());
    assert!(temp_files(dir.path()).is_empty());
}

/// SIGTERM while outputs are staged: exit 130, no temporary file, no partial output. The
/// report goes to a FIFO nobody reads, so the command waits there with the memberships staged.
#[test]
fn a_signal_removes_the_staged_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let o = dir.path().join("o.csv");
    let fifo = dir.path().join("report.fifo");
    mkfifo(&fifo);
    let child = std::process::Command::new(bin_path())
        .args([
            "kmeans",
            s(&d),
            "-k",
            "2",
            "-q",
            "-o",
            s(&o),
            "--report",
            s(&fifo),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while temp_files(dir.path()).is_empty() {
        assert!(start.elapsed() < LIMIT, "no staged file appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(temp_files(dir.path()).is_empty(), "temporary files left");
    assert!(!o.exists());
}

/// A full stderr (`2>/dev/full`) is not a panic, and the run still succeeds.
#[test]
fn a_full_stderr_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let o = dir.path().join("o.csv");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        return; // no /dev/full on this system
    };
    let st = std::process::Command::new(bin_path())
        .args(["kmeans", s(&d), "-k", "2", "-o", s(&o)])
        .stderr(full)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    assert!(o.exists());
}

// ---- hangs -----------------------------------------------------------------------------------

/// One cell of 1e200 once looped forever in the Hungarian assignment (consensus) and in the
/// regularisation retries (gmm); now a clear refusal, well within the time limit.
#[test]
fn huge_values_are_refused_not_hung_on() {
    let dir = tempfile::tempdir().unwrap();
    let big = blobs(dir.path(), "big.csv", |i, j, v| {
        if (i, j) == (5, 1) {
            1e200
        } else {
            v
        }
    });
    let b = s(&big);
    let needle = "value too large to compute with (1e200) at row 5, column 1";
    refused(
        &[
            "consensus",
            b,
            "-k",
            "2",
            "--runs",
            "3",
            "--standardize",
            "robust",
        ],
        needle,
    );
    refused(
        &[
            "gmm",
            b,
            "-k",
            "1",
            "--covariance",
            "diag",
            "--standardize",
            "none",
            "--auto-regularize",
        ],
        needle,
    );
    refused(&["kmeans", b, "-k", "2", "--standardize", "none"], needle);
}

// ---- aborts and panics -----------------------------------------------------------------------

fn npy_with_header(dir: &Path, name: &str, header: &str, data: &[u8]) -> PathBuf {
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(h.len() as u16).to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(data);
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn npy_headers_are_checked_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let huge = npy_with_header(
        dir.path(),
        "huge.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }",
        &[0u8; 64],
    );
    refused(
        &["kmeans", s(&huge), "-k", "2"],
        "8000000000000 bytes of data) but the file holds 64 bytes",
    );
    let overflow = npy_with_header(
        dir.path(),
        "overflow.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 4), }",
        &[0u8; 8],
    );
    refused(&["gmm", s(&overflow), "-k", "2"], "more than 2^64 bytes");
    let three = npy_with_header(
        dir.path(),
        "three.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }",
        &[0u8; 64],
    );
    refused(
        &["kmeans", s(&three), "-k", "2"],
        "(3-D); softclust reads 1-D or 2-D",
    );
    let mut data = Vec::new();
    for v in [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0] {
        data.extend_from_slice(&v.to_le_bytes());
    }
    let trunc = npy_with_header(
        dir.path(),
        "trunc.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
        &data[..40],
    );
    refused(&["kmeans", s(&trunc), "-k", "2"], "truncated or corrupt");
    let text = npy_with_header(
        dir.path(),
        "str.npy",
        "{'descr': '<U3', 'fortran_order': False, 'shape': (3,), }",
        &[0u8; 36],
    );
    refused(
        &["kmeans", s(&text), "-k", "2"],
        "element type '<U3' is not supported",
    );
    let garbled = npy_with_header(dir.path(), "garbled.npy", "{'descr': '<f8', ", &data);
    refused(
        &["kmeans", s(&garbled), "-k", "2"],
        "not a readable .npy file",
    );
    // Fortran order and big-endian float32 read as the same numbers.
    let c_order = npy_with_header(
        dir.path(),
        "c.npy",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
        &data,
    );
    let mut f_data = Vec::new();
    for v in [1.0f32, 3.0, 5.0, 2.0, 4.0, 6.0] {
        f_data.extend_from_slice(&v.to_be_bytes());
    }
    let f_order = npy_with_header(
        dir.path(),
        "f.npy",
        "{'descr': '>f4', 'fortran_order': True, 'shape': (3, 2), }",
        &f_data,
    );
    let run = |p: &Path| {
        bin()
            .args(["kmeans", s(p), "-k", "2", "-q"])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(run(&c_order), run(&f_order));
}

#[test]
fn a_huge_k_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    refused(
        &["select", s(&d), "--k", "1..18446744073709551615"],
        "give at most 1000",
    );
}

// ---- silently wrong --------------------------------------------------------------------------

#[test]
fn overflowing_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,w\n");
    for i in 0..20 {
        text.push_str(&format!("{},{},1e308\n", i % 5, i % 3));
    }
    let w = dir.path().join("w.csv");
    std::fs::write(&w, text).unwrap();
    for cmd in ["fcm", "kmeans", "gmm"] {
        refused(
            &[cmd, s(&w), "-k", "2", "--weights", "w"],
            "sample weights sum to inf",
        );
    }
}

#[test]
fn anchors_in_the_wrong_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist.csv");
    std::fs::write(&dist, "1,2\n2,1\n3,0.5\n0.2,4\n").unwrap();
    refused(
        &[
            "soft",
            s(&dist),
            "--method",
            "anchored",
            "--near",
            "5",
            "--far",
            "1",
        ],
        "invalid --far 1: expected a distance greater than the near anchor",
    );
}

/// Model files with impossible values are refused on load instead of giving NaN or skewed
/// memberships.
#[test]
fn tampered_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let g = dir.path().join("g.json");
    let k = dir.path().join("k.json");
    bin()
        .args([
            "gmm",
            s(&d),
            "-k",
            "2",
            "-q",
            "-o",
            s(&dir.path().join("o1.csv")),
        ])
        .args(["--model-out", s(&g)])
        .assert()
        .success();
    bin()
        .args([
            "kmeans",
            s(&d),
            "-k",
            "2",
            "-q",
            "-o",
            s(&dir.path().join("o2.csv")),
        ])
        .args(["--model-out", s(&k)])
        .assert()
        .success();
    let bad = dir.path().join("bad.json");
    use serde_json::json;
    // (model, JSON pointer, new value, what the refusal says)
    let cases = [
        (
            &g,
            "/model/weights/data",
            json!([0.0, 1.0]),
            "positive weights",
        ),
        (&g, "/model/weights/data", json!([0.9, 0.9]), "summing to 1"),
        (
            &g,
            "/model/precisions_cholesky/values/data/0",
            json!(0.0),
            "positive diagonal",
        ),
        (
            &g,
            "/model/means/data/0",
            json!(1e308),
            "too large to compute with",
        ),
        (&k, "/model/soft/model/sigma/0", json!(0.0), "must be > 0"),
        (
            &k,
            "/model/soft/model/log_prior/0",
            json!(1e308),
            "log-priors must be finite and <= 0",
        ),
        (
            &k,
            "/model/centers/data/0",
            json!(1e308),
            "too large to compute with",
        ),
    ];
    for (src, pointer, value, needle) in cases {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
        *v.pointer_mut(pointer).unwrap() = value;
        std::fs::write(&bad, v.to_string()).unwrap();
        refused(&["predict", "--model", s(&bad), s(&d)], needle);
    }
}

/// New data far beyond what can be squared are refused by `predict` as by the fits, with the
/// same message for every model kind (the Python estimators go through the same check).
#[test]
fn predict_refuses_data_too_large_to_square() {
    let dir = tempfile::tempdir().unwrap();
    let d = plain(dir.path());
    let far = blobs(dir.path(), "far.csv", |i, j, v| {
        if (i, j) == (0, 0) {
            1e300
        } else {
            v
        }
    });
    for cmd in ["kmeans", "fcm", "gmm"] {
        let m = dir.path().join(format!("{cmd}.json"));
        bin()
            .args([
                cmd,
                s(&d),
                "-k",
                "2",
                "-q",
                "-o",
                s(&dir.path().join("o.csv")),
            ])
            .args(["--model-out", s(&m)])
            .assert()
            .success();
        refused(
            &["predict", "--model", s(&m), s(&far)],
            "value too large to compute with (1e300) at row 0, column 0",
        );
    }
}
