"""The dcgan-28 pair (InfoGAN's MNIST layout, as `gan`'s `dcgan-28`) and the DCGAN
initialisation, shared by the PyTorch peers bench/torch_dcgan_step.py (speed) and
bench/torch_twin_mnist_dcgan.py (quality)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def init(m):
    """N(0, 0.02) weights, zero biases; batch-norm scales N(1, 0.02) (Radford et al.)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class G28(nn.Module):
    """dcgan-28's G; with fc > 0, InfoGAN's full G: Linear(nz, fc), BN, ReLU first."""

    def __init__(s, nz=100, ngf=64, c=1, fc=0):
        super().__init__()
        s.ngf = ngf
        s.pre = (nn.Sequential(nn.Linear(nz, fc), nn.BatchNorm1d(fc), nn.ReLU())
                 if fc else nn.Identity())
        s.fc = nn.Linear(fc or nz, 2 * ngf * 49)
        s.bn0 = nn.BatchNorm1d(2 * ngf * 49)
        s.up1 = nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False)
        s.bn1 = nn.BatchNorm2d(ngf)
        s.up2 = nn.ConvTranspose2d(ngf, c, 4, 2, 1)

    def forward(s, z):
        h = F.relu(s.bn0(s.fc(s.pre(z)))).view(-1, 2 * s.ngf, 7, 7)
        return torch.tanh(s.up2(F.relu(s.bn1(s.up1(h)))))


class D28(nn.Module):
    """dcgan-28's D; with fc > 0, InfoGAN's full D: Linear(., fc), BN, LeakyReLU last."""

    def __init__(s, ndf=64, c=1, fc=0):
        super().__init__()
        s.c1 = nn.Conv2d(c, ndf, 4, 2, 1)
        s.c2 = nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False)
        s.bn2 = nn.BatchNorm2d(2 * ndf)
        s.post = (nn.Sequential(nn.Linear(2 * ndf * 49, fc), nn.BatchNorm1d(fc),
                                nn.LeakyReLU(0.2)) if fc else nn.Identity())
        s.fc = nn.Linear(fc or 2 * ndf * 49, 1)

    def forward(s, x):
        h = F.leaky_relu(s.c1(x), 0.2)
        h = F.leaky_relu(s.bn2(s.c2(h)), 0.2)
        return s.fc(s.post(h.flatten(1)))
