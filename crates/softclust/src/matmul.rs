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
}
