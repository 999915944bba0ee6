"""Inception features side by side (issue 20): pytorch-fid's network against ours, the same
synthetic weights (golden/inception/make_golden.py's formula), the same images, 2 threads
each, interleaved rounds. Dev tool: pip install torch torchvision pytorch-fid scipy.

    python3 bench/inception_side_by_side.py [--n 40] [--rounds 2]

Ours: `gan eval is --samples` (weights loading and the score included, timed by the command's
own "seconds"); pytorch-fid: the forward passes of its InceptionV3 wrapper in batches of 50
(weights already built). Prints images/s of each and the ratio.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "crates", "gan", "tests", "golden", "inception"))
import make_golden as mg  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gan", default=os.path.join(HERE, "..", "target", "release", "gan"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    tmp = tempfile.mkdtemp()
    net = mg.network()
    torch.save(net.state_dict(), os.path.join(tmp, "synthetic.pth"))
    rng = np.random.default_rng(0)
    imgs = rng.random((a.n, 784), dtype=np.float32)
    np.save(os.path.join(tmp, "samples.npy"), imgs)
    x = torch.from_numpy(imgs.reshape(-1, 1, 28, 28)).repeat(1, 3, 1, 1)
    ours, theirs = [], []
    for r in range(a.rounds):
        t = time.perf_counter()
        with torch.no_grad():
            for i in range(0, a.n, 50):
                mg.run(net, x[i:i + 50])
        theirs.append(a.n / (time.perf_counter() - t))
        out = subprocess.run(
            [a.gan, "eval", "is", "--inception-weights", os.path.join(tmp, "synthetic.pth"),
             "--samples", os.path.join(tmp, "samples.npy"), "--data", "data/mnist",
             "--splits", "2", "--threads", "2", "--json"],
            check=True, capture_output=True, text=True, cwd=os.path.join(HERE, ".."))
        ours.append(a.n / json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        print(f"round {r}: pytorch-fid {theirs[-1]:.2f} images/s, ours {ours[-1]:.2f} images/s")
    print(f"best: pytorch-fid {max(theirs):.2f}, ours {max(ours):.2f} images/s, "
          f"ratio {max(ours) / max(theirs):.2f}x")


if __name__ == "__main__":
    main()
