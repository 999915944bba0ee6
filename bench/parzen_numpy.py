#!/usr/bin/env python3
"""NumPy float64 peer of `gan eval parzen`: the same protocol (Gaussian Parzen window on the
kernels, sigma chosen among np.logspace(-1, 0, 10) on the first 1,000 validation images,
mean test log-likelihood with its standard error), squared distances by GEMM.

Usage: python3 parzen_numpy.py KERNELS.npy [DATA_DIR]   (prints one JSON line)
"""
import gzip, json, sys, time
import numpy as np


def idx_images(path):
    with gzip.open(path) as f:
        b = f.read()
    n, r, c = (int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, r * c) / 255.0


def log_lik(mu, x, sigmas, chunk=1000):
    mu_sq = (mu ** 2).sum(1)
    d = mu.shape[1]
    out = np.empty((len(sigmas), len(x)))
    for s in range(0, len(x), chunk):
        xc = x[s:s + chunk]
        d2 = np.maximum((xc ** 2).sum(1)[:, None] + mu_sq[None, :] - 2 * xc @ mu.T, 0)
        for k, sig in enumerate(sigmas):
            a = -d2 / (2 * sig ** 2)
            m = a.max(1, keepdims=True)
            out[k, s:s + chunk] = (m[:, 0] + np.log(np.exp(a - m).mean(1))
                                   - d * np.log(sig * np.sqrt(2 * np.pi)))
    return out


def main():
    kernels = np.load(sys.argv[1]).astype(np.float64)
    data = sys.argv[2] if len(sys.argv) > 2 else "data/mnist"
    train = idx_images(f"{data}/train-images-idx3-ubyte.gz")
    test = idx_images(f"{data}/t10k-images-idx3-ubyte.gz")
    valid = train[50000:51000]
    t = time.perf_counter()
    sigmas = np.logspace(-1, 0, 10)
    vll = log_lik(kernels, valid, sigmas).mean(1)
    sigma = sigmas[int(vll.argmax())]
    ll = log_lik(kernels, test, [sigma])[0]
    secs = time.perf_counter() - t
    print(json.dumps({"peer": "numpy " + np.__version__ + " float64", "test_ll": ll.mean(),
                      "test_se": ll.std() / np.sqrt(len(ll)), "sigma": sigma, "seconds": secs}))


if __name__ == "__main__":
    main()
