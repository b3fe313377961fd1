/**
 * `vae-lab bench`: time the reference setup — the pytorch/examples VAE (784-400-20, ReLU, BCE + analytic
 * KL, Adam 1e-3, batch 128) on the 60 000 MNIST training images — on the current backend, and, where
 * Python with PyTorch is installed, the same setup in PyTorch (CPU, one thread) for comparison.
 * With `arch: "conv"`, the TensorFlow convolutional-VAE tutorial's model (z = 2, threshold-binarised MNIST)
 * against test/reference/pytorch_conv_vae.py. Prints seconds per epoch and images per second.
 */
import * as tf from "../engine/tf";
import { BackendChoice, initBackend, nativeKernelsHint } from "../engine/backend";
import { nativeBlasCore, nativeThreadCount, setNativeThreads } from "../engine/native-kernels";
import * as fs from "fs";
import * as os from "os";
import { loadMnist } from "../data/mnist";
import { evaluateElbo, trainVae } from "../vae/train";
import { Vae } from "../vae/model";
import { ConvVae } from "../vae/conv";
import type { Binarize } from "../data/mnist";
import { PeerName, PeerOutcome, runPeer } from "../bench/peers";
import { formatPeerTable, PeerRow, ThreadSetting } from "../bench/peer-table";

export interface BenchResult {
  backend: string;
  steps: number;
  secondsPerEpoch: number;
  imagesPerSecond: number;
  /** vae-lab's row and each peer's, where peers ran. */
  rows: PeerRow[];
  skipped: { name: PeerName; reason: string }[];
}

const TRAIN_IMAGES = 60000;
const BATCH = 128;
const STEPS_PER_EPOCH = Math.ceil(TRAIN_IMAGES / BATCH);

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

/** The CPU's model, count, vector flags (AVX2, AVX-512F) and the load average, in one line. */
export function cpuLine(cpuinfo: string, cpus: number, load: number[]): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "").trim().split(/\s+/));
  const vector = ["avx2", "avx512f"].filter((f) => flags.has(f));
  return `cpu: ${model} × ${cpus}${vector.length ? ` (${vector.join(", ")})` : flags.size > 1 ? " (no AVX2)" : ""}; load average ${load.map((l) => l.toFixed(2)).join(" ")}`;
}

/** The start of /proc/cpuinfo (the first CPU's model and flags come first; 64 KiB at most, read once). */
function readCpuinfo(): string {
  try {
    const fd = fs.openSync("/proc/cpuinfo", "r");
    try {
      const buf = Buffer.alloc(64 << 10);
      return buf.toString("utf8", 0, fs.readSync(fd, buf, 0, buf.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return `model name : ${os.cpus()[0]?.model ?? "unknown"}`;
  }
}

export interface BenchOptions {
  steps?: number;
  backend: BackendChoice;
  /** Whether the system's PyTorch (Debian's, with test/reference's scripts) runs too. */
  torch: boolean;
  /** The peers to run after vae-lab (--peers); without, only the system PyTorch (unless torch is false). */
  peers?: PeerName[];
  /** Thread settings of the peers: one thread each, each framework's default, or both. */
  threads?: ThreadSetting[];
  /** The Python of the peers (--peers-python; default the venv of bench:peers-setup). */
  peersPython: string;
  profile?: boolean;
  arch?: "mlp" | "conv";
  log: (s: string) => void;
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const arch = options.arch ?? "mlp";
  const setup = SETUPS[arch];
  const backend = await initBackend(options.backend);
  const steps = Math.min(options.steps ?? STEPS_PER_EPOCH, STEPS_PER_EPOCH);
  log(`backend: ${backend.summary}`);
  const core = nativeBlasCore();
  const blas = core ? `OpenBLAS ${core.name}` : backend.name === "tensorflow" ? "libtensorflow's own kernels" : "none (no native kernels)";
  log(`${cpuLine(readCpuinfo(), os.cpus().length, os.loadavg())}; vae-lab's BLAS core: ${blas}`);
  const hint = nativeKernelsHint(backend);
  if (hint) log(hint);
  log(`setup: ${setup.describe}; timing ${steps} of ${STEPS_PER_EPOCH} steps per epoch`);
  const train = loadMnist({ split: "train", limit: Math.min(TRAIN_IMAGES, steps * BATCH), binarize: setup.binarize });
  const tiny = loadMnist({ split: "test", limit: 10, binarize: setup.binarize });
  // vae-lab on one thread, and (--threads default|both) on every core, as the peers at their default.
  const threads = options.threads ?? ["one"];
  const cores = os.availableParallelism();
  const countFor = (t: ThreadSetting) => (t === "one" ? 1 : cores);
  const runs = new Map<ThreadSetting, { vae: Vae | ConvVae; secondsPerEpoch: number; cpuPerEpoch: number; threadCount: number }>();
  const threadsBefore = nativeThreadCount();
  try {
    for (const t of threads) {
      const threadCount = setNativeThreads(countFor(t));
      // One warm-up step outside the timing (kernels compile, memory is allocated, thread pools start).
      const warm = setup.make();
      trainVae(warm, loadMnist({ split: "train", limit: BATCH, binarize: setup.binarize }), tiny, { epochs: 1, seed: 1 });
      warm.dispose();
      const vae = setup.make();
      const cpu0 = process.cpuUsage();
      const [rec] = trainVae(vae, train, tiny, { epochs: 1, batchSize: BATCH, seed: 1 });
      const cpu = process.cpuUsage(cpu0);
      const secondsPerEpoch = (rec.seconds / Math.ceil(train.count / BATCH)) * STEPS_PER_EPOCH;
      // CPU time is what a busy machine distorts least (wall-clock time there includes waiting for a core).
      const cpuPerEpoch = ((cpu.user + cpu.system) / 1e6 / Math.ceil(train.count / BATCH)) * STEPS_PER_EPOCH;
      runs.set(t, { vae, secondsPerEpoch, cpuPerEpoch, threadCount });
      const label = threads.length > 1 || threadCount > 1 ? `, ${threadCount === 1 ? "1 thread" : `${threadCount} threads`}` : "";
      log(`vae-lab (${backend.name}${label}):  ${secondsPerEpoch.toFixed(2)} s per epoch, ${(TRAIN_IMAGES / secondsPerEpoch).toFixed(0)} images/s`);
      log(`  CPU time: ${cpuPerEpoch.toFixed(2)} s per epoch`);
    }
  } finally {
    setNativeThreads(threadsBefore);
  }
  const first = runs.get(threads[0])!;
  const result: BenchResult = { backend: backend.name, steps, secondsPerEpoch: first.secondsPerEpoch, imagesPerSecond: TRAIN_IMAGES / first.secondsPerEpoch, rows: [], skipped: [] };
  try {
    if (options.profile) await profileSteps(log, setup);
    const peers = (options.peers ?? ["system-torch"]).filter((p) => options.torch || p !== "system-torch");
    if (peers.length === 0) return result;
    const testSet = loadMnist({ split: "test", binarize: setup.binarize });
    const outcomes: PeerOutcome[] = [];
    for (const t of threads) {
      for (const name of peers) {
        log(`running ${name}${threads.length > 1 ? ` (${t === "one" ? "one thread" : "default threads"})` : ""}…`);
        outcomes.push(runPeer(name, { arch, threads: t, steps, trainImages: train.files.images, testImages: testSet.files.images, python: options.peersPython }));
      }
    }
    for (const o of outcomes) if ("skipped" in o && !result.skipped.some((s) => s.name === o.name)) result.skipped.push({ name: o.name, reason: o.skipped });
    if (!outcomes.some((o) => "row" in o)) {
      for (const s of result.skipped) log(`skipped ${s.name}: ${s.reason}`);
      return result;
    }
    // vae-lab's test −ELBO after its timed steps, on the whole test set as the peers', one draw of z per image.
    const ours = (t: ThreadSetting): PeerRow => {
      const r = runs.get(t)!;
      const testLoss = evaluateElbo(r.vae, testSet, { batchSize: 500, seed: 1 }).loss;
      return { name: `vae-lab (${backend.name})`, threads: t, threadCount: r.threadCount, secondsPerEpoch: r.secondsPerEpoch, cpuSecondsPerEpoch: r.cpuPerEpoch, testLoss };
    };
    for (const t of threads) {
      result.rows.push(ours(t));
      for (const o of outcomes) if ("row" in o && o.row.threads === t) result.rows.push(o.row);
    }
    log("");
    log(`${steps < STEPS_PER_EPOCH ? `${steps} steps timed, per epoch of ${STEPS_PER_EPOCH}; ` : ""}test −ELBO on the ${testSet.count} test images after ${steps < STEPS_PER_EPOCH ? `${steps} steps` : "the epoch"}; warm-up (compilation) not timed:`);
    for (const line of formatPeerTable(result.rows)) log(line);
    log(`${cpuLine(readCpuinfo(), os.cpus().length, os.loadavg())} (at the end)`);
    log(`vae-lab: ${blas}, ${threads.map((t) => (countFor(t) === 1 ? "1 thread" : `${runs.get(t)!.threadCount} threads (VAE_LAB_THREADS=${runs.get(t)!.threadCount})`)).join("; ")}`);
    const described = new Set<string>();
    for (const o of outcomes) if ("describe" in o && !described.has(o.describe)) (described.add(o.describe), log(o.describe));
    for (const s of result.skipped) log(`skipped ${s.name}: ${s.reason}`);
    return result;
  } finally {
    for (const r of runs.values()) r.vae.dispose();
  }
}
