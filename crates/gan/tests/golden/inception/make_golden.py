"""Golden outputs of pytorch-fid's FID Inception on synthetic weights, for
crates/gan/tests/inception.rs (issue 20). The real weights cannot be downloaded here, so
both sides compute the same deterministic weights from each parameter's name and index:

    seed = FNV-1a 64 of the name;  x_i = splitmix64(seed + i);  u_i = (x_i >> 40) / 2^24
    conv weight  (2u - 1) * sqrt(6 / fan_in)      (He-uniform, keeps activations O(1))
    bn.weight    1 + 0.2 (2u - 1)     bn.bias, bn.running_mean   0.2 (2u - 1)
    bn.running_var   0.5 + u          fc.weight (2u - 1) * sqrt(6 / 2048)   fc.bias 0.1 (2u - 1)

all in float32, in that order of operations. The inputs are three images in [0, 1] from the
same generator ("input-<k>"): 28 x 28 grey, 32 x 32 RGB, 299 x 299 RGB.

Dev tool only: pip install torch torchvision pytorch-fid scipy, then
    python3 crates/gan/tests/golden/inception/make_golden.py
It writes golden.json beside itself: per image, each stage's mean, standard deviation and
first 8 values, the 2048 features and the 1008 logits; and the Frechet distance and the
Inception Score of synthetic feature sets by the reference formulas, in float64.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid import inception as pfi
from pytorch_fid.fid_score import calculate_frechet_distance

M64 = (1 << 64) - 1


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def uniform(name, n):
    """u_i in [0, 1) with 24 bits, exactly representable in float32."""
    with np.errstate(over="ignore"):
        x = np.uint64(fnv1a(name)) + np.arange(n, dtype=np.uint64)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(40)).astype(np.float32)) / np.float32(1 << 24)


def synthetic(name, shape):
    n = int(np.prod(shape))
    u = uniform(name, n)
    s = np.float32(2.0) * u - np.float32(1.0)
    if name.endswith("num_batches_tracked"):
        return None
    if name.endswith("conv.weight") or name == "fc.weight":
        fan_in = int(np.prod(shape[1:]))
        v = s * np.float32(np.sqrt(6.0 / fan_in))
    elif name.endswith("bn.weight"):
        v = np.float32(1.0) + np.float32(0.2) * s
    elif name.endswith("bn.bias") or name.endswith("bn.running_mean"):
        v = np.float32(0.2) * s
    elif name.endswith("bn.running_var"):
        v = np.float32(0.5) + u
    elif name == "fc.bias":
        v = np.float32(0.1) * s
    else:
        raise ValueError(name)
    return v.reshape(shape)


def network():
    """pytorch-fid's fid_inception_v3 without its download."""
    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    state = {}
    for k, v in net.state_dict().items():
        w = synthetic(k, tuple(v.shape))
        state[k] = v if w is None else torch.from_numpy(w)
    net.load_state_dict(state)
    return net.eval()


def images():
    out = []
    for k, (c, side) in enumerate([(1, 28), (3, 32), (3, 299)]):
        u = uniform(f"input-{k}", c * side * side).reshape(1, c, side, side)
        out.append(torch.from_numpy(u))
    return out


STAGES = [
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
    "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
    "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
]


def run(net, x):
    """pytorch-fid's InceptionV3.forward (resize, normalise, blocks), every stage kept."""
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    stages = []
    h = x
    for name in STAGES:
        if name.startswith("maxpool"):
            h = F.max_pool2d(h, kernel_size=3, stride=2)
        else:
            h = getattr(net, name)(h)
        stages.append((name, h))
    feats = F.adaptive_avg_pool2d(h, (1, 1)).flatten(1)
    return stages, feats, net.fc(feats), feats @ net.fc.weight.T


def inception_score(logits, splits=10):
    """torch-fidelity's isc_features_to_metric with shuffle off (its default shuffles with
    numpy's RandomState(2020) first): softmax and log-softmax in float64, per split
    exp(mean_x KL(p(y|x) || p(y))), then the mean and the (population) standard deviation."""
    n = logits.shape[0]
    feature = logits.double()
    p, log_p = feature.softmax(dim=1), feature.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        p_chunk = p[(i * n // splits):((i + 1) * n // splits), :]
        log_p_chunk = log_p[(i * n // splits):((i + 1) * n // splits), :]
        q_chunk = p_chunk.mean(dim=0, keepdim=True)
        kl = p_chunk * (log_p_chunk - q_chunk.log())
        scores.append(kl.sum(dim=1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def main():
    torch.set_num_threads(2)
    net = network()
    # torchvision's stem is pytorch-fid's first block: check the assembled network gives the
    # same pool3 features as pytorch_fid.inception.InceptionV3 built around it
    wrapper = pfi.InceptionV3.__new__(pfi.InceptionV3)
    torch.nn.Module.__init__(wrapper)
    wrapper.resize_input, wrapper.normalize_input = True, True
    wrapper.output_blocks, wrapper.last_needed_block = [3], 3
    wrapper.blocks = torch.nn.ModuleList([
        torch.nn.Sequential(net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3,
                            torch.nn.MaxPool2d(kernel_size=3, stride=2)),
        torch.nn.Sequential(net.Conv2d_3b_1x1, net.Conv2d_4a_3x3,
                            torch.nn.MaxPool2d(kernel_size=3, stride=2)),
        torch.nn.Sequential(net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a,
                            net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e),
        torch.nn.Sequential(net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
                            torch.nn.AdaptiveAvgPool2d(output_size=(1, 1))),
    ])
    out = {"images": []}
    with torch.no_grad():
        for x in images():
            x3 = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
            stages, feats, logits, unbiased = run(net, x3)
            ref = wrapper(x3)[0].flatten(1)
            assert torch.allclose(ref, feats, atol=1e-6), (ref - feats).abs().max()
            out["images"].append({
                "shape": list(x.shape[1:]),
                "stages": [
                    {"name": n, "shape": list(h.shape[1:]), "mean": h.double().mean().item(),
                     "std": h.double().std().item(), "first": h.flatten()[:8].tolist()}
                    for n, h in stages
                ],
                "features": feats[0].tolist(),
                "logits": logits[0].tolist(),
                "logits_unbiased": unbiased[0].tolist(),
            })
    # the reference formulas on synthetic feature sets (float64)
    rng = np.random.default_rng(0)
    # float32 values (what the features are), the formulas in float64
    a = (rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))).astype(np.float32)
    b = (rng.normal(size=(200, 16)) @ rng.normal(size=(16, 16)) + 0.5).astype(np.float32)
    a, b = a.astype(np.float64), b.astype(np.float64)
    fid = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False),
                                     b.mean(0), np.cov(b, rowvar=False))
    logits = torch.from_numpy((rng.normal(size=(500, 20)) * 3.0).astype(np.float32))
    is_mean, is_std = inception_score(logits)
    out["frechet"] = {"a": a.tolist(), "b": b.tolist(), "distance": float(fid)}
    out["inception_score"] = {"logits": logits.tolist(), "splits": 10, "mean": is_mean,
                              "std": is_std}
    out["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "golden.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
