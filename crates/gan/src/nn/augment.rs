//! Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for
//! Data-Efficient GAN Training", their `DiffAugment_pytorch.py`): every image D sees, real or
//! fake, in D's steps and in G's, goes through the same random policy; the transforms are
//! differentiable in the image, so G learns through them.
//!
//! The policy is a list of `color`, `translation`, `cutout` (the paper's
//! `"color,translation,cutout"` for small data sets). Each image draws its own parameters
//! from the training stream, in the order: color (brightness, saturation, contrast),
//! translation (x, then y), cutout (x, then y). `strength` scales every range (1: the
//! paper's; 0: the identity), values work in D's input range, as in the reference (which
//! augments images in [-1, 1]):
//!
//! - brightness: `x + (r - 0.5) s`
//! - saturation: `(x - mean_c x) (1 + (2 r - 1) s) + mean_c x` (mean over channels)
//! - contrast: `(x - mean x) (1 + (r - 0.5) s) + mean x` (mean over the whole image)
//! - translation: a shift of each axis by an integer in `[-t, t]`, `t = round(side * 0.125 s)`,
//!   zeros where the shift leaves the image
//! - cutout: a square of side `round(side * 0.5 s)` set to zero, its centre anywhere in the
//!   image (clipped at the border)

use burn::tensor::{Tensor, TensorData};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// One transform of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AugmentOp {
    /// Brightness, saturation and contrast.
    Color,
    /// Shifts of up to 1/8 of the side.
    Translation,
    /// A square of half the side set to zero.
    Cutout,
}

/// A policy and its strength.
#[derive(Clone, Debug, PartialEq)]
pub struct Augment {
    /// The transforms, applied in this order.
    pub ops: Vec<AugmentOp>,
    /// The scale of every range (1: the paper's).
    pub strength: f32,
}

impl Augment {
    /// Parses DiffAugment's policy string (`"color,translation,cutout"`; empty: none).
    pub fn parse(policy: &str, strength: f32) -> Result<Self> {
        let mut ops = Vec::new();
        for name in policy.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let op = match name {
                "color" => AugmentOp::Color,
                "translation" => AugmentOp::Translation,
                "cutout" => AugmentOp::Cutout,
                other => {
                    return Err(Error::Config(format!(
                        "augment: unknown transform {other:?} (DiffAugment's are color, \
                         translation, cutout)"
                    )));
                }
            };
            if ops.contains(&op) {
                return Err(Error::Config(format!("augment: {name} is listed twice")));
            }
            ops.push(op);
        }
        if !(strength.is_finite() && strength >= 0.0) {
            return Err(Error::Config(format!(
                "augment_strength: {strength} must be finite and >= 0"
            )));
        }
        Ok(Self { ops, strength })
    }

    /// Whether it changes nothing (no transform).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The augmented batch (`[n, c, h, w]`), its random choices drawn from `rng`.
    pub fn apply(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let mut x = x;
        for op in &self.ops {
            x = match op {
                AugmentOp::Color => self.color(x, rng),
                AugmentOp::Translation => self.translation(x, rng),
                AugmentOp::Cutout => self.cutout(x, rng),
            };
        }
        x
    }

    /// One value per image, `[n, 1, 1, 1]`, from `f(r)` with `r` uniform in [0, 1).
    fn per_image(x: &Tensor<4>, rng: &mut Rng, f: impl Fn(f32) -> f32) -> Tensor<4> {
        let [n, ..] = x.dims();
        let v: Vec<f32> = (0..n).map(|_| f(rng.uniform())).collect();
        Tensor::from_data(TensorData::new(v, [n, 1, 1, 1]), &x.device())
    }

    fn color(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let s = self.strength;
        let b = Self::per_image(&x, rng, |r| (r - 0.5) * s);
        let x = x + b;
        let sat = Self::per_image(&x, rng, |r| 1.0 + (2.0 * r - 1.0) * s);
        let m = x.clone().mean_dim(1);
        let x = (x - m.clone()) * sat + m;
        let con = Self::per_image(&x, rng, |r| 1.0 + (r - 0.5) * s);
        let m = x.clone().mean_dim(1).mean_dim(2).mean_dim(3);
        (x - m.clone()) * con + m
    }

    /// `[n, c, side, side]` matrices moving row `i + t` to row `i` (zero outside).
    fn shifts(n: usize, c: usize, side: usize, t: &[i64], x: &Tensor<4>) -> Tensor<4> {
        let mut v = vec![0f32; n * side * side];
        for (k, &t) in t.iter().enumerate() {
            for i in 0..side {
                let j = i as i64 + t;
                if (0..side as i64).contains(&j) {
                    v[k * side * side + i * side + j as usize] = 1.0;
                }
            }
        }
        let m: Tensor<4> = Tensor::from_data(TensorData::new(v, [n, 1, side, side]), &x.device());
        m.repeat_dim(1, c)
    }

    fn translation(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let shift = |side: usize| (side as f32 * 0.125 * self.strength + 0.5).floor() as i64;
        let (sx, sy) = (shift(w), shift(h));
        let draw = |rng: &mut Rng, s: i64| rng.below((2 * s + 1) as usize) as i64 - s;
        let (mut tx, mut ty) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            tx.push(draw(rng, sx));
            ty.push(draw(rng, sy));
        }
        if tx.iter().chain(&ty).all(|&t| t == 0) {
            return x;
        }
        // out[i, j] = x[i + ty, j + tx]: rows by S_y x, columns by x S_x^T
        let rows = Self::shifts(n, c, h, &ty, &x);
        let cols = Self::shifts(n, c, w, &tx, &x).swap_dims(2, 3);
        rows.matmul(x).matmul(cols)
    }

    fn cutout(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let [n, _, h, w] = x.dims();
        let size = |side: usize| (side as f32 * 0.5 * self.strength + 0.5).floor() as usize;
        let (cw, ch) = (size(w), size(h));
        // the reference's centre: randint(0, side + (1 - size % 2))
        let (ox, oy): (Vec<usize>, Vec<usize>) = (0..n)
            .map(|_| {
                let ox = rng.below(w + 1 - cw % 2);
                let oy = rng.below(h + 1 - ch % 2);
                (ox, oy)
            })
            .unzip();
        if cw == 0 || ch == 0 {
            return x;
        }
        let mut mask = vec![1f32; n * h * w];
        for k in 0..n {
            let (x0, y0) = (
                ox[k] as i64 - (cw / 2) as i64,
                oy[k] as i64 - (ch / 2) as i64,
            );
            for i in y0.max(0)..(y0 + ch as i64).min(h as i64) {
                for j in x0.max(0)..(x0 + cw as i64).min(w as i64) {
                    mask[k * h * w + i as usize * w + j as usize] = 0.0;
                }
            }
        }
        let mask: Tensor<4> = Tensor::from_data(TensorData::new(mask, [n, 1, h, w]), &x.device());
        x * mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn batch(n: usize, c: usize, side: usize, seed: u64) -> (Vec<f32>, Tensor<4>) {
        let mut rng = Rng::new(seed);
        let v: Vec<f32> = (0..n * c * side * side)
            .map(|_| rng.uniform() * 2.0 - 1.0)
            .collect();
        let t = Tensor::from_data(
            TensorData::new(v.clone(), [n, c, side, side]),
            &Device::flex(),
        );
        (v, t)
    }

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().expect("f32")
    }

    #[test]
    fn strength_zero_is_the_identity() {
        let a = Augment::parse("color,translation,cutout", 0.0).expect("policy");
        let (v, x) = batch(4, 3, 8, 1);
        let out = host(a.apply(x, &mut Rng::new(2)));
        for (o, i) in out.iter().zip(&v) {
            assert!((o - i).abs() < 1e-6, "{o} vs {i}");
        }
    }

    #[test]
    fn translation_shifts_pixels_and_fills_zeros() {
        let a = Augment::parse("translation", 1.0).expect("policy");
        let (v, x) = batch(6, 2, 16, 3);
        let mut rng = Rng::new(5);
        let out = host(a.apply(x, &mut rng));
        // replay the draws: each image is its input shifted by (tx, ty) in [-2, 2]
        let mut replay = Rng::new(5);
        let side = 16;
        for k in 0..6 {
            let tx = replay.below(5) as i64 - 2;
            let ty = replay.below(5) as i64 - 2;
            for ch in 0..2 {
                for i in 0..side {
                    for j in 0..side {
                        let (si, sj) = (i as i64 + ty, j as i64 + tx);
                        let want = if (0..16).contains(&si) && (0..16).contains(&sj) {
                            v[((k * 2 + ch) * side + si as usize) * side + sj as usize]
                        } else {
                            0.0
                        };
                        let got = out[((k * 2 + ch) * side + i) * side + j];
                        assert_eq!(got, want, "image {k} ({tx}, {ty}) at {i},{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn cutout_zeroes_one_square_per_image() {
        let a = Augment::parse("cutout", 1.0).expect("policy");
        // all-ones images: the zeros are the square, side 8 of 16 unless clipped
        let x = Tensor::<4>::ones([5, 1, 16, 16], &Device::flex());
        let out = host(a.apply(x, &mut Rng::new(7)));
        for k in 0..5 {
            let img = &out[k * 256..(k + 1) * 256];
            let zeros = img.iter().filter(|&&p| p == 0.0).count();
            assert!(zeros > 0 && zeros <= 64, "image {k}: {zeros} zeros");
            assert!(img.iter().all(|&p| p == 0.0 || p == 1.0));
        }
    }

    #[test]
    fn color_moves_statistics_within_the_papers_ranges() {
        let a = Augment::parse("color", 1.0).expect("policy");
        let (v, x) = batch(64, 3, 8, 9);
        let out = host(a.apply(x, &mut Rng::new(11)));
        let per = 3 * 64;
        let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
        let mut shifts = Vec::new();
        for k in 0..64 {
            let (i, o) = (&v[k * per..(k + 1) * per], &out[k * per..(k + 1) * per]);
            // brightness moves the mean by (r - 0.5) in [-0.5, 0.5]; saturation and
            // contrast keep it
            let d = mean(o) - mean(i);
            assert!(d.abs() <= 0.5 + 1e-4, "image {k}: mean moved by {d}");
            shifts.push(d);
        }
        let spread = shifts.iter().cloned().fold(f32::MIN, f32::max)
            - shifts.iter().cloned().fold(f32::MAX, f32::min);
        assert!(
            spread > 0.5,
            "64 images draw different brightness: {spread}"
        );
    }

    #[test]
    fn the_gradient_flows_through_every_transform() {
        let dev = Device::flex().autodiff();
        let a = Augment::parse("color,translation,cutout", 1.0).expect("policy");
        let x = Tensor::<4>::ones([3, 3, 8, 8], &dev).require_grad();
        let y = a.apply(x.clone(), &mut Rng::new(1));
        let g = y.sum().backward();
        let grad = x
            .grad(&g)
            .expect("gradient")
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        assert!(grad.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(Augment::parse("colour", 1.0).is_err());
        assert!(Augment::parse("color,color", 1.0).is_err());
        assert!(Augment::parse("color", -1.0).is_err());
        assert!(Augment::parse("", 1.0).expect("empty").is_empty());
    }
}
