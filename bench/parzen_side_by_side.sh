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
  ./target/release/gan eval parzen --samples "$tmp/kernels.npy" --threads 2 --json
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/parzen_numpy.py "$tmp/kernels.npy"
done > "$tmp/times.jsonl"
python3 - "$tmp/times.jsonl" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
ours = [r["seconds"] for r in rows if "peer" not in r]
peer = [r["seconds"] for r in rows if "peer" in r]
for r in rows[:2]:
    print(("numpy " if "peer" in r else "gan   "), f"ll {r['test_ll']:.2f} ± {r['test_se']:.2f} sigma {r['sigma']:.4f}")
print(f"gan eval parzen: median {st.median(ours):.2f} s over {len(ours)} runs")
print(f"{rows[1]['peer']}: median {st.median(peer):.2f} s over {len(peer)} runs")
print(f"ratio: {st.median(peer) / st.median(ours):.1f}x faster")
PY
rm -rf "$tmp"
