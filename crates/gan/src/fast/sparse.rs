//! The backward pass of a maxout layer with dropout, as the sparse product it is.
//!
//! A maxout unit passes its gradient to one piece only (the winner), and dropout on its output
//! zeroes half of the units: with 5 pieces and keep 0.5, 90% of the gradient w.r.t. the
//! pre-maxout values `dz` (`[rows, units * pieces]`) is zero. The dense backward pass
//! multiplies those zeros anyway (`x^T dz` for the weights, `dz W^T` for the input). Here
//! the nonzeros are listed once per layer ([`MaxoutGrad::build`]), both by row and by
//! column, and each product becomes a sum of scaled rows:
//!
//! - weight gradient, stored `[d_out, d_in]`: row `j` is `sum_r dz[r, j] x[r, :]`;
//! - input gradient `[rows, d_in]`: row `r` is `sum_j dz[r, j] W^T[j, :]`, with the weights
//!   stored `[d_out, d_in]` so that `W^T[j, :]` is contiguous.
//!
//! About a tenth of the multiply-adds of the dense form for the paper's discriminator. Each
//! output element is one sum in a fixed order whatever the thread count, so results do not
//! depend on it; they match the dense GEMM to float32 rounding (a test checks both against
//! a float64 product).

#![allow(unsafe_code)]

use rayon::prelude::*;

/// Columns per register block of the AVX-512 kernel (8 registers of 16).
const BLOCK: usize = 128;

/// The nonzero entries of one maxout layer's `dz`, by row and by column.
#[derive(Clone, Debug, Default)]
pub struct MaxoutGrad {
    /// Row `r`'s entries are `row_start[r]..row_start[r + 1]` of `row_col` / `row_val`.
    row_start: Vec<u32>,
    row_col: Vec<u32>,
    row_val: Vec<f32>,
    /// Column `j`'s entries are `col_start[j]..col_start[j + 1]` of `col_row` / `col_val`,
    /// in increasing row order.
    col_start: Vec<u32>,
    col_row: Vec<u32>,
    col_val: Vec<f32>,
    /// Scratch of the counting sort.
    next: Vec<u32>,
    rows: usize,
    cols: usize,
}

impl MaxoutGrad {
    /// Lists the nonzeros of `dz[r, arg[r, u] * units + u] = da[r, u] * mask[r, u]` for
    /// `rows` rows (the layer's outputs stored piece-major): `da` is `[rows, units]`; `arg`
    /// (winning pieces) and `mask` (dropout factors, empty for none) are indexed from row
    /// `r0`.
    ///
    /// # Panics
    /// When a slice is shorter than its dimensions (a programming error).
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &mut self,
        da: &[f32],
        mask: &[f32],
        arg: &[u8],
        r0: usize,
        rows: usize,
        units: usize,
        pieces: usize,
    ) {
        let cols = units * pieces;
        assert!(
            pieces <= 256 && cols < u32::MAX as usize && rows < u32::MAX as usize,
            "MaxoutGrad::build: sizes"
        );
        assert!(
            da.len() >= rows * units
                && arg.len() >= (r0 + rows) * units
                && (mask.is_empty() || mask.len() >= (r0 + rows) * units),
            "MaxoutGrad::build: shapes"
        );
        self.rows = rows;
        self.cols = cols;
        // branch-free compaction: write every entry, advance past the nonzero ones
        self.row_col.resize(rows * units, 0);
        self.row_val.resize(rows * units, 0.0);
        self.row_start.clear();
        self.row_start.push(0);
        let mut counts = std::mem::take(&mut self.col_start);
        counts.clear();
        counts.resize(cols + 1, 0);
        let mut n = 0;
        for r in 0..rows {
            let g = &da[r * units..(r + 1) * units];
            let a = &arg[(r0 + r) * units..(r0 + r + 1) * units];
            let k = if mask.is_empty() {
                None
            } else {
                Some(&mask[(r0 + r) * units..(r0 + r + 1) * units])
            };
            for u in 0..units {
                let v = g[u] * k.map_or(1.0, |k| k[u]);
                let j = a[u] as usize * units + u;
                self.row_col[n] = j as u32;
                self.row_val[n] = v;
                let nz = usize::from(v != 0.0);
                counts[j + 1] += nz as u32;
                n += nz;
            }
            self.row_start.push(n as u32);
        }
        self.row_col.truncate(n);
        self.row_val.truncate(n);
        // counting sort by column; rows are visited in order, so each column stays row-sorted
        for j in 0..cols {
            counts[j + 1] += counts[j];
        }
        self.col_row.resize(n, 0);
        self.col_val.resize(n, 0.0);
        let mut next = std::mem::take(&mut self.next);
        next.clear();
        next.extend_from_slice(&counts[..cols]);
        for r in 0..rows {
            for e in self.row_start[r] as usize..self.row_start[r + 1] as usize {
                let j = self.row_col[e] as usize;
                let at = next[j] as usize;
                next[j] += 1;
                self.col_row[at] = r as u32;
                self.col_val[at] = self.row_val[e];
            }
        }
        self.next = next;
        self.col_start = counts;
    }

    /// Share of nonzero entries.
    pub fn density(&self) -> f64 {
        self.row_col.len() as f64 / (self.rows * self.cols).max(1) as f64
    }

    /// Weight and bias gradients: `gw[j, :] = sum_r dz[r, j] x[r, :]` (`gw` stored
    /// `[d_out, d_in]`) and `gb[j] = sum_r dz[r, j]`, for `x` `[rows, d_in]`.
    ///
    /// # Panics
    /// When a slice is shorter than its dimensions (a programming error).
    pub fn weight_grads(&self, gw: &mut [f32], gb: &mut [f32], x: &[f32], d_in: usize) {
        assert!(
            gw.len() >= self.cols * d_in && gb.len() >= self.cols && x.len() >= self.rows * d_in,
            "MaxoutGrad::weight_grads: shapes"
        );
        for (j, b) in gb[..self.cols].iter_mut().enumerate() {
            let (s, e) = (self.col_start[j] as usize, self.col_start[j + 1] as usize);
            *b = self.col_val[s..e].iter().fold(0.0, |acc, v| acc + v);
        }
        combine(
            &mut gw[..self.cols * d_in],
            &self.col_start,
            &self.col_row,
            &self.col_val,
            &x[..self.rows * d_in],
            d_in,
        );
    }

    /// Input gradient `dx[r, :] = sum_j dz[r, j] wt[j, :]` (`dx` `[rows, d_in]`) for weights
    /// stored `[d_out, d_in]`.
    ///
    /// # Panics
    /// When a slice is shorter than its dimensions (a programming error).
    pub fn input_grads(&self, dx: &mut [f32], wt: &[f32], d_in: usize) {
        assert!(
            dx.len() >= self.rows * d_in && wt.len() >= self.cols * d_in,
            "MaxoutGrad::input_grads: shapes"
        );
        combine(
            &mut dx[..self.rows * d_in],
            &self.row_start,
            &self.row_col,
            &self.row_val,
            &wt[..self.cols * d_in],
            d_in,
        );
    }
}

/// Multiply-adds (entries times width) from which a sparse product is split across threads.
pub const PAR_MIN_WORK: usize = 1 << 16;

/// `out[i, :] = sum_{e in start[i]..start[i + 1]} val[e] src[idx[e], :]` for every row `i`
/// of `out`, all rows `width` wide. Rows are split across the thread pool by entry count;
/// within a part, a block of columns of every row is done before the next block, so the
/// block of `src` stays in cache.
fn combine(out: &mut [f32], start: &[u32], idx: &[u32], val: &[f32], src: &[f32], width: usize) {
    let n = out.len() / width.max(1);
    if n == 0 || width == 0 {
        return;
    }
    let nnz = start[n] as usize;
    let threads = rayon::current_num_threads();
    let parts = if threads > 1 && nnz * width >= PAR_MIN_WORK {
        threads * 2
    } else {
        1
    };
    // cut rows into `parts` runs of about equal entry counts
    let mut cuts = vec![0usize];
    for p in 1..parts {
        let target = (nnz * p / parts) as u32;
        let r = start[..=n].partition_point(|&s| s < target).min(n);
        if r > *cuts.last().unwrap_or(&0) {
            cuts.push(r);
        }
    }
    cuts.push(n);
    let mut pieces = Vec::with_capacity(cuts.len());
    let mut rest = out;
    for w in cuts.windows(2) {
        let (head, tail) = rest.split_at_mut((w[1] - w[0]) * width);
        pieces.push((w[0], head));
        rest = tail;
    }
    let last = idx[..nnz].iter().copied().max().unwrap_or(0) as usize;
    assert!(
        nnz == 0 || (last + 1) * width <= src.len(),
        "combine: index out of range"
    );
    let avx = avx512();
    pieces.into_par_iter().for_each(|(r0, part)| {
        let rows = part.len() / width;
        for c0 in (0..width).step_by(BLOCK) {
            let len = BLOCK.min(width - c0);
            for i in 0..rows {
                let (s, e) = (start[r0 + i] as usize, start[r0 + i + 1] as usize);
                let o = &mut part[i * width + c0..i * width + c0 + len];
                // SAFETY: `avx` comes from runtime detection and every index was checked
                // against `src` above.
                unsafe { block(o, &idx[s..e], &val[s..e], src, width, c0, avx) };
            }
        }
    });
}

/// Whether this process runs the AVX-512 kernel ([`crate::fast::cpu::Simd::active`]).
fn avx512() -> bool {
    crate::fast::cpu::Simd::active().avx512f
}

/// `out[..] = sum_e val[e] src[idx[e] * width + c0..][..out.len()]` (`out.len() <= BLOCK`).
///
/// # Safety
/// `avx` only where the CPU has AVX-512F, and `(idx[e] + 1) * width <= src.len()` for every
/// entry (the portable path checks its reads; the AVX-512 one does not).
unsafe fn block(
    out: &mut [f32],
    idx: &[u32],
    val: &[f32],
    src: &[f32],
    width: usize,
    c0: usize,
    avx: bool,
) {
    debug_assert!(out.len() <= BLOCK && c0 + out.len() <= width);
    #[cfg(target_arch = "x86_64")]
    if avx {
        // SAFETY: AVX-512F is present (`avx`, from runtime detection); every row read lies
        // inside `src` (this function's contract).
        unsafe { block_avx512(out, idx, val, src, width, c0) };
        return;
    }
    let _ = avx;
    block_portable(out, idx, val, src, width, c0);
}

fn block_portable(out: &mut [f32], idx: &[u32], val: &[f32], src: &[f32], width: usize, c0: usize) {
    let len = out.len();
    let mut acc = [0f32; BLOCK];
    for (&r, &v) in idx.iter().zip(val) {
        let s = &src[r as usize * width + c0..][..len];
        for (a, x) in acc.iter_mut().zip(s) {
            *a += v * x;
        }
    }
    out.copy_from_slice(&acc[..len]);
}

/// # Safety
/// The CPU must support AVX-512F; every `idx[e] * width + c0 + out.len() <= src.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(
    out: &mut [f32],
    idx: &[u32],
    val: &[f32],
    src: &[f32],
    width: usize,
    c0: usize,
) {
    let len = out.len();
    let full = len / 16;
    let tail = len % 16;
    // SAFETY (all three arms): the caller's contract bounds every read; stores stay inside
    // `out` (`full` whole vectors, then a masked one of `tail` lanes).
    unsafe {
        match full + usize::from(tail > 0) {
            8 => kernel::<8>(out, idx, val, src, width, c0, tail),
            7 => kernel::<7>(out, idx, val, src, width, c0, tail),
            6 => kernel::<6>(out, idx, val, src, width, c0, tail),
            5 => kernel::<5>(out, idx, val, src, width, c0, tail),
            4 => kernel::<4>(out, idx, val, src, width, c0, tail),
            3 => kernel::<3>(out, idx, val, src, width, c0, tail),
            2 => kernel::<2>(out, idx, val, src, width, c0, tail),
            _ => kernel::<1>(out, idx, val, src, width, c0, tail),
        }
    }
}

/// `NV` registers of 16 accumulators; the last one masked to `tail` lanes when `tail > 0`.
///
/// # Safety
/// As [`block_avx512`], and `out.len() == (NV - 1) * 16 + (tail or 16)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel<const NV: usize>(
    out: &mut [f32],
    idx: &[u32],
    val: &[f32],
    src: &[f32],
    width: usize,
    c0: usize,
    tail: usize,
) {
    use std::arch::x86_64::*;
    let m: __mmask16 = if tail == 0 {
        0xffff
    } else {
        ((1u32 << tail) - 1) as __mmask16
    };
    let mut acc = [_mm512_setzero_ps(); NV];
    let base = src.as_ptr();
    for (&r, &v) in idx.iter().zip(val) {
        let c = _mm512_set1_ps(v);
        // SAFETY: row `r` of `src` holds `c0 + out.len()` values from its start (contract).
        unsafe {
            let p = base.add(r as usize * width + c0);
            for (k, a) in acc.iter_mut().enumerate() {
                let x = if k + 1 == NV {
                    _mm512_maskz_loadu_ps(m, p.add(16 * k))
                } else {
                    _mm512_loadu_ps(p.add(16 * k))
                };
                *a = _mm512_fmadd_ps(c, x, *a);
            }
        }
    }
    let o = out.as_mut_ptr();
    for (k, a) in acc.iter().enumerate() {
        // SAFETY: vector `k` covers out[16k..16k+16] (the last one masked to its length).
        unsafe {
            if k + 1 == NV {
                _mm512_mask_storeu_ps(o.add(16 * k), m, *a);
            } else {
                _mm512_storeu_ps(o.add(16 * k), *a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A maxout layer's dz as a dense matrix, with its winners and dropout.
    struct Case {
        da: Vec<f32>,
        mask: Vec<f32>,
        arg: Vec<u8>,
        dz: Vec<f64>,
    }

    fn case(rows: usize, units: usize, pieces: usize, r0: usize, rng: &mut Rng) -> Case {
        let total = r0 + rows;
        let da: Vec<f32> = (0..rows * units).map(|_| rng.normal()).collect();
        let mask: Vec<f32> = (0..total * units)
            .map(|_| if rng.uniform() < 0.5 { 2.0 } else { 0.0 })
            .collect();
        let arg: Vec<u8> = (0..total * units)
            .map(|_| rng.below(pieces) as u8)
            .collect();
        let mut dz = vec![0f64; rows * units * pieces];
        for r in 0..rows {
            for u in 0..units {
                let j = arg[(r0 + r) * units + u] as usize * units + u;
                dz[r * units * pieces + j] =
                    da[r * units + u] as f64 * mask[(r0 + r) * units + u] as f64;
            }
        }
        Case { da, mask, arg, dz }
    }

    fn close(got: &[f32], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 * scale,
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn sparse_products_match_the_dense_float64_products() {
        let mut rng = Rng::new(7);
        // widths around the register block (16, 128) and the paper's 784 and 240
        for (rows, units, pieces, d_in, r0) in [
            (7, 5, 3, 33, 0),
            (20, 12, 5, 240, 4),
            (9, 3, 2, 128, 2),
            (30, 24, 5, 784, 10),
            (4, 6, 1, 17, 0),
        ] {
            let c = case(rows, units, pieces, r0, &mut rng);
            let d_out = units * pieces;
            let x: Vec<f32> = (0..rows * d_in).map(|_| rng.normal()).collect();
            let wt: Vec<f32> = (0..d_out * d_in).map(|_| rng.normal()).collect();
            let mut g = MaxoutGrad::default();
            g.build(&c.da, &c.mask, &c.arg, r0, rows, units, pieces);
            let nnz = c.dz.iter().filter(|v| **v != 0.0).count();
            assert!((g.density() - nnz as f64 / c.dz.len() as f64).abs() < 1e-12);
            // references: gw[j, k] = sum_r dz[r, j] x[r, k]; dx[r, k] = sum_j dz[r, j] wt[j, k]
            let mut gw_ref = vec![0f64; d_out * d_in];
            let mut gb_ref = vec![0f64; d_out];
            let mut dx_ref = vec![0f64; rows * d_in];
            for r in 0..rows {
                for j in 0..d_out {
                    let v = c.dz[r * d_out + j];
                    gb_ref[j] += v;
                    for k in 0..d_in {
                        gw_ref[j * d_in + k] += v * x[r * d_in + k] as f64;
                        dx_ref[r * d_in + k] += v * wt[j * d_in + k] as f64;
                    }
                }
            }
            let tag = format!("rows {rows} units {units} pieces {pieces} d_in {d_in}");
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("pool");
                // stale values in the outputs must be overwritten
                let mut gw = vec![9.0f32; d_out * d_in];
                let mut gb = vec![9.0f32; d_out];
                let mut dx = vec![9.0f32; rows * d_in];
                pool.install(|| {
                    g.weight_grads(&mut gw, &mut gb, &x, d_in);
                    g.input_grads(&mut dx, &wt, d_in);
                });
                close(&gw, &gw_ref, &format!("gw {tag}"));
                close(&gb, &gb_ref, &format!("gb {tag}"));
                close(&dx, &dx_ref, &format!("dx {tag}"));
            }
        }
    }

    /// `block` with the given kernel on rows 3, 0, 10, 3 (twice), 7 of random sources of
    /// widths around the register and column blocks, with the float64 products beside it.
    fn blocks(avx: bool) -> Vec<(usize, Vec<f32>, Vec<f64>)> {
        let mut rng = Rng::new(3);
        let mut out = Vec::new();
        for width in [1, 15, 16, 17, 100, 128, 130, 784] {
            let rows = 11;
            let src: Vec<f32> = (0..rows * width).map(|_| rng.normal()).collect();
            let idx: Vec<u32> = vec![3, 0, 10, 3, 7];
            let val: Vec<f32> = (0..idx.len()).map(|_| rng.normal()).collect();
            for c0 in (0..width).step_by(BLOCK) {
                let len = BLOCK.min(width - c0);
                let mut got = vec![5f32; len];
                // SAFETY: every index is below `rows`; `avx` is only asked where the CPU has
                // AVX-512F (the callers check).
                unsafe { block(&mut got, &idx, &val, &src, width, c0, avx) };
                let want: Vec<f64> = (0..len)
                    .map(|c| {
                        idx.iter()
                            .zip(&val)
                            .map(|(&r, &v)| v as f64 * src[r as usize * width + c0 + c] as f64)
                            .sum()
                    })
                    .collect();
                out.push((width, got, want));
            }
        }
        out
    }

    #[test]
    fn portable_kernel_matches_the_float64_products() {
        for (width, got, want) in blocks(false) {
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "width {width}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    #[cfg_attr(not(gan_cpu_avx512), ignore = "this CPU has no AVX-512F")]
    fn avx512_kernel_matches_the_portable_one() {
        assert!(
            crate::fast::cpu::Simd::detected().avx512f,
            "built on a CPU with AVX-512F, running on one without: rebuild"
        );
        for ((width, a, _), (_, b, want)) in blocks(false).into_iter().zip(blocks(true)) {
            for ((x, y), w) in a.iter().zip(&b).zip(&want) {
                // both sum the same five products in the same order, a few roundings apart
                // (the AVX-512 kernel fuses multiply and add)
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + w.abs() as f32),
                    "width {width}: {x} vs {y}"
                );
            }
        }
    }
}
