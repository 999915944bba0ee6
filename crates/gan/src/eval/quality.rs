//! Sample-quality metrics in a feature space: Fréchet distance, kernel inception distance
//! (KID), improved precision and recall, and the classifier score with its class histogram.
//! Features come from the reference classifier (see [`crate::classifier`]); each report
//! names the extractor and the sample counts, so numbers can be compared.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fast::gemm::{Trans, matmul};
use crate::rng::Rng;

fn rows(x: &[f32], d: usize, what: &str) -> Result<usize> {
    if d == 0 || x.is_empty() || !x.len().is_multiple_of(d) {
        return Err(Error::Invalid(format!(
            "{what}: {} values do not split into rows of {d}",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "{what}: row {} holds a non-finite value",
            i / d
        )));
    }
    Ok(x.len() / d)
}

/// Mean and covariance (divided by n - 1) of the rows of `x`, in f64.
pub fn mean_cov(x: &[f32], d: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = rows(x, d, "mean_cov")?;
    if n < 2 {
        return Err(Error::Invalid("a covariance needs at least 2 rows".into()));
    }
    let mut mean = vec![0f64; d];
    for r in x.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let cov: Vec<f64> = (0..d)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut row = vec![0f64; d];
            for r in x.chunks_exact(d) {
                let a = r[i] as f64 - mean[i];
                for (j, c) in row.iter_mut().enumerate() {
                    *c += a * (r[j] as f64 - mean[j]);
                }
            }
            row.into_iter().map(move |c| c / (n - 1) as f64)
        })
        .collect();
    Ok((mean, cov))
}

/// Eigen-decomposition of a symmetric `n x n` matrix: returns the eigenvalues and the
/// eigenvectors as the columns of a row-major matrix.
///
/// Householder reduction to tridiagonal form, then the implicit QL algorithm (EISPACK's
/// `tred2` / `tql2`, Wilkinson & Reinsch 1971), O(n^3) with a small constant: the Fréchet
/// distance of 2,048-d statistics (the Inception features) takes about 40 s on 2 loaded
/// cores, where with cyclic Jacobi it had not finished after 10 minutes.
/// The working matrix is stored column by column, so every inner loop runs over contiguous
/// memory.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let (w, v) = eigen(a, n, true);
    (w, v.unwrap_or_default())
}

/// The eigenvalues alone of a symmetric `n x n` matrix ([`symmetric_eigen`] without
/// accumulating the eigenvectors: the reduction's O(n^3) and an O(n^2) QL, several times
/// faster).
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    eigen(a, n, false).0
}

/// `tred2` + `tql2`; the eigenvectors (columns of a row-major matrix) when `vectors`.
fn eigen(a: &[f64], n: usize, vectors: bool) -> (Vec<f64>, Option<Vec<f64>>) {
    if n == 0 {
        return (Vec::new(), vectors.then(Vec::new));
    }
    // v[c * n + r] = V[r][c]; `a` is symmetric, so its row-major values are its columns
    let mut v = a.to_vec();
    let mut d: Vec<f64> = (0..n).map(|j| v[j * n + (n - 1)]).collect();
    let mut e = vec![0f64; n];
    // tred2: Householder reduction to tridiagonal form
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[j * n + (i - 1)];
                v[j * n + i] = 0.0;
                v[i * n + j] = 0.0;
            }
        } else {
            for x in d[..i].iter_mut() {
                *x /= scale;
                h += *x * *x;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].iter_mut().for_each(|x| *x = 0.0);
            for j in 0..i {
                f = d[j];
                v[i * n + j] = f;
                let col = &v[j * n..j * n + i];
                g = e[j] + col[j] * f;
                for k in j + 1..i {
                    g += col[k] * d[k];
                    e[k] += col[k] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                let col = &mut v[j * n..j * n + i];
                for k in j..i {
                    col[k] -= f * e[k] + g * d[k];
                }
                d[j] = col[i - 1];
                v[j * n + i] = 0.0;
            }
        }
        d[i] = h;
    }
    if !vectors {
        // the tridiagonal's diagonal stands on V's diagonal after the reduction
        for (j, x) in d.iter_mut().enumerate() {
            *x = v[j * n + j];
        }
    }
    // accumulate the transformations
    for i in 0..n.saturating_sub(1).min(if vectors { n } else { 0 }) {
        v[i * n + (n - 1)] = v[i * n + i];
        v[i * n + i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[(i + 1) * n + k] / h;
            }
            for j in 0..=i {
                let g: f64 = (0..=i).map(|k| v[(i + 1) * n + k] * v[j * n + k]).sum();
                for k in 0..=i {
                    v[j * n + k] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[(i + 1) * n + k] = 0.0;
        }
    }
    if vectors {
        for j in 0..n {
            d[j] = v[j * n + (n - 1)];
            v[j * n + (n - 1)] = 0.0;
        }
        v[(n - 1) * n + (n - 1)] = 1.0;
    }
    e[0] = 0.0;
    // tql2: the symmetric tridiagonal QL algorithm with implicit shifts
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let (mut f, mut tst1) = (0.0f64, 0.0f64);
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            for _iter in 0..200 {
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in d[l + 2..].iter_mut() {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0f64, 1.0f64, 1.0f64);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0f64, 0.0f64);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    if !vectors {
                        continue;
                    }
                    // rotate columns i and i + 1 of V
                    let (left, right) = v.split_at_mut((i + 1) * n);
                    let (ci, ci1) = (&mut left[i * n..], &mut right[..n]);
                    for (a, b) in ci.iter_mut().zip(ci1.iter_mut()) {
                        let hk = *b;
                        *b = s * *a + c * hk;
                        *a = c * *a - s * hk;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    if !vectors {
        return (d, None);
    }
    // eigenvectors as the columns of a row-major matrix
    let mut out = vec![0f64; n * n];
    for c in 0..n {
        for r in 0..n {
            out[r * n + c] = v[c * n + r];
        }
    }
    (d, Some(out))
}

fn matmul64(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0f64; n * n];
    c.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for k in 0..n {
            let aik = a[i * n + k];
            for (j, c) in row.iter_mut().enumerate() {
                *c += aik * b[k * n + j];
            }
        }
    });
    c
}

/// The symmetric square root of a symmetric positive semi-definite matrix (negative
/// eigenvalues from rounding are clamped to 0).
pub fn sqrtm_psd(a: &[f64], n: usize) -> Vec<f64> {
    let (w, v) = symmetric_eigen(a, n);
    let s: Vec<f64> = w.iter().map(|&x| x.max(0.0).sqrt()).collect();
    let mut vs = v.clone();
    for i in 0..n {
        for j in 0..n {
            vs[i * n + j] *= s[j];
        }
    }
    let mut out = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| vs[i * n + k] * v[j * n + k]).sum();
        }
    }
    out
}

/// The Fréchet distance between Gaussians fitted to two feature sets ([`frechet_from_stats`]
/// of their [`mean_cov`]).
pub fn frechet_distance(a: &[f32], b: &[f32], d: usize) -> Result<f64> {
    let (m1, s1) = mean_cov(a, d)?;
    let (m2, s2) = mean_cov(b, d)?;
    Ok(frechet_from_stats(&m1, &s1, &m2, &s2, d))
}

/// The Fréchet distance between two Gaussians (Heusel et al. 2017, eq. 6):
/// `|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`, with `tr (S1 S2)^(1/2)` computed as the
/// trace of `(S1^(1/2) S2 S1^(1/2))^(1/2)`, a symmetric PSD matrix (stable, no complex
/// square roots).
pub fn frechet_from_stats(m1: &[f64], s1: &[f64], m2: &[f64], s2: &[f64], d: usize) -> f64 {
    let r1 = sqrtm_psd(s1, d);
    let inner = matmul64(&matmul64(&r1, s2, d), &r1, d);
    // symmetrise away rounding
    let mut sym = inner.clone();
    for i in 0..d {
        for j in 0..d {
            sym[i * d + j] = 0.5 * (inner[i * d + j] + inner[j * d + i]);
        }
    }
    let w = symmetric_eigenvalues(&sym, d);
    let tr_sqrt: f64 = w.iter().map(|&x| x.max(0.0).sqrt()).sum();
    let mean_term: f64 = m1.iter().zip(m2).map(|(a, b)| (a - b) * (a - b)).sum();
    let tr: f64 = (0..d).map(|i| s1[i * d + i] + s2[i * d + i]).sum();
    (mean_term + tr - 2.0 * tr_sqrt).max(0.0)
}

/// `x y^T` for row sets `x` `[n, d]`, `y` `[m, d]`.
fn gram(x: &[f32], y: &[f32], d: usize) -> Vec<f32> {
    let (n, m) = (x.len() / d, y.len() / d);
    let mut c = vec![0f32; n * m];
    matmul(&mut c, x, Trans::No, y, Trans::Yes, n, d, m, false);
    c
}

/// Kernel inception distance: the unbiased MMD^2 between the feature sets under the cubic
/// polynomial kernel `k(x, y) = (x.y / d + 1)^3`, averaged over `subsets` random subsets of
/// `subset_size` rows of each; returns the mean and the standard deviation over subsets.
pub fn kid(
    a: &[f32],
    b: &[f32],
    d: usize,
    subsets: usize,
    subset_size: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let (na, nb) = (rows(a, d, "kid")?, rows(b, d, "kid")?);
    if subset_size > na.min(nb) {
        return Err(Error::Invalid(format!(
            "KID subsets of {subset_size} rows, but the sets have {na} and {nb} rows: give a \
             subset size of at most {} (or more samples)",
            na.min(nb)
        )));
    }
    let m = subset_size;
    if m < 2 || subsets == 0 {
        return Err(Error::Invalid(
            "KID needs at least 2 rows per set and 1 subset".into(),
        ));
    }
    let mut rng = Rng::new(seed);
    let k = |g: f32| ((g as f64) / d as f64 + 1.0).powi(3);
    let mut values = Vec::with_capacity(subsets);
    for _ in 0..subsets {
        let pick = |n: usize, src: &[f32], rng: &mut Rng| -> Vec<f32> {
            let idx = rng.permutation(n);
            idx[..m]
                .iter()
                .flat_map(|&i| src[i * d..(i + 1) * d].iter().copied())
                .collect()
        };
        let x = pick(na, a, &mut rng);
        let y = pick(nb, b, &mut rng);
        let off_diag = |g: &[f32]| -> f64 {
            let mut s = 0.0;
            for i in 0..m {
                for j in 0..m {
                    if i != j {
                        s += k(g[i * m + j]);
                    }
                }
            }
            s / (m * (m - 1)) as f64
        };
        let kxx = off_diag(&gram(&x, &x, d));
        let kyy = off_diag(&gram(&y, &y, d));
        let kxy: f64 = gram(&x, &y, d).iter().map(|&g| k(g)).sum::<f64>() / (m * m) as f64;
        values.push(kxx + kyy - 2.0 * kxy);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    Ok((mean, var.sqrt()))
}

/// Squared distances between every row of `x` and every row of `y`.
fn sq_dists(x: &[f32], y: &[f32], d: usize) -> Vec<f32> {
    let g = gram(x, y, d);
    let nx: Vec<f32> = x
        .chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let ny: Vec<f32> = y
        .chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let m = ny.len();
    g.into_par_iter()
        .enumerate()
        .map(|(ij, v)| (nx[ij / m] + ny[ij % m] - 2.0 * v).max(0.0))
        .collect()
}

/// Rows of `x` processed in chunks of this many (a chunk's distances to 10,000 rows take
/// 40 MB).
const CHUNK: usize = 1000;

/// Squared distance of each row of `x` to its `k`-th nearest other row.
fn knn_radii(x: &[f32], d: usize, k: usize) -> Vec<f32> {
    let n = x.len() / d;
    let mut out = Vec::with_capacity(n);
    for (c, chunk) in x.chunks(CHUNK * d).enumerate() {
        let dist = sq_dists(chunk, x, d);
        let radii: Vec<f32> = dist
            .par_chunks(n)
            .enumerate()
            .map(|(i, row)| {
                let me = c * CHUNK + i;
                let mut r: Vec<f32> = row
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != me)
                    .map(|(_, &v)| v)
                    .collect();
                let kk = (k - 1).min(r.len().saturating_sub(1));
                *r.select_nth_unstable_by(kk, f32::total_cmp).1
            })
            .collect();
        out.extend(radii);
    }
    out
}

/// Fraction of rows of `x` inside at least one ball (centre a row of `centres`, squared
/// radius from `radii`).
fn coverage(x: &[f32], centres: &[f32], radii: &[f32], d: usize) -> f64 {
    let n = x.len() / d;
    let m = centres.len() / d;
    let mut inside = 0;
    for chunk in x.chunks(CHUNK * d) {
        let dist = sq_dists(chunk, centres, d);
        inside += dist
            .par_chunks(m)
            .filter(|row| row.iter().zip(radii).any(|(&dd, &r)| dd <= r))
            .count();
    }
    inside as f64 / n as f64
}

/// Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the
/// union of balls reaching every point's `k`-th nearest neighbour; precision is the fraction
/// of generated points inside the real manifold, recall the fraction of real points inside
/// the generated one.
pub fn precision_recall(real: &[f32], fake: &[f32], d: usize, k: usize) -> Result<(f64, f64)> {
    let (nr, nf) = (
        rows(real, d, "precision/recall")?,
        rows(fake, d, "precision/recall")?,
    );
    if k == 0 || nr <= k || nf <= k {
        return Err(Error::Invalid(format!(
            "precision/recall with k = {k} needs more than k rows per set ({nr} real, {nf} fake)"
        )));
    }
    let rr = knn_radii(real, d, k);
    let rf = knn_radii(fake, d, k);
    Ok((coverage(fake, real, &rr, d), coverage(real, fake, &rf, d)))
}

/// `exp(E_x KL(p(y|x) || p(y)))` (Salimans et al. 2016, the Inception Score's formula) of
/// `[n, classes]` probabilities in float64, `p(y)` their mean.
fn exp_mean_kl(probs: &[f64], classes: usize) -> f64 {
    let n = probs.len() / classes;
    let mut marginal = vec![0f64; classes];
    for r in probs.chunks_exact(classes) {
        for (m, &p) in marginal.iter_mut().zip(r) {
            *m += p / n as f64;
        }
    }
    let kl: f64 = probs
        .chunks_exact(classes)
        .map(|r| {
            r.iter()
                .zip(&marginal)
                .filter(|&(&p, _)| p > 0.0)
                .map(|(&p, &m)| p * (p.ln() - m.max(1e-300).ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n as f64;
    kl.exp()
}

/// The classifier score (the Inception Score's analogue): `exp(E_x KL(p(y|x) || p(y)))`
/// from `[n, classes]` probabilities; between 1 and the number of classes.
pub fn classifier_score(probs: &[f32], classes: usize) -> Result<f64> {
    rows(probs, classes, "classifier score")?;
    let p: Vec<f64> = probs.iter().map(|&v| v as f64).collect();
    Ok(exp_mean_kl(&p, classes))
}

/// The Inception Score (Salimans et al. 2016) as torch-fidelity computes it from `[n,
/// classes]` logits (its `logits_unbiased`): softmax in float64, the rows cut in order into
/// `splits` parts (`[i n / splits, (i + 1) n / splits)`; torch-fidelity shuffles them first
/// by default, with numpy's `RandomState(2020)`), `exp(E_x KL(p(y|x) || p(y)))` of each, and
/// the mean and population standard deviation of the parts' scores.
pub fn inception_score(logits: &[f32], classes: usize, splits: usize) -> Result<(f64, f64)> {
    let n = rows(logits, classes, "Inception Score")?;
    if splits == 0 || splits > n {
        return Err(Error::Invalid(format!(
            "Inception Score: {splits} splits of {n} samples"
        )));
    }
    let mut probs = Vec::with_capacity(logits.len());
    for r in logits.chunks_exact(classes) {
        let top = r.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let e: Vec<f64> = r.iter().map(|&v| (v as f64 - top).exp()).collect();
        let z: f64 = e.iter().sum();
        probs.extend(e.into_iter().map(|v| v / z));
    }
    let scores: Vec<f64> = (0..splits)
        .map(|i| {
            exp_mean_kl(
                &probs[i * n / splits * classes..(i + 1) * n / splits * classes],
                classes,
            )
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let var = scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / splits as f64;
    Ok((mean, var.sqrt()))
}

/// Conditional accuracy of a class-conditional generator: the share of samples that the
/// classifier assigns (`predicted`, argmax classes) to the class they were drawn for
/// (`asked`).
pub fn conditional_accuracy(predicted: &[usize], asked: &[usize]) -> Result<f64> {
    if predicted.len() != asked.len() || asked.is_empty() {
        return Err(Error::Invalid(format!(
            "conditional accuracy: {} predictions for {} labels",
            predicted.len(),
            asked.len()
        )));
    }
    let hits = predicted.iter().zip(asked).filter(|(p, y)| p == y).count();
    Ok(hits as f64 / asked.len() as f64)
}

/// How many rows of `[n, classes]` probabilities fall in each class (argmax).
pub fn class_histogram(probs: &[f32], classes: usize) -> Vec<usize> {
    let mut h = vec![0; classes];
    for r in probs.chunks_exact(classes) {
        let best =
            r.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &v)| if v > b.1 { (i, v) } else { b },
            );
        h[best.0] += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_accuracy_counts_matching_classes() {
        let acc = conditional_accuracy(&[1, 2, 3, 3], &[1, 2, 0, 3]).expect("acc");
        assert_eq!(acc, 0.75);
        assert!(conditional_accuracy(&[1], &[1, 2]).is_err());
        assert!(conditional_accuracy(&[], &[]).is_err());
    }

    fn gaussian(n: usize, d: usize, shift: f32, scale: f32, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..n * d).map(|_| shift + scale * rng.normal()).collect()
    }

    /// `B B'` for a random normal `B` (`n x cols`, from `seed`): symmetric, positive
    /// semi-definite, of rank `min(n, cols)`.
    fn gram(n: usize, cols: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        let b: Vec<f64> = (0..n * cols).map(|_| rng.normal() as f64).collect();
        (0..n * n)
            .map(|ij| {
                (0..cols)
                    .map(|k| b[(ij / n) * cols + k] * b[(ij % n) * cols + k])
                    .sum()
            })
            .collect()
    }

    #[test]
    fn eigen_reconstructs_a_symmetric_matrix() {
        // a rank-deficient PSD matrix (n = 40 from 30 columns: ten zero eigenvalues) and the
        // 1 x 1 case, then a small full-rank one with its square root
        for (n, cols) in [(40, 30), (1, 1)] {
            let a = gram(n, cols, 5);
            let (w, v) = symmetric_eigen(&a, n);
            assert_eq!(w.iter().filter(|x| x.abs() < 1e-9).count(), n - cols.min(n));
            // the eigenvalues alone: the same values
            let mut only = symmetric_eigenvalues(&a, n);
            let mut full = w.clone();
            only.sort_by(f64::total_cmp);
            full.sort_by(f64::total_cmp);
            for (x, y) in only.iter().zip(&full) {
                assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{n}: {x} vs {y}");
            }
            for i in 0..n {
                for j in 0..n {
                    let r: f64 = (0..n).map(|k| v[i * n + k] * w[k] * v[j * n + k]).sum();
                    assert!(
                        (r - a[i * n + j]).abs() < 1e-9,
                        "{n}: {r} vs {}",
                        a[i * n + j]
                    );
                    // orthonormal eigenvectors
                    let o: f64 = (0..n).map(|k| v[k * n + i] * v[k * n + j]).sum();
                    assert!((o - f64::from(u8::from(i == j))).abs() < 1e-10, "{n}: {o}");
                }
            }
        }
        let n = 6;
        let a = gram(n, n, 3);
        let (w, v) = symmetric_eigen(&a, n);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|k| v[i * n + k] * w[k] * v[j * n + k]).sum();
                assert!((r - a[i * n + j]).abs() < 1e-9, "{r} vs {}", a[i * n + j]);
            }
        }
        let s = sqrtm_psd(&a, n);
        let s2 = matmul64(&s, &s, n);
        for (x, y) in s2.iter().zip(&a) {
            assert!((x - y).abs() < 1e-8);
        }
    }

    #[test]
    fn frechet_distance_of_gaussians_matches_the_closed_form() {
        // N(0, I) vs N(mu, 4 I) in d dims: |mu|^2 + d (1 + 4 - 2 * 2) = |mu|^2 + d
        let d = 4;
        let a = gaussian(40_000, d, 0.0, 1.0, 1);
        let b = gaussian(40_000, d, 0.5, 2.0, 2);
        let fd = frechet_distance(&a, &b, d).expect("fd");
        let exact = d as f64 * 0.25 + d as f64;
        assert!((fd - exact).abs() < 0.1, "{fd} vs {exact}");
        assert!(frechet_distance(&a, &a, d).expect("fd").abs() < 1e-6);
    }

    #[test]
    fn kid_is_near_zero_for_one_distribution_and_positive_for_two() {
        let d = 8;
        let a = gaussian(2000, d, 0.0, 1.0, 1);
        let a2 = gaussian(2000, d, 0.0, 1.0, 2);
        let b = gaussian(2000, d, 0.7, 1.0, 3);
        let (same, sd) = kid(&a, &a2, d, 20, 500, 1).expect("kid");
        let (diff, _) = kid(&a, &b, d, 20, 500, 1).expect("kid");
        assert!(same.abs() < 3.0 * sd + 1e-3, "{same} +- {sd}");
        assert!(diff > 10.0 * same.abs().max(1e-3), "{diff} vs {same}");
    }

    #[test]
    fn precision_and_recall_see_a_missing_mode() {
        let d = 2;
        // real: two clusters; fake: only the first
        let mut real = gaussian(500, d, 0.0, 0.1, 1);
        real.extend(gaussian(500, d, 5.0, 0.1, 2));
        let fake = gaussian(1000, d, 0.0, 0.1, 3);
        let (p, r) = precision_recall(&real, &fake, d, 3).expect("pr");
        assert!(p > 0.95, "precision {p}");
        assert!((r - 0.5).abs() < 0.05, "recall {r}");
        let (p, r) = precision_recall(&real, &real, d, 3).expect("pr");
        assert_eq!((p, r), (1.0, 1.0));
    }

    #[test]
    fn classifier_score_spans_one_to_the_number_of_classes() {
        let one_hot: Vec<f32> = (0..100)
            .flat_map(|i| (0..10).map(move |c| if c == i % 10 { 1.0 } else { 0.0 }))
            .collect();
        assert!((classifier_score(&one_hot, 10).expect("score") - 10.0).abs() < 1e-9);
        let collapsed: Vec<f32> = (0..100)
            .flat_map(|_| (0..10).map(|c| if c == 3 { 1.0 } else { 0.0 }))
            .collect();
        assert!((classifier_score(&collapsed, 10).expect("score") - 1.0).abs() < 1e-9);
        assert_eq!(class_histogram(&collapsed, 10)[3], 100);
    }
}
