#!/usr/bin/env node
/**
 * Reference parity of the convolutional VAE: train the TensorFlow CVAE tutorial's model (z = 2,
 * threshold-binarised MNIST, Adam 1e-3, batch 128) with PyTorch (test/reference/pytorch_conv_vae.py) and
 * with vae-lab (`vae-lab train --arch conv`), and print the two test −ELBO curves side by side.
 * Needs python3-torch. Usage: node test/reference/parity-conv.js [--epochs N] [--train-size N]
 * (--train-size: the first N training images in both runs; the full 10 000-image test set is always used).
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const epochs = flag("--epochs", "10");
const trainSize = flag("--train-size", undefined);
const root = path.resolve(__dirname, "..", "..");
const py = ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
if (!py) {
  console.error("parity-conv: PyTorch is not installed (apt-get install python3-torch)");
  process.exit(1);
}
const subset = trainSize ? ["--train-size", trainSize] : [];
console.error(`PyTorch: ${epochs} epochs…`);
const t = spawnSync(py, [path.join(__dirname, "pytorch_conv_vae.py"), "--epochs", epochs, "--threads", "1", "--binarize", "threshold", ...subset], { encoding: "utf8" });
if (t.status !== 0) {
  console.error(`parity-conv: the PyTorch run failed: ${t.stderr.trim().split("\n").pop()}`);
  process.exit(1);
}
const torch = t.stdout.trim().split("\n").map((l) => JSON.parse(l));
const out = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-parity-conv-"));
console.error(`vae-lab: ${epochs} epochs…`);
const v = spawnSync(
  process.execPath,
  [path.join(root, "dist", "cli", "main.js"), "train", "--arch", "conv", "--latent-dim", "2", "--binarize", "threshold", "--lr", "0.001", "--batch-size", "128", "--epochs", epochs, "--iwae-k", "0", ...subset, "--out", out],
  { stdio: ["ignore", "ignore", "inherit"] },
);
if (v.status !== 0) process.exit(1);
const ours = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
console.log(`backend: ${ours.backend}; training images: ${trainSize ?? 60000}; test images: 10000`);
console.log("epoch | PyTorch test | vae-lab test | difference | PyTorch s/epoch | vae-lab s/epoch");
torch.forEach((p, i) => {
  const o = ours.epochs[i];
  console.log(`${String(p.epoch).padStart(5)} | ${p.testLoss.toFixed(2).padStart(12)} | ${o.testLoss.toFixed(2).padStart(12)} | ${(o.testLoss - p.testLoss).toFixed(2).padStart(10)} | ${p.seconds.toFixed(1).padStart(15)} | ${o.seconds.toFixed(1).padStart(15)}`);
});
