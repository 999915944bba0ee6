use burn::tensor::{Device, Tensor, TensorData};

use crate::rng::Rng;

/// A dropout mask already scaled: each entry is 0 (dropped) or 1/keep (kept), so
/// `x * mask` keeps the expected activation unchanged (pylearn2's `input_scales` = 1/p).
pub type DropoutMask = Tensor<2>;

/// The values of a `[rows, cols]` mask keeping each entry with probability `keep`, drawn
/// row-major from `rng`; `None` (and no draw) when `keep == 1`.
pub fn dropout_values(rows: usize, cols: usize, keep: f32, rng: &mut Rng) -> Option<Vec<f32>> {
    let mut v = Vec::new();
    dropout_fill(&mut v, rows, cols, keep, rng).then_some(v)
}

/// [`dropout_values`] into a reused buffer: returns `false` and leaves `out` empty (no
/// draw) when `keep == 1`.
pub fn dropout_fill(
    out: &mut Vec<f32>,
    rows: usize,
    cols: usize,
    keep: f32,
    rng: &mut Rng,
) -> bool {
    out.clear();
    if keep >= 1.0 {
        return false;
    }
    let scale = 1.0 / keep;
    // `rng.uniform() < keep`, compared on the integers
    let threshold = Rng::uniform_threshold(keep);
    out.resize(rows * cols, 0.0);
    for o in out.iter_mut() {
        *o = if rng.uniform_below(threshold) {
            scale
        } else {
            0.0
        };
    }
    true
}

/// [`dropout_values`] as a tensor on `device`.
pub fn dropout_mask(
    rows: usize,
    cols: usize,
    keep: f32,
    rng: &mut Rng,
    device: &Device,
) -> Option<DropoutMask> {
    dropout_values(rows, cols, keep, rng)
        .map(|v| Tensor::from_data(TensorData::new(v, [rows, cols]), device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_matches_uniform_draws_compared_with_keep() {
        // keeps on and off the 2^-24 grid, and the grid's edges
        for keep in [
            0.5f32,
            0.8,
            0.3,
            1.0 / 3.0,
            1e-7,
            0.999_999_9,
            5.960_464_5e-8,
        ] {
            let mut a = Rng::new(11);
            let mut b = a.clone();
            let mut got = Vec::new();
            assert!(dropout_fill(&mut got, 50, 41, keep, &mut a));
            let want: Vec<f32> = (0..50 * 41)
                .map(|_| if b.uniform() < keep { 1.0 / keep } else { 0.0 })
                .collect();
            assert_eq!(got, want, "keep {keep}");
            assert_eq!(a, b, "same draws consumed");
        }
        let mut r = Rng::new(1);
        let mut out = vec![1.0];
        assert!(!dropout_fill(&mut out, 3, 3, 1.0, &mut r));
        assert!(out.is_empty());
        assert_eq!(r, Rng::new(1), "no draw when keeping everything");
    }
}
