#!/usr/bin/env python3
"""PyTorch twin of `gan train --preset mnist-paper`, for the quality-parity check of Table 1.

The same configuration as the preset (configs and crates/gan/src/config.rs): the authors'
simultaneous schedule (G(z) once per step; D with dropout on [real; fake]; D objective
0.5 * (BCE(real, 1) + BCE(fake, 0)), non-saturating G objective BCE(fake, 1) on the same
logits and dropout masks; both updates from the same parameters), batch 100 from training
images 0..50000 reshuffled every epoch, noise U(-sqrt 3, sqrt 3)^100, G 100-1200-1200-784
(ReLU, ReLU, sigmoid), D maxout 240x5, 240x5, sigmoid, dropout keep 0.8 on D's input and 0.5
on its hidden layers (inverted scaling), pylearn2 momentum (v <- mu v - lr g, theta += v),
lr 0.1 / 1.000004^step (min 1e-6), momentum 0.5 + 0.2 * e / 249 during epoch e (from 0),
0.7 from e = 249 on.

--init pylearn2 (default) initialises as the preset and the authors do: weights U(-r, r),
r = 0.05 in G and 0.005 in D, biases 0, G's output bias the logit of the training images'
mean pixel clipped to [1e-7, 1 - 1e-7] (pylearn2's init_sigmoid_bias_from_marginals).
--init torch keeps PyTorch's default nn.Linear initialisation instead.

Every --every epochs it writes 10,000 samples to OUT/samples-EPOCH.npy; score them with
`gan eval parzen --samples OUT/samples-EPOCH.npy --json`.

D runs as two calls of 100 rows (real, fake), so G's objective is back-propagated through the
fake rows only, as `gan` does; `--one-pass` runs D once on the 200 rows [real; fake] (G's
backward then covers all 200), the form the quality-parity table in the README was trained
with (the same mathematics; the dropout masks come from the random stream in another
order).

Run: python torch_twin_mnist_paper.py --epochs 40 --out /tmp/twin --threads 1
"""
import argparse, gzip, json, math, os, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F


class Maxout(nn.Module):
    def __init__(self, din, units, pieces):
        super().__init__()
        self.lin, self.units, self.pieces = nn.Linear(din, units * pieces), units, pieces

    def forward(self, x):
        # pieces of a unit are adjacent columns, as in pylearn2's Maxout
        return self.lin(x).view(-1, self.units, self.pieces).max(-1).values


def load_images(path):
    b = gzip.open(path).read()
    return np.frombuffer(b, np.uint8, offset=16).reshape(-1, 784)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", choices=["pylearn2", "torch"], default="pylearn2")
    ap.add_argument("--out", required=True)
    ap.add_argument("--one-pass", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    train = torch.from_numpy(
        load_images(os.path.join(a.data, "train-images-idx3-ubyte.gz"))[:50000].astype(np.float32) / 255.0)
    g = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(),
                      nn.Linear(1200, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Dropout(.2), Maxout(784, 240, 5), nn.Dropout(.5), Maxout(240, 240, 5),
                      nn.Dropout(.5), nn.Linear(240, 1))
    if a.init == "pylearn2":
        with torch.no_grad():
            for net, r in ((g, .05), (d, .005)):
                for m in net.modules():
                    if isinstance(m, nn.Linear):
                        m.weight.uniform_(-r, r)
                        m.bias.zero_()
            p = train.double().mean(0).clamp(1e-7, 1 - 1e-7)
            g[4].bias.copy_(torch.log(p / (1 - p)))
    params = list(g.parameters()) + list(d.parameters())
    vel = [torch.zeros_like(p) for p in params]
    dparams = list(d.parameters())
    b, s3, step = 100, math.sqrt(3), 0
    ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
    for epoch in range(a.epochs):
        # pylearn2's MomentumAdjustor also runs before the first epoch: epoch e (from 0)
        # trains with 0.5 + 0.2 * e / 249, 0.7 from e = 249 on
        mu = 0.5 + (0.7 - 0.5) * min(1.0, epoch / 249)
        t0, order = time.time(), torch.from_numpy(rng.permutation(50000))
        sums = np.zeros(4)
        for i in range(500):
            lr = max(1e-6, 0.1 / 1.000004 ** step)
            x = train[order[i * b:(i + 1) * b]]
            fake = g((torch.rand(b, 100) * 2 - 1) * s3)
            if a.one_pass:
                logits = d(torch.cat([x, fake]))
                real_l, fake_l = logits[:b], logits[b:]
            else:
                real_l, fake_l = d(x), d(fake)
            gl = F.binary_cross_entropy_with_logits(fake_l, ones)
            dl = 0.5 * (F.binary_cross_entropy_with_logits(real_l, ones) +
                        F.binary_cross_entropy_with_logits(fake_l, zeros))
            (gfake,) = torch.autograd.grad(gl, fake, retain_graph=True)
            dgrads = torch.autograd.grad(dl, dparams, retain_graph=True)
            ggrads = torch.autograd.grad(fake, list(g.parameters()), gfake)
            with torch.no_grad():
                for p, v, gr in zip(params, vel, list(ggrads) + list(dgrads)):
                    v.mul_(mu).add_(gr, alpha=-lr)
                    p.add_(v)
                sums += [dl.item(), gl.item(), torch.sigmoid(real_l).mean().item(),
                         torch.sigmoid(fake_l).mean().item()]
            step += 1
        row = {"epoch": epoch + 1, "d_loss": sums[0] / 500, "g_loss": sums[1] / 500,
               "d_real": sums[2] / 500, "d_fake": sums[3] / 500, "lr": lr, "momentum": mu,
               "seconds": round(time.time() - t0, 2)}
        if (epoch + 1) % a.every == 0:
            with torch.no_grad():
                s = torch.cat([g((torch.rand(1000, 100) * 2 - 1) * s3) for _ in range(10)])
            np.save(os.path.join(a.out, f"samples-{epoch + 1:04d}.npy"), s.numpy().astype(np.float32))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
