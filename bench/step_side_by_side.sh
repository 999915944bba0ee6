#!/usr/bin/env bash
# The paper's training step, ours and PyTorch's, interleaved A B A B on the same machine.
# Usage: bench/step_side_by_side.sh [PYTHON_WITH_TORCH] [ROUNDS] [STEPS]
# Setup of the peer (a few GB): python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-/tmp/torch/bin/python}
rounds=${2:-3}
steps=${3:-200}
cargo build --release -q -p gan-cli
for sched in alternating simultaneous; do
  peer=bench/torch_paper_step.py
  [ "$sched" = simultaneous ] && peer=bench/torch_paper_step_simultaneous.py
  for i in $(seq "$rounds"); do
    ./target/release/gan bench step --schedule "$sched" --engine fast --steps "$steps" --threads 2 --json
    ./target/release/gan bench step --schedule "$sched" --engine burn --steps "$steps" --threads 2 --json
    "$py" "$peer" --threads 2 --steps "$steps"
  done
done | tee /tmp/step_side_by_side.jsonl
python3 - /tmp/step_side_by_side.jsonl <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
def key(r): return (r.get("schedule") or ("simultaneous" if "simultaneous" in r.get("peer", "") else "alternating"),
                    r.get("impl") or r["peer"].split(" simultaneous")[0])
groups = {}
for r in rows: groups.setdefault(key(r), []).append(r["median_ms"])
for sched in ["alternating", "simultaneous"]:
    peer = [v for (s, n), v in groups.items() if s == sched and n.startswith("pytorch")]
    base = st.median(peer[0]) if peer else None
    print(f"\n{sched} schedule (median of per-round medians, ms/step)")
    for (s, n), v in sorted(groups.items()):
        if s != sched: continue
        m = st.median(v)
        ratio = f"  {base / m:.2f}x PyTorch's speed" if base else ""
        print(f"  {n:32s} {m:8.2f}{ratio}")
PY
