#!/usr/bin/env python3
"""NumPy peer of `gan eval parzen`: the same protocol (Gaussian Parzen window on the
kernels, sigma chosen among np.logspace(-1, 0, 10) on the first 1,000 validation images,
mean test log-likelihood with its standard error), squared distances by GEMM, in float64
(default) or float32 (`--float32`: distances and exponentials in float32, as `gan`'s dense
path computes the distances; the log-mean-exp sums in float64).

Usage: python3 parzen_numpy.py KERNELS.npy [DATA_DIR] [--float32]   (prints one JSON line)
"""
import gzip, json, sys, time
import numpy as np


def idx_images(path):
    with gzip.open(path) as f:
        b = f.read()
    n, r, c = (int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, r * c) / 255.0


def log_lik(mu, x, sigmas, chunk=1000):
    dt = mu.dtype
    mu_sq = (mu ** 2).sum(1)
    d = mu.shape[1]
    out = np.empty((len(sigmas), len(x)))
    for s in range(0, len(x), chunk):
        xc = x[s:s + chunk]
        d2 = np.maximum((xc ** 2).sum(1)[:, None] + mu_sq[None, :] - 2 * xc @ mu.T, 0)
        for k, sig in enumerate(sigmas):
            a = d2 * dt.type(-1 / (2 * sig ** 2))
            m = a.max(1, keepdims=True)
            lme = np.exp(a - m).sum(1, dtype=np.float64) / a.shape[1]
            out[k, s:s + chunk] = (m[:, 0] + np.log(lme) - d * np.log(sig * np.sqrt(2 * np.pi)))
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--float32"]
    dt = np.float32 if "--float32" in sys.argv else np.float64
    kernels = np.load(args[0]).astype(dt)
    data = args[1] if len(args) > 1 else "data/mnist"
    train = idx_images(f"{data}/train-images-idx3-ubyte.gz").astype(dt)
    test = idx_images(f"{data}/t10k-images-idx3-ubyte.gz").astype(dt)
    valid = train[50000:51000]
    t = time.perf_counter()
    sigmas = np.logspace(-1, 0, 10)
    vll = log_lik(kernels, valid, sigmas).mean(1)
    sigma = sigmas[int(vll.argmax())]
    ll = log_lik(kernels, test, [sigma])[0]
    secs = time.perf_counter() - t
    print(json.dumps({"peer": "numpy " + np.__version__ + " " + np.dtype(dt).name, "test_ll": ll.mean(),
                      "test_se": ll.std() / np.sqrt(len(ll)), "sigma": sigma, "seconds": secs}))


if __name__ == "__main__":
    main()
