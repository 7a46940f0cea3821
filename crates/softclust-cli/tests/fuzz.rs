//! A mutation fuzzer over the CLI's readers (CSV/TSV, .npy, model files) and its argument
//! layer, run against the real binary so that aborts, panics and hangs are seen as a user would
//! see them.
//!
//! Each case is one `softclust` run on a mutated input with mutated flags. The promise checked:
//! exit status 0 with no NaN or infinity in the membership file, or exit status 2 with one line
//! on stderr that starts `softclust: error:`. Anything else (a panic's 101, a signal, a run over
//! the time limit, several lines) is a failure; its input and flags are saved under
//! `target/fuzz-failures/` for the corpus (`tests/fuzz-corpus/`, replayed by every test run).
//!
//! - In the test suite: the corpus, then `SOFTCLUST_FUZZ_CASES` cases (default 200).
//! - Long run (documented in the README):
//!   `SOFTCLUST_FUZZ_SECS=1800 cargo test --release -p softclust-cli --test fuzz -- --nocapture`
//!   (`SOFTCLUST_FUZZ_SEED` picks another sequence).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A run that takes longer than this is a hang.
const TIME_LIMIT: Duration = Duration::from_secs(20);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "3",
    "1e308",
    "-1e308",
    "1e200",
    "1e-320",
    "5e-324",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e100",
    "1e101",
    "0.5",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "1e15",
    "-5",
    "",
    " ",
    "x",
    "1,2",
    "\"1\"",
    "0x10",
    "1e",
    "+",
];

const BYTES: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b",",
    b"\t",
    b"\"",
    b"\0",
    b"\xff\xfe",
    b"#",
    b"e",
    b"-",
    b".",
    b"9",
    b"}",
    b"{",
    b"[",
    b"]",
    b"(",
    b")",
    b":",
];

/// One mutation of `data`: bit flips, byte edits, interesting numbers, truncation, splices.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    let rounds = if rng.chance(0.6) { 1 } else { 2 + rng.below(3) };
    for _ in 0..rounds {
        let n = data.len();
        match rng.below(9) {
            0 if n > 0 => {
                let i = rng.below(n);
                data[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                data[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(n + 1);
                let b = rng.pick(BYTES);
                data.splice(i..i, b.iter().copied());
            }
            3 if n > 0 => {
                let i = rng.below(n);
                let len = 1 + rng.below(8.min(n - i));
                data.drain(i..i + len);
            }
            4 => data.truncate(rng.below(n + 1)),
            5 if n > 0 => {
                // Duplicate a chunk (rows, header fields, JSON arrays).
                let i = rng.below(n);
                let len = 1 + rng.below(64.min(n - i));
                let chunk: Vec<u8> = data[i..i + len].to_vec();
                let at = rng.below(n + 1);
                data.splice(at..at, chunk);
            }
            _ => replace_number(rng, data),
        }
    }
}

/// Replaces one run of number characters by an interesting value.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let is_num = |b: u8| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'e';
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| is_num(data[i]) && (i == 0 || !is_num(data[i - 1])))
        .collect();
    if starts.is_empty() {
        return;
    }
    let s = *rng.pick(&starts);
    let mut e = s;
    while e < data.len() && is_num(data[e]) {
        e += 1;
    }
    let v = rng.pick(NUMBERS).as_bytes().to_vec();
    data.splice(s..e, v);
}

/// Rewrites a .npy header's shape or descr, or mutates the data part.
fn mutate_npy(rng: &mut Rng, data: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(data).into_owned();
    match rng.below(4) {
        0 => {
            if let Some(at) = text.find("'shape': (") {
                let shapes = [
                    "(1000000, 1000000)",
                    "(0, 3)",
                    "(3, 0)",
                    "()",
                    "(2, 2, 2)",
                    "(18446744073709551615, 2)",
                    "(4611686018427387904, 4)",
                    "(-1, 2)",
                    "(7,)",
                    "(5, 4)",
                ];
                let end = text[at..].find(')').map_or(text.len(), |e| at + e + 1);
                let new = format!("'shape': {}", rng.pick(&shapes));
                data.splice(at..end, new.bytes());
            }
        }
        1 => {
            if let Some(at) = text.find("'descr': '") {
                let descrs = ["<f4", ">f8", "<i8", "|u1", "<U3", "|O", "<c16", "<f2", "xx"];
                let new = format!("'descr': '{}", rng.pick(&descrs));
                data.splice(at..at + 13, new.bytes());
            }
        }
        _ => mutate(rng, data),
    }
}

/// The seed inputs: (file name, bytes, commands that read it).
struct Seeds {
    csv: Vec<u8>,
    tsv: Vec<u8>,
    npy: Vec<u8>,
    dist: Vec<u8>,
    models: Vec<Vec<u8>>,
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("softclust")
}

fn seeds(dir: &Path) -> Seeds {
    let mut csv = String::from("a,b,w\n");
    let mut tsv = String::new();
    let mut dist = String::new();
    let mut npy_vals = Vec::new();
    for i in 0..24 {
        let base = if i < 12 { 0.0 } else { 5.0 };
        let a = base + ((i * 7) % 5) as f64 * 0.3;
        let b = base - ((i * 3) % 7) as f64 * 0.2;
        csv.push_str(&format!("{a},{b},{}\n", 1 + i % 3));
        tsv.push_str(&format!("{a}\t{b}\n"));
        dist.push_str(&format!(
            "{},{}\n",
            (a * a + b * b).sqrt(),
            ((a - 5.0).abs() + 0.1)
        ));
        npy_vals.extend([a, b]);
    }
    let mut npy = Vec::new();
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (24, 2), }";
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    npy.extend_from_slice(b"\x93NUMPY\x01\x00");
    npy.extend_from_slice(&(h.len() as u16).to_le_bytes());
    npy.extend_from_slice(h.as_bytes());
    for v in npy_vals {
        npy.extend_from_slice(&v.to_le_bytes());
    }
    let data = dir.join("seed.csv");
    std::fs::write(&data, &csv).unwrap();
    let mut models = Vec::new();
    for cmd in ["kmeans", "gmm", "fcm", "consensus"] {
        let m = dir.join(format!("seed-{cmd}.json"));
        let mut c = Command::new(bin());
        c.args([
            cmd,
            data.to_str().unwrap(),
            "-k",
            "2",
            "-q",
            "--threads",
            "1",
        ])
        .args(["--model-out", m.to_str().unwrap(), "-o"])
        .arg(dir.join("seed-out.csv"));
        if cmd == "consensus" {
            c.args(["--runs", "4"]);
        } else {
            c.args(["--weights", "w"]);
        }
        if cmd == "kmeans" || cmd == "fcm" {
            c.arg("--typicality");
        }
        let st = c.stderr(Stdio::null()).status().unwrap();
        assert!(st.success(), "seed model {cmd}");
        models.push(std::fs::read(&m).unwrap());
    }
    // The model files are fitted on a, b and w minus the weights column: a and b.
    Seeds {
        csv: csv.into_bytes(),
        tsv: tsv.into_bytes(),
        npy,
        dist: dist.into_bytes(),
        models,
    }
}

/// A case: flags (with `{IN}`, `{MODEL}` and `{OUT}` placeholders) and the input files.
#[derive(Debug, Clone)]
struct Case {
    args: Vec<String>,
    input_name: String,
    input: Vec<u8>,
    model: Option<Vec<u8>>,
}

fn flag_values(rng: &mut Rng) -> String {
    rng.pick(NUMBERS).to_string()
}

fn make_case(rng: &mut Rng, s: &Seeds) -> Case {
    let cmd = *rng.pick(&[
        "kmeans",
        "kmeans",
        "gmm",
        "gmm",
        "fcm",
        "consensus",
        "select",
        "soft",
        "predict",
    ]);
    let mut args: Vec<String> = vec![cmd.into(), "{IN}".into(), "-q".into()];
    let (mut input_name, mut input) = match cmd {
        "soft" => ("in.csv".to_string(), s.dist.clone()),
        _ => match rng.below(3) {
            0 => ("in.npy".to_string(), s.npy.clone()),
            1 => ("in.tsv".to_string(), s.tsv.clone()),
            _ => ("in.csv".to_string(), s.csv.clone()),
        },
    };
    let mut model = None;
    match cmd {
        "select" => args.extend(["-k".into(), "1..3".into()]),
        "soft" => {
            let m = *rng.pick(&["softmax", "inverse-power", "minmax", "anchored"]);
            args.extend(["--method".into(), m.into(), "--dim".into(), "2".into()]);
        }
        "predict" => {
            model = Some(rng.pick(&s.models).clone());
            args.extend(["--model".into(), "{MODEL}".into()]);
            if input_name == "in.csv" {
                // Models are fitted on the two features, without the weights column.
                input = s.tsv.clone();
                input_name = "in.tsv".into();
            }
        }
        _ => args.extend(["-k".into(), "2".into()]),
    }
    if cmd == "consensus" {
        args.extend(["--runs".into(), "4".into()]);
    }
    if input_name == "in.csv" && cmd != "soft" && cmd != "consensus" && rng.chance(0.5) {
        args.extend(["--weights".into(), "w".into()]);
    }
    // The argument layer: extra flags with odd values.
    let extra: &[&str] = match cmd {
        "kmeans" => &[
            "--n-init",
            "--max-iter",
            "--tol",
            "--seed",
            "--temperature",
            "--sigma",
        ],
        "gmm" | "select" => &["--n-init", "--max-iter", "--tol", "--reg-covar", "--seed"],
        "fcm" => &["--m", "--max-iter", "--tol", "--seed"],
        "consensus" => &["--max-iter", "--tol", "--seed", "--n-init"],
        "soft" => &[
            "--sigma",
            "--power",
            "--temperature",
            "--near",
            "--far",
            "--half",
        ],
        _ => &[],
    };
    if !extra.is_empty() && rng.chance(0.35) {
        let f = rng.pick(extra).to_string();
        args.push(f);
        args.push(flag_values(rng));
    }
    if rng.chance(0.1) {
        let k = args.iter().position(|a| a == "-k");
        if let Some(k) = k {
            args[k + 1] = flag_values(rng);
        }
    }
    if cmd != "soft" && cmd != "predict" && rng.chance(0.2) {
        args.push("--standardize".into());
        args.push(rng.pick(&["none", "zscore", "robust"]).to_string());
    }
    if (cmd == "gmm" || cmd == "select") && rng.chance(0.3) {
        args.push("--covariance".into());
        args.push(rng.pick(&["full", "tied", "diag", "spherical"]).to_string());
    }
    if cmd == "gmm" && rng.chance(0.2) {
        args.push("--auto-regularize".into());
    }
    args.extend(["-o".into(), "{OUT}".into()]);
    // What is mutated: the model file, the data, or (a fifth of the time) only the flags.
    if rng.chance(0.2) {
        return Case {
            args,
            input_name,
            input,
            model,
        };
    }
    match (&mut model, rng.below(3)) {
        (Some(m), 0 | 1) => mutate(rng, m),
        _ if input_name.ends_with(".npy") => mutate_npy(rng, &mut input),
        _ => mutate(rng, &mut input),
    }
    Case {
        args,
        input_name,
        input,
        model,
    }
}

#[derive(Debug)]
enum Verdict {
    Ok,
    Failure(String),
}

fn run_case(case: &Case, dir: &Path) -> Verdict {
    let input = dir.join(&case.input_name);
    std::fs::write(&input, &case.input).unwrap();
    let model = dir.join("model.json");
    if let Some(m) = &case.model {
        std::fs::write(&model, m).unwrap();
    }
    let out = dir.join("out.csv");
    let _ = std::fs::remove_file(&out);
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| match a.as_str() {
            "{IN}" => input.to_string_lossy().into_owned(),
            "{MODEL}" => model.to_string_lossy().into_owned(),
            "{OUT}" => out.to_string_lossy().into_owned(),
            other => other.to_string(),
        })
        .collect();
    let err_path = dir.join("stderr.txt");
    let mut child = Command::new(bin())
        .args(&args)
        .args(["--threads", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Verdict::Failure(format!("hang (over {TIME_LIMIT:?})"));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status.code() {
        Some(0) => {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let bad = text
                .split([',', '\n'])
                .any(|c| matches!(c, "NaN" | "inf" | "-inf"));
            if bad {
                Verdict::Failure("exit 0 with NaN or infinity in the output".into())
            } else if text.is_empty() {
                Verdict::Failure("exit 0 without an output file".into())
            } else {
                Verdict::Ok
            }
        }
        Some(2) => {
            let lines = err.trim_end().lines().count();
            if lines == 1 && err.starts_with("softclust: error: ") {
                Verdict::Ok
            } else {
                Verdict::Failure(format!("exit 2 with stderr {err:?}"))
            }
        }
        Some(c) => Verdict::Failure(format!("exit {c}: {err}")),
        None => Verdict::Failure(format!("killed by a signal: {status:?} {err}")),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|v| format!("{v:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// A case as one JSON object (bytes in hex), the corpus format.
fn case_json(c: &Case) -> String {
    serde_json::json!({
        "args": c.args,
        "input_name": c.input_name,
        "input": hex(&c.input),
        "model": c.model.as_ref().map(|m| hex(m)),
    })
    .to_string()
}

fn case_from_json(text: &str) -> Case {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    Case {
        args: v["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect(),
        input_name: v["input_name"].as_str().unwrap().to_string(),
        input: unhex(v["input"].as_str().unwrap()),
        model: v["model"].as_str().map(unhex),
    }
}

/// Every case of `tests/fuzz-corpus/` (past failures, fixed) still passes.
#[test]
fn corpus_replays_clean() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let case = case_from_json(&std::fs::read_to_string(&p).unwrap());
        if let Verdict::Failure(why) = run_case(&case, dir.path()) {
            panic!("{}: {why}", p.display());
        }
        n += 1;
    }
    assert!(n > 0, "empty corpus");
}

/// Mutated inputs and flags: no abort, panic, hang or NaN output.
#[test]
fn mutated_inputs_never_abort_hang_or_lie() {
    let seed: u64 = std::env::var("SOFTCLUST_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let secs: Option<u64> = std::env::var("SOFTCLUST_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    let cases: usize = std::env::var("SOFTCLUST_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let seed_dir = tempfile::tempdir().unwrap();
    let seeds = seeds(seed_dir.path());
    let failures_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let start = Instant::now();
    let done = AtomicUsize::new(0);
    let ok_exit = AtomicUsize::new(0);
    let failures: Mutex<Vec<(String, Case)>> = Mutex::new(Vec::new());
    let workers = 2;
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (seeds, done, ok_exit, failures, failures_dir) =
                (&seeds, &done, &ok_exit, &failures, &failures_dir);
            scope.spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (w as u64 + 1));
                loop {
                    let i = done.fetch_add(1, Ordering::Relaxed);
                    let more = match secs {
                        Some(s) => start.elapsed() < Duration::from_secs(s),
                        None => i < cases,
                    };
                    if !more {
                        done.fetch_sub(1, Ordering::Relaxed);
                        break;
                    }
                    let case = make_case(&mut rng, seeds);
                    match run_case(&case, dir.path()) {
                        Verdict::Ok => {
                            if std::fs::metadata(dir.path().join("out.csv")).is_ok() {
                                ok_exit.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Verdict::Failure(why) => {
                            let _ = std::fs::create_dir_all(failures_dir);
                            let name = failures_dir.join(format!("case-{seed}-{w}-{i}.json"));
                            let _ = std::fs::write(&name, case_json(&case));
                            eprintln!("fuzz failure ({}): {why}", name.display());
                            failures.lock().unwrap().push((why, case));
                        }
                    }
                }
            });
        }
    });
    let total = done.load(Ordering::Relaxed);
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "fuzz: {total} runs in {:.0} s (seed {seed}), {} exited 0, {} failures",
        start.elapsed().as_secs_f64(),
        ok_exit.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first().map(|f| &f.0)
    );
}
