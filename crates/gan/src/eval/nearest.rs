//! Nearest neighbours by Euclidean distance, through one float32 GEMM per chunk.

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};

/// Index of the nearest row of `reference` for each row of `queries` (squared L2 distance,
/// |q|^2 + |r|^2 - 2 q.r).
pub fn nearest(reference: &[f32], queries: &[f32], d: usize) -> Result<Vec<usize>> {
    if d == 0
        || reference.is_empty()
        || !reference.len().is_multiple_of(d)
        || !queries.len().is_multiple_of(d)
    {
        return Err(Error::Invalid(format!(
            "nearest: {} reference and {} query values do not split into rows of {d}",
            reference.len(),
            queries.len()
        )));
    }
    let n_r = reference.len() / d;
    let device = Device::flex();
    let r_t =
        Tensor::<2>::from_data(TensorData::new(reference.to_vec(), [n_r, d]), &device).transpose();
    let r_sq: Vec<f32> = reference
        .chunks_exact(d)
        .map(|v| v.iter().map(|a| a * a).sum())
        .collect();
    let mut out = Vec::with_capacity(queries.len() / d);
    for chunk in queries.chunks(500 * d) {
        let c = chunk.len() / d;
        let q = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [c, d]), &device);
        let dots = q
            .matmul(r_t.clone())
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Invalid(format!("nearest: {e:?}")))?;
        for row in dots.chunks_exact(n_r) {
            // |q|^2 is the same for every candidate, so it does not change the argmin
            let best = row
                .iter()
                .zip(&r_sq)
                .map(|(&p, &s)| s - 2.0 * p)
                .enumerate()
                .fold(
                    (0, f32::INFINITY),
                    |b, (i, v)| if v < b.1 { (i, v) } else { b },
                );
            out.push(best.0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_closest_row() {
        let r = [0.0, 0.0, 1.0, 1.0, 5.0, 5.0];
        assert_eq!(
            nearest(&r, &[0.9, 1.2, 4.0, 4.5, -1.0, 0.0], 2).expect("ok"),
            vec![1, 2, 0]
        );
    }
}
