#!/usr/bin/env bash
# Times the Parzen protocol (10k kernels, 10 sigmas on 1k validation images, 10k test images)
# in `gan eval parzen` (as this CPU runs it, and with GAN_SIMD=portable: what a CPU without
# AVX-512 VNNI gets, the dense float32 GEMM) and in the NumPy peers (float64 and float32),
# interleaved, on the same kernels (the first 10,000 training images, the protocol's anchor).
# Needs: python3 with numpy.
# Usage: bench/parzen_side_by_side.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release -q -p gan-cli
tmp=$(mktemp -d)
python3 - "$tmp/kernels.npy" <<'PY'
import gzip, sys, numpy as np
b = gzip.open("data/mnist/train-images-idx3-ubyte.gz").read()
x = (np.frombuffer(b, np.uint8, offset=16).reshape(-1, 784)[:10000] / 255.0).astype(np.float32)
np.save(sys.argv[1], x)
PY
for i in $(seq "$rounds"); do
  ./target/release/gan eval parzen --samples "$tmp/kernels.npy" --threads 2 --json
  GAN_SIMD=portable ./target/release/gan eval parzen --samples "$tmp/kernels.npy" --threads 2 --json
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
    python3 bench/parzen_numpy.py "$tmp/kernels.npy"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
    python3 bench/parzen_numpy.py "$tmp/kernels.npy" --float32
done > "$tmp/times.jsonl"
python3 - "$tmp/times.jsonl" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
def name(r):
    return r["peer"] if "peer" in r else f"gan eval parzen ({r['simd']}, test pass {r['test_path']})"
groups = {}
for r in rows:
    groups.setdefault(name(r), []).append(r)
for n, rs in groups.items():
    r = rs[0]
    print(f"{n:55s} median {st.median(x['seconds'] for x in rs):6.2f} s over {len(rs)} runs; "
          f"ll {r['test_ll']:.2f} ± {r['test_se']:.2f} sigma {r['sigma']:.4f}")
PY
rm -rf "$tmp"
