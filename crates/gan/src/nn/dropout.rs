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
    out.extend((0..rows * cols).map(|_| if rng.uniform() < keep { scale } else { 0.0 }));
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
