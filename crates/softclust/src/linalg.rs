//! Small dense linear algebra for `d x d` covariance matrices: Cholesky factors and triangular
//! inverses. `d` is the number of features, so these are cheap next to the passes over the data.

use ndarray::{Array2, ArrayView2};

/// Lower Cholesky factor `L` with `A = L L^T`, or `None` if `A` is not (numerically) positive
/// definite. Only the lower triangle of `A` is read.
pub fn cholesky_lower(a: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    let d = a.nrows();
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let mut s = a[(j, j)];
        for p in 0..j {
            s -= l[(j, p)] * l[(j, p)];
        }
        if s.is_nan() || s <= 0.0 || !s.is_finite() {
            return None;
        }
        let ljj = s.sqrt();
        l[(j, j)] = ljj;
        for i in j + 1..d {
            let mut t = a[(i, j)];
            for p in 0..j {
                t -= l[(i, p)] * l[(j, p)];
            }
            l[(i, j)] = t / ljj;
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular matrix with a positive diagonal (forward substitution).
pub fn invert_lower(l: ArrayView2<'_, f64>) -> Array2<f64> {
    let d = l.nrows();
    let mut inv = Array2::<f64>::zeros((d, d));
    for c in 0..d {
        inv[(c, c)] = 1.0 / l[(c, c)];
        for i in c + 1..d {
            let mut s = 0.0;
            for p in c..i {
                s += l[(i, p)] * inv[(p, c)];
            }
            inv[(i, c)] = -s / l[(i, i)];
        }
    }
    inv
}

/// The upper-triangular `U` with `P = U U^T` for a precision matrix `P` given its covariance
/// `S = P^{-1}`: with `S = L L^T`, `U = L^{-T}`. `None` if `S` is not positive definite.
pub fn precision_factor_from_covariance(s: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    let l = cholesky_lower(s)?;
    Some(invert_lower(l.view()).reversed_axes())
}

/// The upper-triangular `U` with `P = U U^T`, from `P` itself: the lower Cholesky factor of `P`
/// with rows and columns reversed, reversed back. `None` if `P` is not positive definite.
pub fn precision_factor_from_precision(p: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    let flip = |m: ArrayView2<'_, f64>| {
        let d = m.nrows();
        Array2::from_shape_fn((d, d), |(i, j)| m[(d - 1 - i, d - 1 - j)])
    };
    let l = cholesky_lower(flip(p).view())?;
    Some(flip(l.view()))
}

/// `P = U U^T`.
pub fn precision_from_factor(u: ArrayView2<'_, f64>) -> Array2<f64> {
    u.dot(&u.t())
}

/// `S = (U U^T)^{-1} = U^{-T} U^{-1}` for an upper-triangular `U`.
pub fn covariance_from_factor(u: ArrayView2<'_, f64>) -> Array2<f64> {
    // U^T is lower triangular and (U^T)^{-1} = U^{-T}, so S = U^{-T} (U^{-T})^T.
    let lt_inv = invert_lower(u.t());
    lt_inv.dot(&lt_inv.t())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn close(a: &Array2<f64>, b: &Array2<f64>, tol: f64) -> bool {
        a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn cholesky_and_inverses_against_explicit_values() {
        let s = array![[4.0, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]];
        let l = cholesky_lower(s.view()).unwrap();
        assert!(close(&l.dot(&l.t()), &s, 1e-14));
        assert!(l[(0, 1)] == 0.0 && l[(0, 2)] == 0.0 && l[(1, 2)] == 0.0);
        let li = invert_lower(l.view());
        assert!(close(&li.dot(&l), &Array2::eye(3), 1e-14));
        // U from the covariance and from the precision agree, and U U^T S = I.
        let u = precision_factor_from_covariance(s.view()).unwrap();
        let p = precision_from_factor(u.view());
        assert!(close(&p.dot(&s), &Array2::eye(3), 1e-14));
        let u2 = precision_factor_from_precision(p.view()).unwrap();
        assert!(close(&u, &u2, 1e-13));
        assert!(u[(1, 0)] == 0.0 && u[(2, 0)] == 0.0 && u[(2, 1)] == 0.0);
        assert!(close(&covariance_from_factor(u.view()), &s, 1e-13));
        // Explicit 2 x 2 inverse as an oracle.
        let s2 = array![[2.0, 0.5], [0.5, 1.0]];
        let det = 2.0 * 1.0 - 0.25;
        let inv = array![[1.0 / det, -0.5 / det], [-0.5 / det, 2.0 / det]];
        let u = precision_factor_from_covariance(s2.view()).unwrap();
        assert!(close(&precision_from_factor(u.view()), &inv, 1e-14));
    }

    #[test]
    fn not_positive_definite_is_none() {
        assert!(cholesky_lower(array![[1.0, 2.0], [2.0, 1.0]].view()).is_none());
        assert!(cholesky_lower(array![[0.0]].view()).is_none());
        assert!(cholesky_lower(array![[f64::NAN]].view()).is_none());
    }
}
