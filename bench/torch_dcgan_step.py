"""The PyTorch twin of `gan bench conv`: the same DCGAN layouts (dcgan-28: InfoGAN's MNIST
model; dcgan-32: pytorch/examples' dcgan with one block fewer), the same initialisation
(N(0, 0.02) weights, BN scales N(1, 0.02)), Adam 2e-4 / beta1 0.5, one D step on a real and a
detached fake batch (separate passes), one G step, BCE with logits, on a fixed random batch.

    python3 bench/torch_dcgan_step.py --model dcgan-28 --channels 1 --threads 2 --steps 30
"""
import argparse, json, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_dcgan_models import D28, G28, init

p = argparse.ArgumentParser()
p.add_argument("--model", default="dcgan-28")
p.add_argument("--channels", type=int, default=1)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--steps", type=int, default=30)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--ngf", type=int, default=64)
p.add_argument("--ndf", type=int, default=64)
p.add_argument("--hidden", type=int, default=0,
               help="dcgan-28: InfoGAN's hidden fully connected layer (gan's conv.hidden)")
p.add_argument("--sample", type=int, default=0,
               help="instead of training: images/s of G in eval mode, this many per round")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
nz, c, ngf, ndf = 100, a.channels, a.ngf, a.ndf


def g32():
    return nn.Sequential(
        nn.Unflatten(1, (nz, 1, 1)),
        nn.ConvTranspose2d(nz, 4 * ngf, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * ngf), nn.ReLU(),
        nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU(),
        nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, c, 4, 2, 1, bias=False), nn.Tanh())


def d32():
    return nn.Sequential(
        nn.Conv2d(c, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * ndf), nn.LeakyReLU(0.2),
        nn.Conv2d(4 * ndf, 1, 4, 1, 0, bias=False), nn.Flatten())


g, d = (G28(nz, ngf, c, a.hidden), D28(ndf, c, a.hidden)) if a.model == "dcgan-28" else (g32(), d32())
side = 28 if a.model == "dcgan-28" else 32
g.apply(init)
d.apply(init)
if a.sample:
    # the twin of `gan bench sample --model M`: G in evaluation mode, chunks of 1000
    g.eval()
    rates = []
    with torch.no_grad():
        for r in range(6):
            t = time.perf_counter()
            for start in range(0, a.sample, 1000):
                g(torch.randn(min(1000, a.sample - start), nz))
            if r > 0:
                rates.append(a.sample / (time.perf_counter() - t))
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "model": a.model, "channels": c,
                      "threads": a.threads, "images_per_sec": round(statistics.median(rates))}))
    raise SystemExit(0)
og = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
od = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
x = torch.rand(a.batch, c, side, side) * 2 - 1
ones, zeros = torch.ones(a.batch, 1), torch.zeros(a.batch, 1)
times = []
for i in range(a.warmup + a.steps):
    t = time.perf_counter()
    z = torch.randn(a.batch, nz)
    with torch.no_grad():
        fake = g(z)
    od.zero_grad()
    loss_d = (F.binary_cross_entropy_with_logits(d(x), ones)
              + F.binary_cross_entropy_with_logits(d(fake), zeros))
    loss_d.backward()
    od.step()
    og.zero_grad()
    loss_g = F.binary_cross_entropy_with_logits(d(g(torch.randn(a.batch, nz))), ones)
    loss_g.backward()
    og.step()
    if i >= a.warmup:
        times.append((time.perf_counter() - t) * 1e3)
print(json.dumps({"peer": f"pytorch {torch.__version__}", "model": a.model, "channels": c,
                  "hidden": a.hidden, "batch": a.batch, "threads": a.threads,
                  "median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3)}))
