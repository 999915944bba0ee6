#!/usr/bin/env python3
"""PyTorch twin of the authors' simultaneous schedule (what `mnist-paper` trains with), on the
workload of torch_paper_step.py: the GAN paper's MNIST model on CPU, batch 100.

One step: G(z) once; D (with dropout) on the real and the fake batch; the D objective
0.5 * (BCE(real, 1) + BCE(fake, 0)) and the non-saturating G objective BCE(fake, 1) on the
same fake logits (same dropout masks); D's gradients from the D objective only, G's from the
G objective only, back-propagated through the m fake rows alone (as `gan` does); one SGD
update of each. Prints one JSON line with median and min ms/step.

D runs as two calls of m rows (real, fake) so that G's backward pass covers only the fake
rows' graph: with one call on [real; fake], autograd would carry G's objective back through
all 2m rows (`--one-pass` measures that form, for comparison).

Run: python torch_paper_step_simultaneous.py --threads 2 --steps 200
"""
import argparse, json, math, time
import torch, torch.nn as nn, torch.nn.functional as F


class Maxout(nn.Module):
    def __init__(self, din, units, pieces):
        super().__init__()
        self.lin, self.units, self.pieces = nn.Linear(din, units * pieces), units, pieces

    def forward(self, x):
        return self.lin(x).view(-1, self.units, self.pieces).max(-1).values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--one-pass", action="store_true",
                    help="D on [real; fake] in one call (G's backward through all 2m rows)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(),
                      nn.Linear(1200, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Dropout(.2), Maxout(784, 240, 5), nn.Dropout(.5), Maxout(240, 240, 5),
                      nn.Dropout(.5), nn.Linear(240, 1))
    og = torch.optim.SGD(g.parameters(), lr=.1, momentum=.5)
    od = torch.optim.SGD(d.parameters(), lr=.1, momentum=.5)
    b = a.batch
    x = torch.rand(b, 784)
    ones, zeros, s3 = torch.ones(b, 1), torch.zeros(b, 1), math.sqrt(3)
    dparams = list(d.parameters())
    times = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        fake = g((torch.rand(b, 100) * 2 - 1) * s3)
        if a.one_pass:
            logits = d(torch.cat([x, fake]))
            real_l, fake_l = logits[:b], logits[b:]
        else:
            real_l, fake_l = d(x), d(fake)
        gl = F.binary_cross_entropy_with_logits(fake_l, ones)
        # G's gradient through D: gradient w.r.t. the fake batch only (no D parameter
        # gradients are computed for it), then into G
        (gfake,) = torch.autograd.grad(gl, fake, retain_graph=True)
        dl = 0.5 * (F.binary_cross_entropy_with_logits(real_l, ones) +
                    F.binary_cross_entropy_with_logits(fake_l, zeros))
        dgrads = torch.autograd.grad(dl, dparams)
        og.zero_grad(); fake.backward(gfake)
        for p, gr in zip(dparams, dgrads): p.grad = gr
        od.step(); og.step()
        dl.item(); gl.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    form = " one-pass" if a.one_pass else ""
    print(json.dumps({"peer": "pytorch " + torch.__version__ + " simultaneous" + form, "threads": a.threads,
                      "batch": b, "median_ms": round(times[len(times) // 2], 3), "min_ms": round(times[0], 3)}))


if __name__ == "__main__":
    main()
