/**
 * `vae-lab bench`: time the reference setup — the pytorch/examples VAE (784-400-20, ReLU, BCE + analytic
 * KL, Adam 1e-3, batch 128) on the 60 000 MNIST training images — on the current backend, and, where
 * Python with PyTorch is installed, the same setup in PyTorch (CPU, one thread) for comparison.
 * With `arch: "conv"`, the TensorFlow convolutional-VAE tutorial's model (z = 2, threshold-binarised MNIST)
 * against test/reference/pytorch_conv_vae.py. Prints seconds per epoch and images per second.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tf from "../engine/tf";
import { BackendChoice, initBackend, nativeKernelsHint } from "../engine/backend";
import { nativeBlasCore } from "../engine/native-kernels";
import * as os from "os";
import { loadMnist } from "../data/mnist";
import { trainVae } from "../vae/train";
import { Vae } from "../vae/model";
import { ConvVae } from "../vae/conv";
import type { Binarize } from "../data/mnist";

export interface BenchResult {
  backend: string;
  steps: number;
  secondsPerEpoch: number;
  imagesPerSecond: number;
  torch?: { secondsPerEpoch: number; imagesPerSecond: number; ratio: number };
}

const TRAIN_IMAGES = 60000;
const BATCH = 128;
const STEPS_PER_EPOCH = Math.ceil(TRAIN_IMAGES / BATCH);

function findTorchPython(): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import torch"], { stdio: "ignore" });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** Per-kernel time of a few training steps (tf.profile), grouped by kernel and input shapes. */
async function profileSteps(log: (s: string) => void, setup: BenchSetup): Promise<void> {
  const train = loadMnist({ split: "train", limit: BATCH * 6, binarize: setup.binarize });
  const tiny = loadMnist({ split: "test", limit: 10, binarize: setup.binarize });
  const vae = setup.make();
  trainVae(vae, loadMnist({ split: "train", limit: BATCH, binarize: setup.binarize }), tiny, { epochs: 1, seed: 1 }); // warm-up
  const info = await tf.profile(() => {
    trainVae(vae, train, tiny, { epochs: 1, seed: 2 });
  });
  vae.dispose();
  const steps = 6;
  const byKey = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    if (k.name === "unnamed scope") continue;
    const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join("")}`;
    const e = byKey.get(key) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    e.calls += 1;
    byKey.set(key, e);
  }
  const rows = [...byKey.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0) / steps;
  log(`profile: ${(info.kernels.length / steps).toFixed(0)} kernels and ${total.toFixed(1)} ms of kernel time per step (evaluation included); the largest:`);
  for (const [key, e] of rows.slice(0, 14)) log(`  ${(e.ms / steps).toFixed(2).padStart(6)} ms  ${(e.calls / steps).toFixed(1).padStart(4)}×  ${key}`);
}

/** What is timed: the model, its data, the PyTorch script of the same setup, and a one-line description. */
interface BenchSetup {
  make(): Vae | ConvVae;
  binarize: Binarize;
  script: string;
  describe: string;
}

const SETUPS: Record<"mlp" | "conv", BenchSetup> = {
  mlp: {
    make: () => new Vae({ seed: 1 }),
    binarize: "none",
    script: "pytorch_vae.py",
    describe: `784-400-20 ReLU VAE, Bernoulli (BCE) + analytic KL, Adam 1e-3, batch ${BATCH}`,
  },
  conv: {
    make: () => new ConvVae({ latentDim: 2, seed: 1 }),
    binarize: "threshold",
    script: "pytorch_conv_vae.py",
    describe: `convolutional VAE (TensorFlow convolutional-VAE tutorial's: conv 32/64 stride 2, transposed conv 64/32/1), z = 2, threshold-binarised, Adam 1e-3, batch ${BATCH}`,
  },
};

export async function runBench(options: { steps?: number; backend: BackendChoice; torch: boolean; profile?: boolean; arch?: "mlp" | "conv"; log: (s: string) => void }): Promise<BenchResult> {
  const { log } = options;
  const setup = SETUPS[options.arch ?? "mlp"];
  const backend = await initBackend(options.backend);
  const steps = Math.min(options.steps ?? STEPS_PER_EPOCH, STEPS_PER_EPOCH);
  log(`backend: ${backend.summary}`);
  const core = nativeBlasCore();
  const blas = core ? `OpenBLAS ${core.name}` : backend.name === "tensorflow" ? "libtensorflow's own kernels" : "none (no native kernels)";
  log(`cpu: ${os.cpus()[0]?.model ?? "unknown"} × ${os.cpus().length}; BLAS core: ${blas}`);
  const hint = nativeKernelsHint(backend);
  if (hint) log(hint);
  log(`setup: ${setup.describe}; timing ${steps} of ${STEPS_PER_EPOCH} steps per epoch`);
  const train = loadMnist({ split: "train", limit: Math.min(TRAIN_IMAGES, steps * BATCH), binarize: setup.binarize });
  const tiny = loadMnist({ split: "test", limit: 10, binarize: setup.binarize });
  // One warm-up step outside the timing (kernels compile, memory is allocated).
  const warm = setup.make();
  trainVae(warm, loadMnist({ split: "train", limit: BATCH, binarize: setup.binarize }), tiny, { epochs: 1, seed: 1 });
  warm.dispose();
  const vae = setup.make();
  const cpu0 = process.cpuUsage();
  const [rec] = trainVae(vae, train, tiny, { epochs: 1, batchSize: BATCH, seed: 1 });
  const cpu = process.cpuUsage(cpu0);
  vae.dispose();
  const secondsPerEpoch = (rec.seconds / Math.ceil(train.count / BATCH)) * STEPS_PER_EPOCH;
  const result: BenchResult = { backend: backend.name, steps, secondsPerEpoch, imagesPerSecond: TRAIN_IMAGES / secondsPerEpoch };
  log(`vae-lab (${backend.name}):  ${secondsPerEpoch.toFixed(2)} s per epoch, ${result.imagesPerSecond.toFixed(0)} images/s`);
  // CPU time is what a busy machine distorts least (wall-clock time there includes waiting for a core).
  const cpuPerEpoch = ((cpu.user + cpu.system) / 1e6 / Math.ceil(train.count / BATCH)) * STEPS_PER_EPOCH;
  log(`  CPU time: ${cpuPerEpoch.toFixed(2)} s per epoch`);
  if (options.profile) await profileSteps(log, setup);

  const script = path.join(__dirname, "..", "..", "test", "reference", setup.script);
  const py = options.torch && fs.existsSync(script) ? findTorchPython() : undefined;
  if (!options.torch) return result;
  if (!py) {
    log("PyTorch: not installed (apt-get install python3-torch for the comparison)");
    return result;
  }
  const r = spawnSync(py, [script, "--steps", String(steps), "--threads", "1"], { encoding: "utf8" });
  if (r.status !== 0) {
    log(`PyTorch: reference run failed: ${(r.stderr || "").trim().split("\n").pop()}`);
    return result;
  }
  const t = JSON.parse(r.stdout.trim().split("\n").pop() as string) as { secondsPerEpoch: number; cpuSecondsPerEpoch?: number };
  result.torch = { secondsPerEpoch: t.secondsPerEpoch, imagesPerSecond: TRAIN_IMAGES / t.secondsPerEpoch, ratio: secondsPerEpoch / t.secondsPerEpoch };
  // The child inherits this process's OPENBLAS_CORETYPE (the user's, or the one chosen in blas-core.ts), so a
  // PyTorch on the system's OpenBLAS runs the same kernel set.
  const torchBlas = process.env.OPENBLAS_CORETYPE ? `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}` : "its BLAS's own core choice";
  log(`PyTorch (CPU, 1 thread, ${torchBlas}): ${t.secondsPerEpoch.toFixed(2)} s per epoch, ${result.torch.imagesPerSecond.toFixed(0)} images/s`);
  if (t.cpuSecondsPerEpoch !== undefined) log(`  CPU time: ${t.cpuSecondsPerEpoch.toFixed(2)} s per epoch`);
  log(`ratio vae-lab / PyTorch: ${result.torch.ratio.toFixed(2)}×`);
  return result;
}
