//! `softclust demo`: the whole path on Fisher's Iris data, with the soft methods side by side.

use crate::cli::InitName;
use crate::error::{lib_error, CliError, CliResult};
use crate::input::Table;
use crate::output::write_to;
use crate::prepare::{describe_soft, fit_kmeans, KmeansSettings, Prepared};
use ndarray::Array2;
use softclust::{DistanceKind, GaussianMixture, InversePower, Membership, SoftMethod, Standardize};

const IRIS: &str = include_str!("../../../../data/iris.csv");

fn iris() -> CliResult<(Table, Vec<String>)> {
    let mut lines = IRIS.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut values = Vec::new();
    let mut species = Vec::new();
    let mut n = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        for c in &cells[..4] {
            values.push(
                c.parse::<f64>()
                    .map_err(|e| CliError::msg(format!("built-in Iris data: {e}")))?,
            );
        }
        species.push(cells[4].to_string());
        n += 1;
    }
    let data = Array2::from_shape_vec((n, 4), values).map_err(|e| CliError::msg(e.to_string()))?;
    Ok((
        Table {
            source: "built-in Iris data".into(),
            columns: header[..4].to_vec(),
            data,
            weights: None,
            front: None,
        },
        species,
    ))
}

fn counts(m: &Membership<f64>) -> (usize, usize, usize, f64) {
    let confident = m.max_p.iter().filter(|&&p| p > 0.9).count();
    let ambiguous = m.max_p.iter().filter(|&&p| p < 0.6).count();
    let between = m.n_samples() - confident - ambiguous;
    let mean = m.max_p.mean().unwrap_or(f64::NAN);
    (confident, between, ambiguous, mean)
}

pub fn run(quiet: bool) -> CliResult<()> {
    let (table, species) = iris()?;
    let n_features = table.data.ncols();
    let p = Prepared::from_table(table, None, Standardize::ZScore, quiet)?;
    let k = 3;
    let settings = KmeansSettings {
        k,
        init: InitName("k-means++"),
        n_init: Some(10),
        max_iter: softclust::kmeans::defaults::MAX_ITER,
        tol: softclust::kmeans::defaults::TOL,
        seed: 0,
        soft: SoftMethod::default(),
        algorithm: softclust::KMeansAlgorithm::Auto,
    };
    let model = fit_kmeans(&p, &settings, quiet)?;
    let z = &p.z;
    let membership = model.memberships(z.view()).map_err(lib_error)?;
    // The other methods, side by side, on the same distances.
    let d = model.transform(z.view()).map_err(lib_error)?;
    let d_feat = Some(n_features);
    let inv = SoftMethod::InversePower(InversePower::new())
        .fit(d.view(), DistanceKind::Euclidean, d_feat, None)
        .map_err(lib_error)?;
    let m_inv = inv
        .memberships(d.view(), DistanceKind::Euclidean)
        .map_err(lib_error)?;
    let mm = SoftMethod::MinMax
        .fit(d.view(), DistanceKind::Euclidean, d_feat, None)
        .map_err(lib_error)?;
    let m_mm = mm
        .memberships(d.view(), DistanceKind::Euclidean)
        .map_err(lib_error)?;
    let gmm = GaussianMixture::new(k)
        .n_init(5)
        .fit(z.view(), None)
        .map_err(lib_error)?;
    let m_gmm = gmm.memberships(z.view()).map_err(lib_error)?;

    write_to(None, |w| {
        let dg = model.diagnostics();
        writeln!(
            w,
            "softclust demo: Fisher's Iris data, {} flowers x {} measurements (cm)",
            p.z.nrows(),
            p.z.ncols()
        )?;
        writeln!(
            w,
            "k-means, k = {k}, features z-scored, best of {} k-means++ restarts: {} after {} iterations, inertia {:.3}",
            dg.run_inertia.len(),
            if dg.converged { "converged" } else { "not converged" },
            dg.n_iter,
            model.inertia()
        )?;
        writeln!(w)?;
        let names = ["setosa", "versicolor", "virginica"];
        writeln!(w, "cluster   size   setosa  versicolor  virginica   (species known to us, not to k-means)")?;
        for j in 0..k {
            let members: Vec<usize> = (0..species.len())
                .filter(|&i| membership.label[i] == j)
                .collect();
            let by: Vec<usize> = names
                .iter()
                .map(|s| members.iter().filter(|&&i| species[i] == *s).count())
                .collect();
            writeln!(
                w,
                "{j:>7} {:>6} {:>8} {:>11} {:>10}",
                members.len(),
                by[0],
                by[1],
                by[2]
            )?;
        }
        writeln!(w)?;
        writeln!(w, "How sure is each assignment?          confident    in between   ambiguous    mean max_p")?;
        writeln!(
            w,
            "                                      (max_p>0.9)               (max_p<0.6)"
        )?;
        for (label, m) in [
            (
                model.soft().map(describe_soft).unwrap_or_default(),
                &membership,
            ),
            (describe_soft(&inv), &m_inv),
            ("minmax (linear baseline)".to_string(), &m_mm),
            ("Gaussian mixture, full covariances".to_string(), &m_gmm),
        ] {
            let (c, b, a, mean) = counts(m);
            writeln!(w, "{label:<37} {c:>9} {b:>13} {a:>11} {mean:>13.3}")?;
        }
        writeln!(w)?;
        let (_, _, mm_ambiguous, _) = counts(&m_mm);
        writeln!(w, "The softmax is the posterior of the Gaussian mixture that k-means fits, with its variance")?;
        writeln!(w, "estimated from the data. The linear min-max scale spreads each flower's probability over the")?;
        writeln!(w, "clusters: it calls {mm_ambiguous} of {} flowers ambiguous, though the clusters are well apart.", m_mm.n_samples())?;
        writeln!(w)?;
        writeln!(w, "First rows (softmax), one line per flower:")?;
        writeln!(
            w,
            "{:>8} {:>8} {:>8} {:>6} {:>8} {:>8} {:>8}  species",
            "p_0", "p_1", "p_2", "label", "max_p", "margin", "entropy"
        )?;
        let m = &membership;
        let mut show: Vec<usize> = (0..5).collect();
        // Add the two least certain flowers, the interesting ones.
        let mut order: Vec<usize> = (0..m.n_samples()).collect();
        order.sort_by(|&a, &b| m.max_p[a].total_cmp(&m.max_p[b]).then(a.cmp(&b)));
        show.extend(order.iter().take(2));
        for (r, &i) in show.iter().enumerate() {
            if r == 5 {
                writeln!(w, "   ... the two least certain flowers:")?;
            }
            writeln!(
                w,
                "{:>8.4} {:>8.4} {:>8.4} {:>6} {:>8.4} {:>8.4} {:>8.4}  {} (row {})",
                m.proba[(i, 0)],
                m.proba[(i, 1)],
                m.proba[(i, 2)],
                m.label[i],
                m.max_p[i],
                m.margin[i],
                m.entropy[i],
                species[i],
                i + 1
            )?;
        }
        writeln!(w)?;
        writeln!(
            w,
            "Your own data: softclust kmeans data.csv -k 3 -o memberships.csv"
        )?;
        w.flush()
    })
}
