#!/usr/bin/env node
/**
 * Reference parity: train the pytorch/examples VAE setup (784-400-20, ReLU, raw-pixel BCE + analytic KL,
 * Adam 1e-3, batch 128, 10 epochs) with PyTorch (test/reference/pytorch_vae.py) and with vae-lab, and print
 * the two test-loss curves side by side. Needs python3-torch. Usage: npm run parity [-- --epochs N]
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const args = process.argv.slice(2);
const epochs = args[0] === "--epochs" ? args[1] : "10";
const root = path.resolve(__dirname, "..", "..");
const py = ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
if (!py) {
  console.error("parity: PyTorch is not installed (apt-get install python3-torch)");
  process.exit(1);
}
console.error(`PyTorch: ${epochs} epochs…`);
const t = spawnSync(py, [path.join(__dirname, "pytorch_vae.py"), "--epochs", epochs, "--threads", "1"], { encoding: "utf8" });
if (t.status !== 0) {
  console.error(`parity: the PyTorch run failed: ${t.stderr.trim().split("\n").pop()}`);
  process.exit(1);
}
const torch = t.stdout.trim().split("\n").map((l) => JSON.parse(l));
const out = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-parity-"));
console.error(`vae-lab: ${epochs} epochs…`);
const v = spawnSync(process.execPath, [path.join(root, "dist", "cli", "main.js"), "train", "--epochs", epochs, "--latent-dim", "20", "--hidden-dim", "400", "--iwae-k", "0", "--out", out], { stdio: ["ignore", "ignore", "inherit"] });
if (v.status !== 0) process.exit(1);
const ours = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
console.log(`backend: ${ours.backend}`);
console.log("epoch | PyTorch test | vae-lab test | difference | PyTorch s/epoch | vae-lab s/epoch");
torch.forEach((p, i) => {
  const o = ours.epochs[i];
  console.log(`${String(p.epoch).padStart(5)} | ${p.testLoss.toFixed(2).padStart(12)} | ${o.testLoss.toFixed(2).padStart(12)} | ${(o.testLoss - p.testLoss).toFixed(2).padStart(10)} | ${p.seconds.toFixed(1).padStart(15)} | ${o.seconds.toFixed(1).padStart(15)}`);
});
