//! Which columns of a table are features, which one holds the weights, and which are carried
//! unchanged to the front of every output row (`--id`, or the whole input row with
//! `--append`).
//!
//! A column is named by its header name, or by its 1-based position; `--columns` and
//! `--exclude` also take ranges of positions (`3-10`) or of names (`a-f`, in file order) and
//! comma-separated lists of all of these (`--columns 3-10,height`). A name wins over a position when a header cell is itself a number.

use crate::cli::InputArgs;
use crate::error::{CliError, CliResult};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// The column flags of one command, before they are matched with a table's header.
#[derive(Debug, Clone, Default)]
pub struct ColumnSpec {
    /// `--columns`: the features (default: every column not used otherwise).
    pub columns: Option<String>,
    /// `--exclude`: columns that are neither features nor carried.
    pub exclude: Option<String>,
    /// `--id`: columns copied to the front of every output row.
    pub ids: Vec<String>,
    /// `--append`: the whole input row is copied to the front of every output row.
    pub append: bool,
    /// `--weights`: the sample-weight column (not a feature).
    pub weights: Option<String>,
    /// The features of the model the data are for (`predict`, `plot`): without `--columns`
    /// and `--exclude`, a header that names them all selects them, in the model's order (one
    /// that names none of them is read by position).
    pub model_features: Option<Vec<String>>,
    /// The table is a memberships file (`evaluate`): without `--columns`, a header's
    /// probability columns (`p_0, p_1, ...` and `p_noise`, as softclust writes them) are the
    /// ones read, and the rest (label, max_p, ...) are left out.
    pub memberships: bool,
}

impl ColumnSpec {
    /// The column flags of `opts` with the command's weights column.
    pub fn new(opts: &InputArgs, weights: Option<&str>) -> Self {
        ColumnSpec {
            columns: opts.columns.clone(),
            exclude: opts.exclude.clone(),
            ids: opts.id.clone(),
            append: opts.append,
            weights: weights.map(str::to_string),
            model_features: None,
            memberships: false,
        }
    }

    /// The same flags for data scored by a model fitted on `features` (see
    /// [`ColumnSpec::model_features`]); generated names (`x_0, x_1, ...`, or Python's `x0,
    /// x1, ...`) say nothing and are ignored.
    pub fn for_model(mut self, features: &[String]) -> Self {
        let generated =
            |f: &dyn Fn(usize) -> String| features.iter().enumerate().all(|(j, n)| *n == f(j));
        if !generated(&|j| format!("x_{j}")) && !generated(&|j| format!("x{j}")) {
            self.model_features = Some(features.to_vec());
        }
        self
    }

    /// Whether any flag picks columns (so a first row mixing text and numbers may be a header
    /// whose text columns are simply not features).
    pub fn selects(&self) -> bool {
        self.columns.is_some() || self.exclude.is_some() || !self.ids.is_empty()
    }

    /// Whether every column named by the flags is named by a position or range (none by a
    /// header name).
    pub fn positional(&self) -> bool {
        let items = self
            .columns
            .iter()
            .chain(&self.exclude)
            .flat_map(|l| l.split(','))
            .chain(self.ids.iter().map(String::as_str))
            .chain(self.weights.as_deref());
        items.map(str::trim).all(|t| position_or_range(t).is_some())
    }
}

/// `t` as a 1-based position `p` (`Some((p, p))`) or a range `a-b` (`Some((a, b))`).
fn position_or_range(t: &str) -> Option<(usize, usize)> {
    if let Ok(p) = t.parse::<usize>() {
        return Some((p, p));
    }
    let (a, b) = t.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The flags matched with a table's columns (0-based indices into the file's columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Feature columns, in the order given (`--columns`, the model's features), else the
    /// file's.
    pub features: Vec<usize>,
    /// The weights column.
    pub weights: Option<usize>,
    /// Columns carried to the front of the output, in output order.
    pub front: Vec<usize>,
}

impl Plan {
    /// The columns read as numbers: the features in their order, then the weights.
    pub fn numeric(&self) -> Vec<usize> {
        let mut v = self.features.clone();
        v.extend(self.weights.filter(|w| !self.features.contains(w)));
        v
    }

    /// Whether [`Plan::numeric`] is every one of `n` columns in file order.
    pub fn numeric_is_all(&self, n: usize) -> bool {
        self.numeric().into_iter().eq(0..n)
    }

    /// The weights column's place among [`Plan::numeric`].
    pub fn weights_among_numeric(&self) -> Option<usize> {
        let w = self.weights?;
        self.numeric().iter().position(|&j| j == w)
    }

    /// Every column the file must provide (numeric or carried), in file order.
    pub fn read(&self) -> Vec<usize> {
        let mut v = self.numeric();
        v.extend(&self.front);
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// One column named by `t` among `names`: the header name, else a 1-based position.
fn one(t: &str, names: &[String], flag: &str, source: &str) -> CliResult<usize> {
    if let Some(j) = names.iter().position(|c| c == t) {
        return Ok(j);
    }
    match t.parse::<usize>() {
        Ok(p) if (1..=names.len()).contains(&p) => Ok(p - 1),
        _ => Err(unknown(t, names, flag, source)),
    }
}

fn unknown(t: &str, names: &[String], flag: &str, source: &str) -> CliError {
    let mut shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
    if names.len() > 12 {
        shown.push("...");
    }
    CliError::msg(format!(
        "{flag} '{t}': no such column in {source} (columns: {}; or a position from 1 to {})",
        shown.join(", "),
        names.len()
    ))
}

/// A list `a,b-c,name` of columns among `names`, in the order given (ranges ascending).
fn list(spec: &str, names: &[String], flag: &str, source: &str) -> CliResult<Vec<usize>> {
    let mut out = Vec::new();
    for t in spec.split(',').map(str::trim) {
        if t.is_empty() {
            return Err(CliError::msg(format!(
                "{flag} '{spec}': an empty item; separate column names and positions with single \
                 commas"
            )));
        }
        if names.iter().any(|c| c == t) || t.parse::<usize>().is_ok() {
            out.push(one(t, names, flag, source)?);
            continue;
        }
        // A range of header names `first-last` (both ends included).
        if let Some((a, b)) = t.split_once('-') {
            let (a, b) = (a.trim(), b.trim());
            let at = |e: &str| names.iter().position(|c| c == e);
            if let (Some(i), Some(j)) = (at(a), at(b)) {
                if i > j {
                    return Err(CliError::msg(format!(
                        "{flag} '{t}': '{a}' comes after '{b}' in {source}; give the range in \
                         file order"
                    )));
                }
                out.extend(i..=j);
                continue;
            }
        }
        match position_or_range(t) {
            Some((a, b)) if a >= 1 && a <= b && b <= names.len() => out.extend(a - 1..b),
            Some((a, b)) => {
                return Err(CliError::msg(format!(
                    "{flag} '{t}': the range {a}-{b} is not within the columns 1 to {} of {source}",
                    names.len()
                )))
            }
            None => return Err(unknown(t, names, flag, source)),
        }
    }
    Ok(out)
}

/// Matches `spec` with the columns `names` of `source`.
pub fn resolve(spec: &ColumnSpec, names: &[String], source: &str) -> CliResult<Plan> {
    let mut ids = Vec::new();
    for t in &spec.ids {
        let j = one(t.trim(), names, "--id", source)?;
        if ids.contains(&j) {
            return Err(CliError::msg(format!(
                "--id '{t}': column '{}' is given twice; name each ID column once",
                names[j]
            )));
        }
        ids.push(j);
    }
    let weights = spec
        .weights
        .as_deref()
        .map(|t| one(t.trim(), names, "--weights", source))
        .transpose()?;
    let excluded = match &spec.exclude {
        Some(l) => list(l, names, "--exclude", source)?,
        None => Vec::new(),
    };
    let features: Vec<usize> = match &spec.columns {
        Some(l) => {
            let mut f = list(l, names, "--columns", source)?;
            for &j in &f {
                if ids.contains(&j) {
                    return Err(CliError::msg(format!(
                        "column '{}' is given to both --columns and --id; an ID is not a feature",
                        names[j]
                    )));
                }
                if Some(j) == weights {
                    return Err(CliError::msg(format!(
                        "column '{}' is given to both --columns and --weights; the weights are \
                         not a feature",
                        names[j]
                    )));
                }
            }
            f.retain(|j| !excluded.contains(j));
            let mut seen = Vec::new();
            f.retain(|j| {
                let new = !seen.contains(j);
                seen.push(*j);
                new
            });
            f
        }
        None => match model_order(spec, names, source)? {
            Some(f) => f,
            None if spec.memberships && names.iter().any(|n| is_probability_column(n)) => (0
                ..names.len())
                .filter(|&j| is_probability_column(&names[j]) && !excluded.contains(&j))
                .collect(),
            None => (0..names.len())
                .filter(|j| !ids.contains(j) && !excluded.contains(j) && Some(*j) != weights)
                .collect(),
        },
    };
    if features.is_empty() && spec.columns.is_none() && names.len() == 1 {
        if let (Some(_), Some(w)) = (weights, spec.weights.as_deref()) {
            return Err(CliError::msg(format!(
                "--weights '{w}': {source} has only that column, which leaves no features"
            )));
        }
    }
    if features.is_empty() {
        return Err(CliError::msg(format!(
            "{source}: no feature columns are left (columns: {}); choose them with --columns",
            names.join(", ")
        )));
    }
    let front = if spec.append {
        (0..names.len()).collect()
    } else {
        ids
    };
    Ok(Plan {
        features,
        weights,
        front,
    })
}

/// Whether a column name is one softclust gives a probability column: `p_<j>` or `p_noise`.
fn is_probability_column(name: &str) -> bool {
    name.strip_prefix("p_")
        .is_some_and(|r| r == "noise" || (!r.is_empty() && r.bytes().all(|b| b.is_ascii_digit())))
}

/// The model's features among `names`, in the model's order, when the flags leave the choice
/// to the model and the table has a header that names them (`None` otherwise: no header, or
/// none of the model's names, and the columns are taken by position). A header that names some
/// of them but not all is an error naming the missing ones.
fn model_order(spec: &ColumnSpec, names: &[String], source: &str) -> CliResult<Option<Vec<usize>>> {
    let Some(want) = spec.model_features.as_ref() else {
        return Ok(None);
    };
    let headerless = names
        .iter()
        .enumerate()
        .all(|(j, n)| *n == format!("x_{j}"));
    if spec.exclude.is_some() || headerless {
        return Ok(None);
    }
    let found: Vec<Option<usize>> = want
        .iter()
        .map(|w| names.iter().position(|n| n == w))
        .collect();
    if found.iter().all(Option::is_some) {
        return Ok(Some(found.into_iter().flatten().collect()));
    }
    if found.iter().all(Option::is_none) {
        // Other names altogether (renamed columns): the columns are taken by position.
        return Ok(None);
    }
    let missing: Vec<&str> = want
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(w, _)| w.as_str())
        .collect();
    Err(CliError::msg(format!(
        "{source} has no column named {} of the model's features ({}); give the features in the \
         model's order with --columns",
        missing.join(", "),
        want.join(", ")
    )))
}

/// One carried column: text cells (CSV, TSV, standard input, `.npy`), or a Parquet column as
/// Arrow read it, so that Parquet output keeps its type.
#[derive(Debug, Clone)]
pub enum Carried {
    Text(Vec<String>),
    Arrow(ArrayRef),
}

impl Carried {
    fn len(&self) -> usize {
        match self {
            Carried::Text(v) => v.len(),
            Carried::Arrow(a) => a.len(),
        }
    }
}

/// Columns carried unchanged to the front of the output: their names and their cells.
#[derive(Debug, Clone, Default)]
pub struct Front {
    /// Output column names.
    pub names: Vec<String>,
    /// `cols[j]`: the cells of column `j`, one per row.
    pub cols: Vec<Carried>,
}

impl Front {
    /// No rows yet, for `names`.
    pub fn new(names: Vec<String>) -> Self {
        let cols = vec![Carried::Text(Vec::new()); names.len()];
        Front { names, cols }
    }

    /// Appends the rows of `other` (the same columns).
    pub fn extend(&mut self, other: Front) -> CliResult<()> {
        for (c, o) in self.cols.iter_mut().zip(other.cols) {
            match (&mut *c, o) {
                (Carried::Text(a), Carried::Text(b)) => a.extend(b),
                (Carried::Arrow(a), Carried::Arrow(b)) => {
                    *a = arrow_select::concat::concat(&[a.as_ref(), b.as_ref()])
                        .map_err(|e| CliError::msg(format!("joining carried columns: {e}")))?;
                }
                (c, o) if c.len() == 0 => *c = o,
                _ => return Err(CliError::msg("carried columns of different kinds")),
            }
        }
        Ok(())
    }

    /// Rows from `start` on.
    pub fn rows(&self, start: usize) -> FrontRows<'_> {
        FrontRows { front: self, start }
    }
}

/// The rows of a [`Front`] from `start` on, beside a block of memberships.
#[derive(Debug, Clone, Copy)]
pub struct FrontRows<'a> {
    pub front: &'a Front,
    pub start: usize,
}

/// `len` cells of a carried column.
pub enum CarriedCells<'a> {
    Text(&'a [String]),
    Arrow(ArrayRef),
}

impl<'a> FrontRows<'a> {
    /// The same rows shifted by `by`.
    pub fn offset(self, by: usize) -> Self {
        FrontRows {
            front: self.front,
            start: self.start + by,
        }
    }

    /// Column `j`'s cells of `len` rows.
    pub fn column(&self, j: usize, len: usize) -> CarriedCells<'a> {
        match &self.front.cols[j] {
            Carried::Text(v) => CarriedCells::Text(&v[self.start..self.start + len]),
            Carried::Arrow(a) => CarriedCells::Arrow(a.slice(self.start, len)),
        }
    }
}

/// Whether an Arrow column of type `t` can be carried (written back as it is to Parquet, as
/// text to CSV).
pub fn carriable(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Boolean
            | DataType::Float64
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

/// Cell `i` of a carried Arrow column as CSV text (a null is an empty cell).
pub fn arrow_cell(col: &dyn Array, i: usize) -> String {
    if col.is_null(i) {
        return String::new();
    }
    fn prim<T: ArrowPrimitiveType>(col: &dyn Array, i: usize) -> String
    where
        T::Native: std::fmt::Display,
    {
        col.as_primitive::<T>().value(i).to_string()
    }
    match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => col.as_string_view().value(i).to_string(),
        DataType::Boolean => col.as_boolean().value(i).to_string(),
        DataType::Float64 => prim::<Float64Type>(col, i),
        DataType::Float32 => prim::<Float32Type>(col, i),
        DataType::Int8 => prim::<Int8Type>(col, i),
        DataType::Int16 => prim::<Int16Type>(col, i),
        DataType::Int32 => prim::<Int32Type>(col, i),
        DataType::Int64 => prim::<Int64Type>(col, i),
        DataType::UInt8 => prim::<UInt8Type>(col, i),
        DataType::UInt16 => prim::<UInt16Type>(col, i),
        DataType::UInt32 => prim::<UInt32Type>(col, i),
        DataType::UInt64 => prim::<UInt64Type>(col, i),
        // Types that cannot be carried are refused when the file is opened.
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_ranges_and_names() {
        let n = names(&["id", "name", "a", "b", "c", "height"]);
        let spec = ColumnSpec {
            columns: Some("3-4,height".into()),
            ids: vec!["id".into(), "2".into()],
            ..Default::default()
        };
        let p = resolve(&spec, &n, "t").unwrap();
        assert_eq!(p.features, vec![2, 3, 5]);
        assert_eq!(p.front, vec![0, 1]);
        let d = resolve(
            &ColumnSpec {
                ids: vec!["id".into()],
                exclude: Some("name".into()),
                weights: Some("c".into()),
                ..Default::default()
            },
            &n,
            "t",
        )
        .unwrap();
        assert_eq!(d.features, vec![2, 3, 5]);
        assert_eq!(d.numeric(), vec![2, 3, 5, 4]);
        assert_eq!(d.weights_among_numeric(), Some(3));
        // --columns keeps the order given.
        let o = resolve(
            &ColumnSpec {
                columns: Some("c,a".into()),
                ..Default::default()
            },
            &n,
            "t",
        )
        .unwrap();
        assert_eq!(o.numeric(), vec![4, 2]);
        assert!(!o.numeric_is_all(6));
        // A model's features pick themselves, in the model's order.
        let m = ColumnSpec {
            ids: vec!["id".into()],
            ..Default::default()
        }
        .for_model(&names(&["height", "b", "a"]));
        assert_eq!(resolve(&m, &n, "t").unwrap().features, vec![5, 3, 2]);
        let generic = ColumnSpec::default().for_model(&names(&["x_0", "x_1"]));
        assert_eq!(generic.model_features, None);
    }

    #[test]
    fn bad_specs_name_the_flag() {
        let n = names(&["id", "x"]);
        let e = |spec: ColumnSpec| match resolve(&spec, &n, "t") {
            Err(CliError::Message(m)) => m,
            Ok(p) => panic!("accepted: {p:?}"),
        };
        let m = e(ColumnSpec {
            ids: vec!["id".into(), "1".into()],
            ..Default::default()
        });
        assert!(m.contains("given twice"), "{m}");
        let m = e(ColumnSpec {
            columns: Some("nope".into()),
            ..Default::default()
        });
        assert!(m.contains("--columns 'nope': no such column"), "{m}");
        let m = e(ColumnSpec {
            columns: Some("1-3".into()),
            ..Default::default()
        });
        assert!(m.contains("not within the columns 1 to 2"), "{m}");
    }
}
