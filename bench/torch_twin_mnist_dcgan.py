#!/usr/bin/env python3
"""PyTorch twin of `gan train --preset mnist-dcgan`, for the quality-parity check of the
DCGAN on MNIST (is a LeNet FID far from the MLP's a property of the model or of our code?).

The same configuration as the preset (configs/mnist-dcgan.toml): dcgan-28 (InfoGAN's MNIST
layout from bench/torch_dcgan_models.py, shared with bench/torch_dcgan_step.py), N(0, 0.02)
weights and N(1, 0.02) BN scales, Adam 2e-4 / (0.5, 0.999), batch 64 from training images 0..50000 reshuffled every
epoch (the last partial batch dropped), pixels mapped to [-1, 1], z ~ N(0, I) in 100-d, one D
step on a real and a detached fake batch (separate passes, so BN sees one kind of image at a
time), one G step on a fresh noise batch with the non-saturating loss.

After every --every epochs it writes 10,000 samples of G in evaluation mode (BN running
statistics, as `gan` samples) mapped back to [0, 1] to OUT/samples-EPOCH.npy; score them with
`gan eval fid --samples OUT/samples-EPOCH.npy --json` (and `gan eval pr`). With
--train-mode-samples it also writes OUT/samples-train-mode-EPOCH.npy: G with training-mode BN
(each batch of 64 normalised by its own statistics, as most DCGAN scripts sample).

With --fc 1024 both players get InfoGAN's fully connected hidden layer (Chen et al. 2016: G's
Linear(z, 1024), BN, ReLU first, D's Linear(128 * 7 * 7, 1024), BN, LeakyReLU last), the twin of
`gan train --preset mnist-dcgan-fc`.

Run: python3 bench/torch_twin_mnist_dcgan.py --epochs 5 --out /tmp/twin-dcgan --threads 1
"""
import argparse, copy, gzip, json, os, time
import numpy as np
import torch, torch.nn.functional as F

from torch_dcgan_models import D28, G28, init


def load_images(path):
    b = gzip.open(path).read()
    return np.frombuffer(b, np.uint8, offset=16).reshape(-1, 1, 28, 28)


def save(s, path):
    np.save(path, ((s + 1) / 2).clamp(0, 1).reshape(-1, 784).numpy().astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fc", type=int, default=0,
                    help="InfoGAN's hidden fully connected layer of this width in G and D "
                         "(0: dcgan-28 as the preset)")
    ap.add_argument("--fc-in", choices=["both", "g", "d"], default="both",
                    help="which player gets the --fc layer (to tell their effects apart)")
    ap.add_argument("--train-mode-samples", action="store_true",
                    help="also write samples of G with training-mode BN")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    x_all = load_images(os.path.join(a.data, "train-images-idx3-ubyte.gz"))[:50000]
    x_all = torch.from_numpy(x_all.astype(np.float32) / 255.0 * 2 - 1)
    g = G28(fc=a.fc if a.fc_in in ("both", "g") else 0)
    d = D28(fc=a.fc if a.fc_in in ("both", "d") else 0)
    g.apply(init)
    d.apply(init)
    og = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bs = 64
    for epoch in range(1, a.epochs + 1):
        t = time.time()
        perm = torch.randperm(len(x_all))
        sums = np.zeros(4)
        steps = len(x_all) // bs
        for i in range(steps):
            x = x_all[perm[i * bs:(i + 1) * bs]]
            ones, zeros = torch.ones(bs, 1), torch.zeros(bs, 1)
            with torch.no_grad():
                fake = g(torch.randn(bs, 100))
            od.zero_grad()
            lr_, lf = d(x), d(fake)
            loss_d = (F.binary_cross_entropy_with_logits(lr_, ones)
                      + F.binary_cross_entropy_with_logits(lf, zeros))
            loss_d.backward()
            od.step()
            og.zero_grad()
            loss_g = F.binary_cross_entropy_with_logits(d(g(torch.randn(bs, 100))), ones)
            loss_g.backward()
            og.step()
            sums += [loss_d.item(), loss_g.item(), torch.sigmoid(lr_).mean().item(),
                     torch.sigmoid(lf).mean().item()]
        line = {"epoch": epoch, "d_loss": sums[0] / steps, "g_loss": sums[1] / steps,
                "d_real": sums[2] / steps, "d_fake": sums[3] / steps,
                "seconds": round(time.time() - t, 1)}
        if epoch % a.every == 0:
            g.eval()
            with torch.no_grad():
                s = torch.cat([g(torch.randn(1000, 100)) for _ in range(10)])
            g.train()
            save(s, os.path.join(a.out, f"samples-{epoch:04d}.npy"))
            line["samples"] = os.path.join(a.out, f"samples-{epoch:04d}.npy")
            if a.train_mode_samples:
                # training-mode BN (the statistics of each batch of 64, as most DCGAN
                # scripts sample), on a copy so the running statistics stay untouched
                gc = copy.deepcopy(g)
                with torch.no_grad():
                    s = torch.cat([gc(torch.randn(bs, 100)) for _ in range(10000 // bs + 1)])
                path = os.path.join(a.out, f"samples-train-mode-{epoch:04d}.npy")
                save(s[:10000], path)
                line["samples_train_mode"] = path
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
