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
    assert!(
        c.len() >= m * n && a.len() >= m * k && b.len() >= k * n,
        "matmul: buffers too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = match ta {
        Trans::No => (k as isize, 1),
        Trans::Yes => (1, m as isize),
    };
    let (b_rs, b_cs) = match tb {
        Trans::No => (n as isize, 1),
        Trans::Yes => (1, k as isize),
    };
    let threads = rayon::current_num_threads();
    let par = if threads > 1 && m * n * k >= PAR_MIN_WORK {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assert above guarantees every index the kernel reads or writes
    // (row * row_stride + col * col_stride, within the given dimensions) lies inside the
    // slices; `c` is borrowed mutably and does not alias `a` or `b`.
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
            a_cs,
            a_rs,
            b.as_ptr(),
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
