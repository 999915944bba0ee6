#!/usr/bin/env bash
# Times the Parzen protocol (10k kernels, 10 sigmas on 1k validation images, 10k test images)
# in `gan eval parzen` and in the NumPy float64 peer, interleaved A B A B, on the same kernels
# (the first 10,000 training images, the protocol's anchor). Needs: python3 with numpy.
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
  ./target/release/gan eval parzen --samples "$tmp/kernels.npy" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(f"gan    {r[\"seconds\"]:.3f} s  ll {r[\"test_ll\"]:.2f} ± {r[\"test_se\"]:.2f}  sigma {r[\"sigma\"]:.4f}")'
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/parzen_numpy.py "$tmp/kernels.npy" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(f"numpy  {r[\"seconds\"]:.3f} s  ll {r[\"test_ll\"]:.2f} ± {r[\"test_se\"]:.2f}  sigma {r[\"sigma\"]:.4f}")'
done
rm -rf "$tmp"
