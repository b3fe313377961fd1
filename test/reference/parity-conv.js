#!/usr/bin/env node
/**
 * Reference parity of the convolutional VAE (the TensorFlow convolutional-VAE tutorial's model, z = 2, threshold-binarised
 * MNIST, Adam 1e-3, batch 128): the test −ELBO per epoch of vae-lab and of the same model in PyTorch
 * (test/reference/pytorch_conv_vae.py), side by side. Needs PyTorch (python3-torch, or the Python named by
 * $PYTHON) and a built dist/.
 *
 *   node test/reference/parity-conv.js [--epochs N] [--train-size N] [--seeds 1,2,3] [--independent]
 *
 * Matched (the default): for each seed, vae-lab draws the initial weights, every epoch's minibatch order and
 * every ε (training and test) once; both frameworks start from those weights and use that order and that
 * noise, so the two curves differ only by how each framework rounds (float32 kernels, summation order) and
 * how that grows over the steps. vae-lab's side is ConvVae, negativeElbo (with the given ε) and createAdam
 * in a plain loop; PyTorch's side is pytorch_conv_vae.py --replay.
 *
 * --independent: each framework trains from its own seed with its own randomness (`vae-lab train --arch
 * conv` against pytorch_conv_vae.py); the difference then also holds the seed-to-seed spread.
 *
 * --train-size N, --test-size N: the first N training / test images in both runs (all by default).
 * --json: print the per-seed results as one JSON line instead of tables (test/conv-vae.test.ts reads it).
 */
const { spawn, spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const epochs = Number(flag("--epochs", "10"));
const trainSize = flag("--train-size", undefined);
const testSize = flag("--test-size", undefined);
const json = args.includes("--json");
const seeds = flag("--seeds", "1").split(",").map(Number);
const independent = args.includes("--independent");
const root = path.resolve(__dirname, "..", "..");
const script = path.join(__dirname, "pytorch_conv_vae.py");
const py = [process.env.PYTHON, "/usr/bin/python3", "python3"].filter(Boolean).find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
if (!py) {
  console.error("parity-conv: PyTorch is not installed (apt-get install python3-torch, or name a Python that has it in $PYTHON)");
  process.exit(1);
}
const BATCH = 128;
const TEST_BATCH = 500;

/** Run a child to completion; resolves with its stdout (its stderr passes through). */
function run(cmd, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(argv[0])} exited with ${code}`))));
  });
}

/** A variable's layer name without the model's unique prefix ("conv1/W", …), the key both frameworks use. */
const layerName = (v) => v.name.split("/").slice(1).join("/");

/** vae-lab's initial weights, minibatch orders and noise for one seed, written where PyTorch reads them. */
function writeTrace(vl, seed, dir, trainCount, testCount) {
  const m = new vl.ConvVae({ latentDim: 2, seed });
  const weights = Object.fromEntries(m.variables().map((v) => [layerName(v), { shape: v.shape, data: Array.from(v.dataSync()) }]));
  m.dispose();
  const rng = new vl.Rng(seed + 1000);
  const perm = new Int32Array(epochs * trainCount);
  const eps = new Float32Array(epochs * trainCount * 2);
  const testEps = new Float32Array(epochs * testCount * 2);
  for (let e = 0; e < epochs; e++) {
    perm.set(rng.permutation(trainCount), e * trainCount);
    for (let i = 0; i < trainCount * 2; i++) eps[e * trainCount * 2 + i] = rng.normal();
    for (let i = 0; i < testCount * 2; i++) testEps[e * testCount * 2 + i] = rng.normal();
  }
  fs.writeFileSync(path.join(dir, "weights.json"), JSON.stringify(weights));
  fs.writeFileSync(path.join(dir, "perm.i32"), Buffer.from(perm.buffer));
  fs.writeFileSync(path.join(dir, "eps.f32"), Buffer.from(eps.buffer));
  fs.writeFileSync(path.join(dir, "test-eps.f32"), Buffer.from(testEps.buffer));
  return { weights, perm, eps, testEps };
}

/** The matched run on vae-lab's side: the trace's weights, order and noise, in a plain training loop. */
function trainMatched(vl, trace, train, test) {
  const { tf } = vl;
  const m = new vl.ConvVae({ latentDim: 2, seed: 0 });
  const vars = m.variables();
  vars.forEach((v) => {
    const w = trace.weights[layerName(v)];
    tf.tidy(() => v.assign(tf.tensor(w.data, w.shape)));
  });
  const adam = vl.createAdam(1e-3);
  const out = [];
  for (let e = 0; e < epochs; e++) {
    const t0 = performance.now();
    const perm = trace.perm.subarray(e * train.count, (e + 1) * train.count);
    let total = 0;
    for (let s = 0; s < train.count; s += BATCH) {
      const n = Math.min(BATCH, train.count - s);
      total += tf.tidy(() => {
        const x = vl.batchTensor(train, perm.subarray(s, s + n));
        const eps = tf.tensor2d(trace.eps.subarray(e * train.count * 2 + s * 2, e * train.count * 2 + (s + n) * 2), [n, 2]);
        const { value, grads } = tf.variableGrads(() => vl.negativeElbo(m, x, { eps }).loss, vars);
        adam.applyGradients(grads, vars);
        return value.dataSync()[0] * n;
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    let testTotal = 0;
    for (let s = 0; s < test.count; s += TEST_BATCH) {
      const n = Math.min(TEST_BATCH, test.count - s);
      testTotal += tf.tidy(() => {
        const x = vl.batchTensor(test, Int32Array.from({ length: n }, (_, i) => s + i));
        const eps = tf.tensor2d(trace.testEps.subarray(e * test.count * 2 + s * 2, e * test.count * 2 + (s + n) * 2), [n, 2]);
        return vl.negativeElbo(m, x, { eps }).loss.dataSync()[0] * n;
      });
    }
    out.push({ epoch: e + 1, trainLoss: total / train.count, testLoss: testTotal / test.count, seconds });
    console.error(`  vae-lab epoch ${e + 1}: test ${out[e].testLoss.toFixed(2)}`);
  }
  adam.dispose();
  m.dispose();
  return out;
}

async function matched(seed) {
  const vl = require(path.join(root, "dist"));
  const backend = await vl.initBackend("auto");
  const train = vl.loadMnist({ split: "train", binarize: "threshold", limit: trainSize ? Number(trainSize) : undefined });
  const test = vl.loadMnist({ split: "test", binarize: "threshold", limit: testSize ? Number(testSize) : undefined });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-parity-conv-"));
  const trace = writeTrace(vl, seed, dir, train.count, test.count);
  // PyTorch runs in its own process while vae-lab trains here (one thread each).
  const torchRun = run(py, [script, "--replay", dir, "--epochs", String(epochs), "--threads", "1", "--binarize", "threshold", ...(trainSize ? ["--train-size", trainSize] : []), ...(testSize ? ["--test-size", testSize] : [])]);
  const ours = trainMatched(vl, trace, train, test);
  const torch = (await torchRun).trim().split("\n").map((l) => JSON.parse(l));
  fs.rmSync(dir, { recursive: true, force: true });
  return { backend: backend.summary, ours, torch };
}

async function independentRun(seed) {
  if (testSize) throw new Error("--test-size: the independent runs use the whole test set");
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-parity-conv-"));
  const subset = trainSize ? ["--train-size", trainSize] : [];
  const torchRun = run(py, [script, "--epochs", String(epochs), "--threads", "1", "--binarize", "threshold", "--seed", String(seed), ...subset]);
  const cli = [path.join(root, "dist", "cli", "main.js"), "train", "--arch", "conv", "--latent-dim", "2", "--binarize", "threshold", "--lr", "0.001", "--batch-size", "128", "--epochs", String(epochs), "--iwae-k", "0", "--seed", String(seed), ...subset, "--out", out];
  await run(process.execPath, cli);
  const metrics = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
  const torch = (await torchRun).trim().split("\n").map((l) => JSON.parse(l));
  fs.rmSync(out, { recursive: true, force: true });
  return { backend: metrics.backend, ours: metrics.epochs, torch };
}

(async () => {
  if (json) {
    const results = [];
    for (const seed of seeds) results.push({ seed, ...(independent ? await independentRun(seed) : await matched(seed)) });
    console.log(JSON.stringify(results));
    return;
  }
  console.log(`${independent ? "independent runs (own seeds and noise)" : "matched runs (same initial weights, minibatch order and ε)"}; training images: ${trainSize ?? 60000}; test images: ${testSize ?? 10000}; ${epochs} epochs`);
  const worst = [];
  for (const seed of seeds) {
    console.error(`seed ${seed}: both frameworks, ${epochs} epochs…`);
    const r = independent ? await independentRun(seed) : await matched(seed);
    console.log(`\nseed ${seed}; vae-lab backend: ${r.backend}`);
    console.log("epoch | PyTorch test | vae-lab test | difference | PyTorch s/epoch | vae-lab s/epoch");
    let w = 0;
    r.torch.forEach((p, i) => {
      const o = r.ours[i];
      w = Math.max(w, Math.abs(o.testLoss - p.testLoss));
      console.log(`${String(p.epoch).padStart(5)} | ${p.testLoss.toFixed(2).padStart(12)} | ${o.testLoss.toFixed(2).padStart(12)} | ${(o.testLoss - p.testLoss).toFixed(2).padStart(10)} | ${p.seconds.toFixed(1).padStart(15)} | ${o.seconds.toFixed(1).padStart(15)}`);
    });
    worst.push(w);
    console.log(`largest |difference| over the ${epochs} epochs: ${w.toFixed(2)} nats`);
  }
  if (seeds.length > 1) console.log(`\nlargest |difference| per seed: ${worst.map((w) => w.toFixed(2)).join(", ")} nats`);
})().catch((e) => {
  console.error(`parity-conv: ${e.message}`);
  process.exit(1);
});
