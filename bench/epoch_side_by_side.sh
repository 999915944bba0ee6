#!/usr/bin/env bash
# One `mnist-paper` epoch, ours and the PyTorch twin's (bench/torch_twin_mnist_paper.py: same
# schedule, model and initialisation), 3 epochs each, interleaved A B A B, 2 threads each.
# Reports (1) the `seconds` each side logs per epoch: the epoch's 500 training iterations
# (batching and steps) only, on both sides; (2) the wall time of the whole command divided by
# the epochs: start-up and data loading on both sides, plus our per-epoch sample grid and
# checkpoint.
# Usage: bench/epoch_side_by_side.sh [PYTHON_WITH_TORCH] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
rounds=${2:-2}
cargo build --release -q -p gan-cli
tmp=$(mktemp -d)
for i in $(seq "$rounds"); do
  t0=$(date +%s.%N)
  ./target/release/gan train --preset mnist-paper --epochs 3 --threads 2 --json --out "$tmp/ours-$i" > "$tmp/ours-$i.jsonl"
  t1=$(date +%s.%N)
  "$py" bench/torch_twin_mnist_paper.py --epochs 3 --every 100 --threads 2 --out "$tmp/twin-$i" > "$tmp/twin-$i.jsonl"
  t2=$(date +%s.%N)
  echo "{\"side\": \"ours\", \"wall\": $(echo "$t1 - $t0" | bc)}" >> "$tmp/wall.jsonl"
  echo "{\"side\": \"twin\", \"wall\": $(echo "$t2 - $t1" | bc)}" >> "$tmp/wall.jsonl"
done
python3 - "$tmp" "$rounds" <<'PY'
import json, sys, statistics as st, glob
tmp, rounds = sys.argv[1], int(sys.argv[2])
for side in ["ours", "twin"]:
    secs = [json.loads(l)["seconds"] for f in sorted(glob.glob(f"{tmp}/{side}-*.jsonl")) for l in open(f)]
    wall = [json.loads(l)["wall"] / 3 for l in open(f"{tmp}/wall.jsonl") if json.loads(l)["side"] == side]
    print(f"{side}: logged seconds per epoch {secs} (median {st.median(secs):.2f}); "
          f"wall time per epoch {[round(w, 2) for w in wall]} (median {st.median(wall):.2f})")
PY
rm -rf "$tmp"
