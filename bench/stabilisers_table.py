"""Tables of issue 19's measurements from the runs' metrics.jsonl (dev tool).

    python3 bench/stabilisers_table.py DIR

DIR holds the runs as the commands in the README name them: paper-s{1,2,3} (mnist-paper
with g_ema_decay = 0.999; each epoch's metrics score the average and, as live_*, the live
weights on the same noise), dcgan-s{1,2,3} (mnist-dcgan, the same), and base-s*, sn-s*,
aug-s* (mnist-dcgan on the first 1,000 training images). Prints mean and spread (sample
standard deviation over the seeds, or the single value) per evaluated epoch.
"""
import glob
import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cell(values):
    values = [v for v in values if v is not None]
    if not values:
        return ""
    digits = 1 if max(abs(v) for v in values) >= 10 else 3
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1 seed)"
    return (f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"
            f" ({len(values)})")


def runs(root, prefix):
    return sorted(glob.glob(os.path.join(root, f"{prefix}-s*", "metrics.jsonl")))


def table(root, prefix, columns, title):
    files = runs(root, prefix)
    if not files:
        return
    rows = {}
    for f in files:
        for r in load(f):
            if "fid" in r and r.get("fid") is not None:
                rows.setdefault(r["epoch"], []).append(r)
    print(f"\n{title} ({len(files)} runs: {', '.join(os.path.basename(os.path.dirname(f)) for f in files)})\n")
    print("| epoch | " + " | ".join(c[0] for c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for epoch in sorted(rows):
        print(f"| {epoch} | " + " | ".join(cell([r.get(c[1]) for r in rows[epoch]]) for c in columns) + " |")


def main():
    root = sys.argv[1]
    table(root, "paper", [("Parzen, EMA", "parzen_ll"), ("Parzen, live", "live_parzen_ll"),
                          ("LeNet FID, EMA", "fid"), ("LeNet FID, live", "live_fid")],
          "mnist-paper, g_ema_decay = 0.999")
    table(root, "dcgan", [("LeNet FID, EMA", "fid"), ("LeNet FID, live", "live_fid")],
          "mnist-dcgan, g_ema_decay = 0.999")
    small(root, [("base", "baseline"), ("sn", "spectral norm (no BN in D)"),
                 ("aug", "DiffAugment")])


def small(root, cells):
    """The low-data cells side by side: LeNet FID, precision and recall every 20 epochs."""
    by = {}
    for prefix, _ in cells:
        for f in runs(root, prefix):
            for r in load(f):
                if r.get("fid") is not None:
                    by.setdefault((prefix, r["epoch"]), []).append(r)
    epochs = sorted({e for (_, e) in by if e % 20 == 0})
    if not epochs:
        return
    print("\nmnist-dcgan on its first 1,000 training images (LeNet FID; precision / recall)\n")
    print("| epoch | " + " | ".join(name for _, name in cells) + " |")
    print("|---" * (len(cells) + 1) + "|")
    for e in epochs:
        row = []
        for prefix, _ in cells:
            rs = by.get((prefix, e), [])
            mean = lambda k: statistics.mean(r[k] for r in rs)
            row.append(f"{cell([r['fid'] for r in rs])}; {mean('precision'):.2f} / "
                       f"{mean('recall'):.2f}" if rs else "")
        print(f"| {e} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
