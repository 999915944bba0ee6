//! A small, seedable, serialisable random number generator (xoshiro256++).
//!
//! Every random draw of a run (weight init, noise, dropout masks, shuffling) comes from one of
//! these, so a checkpoint can store the exact stream position and a resumed run continues
//! bit for bit.

use serde::{Deserialize, Serialize};

/// [`Rng::uniform`] keeps the top 24 bits of a draw.
const UNIFORM_SHIFT: u32 = 40;

/// xoshiro256++ (Blackman & Vigna), seeded through splitmix64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        Self {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// An independent stream derived from `seed` and a purpose tag.
    pub fn derived(seed: u64, tag: u64) -> Self {
        Self::new(seed ^ tag.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = (self.s[0].wrapping_add(self.s[3]))
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable in f32).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> UNIFORM_SHIFT) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// `uniform() < p` on the integers, for many draws against one `p`: give it
    /// [`Rng::uniform_threshold`]`(p)`. The same draw and the same answer as the float test.
    pub fn uniform_below(&mut self, threshold: u64) -> bool {
        (self.next_u64() >> UNIFORM_SHIFT) < threshold
    }

    /// The threshold for [`Rng::uniform_below`]: `uniform()` is `i / 2^24` for the draw's top
    /// 24 bits `i`, exactly, so `uniform() < p` is `i < p 2^24`, i.e. `i < ceil(p 2^24)`.
    pub fn uniform_threshold(p: f32) -> u64 {
        (p as f64 * (1u64 << 24) as f64).ceil().max(0.0) as u64
    }

    /// Uniform in [lo, hi).
    pub fn uniform_range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal draw (Box-Muller, one value per call).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
        let u2 = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Uniform integer in 0..n (n > 0), without modulo bias worth mentioning for n < 2^32.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// A uniformly random permutation of 0..n (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            p.swap(i, j);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_below_agrees_with_the_float_test_at_the_threshold() {
        // the integers around each threshold are where ceil / floor / off-by-one would differ
        let mut r = Rng::new(3);
        let ps = [
            0.5f32,
            0.8,
            0.2,
            1.0 / 3.0,
            1e-7,
            0.999_999_9,
            5.960_464_5e-8,
            0.0,
            1.0,
        ];
        for p in ps.into_iter().chain((0..1000).map(|_| r.uniform())) {
            let t = Rng::uniform_threshold(p);
            for i in t.saturating_sub(2)..(t + 2).min(1 << 24) {
                let float = i as f32 * (1.0 / (1u64 << 24) as f32) < p;
                assert_eq!(i < t, float, "p {p} i {i} threshold {t}");
            }
        }
        // and on real draws, the same answers from the same stream
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        let t = Rng::uniform_threshold(0.3);
        for _ in 0..1000 {
            assert_eq!(a.uniform_below(t), b.uniform() < 0.3);
        }
    }

    #[test]
    fn same_seed_same_stream_and_state_roundtrips() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let saved = serde_json::to_string(&a).expect("serialise");
        let mut c: Rng = serde_json::from_str(&saved).expect("deserialise");
        assert_eq!(a.next_u64(), c.next_u64());
        assert_ne!(Rng::new(8).next_u64(), Rng::new(7).next_u64());
    }

    #[test]
    fn moments_are_right() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let (mut su, mut sn, mut sn2) = (0.0f64, 0.0f64, 0.0f64);
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            su += u as f64;
            let z = r.normal() as f64;
            sn += z;
            sn2 += z * z;
        }
        let n = n as f64;
        assert!((su / n - 0.5).abs() < 0.005, "uniform mean {}", su / n);
        assert!((sn / n).abs() < 0.01, "normal mean {}", sn / n);
        assert!((sn2 / n - 1.0).abs() < 0.02, "normal var {}", sn2 / n);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = Rng::new(3).permutation(1000);
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }
}
