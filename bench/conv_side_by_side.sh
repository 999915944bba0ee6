#!/usr/bin/env bash
# The DCGAN training step, ours (fused engine and burn's autodiff) and PyTorch's twin,
# interleaved on the same machine.
# Usage: bench/conv_side_by_side.sh [PYTHON_WITH_TORCH] [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-/tmp/torch/bin/python}
rounds=${2:-3}
steps=${3:-20}
cargo build --release -q -p gan-cli
for spec in "dcgan-28 1" "dcgan-32 3"; do
  set -- $spec
  for i in $(seq "$rounds"); do
    ./target/release/gan bench conv --model "$1" --channels "$2" --engine fast --steps "$steps" --warmup 3 --json
    ./target/release/gan bench conv --model "$1" --channels "$2" --engine burn --steps "$steps" --warmup 3 --json
    "$py" bench/torch_dcgan_step.py --model "$1" --channels "$2" --steps "$steps" --warmup 3
  done
done | tee /tmp/conv_side_by_side.jsonl
python3 - /tmp/conv_side_by_side.jsonl <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    who = r.get("impl") or r["peer"]
    groups.setdefault((r["model"], who), []).append(r["median_ms"])
for model in sorted({m for m, _ in groups}):
    peer = [v for (m, w), v in groups.items() if m == model and w.startswith("pytorch")]
    base = st.median(peer[0])
    print(f"\n{model} (median of per-round medians, ms/step)")
    for (m, w), v in sorted(groups.items()):
        if m == model:
            print(f"  {w:32s} {st.median(v):8.2f}  rounds {v}  vs PyTorch {base / st.median(v):.2f}x")
PY
