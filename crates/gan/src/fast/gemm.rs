//! A safe wrapper around the `gemm` crate's f32 kernel (the one burn's flex backend uses).

#![allow(unsafe_code)]

/// Which operand is transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Use the matrix as stored.
    No,
    /// Use its transpose.
    Yes,
}

/// Multiply-adds (`m * n * k`) from which a product runs on the thread pool.
pub const PAR_MIN_WORK: usize = 64 * 64 * 64;

/// `c = a' b'` (or `c += a' b'` when `accumulate`), where `a'` is `m x k` and `b'` is `k x n`
/// after the requested transposes; every matrix is a dense row-major slice. `a` is stored
/// `m x k` (or `k x m` when transposed), `b` `k x n` (or `n x k`), `c` `m x n`.
///
/// # Panics
/// When a slice is shorter than its dimensions require (a programming error, never user input).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    c: &mut [f32],
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    let threads = rayon::current_num_threads();
    let par = if threads > 1 && m * n * k >= PAR_MIN_WORK {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    partial_product(c, (a, ta), (b, tb), (m, k, n), 0..k, accumulate, par);
}

/// `c = a'[:, r] b'[r, :]` (or `c +=`) over the inner indices `r` only, as [`matmul`]
/// describes the operands.
///
/// # Panics
/// As [`matmul`], or when `r` is not within `0..k`.
fn partial_product(
    c: &mut [f32],
    (a, ta): (&[f32], Trans),
    (b, tb): (&[f32], Trans),
    (m, k, n): (usize, usize, usize),
    r: std::ops::Range<usize>,
    accumulate: bool,
    par: gemm::Parallelism,
) {
    assert!(
        c.len() >= m * n && a.len() >= m * k && b.len() >= k * n && r.start <= r.end && r.end <= k,
        "matmul: buffers too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    if r.is_empty() {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    // row stride, column stride, and the offset of inner index p
    let (a_rs, a_cs, a_at) = match ta {
        Trans::No => (k as isize, 1, r.start),
        Trans::Yes => (1, m as isize, r.start * m),
    };
    let (b_rs, b_cs, b_at) = match tb {
        Trans::No => (n as isize, 1, r.start * n),
        Trans::Yes => (1, k as isize, r.start),
    };
    // SAFETY: the assert above guarantees every index the kernel reads or writes (from the
    // offset of r.start, row * row_stride + col * col_stride within the given dimensions and
    // r.len() inner indices) lies inside the slices; `c` is borrowed mutably and does not
    // alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            r.len(),
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr().add(a_at),
            a_cs,
            a_rs,
            b.as_ptr().add(b_at),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Length of the inner dimension each part of [`matmul_split_k`] covers at least.
pub const SPLIT_K_MIN: usize = 2048;
/// Most parts [`matmul_split_k`] cuts the inner dimension into.
pub const SPLIT_K_PARTS: usize = 4;

/// [`matmul`] for a small product over a long inner dimension (a convolution's weight
/// gradient: `m x n` is a weight, `k` every output position of the batch), where the
/// kernel's own threading, which splits `c`, finds little to split. The inner dimension is
/// cut into up to [`SPLIT_K_PARTS`] parts of at least [`SPLIT_K_MIN`], fixed by the shapes
/// (never by the thread count, so results do not depend on it); each part's product runs
/// on one thread, and the parts are added in order.
///
/// # Panics
/// As [`matmul`].
#[allow(clippy::too_many_arguments)]
pub fn matmul_split_k(
    c: &mut [f32],
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    use rayon::prelude::*;
    let parts = (k / SPLIT_K_MIN).clamp(1, SPLIT_K_PARTS);
    if parts == 1 {
        return matmul(c, a, ta, b, tb, m, k, n, accumulate);
    }
    let per = k.div_ceil(parts);
    let products: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut out = vec![0f32; m * n];
            let r = (part * per).min(k)..((part + 1) * per).min(k);
            let none = gemm::Parallelism::None;
            partial_product(&mut out, (a, ta), (b, tb), (m, k, n), r, false, none);
            out
        })
        .collect();
    let c = &mut c[..m * n];
    if !accumulate {
        c.fill(0.0);
    }
    for p in &products {
        for (x, &v) in c.iter_mut().zip(p) {
            *x += v;
        }
    }
}

/// `c += a b'` for `a` `m x k` and `b` `n x k`, both row-major with a long inner dimension
/// (a convolution's weight gradient: `c` the weight, `k` every output position of the
/// batch). Computed as `(b a')'`, so that the larger operand `b` is read along its rows,
/// in [`matmul_split_k`]'s parts, and the small product is added transposed.
pub fn matmul_nt_accumulate(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    let mut t = vec![0f32; n * m];
    matmul_split_k(&mut t, b, Trans::No, a, Trans::Yes, n, k, m, false);
    for (i, row) in c[..m * n].chunks_mut(n).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x += t[j * m + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], ta: Trans, b: &[f32], tb: Trans, m: usize, k: usize, n: usize) -> Vec<f32> {
        let at = |i: usize, p: usize| {
            if ta == Trans::No {
                a[i * k + p]
            } else {
                a[p * m + i]
            }
        };
        let bt = |p: usize, j: usize| {
            if tb == Trans::No {
                b[p * n + j]
            } else {
                b[j * k + p]
            }
        };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn a_product_split_along_its_inner_dimension_matches_a_naive_product() {
        // k long enough for 3 parts (the last one shorter), every transpose combination
        let (m, k, n) = (5, 2 * SPLIT_K_MIN + 37, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for ta in [Trans::No, Trans::Yes] {
            for tb in [Trans::No, Trans::Yes] {
                let want = naive(&a, ta, &b, tb, m, k, n);
                let mut c = vec![1.0; m * n];
                matmul_split_k(&mut c, &a, ta, &b, tb, m, k, n, false);
                for (x, y) in c.iter().zip(&want) {
                    assert!(
                        (x - y).abs() < 1e-3 * (1.0 + y.abs()),
                        "{ta:?} {tb:?}: {x} vs {y}"
                    );
                }
                matmul_split_k(&mut c, &a, ta, &b, tb, m, k, n, true);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 2.0 * y).abs() < 2e-3 * (1.0 + y.abs()), "accumulate");
                }
            }
        }
    }

    #[test]
    fn the_transposed_weight_gradient_product_accumulates_a_b_transposed() {
        for (m, k, n) in [(3, 7, 5), (4, 2 * SPLIT_K_MIN + 5, 6)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect();
            let want = naive(&a, Trans::No, &b, Trans::Yes, m, k, n);
            let mut c: Vec<f32> = (0..m * n).map(|i| i as f32).collect();
            matmul_nt_accumulate(&mut c, &a, &b, m, k, n);
            for (i, (x, y)) in c.iter().zip(&want).enumerate() {
                let y = y + i as f32;
                assert!(
                    (x - y).abs() < 1e-3 * (1.0 + y.abs()),
                    "{m}x{k}x{n}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn all_transpose_combinations_match_a_naive_product() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for ta in [Trans::No, Trans::Yes] {
            for tb in [Trans::No, Trans::Yes] {
                let mut c = vec![1.0; m * n];
                matmul(&mut c, &a, ta, &b, tb, m, k, n, false);
                let want = naive(&a, ta, &b, tb, m, k, n);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-5, "{ta:?} {tb:?}");
                }
                matmul(&mut c, &a, ta, &b, tb, m, k, n, true);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 2.0 * y).abs() < 1e-5, "accumulate {ta:?} {tb:?}");
                }
            }
        }
    }
}
