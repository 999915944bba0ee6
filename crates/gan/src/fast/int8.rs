//! Exact integer dot products of byte rows (`u8`) with signed byte rows (`i8`), on AVX-512
//! VNNI (`vpdpbusd`: 64 multiply-adds per instruction, four times the float32 FMA rate).
//!
//! Used by the Parzen-window protocol to find, cheaply, which kernels can matter for each
//! test image (see [`crate::eval::parzen`]); every distance that reaches a number is then
//! computed exactly, in float64.
//!
//! Layout: the `i8` rows are packed into panels of [`LANES`] rows, the depth in groups of 4
//! bytes (`[panel][depth / 4][lane][4]`), so one 64-byte load feeds one `vpdpbusd` with 16
//! rows' next 4 bytes, and 4 bytes of a `u8` row are broadcast against it.

#![allow(unsafe_code)]

/// Rows per packed panel (i32 lanes of a 512-bit register).
pub const LANES: usize = 16;
/// `u8` rows per micro-kernel call.
const MR: usize = 8;
/// `u8` rows per cache block (they stay in L2 while every panel streams past them).
const BLOCK: usize = 64;

/// Which implementation of [`dots`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust, any CPU: the reference the VNNI kernel is tested against.
    Portable,
    /// The AVX-512 VNNI micro-kernel (`vpdpbusd`).
    Vnni,
}

impl Kernel {
    /// Whether this CPU can run the kernel.
    pub fn runs_here(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::Vnni => crate::fast::cpu::Simd::detected().avx512vnni,
        }
    }
}

/// Whether this process runs the VNNI kernel (the CPU has it and `GAN_SIMD` does not rule
/// it out).
pub fn available() -> bool {
    crate::fast::cpu::Simd::active().avx512vnni
}

/// `n` rows of `depth` signed bytes, packed for [`dots`].
#[derive(Clone, Debug)]
pub struct PackedI8 {
    data: Vec<i8>,
    n: usize,
    depth4: usize,
}

impl PackedI8 {
    /// Packs `rows` (`n * depth` values, row-major); the depth is zero-padded to a multiple
    /// of 4 and the row count to a multiple of `2 * LANES`.
    ///
    /// # Panics
    /// When `rows.len() != n * depth` (a programming error).
    pub fn pack(rows: &[i8], n: usize, depth: usize) -> Self {
        assert_eq!(rows.len(), n * depth, "PackedI8::pack: shape");
        let depth4 = depth.div_ceil(4);
        let panels = n.div_ceil(2 * LANES) * 2;
        let mut data = vec![0i8; panels * depth4 * LANES * 4];
        for (j, row) in rows.chunks_exact(depth.max(1)).enumerate().take(n) {
            let (p, lane) = (j / LANES, j % LANES);
            let base = p * depth4 * LANES * 4 + lane * 4;
            for (t, quad) in row.chunks(4).enumerate() {
                let at = base + t * LANES * 4;
                data[at..at + quad.len()].copy_from_slice(quad);
            }
        }
        Self { data, n, depth4 }
    }

    /// Number of rows packed.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Row stride of the output of [`dots`] (rows rounded up to a multiple of `2 * LANES`).
    pub fn stride(&self) -> usize {
        self.n.div_ceil(2 * LANES) * 2 * LANES
    }
}

/// `u8` rows zero-padded to a depth that is a multiple of 4 and a row count that is a
/// multiple of the micro-kernel's, as [`dots`] reads them.
#[derive(Clone, Debug)]
pub struct PaddedU8 {
    data: Vec<u8>,
    m: usize,
    depth4: usize,
}

impl PaddedU8 {
    /// Copies `m` rows of `depth` bytes.
    ///
    /// # Panics
    /// When `rows.len() != m * depth` (a programming error).
    pub fn new(rows: &[u8], m: usize, depth: usize) -> Self {
        assert_eq!(rows.len(), m * depth, "PaddedU8::new: shape");
        let depth4 = depth.div_ceil(4);
        // one spare tile of rows, so a micro-kernel may start at any row
        let mut data = vec![0u8; (m.div_ceil(MR) + 1) * MR * depth4 * 4];
        for (i, row) in rows.chunks_exact(depth.max(1)).enumerate().take(m) {
            data[i * depth4 * 4..i * depth4 * 4 + depth].copy_from_slice(row);
        }
        Self { data, m, depth4 }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.m
    }
}

/// `out[i * b.stride() + j] = sum_t a[i][t] * b[j][t]` (exact, i32) for rows `rows` of `a`
/// (relative index `i`) and every row `j` of `b`; `out` holds `rows.len() * b.stride()`
/// values (entries past `b.rows()` in a row are zero). Single-threaded: callers split rows.
///
/// Exact as long as `depth * 255 * 128 < 2^31` (depth below 65,000). Both kernels give the
/// same integers.
///
/// # Panics
/// When the depths differ, `out` is too small, `rows` is out of range, or `kernel` cannot
/// run on this CPU ([`Kernel::runs_here`]): programming errors.
pub fn dots(
    kernel: Kernel,
    out: &mut [i32],
    a: &PaddedU8,
    rows: std::ops::Range<usize>,
    b: &PackedI8,
) {
    assert_eq!(a.depth4, b.depth4, "int8 dots: depths differ");
    assert!(rows.end <= a.m, "int8 dots: rows out of range");
    assert!(a.depth4 * 4 < 65_000, "int8 dots: depth too large for i32");
    let stride = b.stride();
    let m = rows.len();
    assert!(out.len() >= m * stride, "int8 dots: output too small");
    assert!(kernel.runs_here(), "int8 dots: the CPU has no AVX-512 VNNI");
    if kernel == Kernel::Portable {
        portable(out, a, rows, b);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let row_bytes = a.depth4 * 4;
        let panel = b.depth4 * LANES * 4;
        for block in (0..m).step_by(BLOCK) {
            let block_end = (block + BLOCK).min(m);
            for pp in (0..stride / LANES).step_by(2) {
                let b0 = &b.data[pp * panel..(pp + 2) * panel];
                for r in (block..block_end).step_by(MR) {
                    let a_at = (rows.start + r) * row_bytes;
                    let a_rows = &a.data[a_at..a_at + MR * row_bytes];
                    let mut tile = [0i32; MR * 2 * LANES];
                    // SAFETY: `runs_here()` was checked above; the kernel reads
                    // `MR * row_bytes` bytes of `a_rows` and `2 * panel` bytes of `b0`, which
                    // the slices hold (PaddedU8 pads rows to a multiple of MR).
                    unsafe { vnni_kernel(&mut tile, a_rows, b0, a.depth4) };
                    let live = (block_end - r).min(MR);
                    for (i, t) in tile.chunks_exact(2 * LANES).take(live).enumerate() {
                        let at = (r + i) * stride + pp * LANES;
                        out[at..at + 2 * LANES].copy_from_slice(t);
                    }
                }
            }
        }
    }
}

/// [`dots`] in plain Rust over the same packed layout: for each row of `a` and each panel of
/// 16 rows of `b`, the 16 lanes accumulate 4 bytes per depth group (the loop over lanes
/// vectorizes with whatever the target has).
fn portable(out: &mut [i32], a: &PaddedU8, rows: std::ops::Range<usize>, b: &PackedI8) {
    let stride = b.stride();
    let row_bytes = a.depth4 * 4;
    let panel = b.depth4 * LANES * 4;
    for (r, i) in rows.enumerate() {
        let ar = &a.data[i * row_bytes..(i + 1) * row_bytes];
        for p in 0..stride / LANES {
            let bp = &b.data[p * panel..(p + 1) * panel];
            let mut acc = [0i32; LANES];
            for (quad, group) in ar.chunks_exact(4).zip(bp.chunks_exact(LANES * 4)) {
                for (lane, col) in acc.iter_mut().zip(group.chunks_exact(4)) {
                    *lane += quad[0] as i32 * col[0] as i32
                        + quad[1] as i32 * col[1] as i32
                        + quad[2] as i32 * col[2] as i32
                        + quad[3] as i32 * col[3] as i32;
                }
            }
            out[r * stride + p * LANES..r * stride + (p + 1) * LANES].copy_from_slice(&acc);
        }
    }
}

/// The 8 x 32 micro-kernel: 16 accumulators, two 64-byte panel loads and eight 4-byte
/// broadcasts per group of 4 depth bytes.
///
/// # Safety
/// The CPU must support AVX-512F and VNNI; `a` holds `MR * depth4 * 4` bytes and `b`
/// `2 * depth4 * 64` bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni_kernel(tile: &mut [i32; MR * 2 * LANES], a: &[u8], b: &[i8], depth4: usize) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= MR * depth4 * 4 && b.len() >= 2 * depth4 * 64);
    let row = depth4 * 4;
    let second = depth4 * 64;
    let mut acc = [_mm512_setzero_si512(); MR * 2];
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    for t in 0..depth4 {
        // SAFETY: t < depth4, so both panel loads and every 4-byte read stay inside the
        // slices (lengths asserted by the caller's contract above).
        unsafe {
            let v0 = _mm512_loadu_si512(pb.add(t * 64) as *const _);
            let v1 = _mm512_loadu_si512(pb.add(second + t * 64) as *const _);
            for i in 0..MR {
                let q = (pa.add(i * row + t * 4) as *const i32).read_unaligned();
                let x = _mm512_set1_epi32(q);
                acc[2 * i] = _mm512_dpbusd_epi32(acc[2 * i], x, v0);
                acc[2 * i + 1] = _mm512_dpbusd_epi32(acc[2 * i + 1], x, v1);
            }
        }
    }
    for (i, v) in acc.iter().enumerate() {
        // SAFETY: each store writes 16 i32 inside `tile` (MR * 2 chunks of 16).
        unsafe { _mm512_storeu_si512(tile.as_mut_ptr().add(i * LANES) as *mut _, *v) };
    }
}

/// Per-row constants of an interval test on squared distances computed from integer dot
/// products (the Parzen screening): for row `j`,
/// `approx_j = x_sq + sq[j] - c[j] * l1 - s[j] * dot_j` and
/// `err_j = min(l1 * rm[j], l2 * rn[j]) + rel * (x_sq + sq[j]) + abs`.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// Squared norms of the rows.
    pub sq: Vec<f32>,
    /// Coefficient of the point's L1 norm.
    pub c: Vec<f32>,
    /// Coefficient of the integer dot product.
    pub s: Vec<f32>,
    /// Coefficient of the point's L1 norm in the error bound.
    pub rm: Vec<f32>,
    /// Coefficient of the point's L2 norm in the error bound.
    pub rn: Vec<f32>,
    /// Relative slack for float rounding.
    pub rel: f32,
    /// Absolute slack for float rounding.
    pub abs: f32,
}

impl Bounds {
    /// Writes `lower[j] = approx_j - err_j` for every row and returns `min_j approx_j + err_j`.
    /// Runs AVX-512 code when `avx512` (the same arithmetic either way).
    ///
    /// # Panics
    /// When `lower` or `dots` is shorter than the rows, or `avx512` is asked of a CPU without
    /// AVX-512F (programming errors).
    pub fn lower(
        &self,
        avx512: bool,
        lower: &mut [f32],
        dots: &[i32],
        x_sq: f32,
        l1: f32,
        l2: f32,
    ) -> f32 {
        let n = self.sq.len();
        assert!(lower.len() >= n && dots.len() >= n, "Bounds::lower: shapes");
        assert!(
            !avx512 || crate::fast::cpu::Simd::detected().avx512f,
            "Bounds::lower: the CPU has no AVX-512F"
        );
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: AVX-512F is present (asserted above).
            return unsafe { self.lower_avx512(lower, dots, x_sq, l1, l2) };
        }
        self.lower_body(lower, dots, x_sq, l1, l2)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn lower_avx512(
        &self,
        lower: &mut [f32],
        dots: &[i32],
        x_sq: f32,
        l1: f32,
        l2: f32,
    ) -> f32 {
        self.lower_body(lower, dots, x_sq, l1, l2)
    }

    #[inline(always)]
    fn lower_body(&self, lower: &mut [f32], dots: &[i32], x_sq: f32, l1: f32, l2: f32) -> f32 {
        let n = self.sq.len();
        let full = n / LANES * LANES;
        let mut best = [f32::INFINITY; LANES];
        for j in (0..full).step_by(LANES) {
            let lo: &mut [f32; LANES] = (&mut lower[j..j + LANES]).try_into().expect("lanes");
            let up = self.one::<LANES>(j, lo, dots, x_sq, l1, l2);
            for (b, u) in best.iter_mut().zip(up) {
                *b = if u < *b { u } else { *b };
            }
        }
        let mut min = best.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        for (j, low) in lower.iter_mut().enumerate().take(n).skip(full) {
            let mut lo = [0f32; 1];
            let [u] = self.one::<1>(j, &mut lo, dots, x_sq, l1, l2);
            *low = lo[0];
            min = min.min(u);
        }
        min
    }

    /// Lower bounds into `lo` and upper bounds returned, for rows `j..j + W`.
    #[inline(always)]
    fn one<const W: usize>(
        &self,
        j: usize,
        lo: &mut [f32; W],
        dots: &[i32],
        x_sq: f32,
        l1: f32,
        l2: f32,
    ) -> [f32; W] {
        let sq: &[f32; W] = self.sq[j..j + W].try_into().expect("lanes");
        let c: &[f32; W] = self.c[j..j + W].try_into().expect("lanes");
        let s: &[f32; W] = self.s[j..j + W].try_into().expect("lanes");
        let rm: &[f32; W] = self.rm[j..j + W].try_into().expect("lanes");
        let rn: &[f32; W] = self.rn[j..j + W].try_into().expect("lanes");
        let dt: &[i32; W] = dots[j..j + W].try_into().expect("lanes");
        let mut up = [0f32; W];
        for t in 0..W {
            let base = x_sq + sq[t];
            let approx = base - c[t] * l1 - s[t] * dt[t] as f32;
            let (e1, e2) = (l1 * rm[t], l2 * rn[t]);
            let err = if e1 < e2 { e1 } else { e2 } + self.rel * base + self.abs;
            lo[t] = approx - err;
            up[t] = approx + err;
        }
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Awkward sizes (depth not a multiple of 4, rows not multiples of the tile), random
    /// bytes, and the products computed directly.
    fn case() -> (Vec<u8>, Vec<i8>, usize, usize, usize) {
        let (m, n, depth) = (19, 37, 783);
        let mut rng = crate::rng::Rng::new(12345);
        let a: Vec<u8> = (0..m * depth).map(|_| rng.below(256) as u8).collect();
        let b: Vec<i8> = (0..n * depth)
            .map(|_| (rng.below(255) as i32 - 127) as i8)
            .collect();
        (a, b, m, n, depth)
    }

    fn run(kernel: Kernel) -> Vec<i32> {
        let (a, b, m, n, depth) = case();
        let (pa, pb) = (PaddedU8::new(&a, m, depth), PackedI8::pack(&b, n, depth));
        let mut out = vec![7i32; (m - 3) * pb.stride()];
        dots(kernel, &mut out, &pa, 3..m, &pb);
        out
    }

    #[test]
    fn portable_dots_are_exact_integer_products() {
        let (a, b, m, n, depth) = case();
        let out = run(Kernel::Portable);
        let stride = PackedI8::pack(&b, n, depth).stride();
        for i in 3..m {
            for j in 0..n {
                let want: i32 = (0..depth)
                    .map(|t| a[i * depth + t] as i32 * b[j * depth + t] as i32)
                    .sum();
                assert_eq!(out[(i - 3) * stride + j], want, "row {i} col {j}");
            }
        }
        // extremes: 255 * -128 over the whole depth does not overflow
        let a = vec![255u8; depth];
        let b = vec![-128i8; depth];
        let pb = PackedI8::pack(&b, 1, depth);
        let mut out = vec![0i32; pb.stride()];
        dots(
            Kernel::Portable,
            &mut out,
            &PaddedU8::new(&a, 1, depth),
            0..1,
            &pb,
        );
        assert_eq!(out[0], -255 * 128 * depth as i32);
    }

    #[test]
    #[cfg_attr(not(gan_cpu_vnni), ignore = "this CPU has no AVX-512 VNNI")]
    fn vnni_dots_equal_the_portable_ones() {
        assert!(
            Kernel::Vnni.runs_here(),
            "built on a CPU with AVX-512 VNNI, running on one without: rebuild"
        );
        assert_eq!(run(Kernel::Vnni), run(Kernel::Portable));
    }

    #[test]
    #[cfg_attr(not(gan_cpu_avx512), ignore = "this CPU has no AVX-512F")]
    fn avx512_bounds_equal_the_portable_ones() {
        assert!(
            crate::fast::cpu::Simd::detected().avx512f,
            "built on a CPU with AVX-512F, running on one without: rebuild"
        );
        let mut rng = crate::rng::Rng::new(5);
        let n = 53;
        let mut v = || (0..n).map(|_| rng.uniform()).collect::<Vec<f32>>();
        let b = Bounds {
            sq: v(),
            c: v(),
            s: v(),
            rm: v(),
            rn: v(),
            rel: 1e-4,
            abs: 1e-3,
        };
        let dots: Vec<i32> = (0..n as i32).map(|j| j * 37 - 900).collect();
        let (mut lo_p, mut lo_a) = (vec![0f32; n], vec![0f32; n]);
        let up_p = b.lower(false, &mut lo_p, &dots, 3.0, 40.0, 9.0);
        let up_a = b.lower(true, &mut lo_a, &dots, 3.0, 40.0, 9.0);
        assert_eq!((up_p, &lo_p), (up_a, &lo_a));
        // and the portable bounds are the formula: approx -/+ err
        let j = 7;
        let base = 3.0 + b.sq[j];
        let approx = base - b.c[j] * 40.0 - b.s[j] * dots[j] as f32;
        let err = (40.0 * b.rm[j]).min(9.0 * b.rn[j]) + 1e-4 * base + 1e-3;
        assert!((lo_a[j] - (approx - err)).abs() <= 1e-5 * approx.abs().max(1.0));
    }
}
