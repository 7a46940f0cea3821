//! Pictures as self-contained SVG (no fonts, no system libraries: text is SVG `<text>` in the
//! viewer's sans-serif), and the HTML report page that holds them.
//!
//! A figure is a row of panels, each with its axes (`class="axis"`), tick labels, axis titles
//! and a legend (`class="legend"`):
//! * [`Scatter`]: points (`<circle class="point">`, one per point drawn) coloured by label with
//!   opacity by `max_p`, outliers ringed (`class="outlier"`), centres marked with crosses
//!   (`class="centre"`);
//! * [`Histograms`]: the distribution of `max_p` in each cluster, as frequency polygons;
//! * [`Curves`]: a criterion against k, one line per covariance type, the winner ringed
//!   (`class="winner"`).

use std::fmt::Write as _;

/// Ten distinguishable colours (the Tableau 10 palette); cluster `j` gets `PALETTE[j % 10]`.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
/// The colour of a noise component's points.
pub const NOISE_COLOUR: &str = "#7f7f7f";

const PANEL_W: f64 = 520.0;
const PANEL_H: f64 = 420.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 52.0;

/// Points coloured by cluster.
#[derive(Debug, Clone, Default)]
pub struct Scatter {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// `(x, y)` of every point drawn.
    pub points: Vec<(f64, f64)>,
    pub label: Vec<usize>,
    /// Opacity of each point (its `max_p`).
    pub alpha: Vec<f64>,
    pub outlier: Vec<bool>,
    /// `(x, y)` of each cluster's centre.
    pub centres: Vec<(f64, f64)>,
    /// The label of a noise component, if any (drawn grey).
    pub noise: Option<usize>,
    /// Legend names of the clusters.
    pub names: Vec<String>,
}

/// The distribution of `max_p` per cluster.
#[derive(Debug, Clone, Default)]
pub struct Histograms {
    pub title: String,
    /// `values[j]`: the `max_p` of the points labelled `j`.
    pub values: Vec<Vec<f64>>,
    pub names: Vec<String>,
    pub noise: Option<usize>,
}

/// Lines of `(x, y)` points, one per series, with one point marked as the winner.
#[derive(Debug, Clone, Default)]
pub struct Curves {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    pub winner: Option<(f64, f64)>,
}

/// One panel of a figure.
#[derive(Debug, Clone)]
pub enum Panel {
    Scatter(Scatter),
    Histograms(Histograms),
    Curves(Curves),
}

/// Text safe inside SVG and HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number for a tick label: at most 4 significant digits, no trailing zeros.
fn tick_text(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e5 || v.abs() < 1e-3 {
        return format!("{v:.2e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// About `n` round tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut t = first;
    while t <= hi + step * 1e-9 && out.len() < 50 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// Data range padded by 5% (a constant range widened to ±0.5).
fn padded(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Maps data coordinates into a panel's plotting area.
struct Frame {
    x0: f64,
    y0: f64,
    xr: (f64, f64),
    yr: (f64, f64),
}

impl Frame {
    fn new(x0: f64, xr: (f64, f64), yr: (f64, f64)) -> Self {
        Frame {
            x0,
            y0: 0.0,
            xr,
            yr,
        }
    }
    fn w() -> f64 {
        PANEL_W - LEFT - RIGHT
    }
    fn h() -> f64 {
        PANEL_H - TOP - BOTTOM
    }
    fn x(&self, v: f64) -> f64 {
        self.x0 + LEFT + (v - self.xr.0) / (self.xr.1 - self.xr.0) * Self::w()
    }
    fn y(&self, v: f64) -> f64 {
        self.y0 + TOP + Self::h() - (v - self.yr.0) / (self.yr.1 - self.yr.0) * Self::h()
    }

    /// The axes, ticks, tick labels, axis titles and panel title.
    fn axes(&self, out: &mut String, title: &str, x_label: &str, y_label: &str) {
        let (l, r) = (self.x0 + LEFT, self.x0 + LEFT + Self::w());
        let (t, b) = (TOP, TOP + Self::h());
        let _ = write!(
            out,
            r##"<g class="axis" stroke="#333" stroke-width="1" fill="none"><path d="M{l:.1},{t:.1}V{b:.1}H{r:.1}"/></g>"##
        );
        let _ = write!(out, r##"<g class="ticks" font-size="11" fill="#333">"##);
        for v in ticks(self.xr.0, self.xr.1, 6) {
            let x = self.x(v);
            let _ = write!(
                out,
                r##"<path d="M{x:.1},{b:.1}v5" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                b + 17.0,
                tick_text(v)
            );
        }
        for v in ticks(self.yr.0, self.yr.1, 6) {
            let y = self.y(v);
            let _ = write!(
                out,
                r##"<path d="M{l:.1},{y:.1}h-5" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                l - 8.0,
                y + 4.0,
                tick_text(v)
            );
        }
        let _ = write!(out, "</g>");
        let _ = write!(
            out,
            r##"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{}</text>"##,
            (l + r) / 2.0,
            b + 40.0,
            escape(x_label)
        );
        let _ = write!(
            out,
            r##"<text class="axis-label" transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle" font-size="13">{}</text>"##,
            self.x0 + 16.0,
            (t + b) / 2.0,
            escape(y_label)
        );
        let _ = write!(
            out,
            r##"<text class="title" x="{:.1}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"##,
            (l + r) / 2.0,
            escape(title)
        );
    }

    /// A legend of coloured entries to the right of the plotting area.
    fn legend(&self, out: &mut String, entries: &[(String, String)], note: Option<&str>) {
        let x = self.x0 + LEFT + Self::w() + 14.0;
        let _ = write!(out, r##"<g class="legend" font-size="12" fill="#333">"##);
        let shown = entries.len().min(16);
        for (i, (name, colour)) in entries.iter().take(shown).enumerate() {
            let y = TOP + 8.0 + 18.0 * i as f64;
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                y - 10.0,
                x + 18.0,
                y,
                escape(name)
            );
        }
        let mut y = TOP + 8.0 + 18.0 * shown as f64;
        if entries.len() > shown {
            let _ = write!(
                out,
                r##"<text x="{x:.1}" y="{y:.1}">+{} more</text>"##,
                entries.len() - shown
            );
            y += 18.0;
        }
        if let Some(n) = note {
            for line in n.split('\n') {
                let _ = write!(
                    out,
                    r##"<text x="{x:.1}" y="{y:.1}" font-size="11">{}</text>"##,
                    escape(line)
                );
                y += 15.0;
            }
        }
        let _ = write!(out, "</g>");
    }
}

fn colour(j: usize, noise: Option<usize>) -> &'static str {
    if Some(j) == noise {
        NOISE_COLOUR
    } else {
        PALETTE[j % PALETTE.len()]
    }
}

fn entries(names: &[String], noise: Option<usize>) -> Vec<(String, String)> {
    names
        .iter()
        .enumerate()
        .map(|(j, n)| (n.clone(), colour(j, noise).to_string()))
        .collect()
}

fn scatter(out: &mut String, x0: f64, s: &Scatter) {
    let xs = s
        .points
        .iter()
        .map(|p| p.0)
        .chain(s.centres.iter().map(|c| c.0));
    let ys = s
        .points
        .iter()
        .map(|p| p.1)
        .chain(s.centres.iter().map(|c| c.1));
    let f = Frame::new(x0, padded(xs), padded(ys));
    f.axes(out, &s.title, &s.x_label, &s.y_label);
    let _ = write!(out, r##"<g class="points">"##);
    for (i, &(x, y)) in s.points.iter().enumerate() {
        let a = s.alpha.get(i).copied().unwrap_or(1.0).clamp(0.12, 1.0);
        let c = colour(s.label.get(i).copied().unwrap_or(0), s.noise);
        let _ = write!(
            out,
            r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="3" fill="{c}" fill-opacity="{a:.2}"/>"##,
            f.x(x),
            f.y(y)
        );
    }
    let _ = write!(out, "</g>");
    for (i, &(x, y)) in s.points.iter().enumerate() {
        if s.outlier.get(i).copied().unwrap_or(false) {
            let _ = write!(
                out,
                r##"<circle class="outlier" cx="{:.1}" cy="{:.1}" r="6.5" fill="none" stroke="#000" stroke-width="1.3"/>"##,
                f.x(x),
                f.y(y)
            );
        }
    }
    for (j, &(x, y)) in s.centres.iter().enumerate() {
        let (cx, cy) = (f.x(x), f.y(y));
        let c = colour(j, s.noise);
        let _ = write!(
            out,
            r##"<path class="centre" d="M{:.1},{:.1}l12,12m0,-12l-12,12" stroke="#000" stroke-width="4.5"/><path d="M{:.1},{:.1}l12,12m0,-12l-12,12" stroke="{c}" stroke-width="2.5"/>"##,
            cx - 6.0,
            cy - 6.0,
            cx - 6.0,
            cy - 6.0
        );
    }
    let n_out = s.outlier.iter().filter(|&&o| o).count();
    let note = format!(
        "opacity: max_p\n\u{25cb} ringed: outlier\n   ({n_out} drawn)\n\u{2715}: centre\n{} points drawn",
        s.points.len()
    );
    f.legend(out, &entries(&s.names, s.noise), Some(&note));
}

/// Bins of the `max_p` histograms.
const BINS: usize = 20;

fn histograms(out: &mut String, x0: f64, h: &Histograms) {
    let k = h.values.len().max(1);
    let lo = if k > 1 { 1.0 / k as f64 } else { 0.0 };
    let lo = (lo * 20.0).floor() / 20.0;
    let width = (1.0 - lo) / BINS as f64;
    let shares: Vec<Vec<f64>> = h
        .values
        .iter()
        .map(|v| {
            let mut c = [0.0; BINS];
            for &p in v {
                let b = (((p - lo) / width).floor().max(0.0) as usize).min(BINS - 1);
                c[b] += 1.0;
            }
            let n = v.len().max(1) as f64;
            c.iter().map(|x| x / n).collect()
        })
        .collect();
    let top = shares
        .iter()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max)
        .max(0.05);
    let f = Frame::new(x0, (lo, 1.0), (0.0, top * 1.08));
    f.axes(out, &h.title, "max_p", "share of the cluster's points");
    let _ = write!(
        out,
        r##"<g class="histograms" fill="none" stroke-width="2">"##
    );
    for (j, s) in shares.iter().enumerate() {
        if h.values[j].is_empty() {
            continue;
        }
        let mut d = format!("M{:.1},{:.1}", f.x(lo), f.y(0.0));
        for (b, &v) in s.iter().enumerate() {
            let a = lo + b as f64 * width;
            let _ = write!(d, "V{:.1}H{:.1}", f.y(v), f.x(a + width));
        }
        let _ = write!(d, "V{:.1}", f.y(0.0));
        let _ = write!(
            out,
            r##"<path class="histogram" d="{d}" stroke="{}" stroke-opacity="0.9"/>"##,
            colour(j, h.noise)
        );
    }
    let _ = write!(out, "</g>");
    let names: Vec<String> = h
        .names
        .iter()
        .zip(&h.values)
        .map(|(n, v)| format!("{n} (n={})", v.len()))
        .collect();
    f.legend(out, &entries(&names, h.noise), None);
}

fn curves(out: &mut String, x0: f64, c: &Curves) {
    let xs = c.series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let ys = c.series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let f = Frame::new(x0, padded(xs), padded(ys));
    f.axes(out, &c.title, &c.x_label, &c.y_label);
    let _ = write!(out, r##"<g class="curves" fill="none" stroke-width="2">"##);
    for (i, (_, pts)) in c.series.iter().enumerate() {
        let col = PALETTE[i % PALETTE.len()];
        let mut d = String::new();
        let mut pen_up = true;
        for &(x, y) in pts {
            if !y.is_finite() {
                pen_up = true;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if pen_up { "M" } else { "L" },
                f.x(x),
                f.y(y)
            );
            pen_up = false;
        }
        let _ = write!(out, r##"<path class="curve" d="{d}" stroke="{col}"/>"##);
        for &(x, y) in pts.iter().filter(|p| p.1.is_finite()) {
            let _ = write!(
                out,
                r##"<circle class="marker" cx="{:.1}" cy="{:.1}" r="3" fill="{col}"/>"##,
                f.x(x),
                f.y(y)
            );
        }
    }
    let _ = write!(out, "</g>");
    if let Some((x, y)) = c.winner {
        let _ = write!(
            out,
            r##"<circle class="winner" cx="{:.1}" cy="{:.1}" r="9" fill="none" stroke="#000" stroke-width="2"/>"##,
            f.x(x),
            f.y(y)
        );
    }
    let names: Vec<(String, String)> = c
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.clone(), PALETTE[i % PALETTE.len()].to_string()))
        .collect();
    f.legend(out, &names, Some("\u{25cb} ringed: chosen"));
}

/// One SVG document with `panels` side by side under `title`.
pub fn figure(title: &str, panels: &[Panel]) -> String {
    let w = PANEL_W * panels.len().max(1) as f64;
    let h = PANEL_H + 30.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="Helvetica, Arial, sans-serif"><title>{}</title><rect width="100%" height="100%" fill="#fff"/>"##,
        escape(title)
    );
    let _ = write!(out, r##"<g transform="translate(0,30)">"##);
    for (i, p) in panels.iter().enumerate() {
        let x0 = PANEL_W * i as f64;
        match p {
            Panel::Scatter(s) => scatter(&mut out, x0, s),
            Panel::Histograms(hh) => histograms(&mut out, x0, hh),
            Panel::Curves(c) => curves(&mut out, x0, c),
        }
    }
    let _ = write!(
        out,
        r##"</g><text x="12" y="20" font-size="14" fill="#333">{}</text></svg>"##,
        escape(title)
    );
    out.push('\n');
    out
}

/// A table for the HTML report.
#[derive(Debug, Clone, Default)]
pub struct HtmlTable {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One self-contained HTML page: the title, a summary of key/value pairs, the tables and the
/// SVG figures inline (no scripts, no external files).
pub fn html_page(
    title: &str,
    summary: &[(String, String)],
    tables: &[HtmlTable],
    svgs: &[String],
) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;\
         padding:3px 9px;text-align:right}}th{{background:#f3f3f3}}td:first-child,\
         th:first-child{{text-align:left}}caption{{text-align:left;font-weight:bold;\
         padding:4px 0}}table.summary td{{text-align:left}}figure{{margin:1em 0}}\
         figure svg{{max-width:100%;height:auto}}</style></head><body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    let _ = write!(o, "<table class=\"summary\"><caption>Summary</caption>");
    for (k, v) in summary {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    let _ = writeln!(o, "</table>");
    for t in tables {
        let _ = write!(o, "<table><caption>{}</caption><tr>", escape(&t.caption));
        for h in &t.header {
            let _ = write!(o, "<th>{}</th>", escape(h));
        }
        let _ = write!(o, "</tr>");
        for r in &t.rows {
            let _ = write!(o, "<tr>");
            for c in r {
                let _ = write!(o, "<td>{}</td>", escape(c));
            }
            let _ = write!(o, "</tr>");
        }
        let _ = writeln!(o, "</table>");
    }
    for s in svgs {
        let _ = writeln!(o, "<figure>{s}</figure>");
    }
    let _ = writeln!(o, "</body></html>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0, 5);
        let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        assert_eq!(t.len(), want.len());
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
        // Range 15.9 in about 6 steps: steps of 5 from the first multiple above -3.7.
        assert_eq!(ticks(-3.7, 12.2, 6), vec![0.0, 5.0, 10.0]);
        assert_eq!(tick_text(0.6000000000000001), "0.6");
    }

    #[test]
    fn a_scatter_has_one_circle_per_point_axes_and_a_legend() {
        let s = Scatter {
            title: "t".into(),
            x_label: "PC1".into(),
            y_label: "PC2".into(),
            points: vec![(0.0, 0.0), (1.0, 2.0), (3.0, 1.0)],
            label: vec![0, 1, 1],
            alpha: vec![1.0, 0.5, 0.9],
            outlier: vec![false, false, true],
            centres: vec![(0.0, 0.0), (2.0, 1.5)],
            noise: None,
            names: vec!["cluster 0".into(), "cluster 1".into()],
        };
        let svg = figure("fig <1>", &[Panel::Scatter(s)]);
        assert_eq!(svg.matches(r#"class="point""#).count(), 3);
        assert_eq!(svg.matches(r#"class="outlier""#).count(), 1);
        assert_eq!(svg.matches(r#"class="centre""#).count(), 2);
        assert!(svg.contains(r#"class="axis""#) && svg.contains(r#"class="legend""#));
        assert!(svg.contains("fig &lt;1&gt;"));
    }
}
