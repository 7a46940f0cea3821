//! `--report FILE`: a JSON record of a fit, with wall-clock timings per phase.

use crate::error::{CliError, CliResult};
use crate::output::write_to;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Instant;

/// Wall-clock seconds per phase (read, fit, memberships, write).
pub struct Timer {
    start: Instant,
    last: Instant,
    phases: Map<String, Value>,
}

impl Timer {
    pub fn new() -> Self {
        let now = Instant::now();
        Timer {
            start: now,
            last: now,
            phases: Map::new(),
        }
    }

    /// Ends the current phase under `name`.
    pub fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.phases
            .insert(format!("{name}_s"), json!((now - self.last).as_secs_f64()));
        self.last = now;
    }

    pub fn to_json(&self) -> Value {
        let mut m = self.phases.clone();
        m.insert("total_s".into(), json!(self.start.elapsed().as_secs_f64()));
        Value::Object(m)
    }
}

/// A finite number, or JSON null (NaN and infinities are not JSON).
pub fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// Writes `report` (with the timings added) to `path`, atomically.
pub fn write_report(path: &Path, mut report: Value, timer: &Timer) -> CliResult<()> {
    if let Value::Object(m) = &mut report {
        m.insert("softclust_version".into(), json!(env!("CARGO_PKG_VERSION")));
        m.insert("timings".into(), timer.to_json());
    }
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError::msg(format!("cannot encode the report: {e}")))?;
    write_to(Some(path), |w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")
    })
}
