//! Matrix products for the row-block kernels, by the `gemm` crate (pure Rust, SIMD kernels
//! chosen at run time, so no `target-cpu=native` is needed). Each call is sequential: the
//! parallelism is over row blocks, outside, so results do not depend on the thread count.
#![allow(unsafe_code)]

use crate::float::Float;
use ndarray::{ArrayView2, ArrayViewMut2};

/// `c = alpha * a b + beta * c`, with ndarray's `general_mat_mul` semantics (`beta = 0` ignores
/// the old `c`, even NaN). Shapes must agree: `a` is m x k, `b` k x n, `c` m x n.
pub(crate) fn matmul<F: Float>(
    alpha: F,
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, F>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "matmul: shapes {:?} x {:?} -> {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.mapv_inplace(|v| {
            if beta == F::zero() {
                F::zero()
            } else {
                beta * v
            }
        });
        return;
    }
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    let (c_rs, c_cs) = (c.strides()[0], c.strides()[1]);
    // SAFETY: the pointers come from live ndarray views whose dimensions and strides (in
    // elements) are passed unchanged, so every element gemm reads or writes is inside its view;
    // `c` is borrowed mutably and cannot alias `a` or `b`; F is f32 or f64 (sealed), types gemm
    // implements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            beta != F::zero(),
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `c = alpha * a b^T (+ c when accumulate)` on row-major slices: `a` is m x k, `b` n x k,
/// `c` m x n. The layout of every row-block kernel: data rows times parameter rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_nt<F: Float>(
    m: usize,
    n: usize,
    k: usize,
    alpha: F,
    a: &[F],
    b: &[F],
    accumulate: bool,
    c: &mut [F],
) {
    matmul_nt_strided(m, n, k, alpha, a, k, b, accumulate, c);
}

/// [`matmul_nt`] with `a`'s rows `lda >= k` elements apart (a column slice of a wider block).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_nt_strided<F: Float>(
    m: usize,
    n: usize,
    k: usize,
    alpha: F,
    a: &[F],
    lda: usize,
    b: &[F],
    accumulate: bool,
    c: &mut [F],
) {
    assert!(
        lda >= k
            && (m == 0 || a.len() >= (m - 1) * lda + k)
            && b.len() >= n * k
            && c.len() >= m * n,
        "matmul_nt: slices too short for {m} x {k} (row stride {lda}) times ({n} x {k})^T"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(F::zero());
        }
        return;
    }
    // SAFETY: the lengths were checked above, so with the row-major strides given every element
    // gemm touches is inside its slice; `c` is a unique borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            lda as isize,
            b.as_ptr(),
            k as isize,
            1,
            F::one(),
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn matches_ndarray_for_every_layout() {
        let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = array![[1.0, 0.5], [-1.0, 2.0], [0.25, 3.0]];
        let want = a.dot(&b);
        let mut c = Array2::from_elem((2, 2), f64::NAN);
        matmul(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert_eq!(c, want);
        // Transposed views and accumulation.
        let bt = b.t().to_owned();
        let mut c2 = Array2::ones((2, 2));
        matmul(2.0, &a.view(), &bt.t(), 1.0, &mut c2.view_mut());
        assert_eq!(c2, &want * 2.0 + 1.0);
        let a32 = a.mapv(|v| v as f32);
        let b32 = b.mapv(|v| v as f32);
        let mut c3 = Array2::<f32>::zeros((2, 2));
        matmul(1.0, &a32.view(), &b32.view(), 0.0, &mut c3.view_mut());
        assert_eq!(c3, want.mapv(|v| v as f32));
    }

    #[test]
    fn nt_product_on_slices() {
        let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = array![[1.0, -1.0, 0.25], [0.5, 2.0, 3.0]];
        let want = a.dot(&b.t());
        let mut c = vec![f64::NAN; 4];
        matmul_nt(
            2,
            2,
            3,
            1.0,
            a.as_slice().unwrap(),
            b.as_slice().unwrap(),
            false,
            &mut c,
        );
        assert_eq!(c, want.iter().copied().collect::<Vec<_>>());
        matmul_nt(
            2,
            2,
            3,
            -2.0,
            a.as_slice().unwrap(),
            b.as_slice().unwrap(),
            true,
            &mut c,
        );
        assert_eq!(c, want.iter().map(|v| -v).collect::<Vec<_>>());
    }
}
