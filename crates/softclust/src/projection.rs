//! Principal axes, for pictures of the data in two dimensions.
//!
//! The principal axes of `n` points `x_i` in `d` dimensions are the leading eigenvectors of
//! their covariance `C = (1/n) sum_i (x_i - m)(x_i - m)^T`; projecting onto the first two,
//! `y_i = A^T (x_i - m)`, keeps the largest share of the variance any plane can. They are found
//! here by subspace iteration on `C` (never formed: `C v = X_c^T (X_c v) / n`), with
//! Gram-Schmidt orthogonalisation and a final Rayleigh-Ritz step on the `q x q` problem, so the
//! cost is `O(n d q)` per iteration and no `d x d` matrix is stored. Each axis's sign is fixed
//! so that its largest component is positive, so the picture is the same on every run.

use crate::data::check_matrix;
use crate::error::Result;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// The leading principal axes of some data.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalAxes {
    /// Column means `m`.
    pub mean: Array1<f64>,
    /// `q x d`: the axes, orthonormal rows, in decreasing order of variance.
    pub axes: Array2<f64>,
    /// The variance along each axis (eigenvalues of the covariance).
    pub variance: Array1<f64>,
    /// The total variance (trace of the covariance), for the share each axis explains.
    pub total_variance: f64,
}

impl PrincipalAxes {
    /// The `q` leading principal axes of the rows of `x` (`q` is capped at `d`).
    pub fn fit(x: ArrayView2<'_, f64>, q: usize) -> Result<Self> {
        check_matrix(x, "data")?;
        let (n, d) = x.dim();
        let q = q.clamp(1, d);
        let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let xc = &x - &mean.view().insert_axis(Axis(0));
        let total_variance = xc.iter().map(|v| v * v).sum::<f64>() / n as f64;
        // Start from the coordinate axes of the largest variances: deterministic, and never
        // orthogonal to the leading axes unless the data are degenerate there.
        let col_var: Vec<f64> = xc.axis_iter(Axis(1)).map(|c| c.dot(&c)).collect();
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| col_var[b].total_cmp(&col_var[a]).then(a.cmp(&b)));
        let mut v = Array2::<f64>::zeros((d, q));
        for (t, &j) in order.iter().take(q).enumerate() {
            v[(j, t)] = 1.0;
            // A little of every coordinate, so no axis starts orthogonal to the answer.
            for i in 0..d {
                v[(i, t)] += 1e-3 / ((i + t + 1) as f64);
            }
        }
        orthonormalise(&mut v);
        let cov = |v: &Array2<f64>| xc.t().dot(&xc.dot(v)) / n as f64;
        for _ in 0..500 {
            let mut w = cov(&v);
            orthonormalise(&mut w);
            let change = (&w - &v).iter().map(|e| e * e).sum::<f64>();
            v = w;
            if change < 1e-24 * q as f64 {
                break;
            }
        }
        // Rayleigh-Ritz: the eigenvectors of the q x q matrix V^T C V rotate V onto the axes.
        let h = v.t().dot(&cov(&v));
        let (vals, vecs) = symmetric_eigen(h);
        let mut axes = v.dot(&vecs).reversed_axes();
        for mut a in axes.rows_mut() {
            let big = a
                .iter()
                .copied()
                .fold(0.0f64, |m, e| if e.abs() > m.abs() { e } else { m });
            if big < 0.0 {
                a.mapv_inplace(|e| -e);
            }
        }
        Ok(PrincipalAxes {
            mean,
            axes,
            variance: Array1::from(vals),
            total_variance,
        })
    }

    /// The coordinates `A (x_i - m)` of every row of `x` (`n x q`).
    pub fn project(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let xc = &x - &self.mean.view().insert_axis(Axis(0));
        xc.dot(&self.axes.t())
    }

    /// The coordinates of one point.
    pub fn project_one(&self, x: ArrayView1<'_, f64>) -> Array1<f64> {
        self.axes.dot(&(&x - &self.mean))
    }

    /// The share of the total variance along each axis (0 when the data do not vary).
    pub fn explained(&self) -> Array1<f64> {
        if self.total_variance > 0.0 {
            &self.variance / self.total_variance
        } else {
            Array1::zeros(self.variance.len())
        }
    }
}

/// Modified Gram-Schmidt on the columns of `v`; a column that vanishes is replaced by the
/// first coordinate axis orthogonal to the others.
fn orthonormalise(v: &mut Array2<f64>) {
    let (d, q) = v.dim();
    for t in 0..q {
        for s in 0..t {
            let dot = v.column(t).dot(&v.column(s));
            let cs = v.column(s).to_owned();
            v.column_mut(t).scaled_add(-dot, &cs);
        }
        let norm = v.column(t).dot(&v.column(t)).sqrt();
        if norm > 1e-300 {
            v.column_mut(t).mapv_inplace(|e| e / norm);
        } else {
            for i in 0..d {
                let mut e = Array1::<f64>::zeros(d);
                e[i] = 1.0;
                for s in 0..t {
                    let dot = e.dot(&v.column(s));
                    e.scaled_add(-dot, &v.column(s));
                }
                let n = e.dot(&e).sqrt();
                if n > 1e-8 {
                    v.column_mut(t).assign(&(e / n));
                    break;
                }
            }
        }
    }
}

/// Eigenvalues (decreasing) and eigenvectors (columns) of a small symmetric matrix, by cyclic
/// Jacobi rotations.
fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let q = a.nrows();
    let mut v = Array2::<f64>::eye(q);
    for _ in 0..100 {
        let off: f64 = (0..q)
            .flat_map(|i| (0..q).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[(i, j)] * a[(i, j)])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..q {
            for r in p + 1..q {
                if a[(p, r)].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[(r, r)] - a[(p, p)]) / (2.0 * a[(p, r)]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..q {
                    let (akp, akr) = (a[(k, p)], a[(k, r)]);
                    a[(k, p)] = c * akp - s * akr;
                    a[(k, r)] = s * akp + c * akr;
                }
                for k in 0..q {
                    let (apk, ark) = (a[(p, k)], a[(r, k)]);
                    a[(p, k)] = c * apk - s * ark;
                    a[(r, k)] = s * apk + c * ark;
                }
                for k in 0..q {
                    let (vkp, vkr) = (v[(k, p)], v[(k, r)]);
                    v[(k, p)] = c * vkp - s * vkr;
                    v[(k, r)] = s * vkp + c * vkr;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..q).collect();
    order.sort_by(|&i, &j| a[(j, j)].total_cmp(&a[(i, i)]));
    let vals = order.iter().map(|&i| a[(i, i)].max(0.0)).collect();
    let vecs = v.select(Axis(1), &order);
    (vals, vecs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn finds_the_axes_of_a_rotated_ellipse() {
        // Points on the axes (±3, 0) and (0, ±1), rotated by 30 degrees and shifted: the
        // variances along the axes are 9/2 and 1/2 (each axis has two of the four points).
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let base = array![[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]];
        let rot = array![[c, s], [-s, c]];
        let x = base.dot(&rot) + &array![[5.0, -2.0]];
        let p = PrincipalAxes::fit(x.view(), 2).unwrap();
        assert!((p.variance[0] - 4.5).abs() < 1e-12, "{}", p.variance);
        assert!((p.variance[1] - 0.5).abs() < 1e-12);
        assert!((p.total_variance - 5.0).abs() < 1e-12);
        // The first axis is (cos 30, sin 30), the sign making its largest entry positive.
        assert!((p.axes[(0, 0)] - c).abs() < 1e-10 && (p.axes[(0, 1)] - s).abs() < 1e-10);
        let y = p.project(x.view());
        assert!((y[(0, 0)] - 3.0).abs() < 1e-10 && y[(0, 1)].abs() < 1e-10);
    }
}
