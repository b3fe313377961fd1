/**
 * The peers of `vae-lab bench --peers`: the same training epoch in the frameworks a practitioner would pick
 * instead — PyTorch 2 eager and with torch.compile, JAX with the step under jax.jit, Keras 3 on TensorFlow
 * with jit_compile — each a Python script in src/bench/peers/ run in the venv that `npm run
 * bench:peers-setup` makes, and Debian's system PyTorch with the reference scripts of test/reference/ (in a
 * clone of the repository). A peer that cannot run here is skipped with one line saying why.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FlagError } from "../cli/flag-limits";
import type { PeerRow, ThreadSetting } from "./peer-table";

/** The peers, in the order they run and are listed. */
export const PEER_NAMES = ["torch", "torch-compile", "jax", "keras", "system-torch"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

const PACKAGE_ROOT = path.join(__dirname, "..", "..");
const PEER_DIR = path.join(PACKAGE_ROOT, "src", "bench", "peers");
const REFERENCE_DIR = path.join(PACKAGE_ROOT, "test", "reference");

interface PeersSetup {
  defaultVenv(env?: NodeJS.ProcessEnv): string;
  venvPython(venv: string): string;
  SETUP_COMMAND: string;
}
/** The setup script's module (where the venv is, the command that makes it), loaded when the peers are first asked about. */
function setupModule(): PeersSetup {
  return require(path.join(PACKAGE_ROOT, "src", "bench", "peers-setup.js")) as PeersSetup;
}

/** What `--peers` names, and how: the script, its extra arguments, and a label for the table. */
const PEER_SCRIPTS: Record<Exclude<PeerName, "system-torch">, { script: string; args: string[]; label: string }> = {
  torch: { script: "torch_peer.py", args: [], label: "PyTorch {v} eager" },
  "torch-compile": { script: "torch_peer.py", args: ["--compile"], label: "PyTorch {v} torch.compile" },
  jax: { script: "jax_peer.py", args: [], label: "JAX {v}, step in jax.jit" },
  keras: { script: "keras_peer.py", args: [], label: "Keras {v}, jit_compile" },
};

/** `--peers`: "all", "none", or a comma-separated list of PEER_NAMES. */
export function parsePeers(raw: string | undefined): PeerName[] | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === "all") return [...PEER_NAMES];
  if (text === "none") return [];
  const names = text.split(",").map((s) => s.trim());
  const bad = names.find((n) => !(PEER_NAMES as readonly string[]).includes(n));
  if (text === "" || bad !== undefined) throw new FlagError(`--peers: expected all, none or a comma-separated list of ${PEER_NAMES.join(", ")}, got "${bad ?? raw}"`);
  return PEER_NAMES.filter((n) => names.includes(n));
}

/** `--threads`: one (every framework on one thread, the default), default (each at its own), or both. */
export function parseThreads(raw: string | undefined): ThreadSetting[] {
  if (raw === undefined || raw === "one") return ["one"];
  if (raw === "default") return ["default"];
  if (raw === "both") return ["one", "default"];
  throw new FlagError(`--threads: expected one, default or both, got "${raw}"`);
}

/** The Python of the peers: --peers-python, else the venv of bench:peers-setup (VAE_LAB_PEERS_VENV or the user's cache). */
export function peersPython(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return flag;
  const setup = setupModule();
  return setup.venvPython(setup.defaultVenv(env));
}

/** A peer's result: a row of the table and its framework's description, or the reason it did not run. */
export type PeerOutcome = { name: PeerName; row: PeerRow; describe: string } | { name: PeerName; skipped: string };

interface PeerJson {
  skipped?: string;
  framework?: string;
  version?: string;
  backend?: string;
  threads?: number;
  warmupSeconds?: number;
  steps?: number;
  secondsPerEpoch?: number;
  cpuSecondsPerEpoch?: number;
  testLoss?: number;
  /** How the threads were set, where more than a count says it (JAX). */
  threadsNote?: string;
}

/** The last line of a child's output that is a JSON object, or undefined. */
export function lastJsonLine(stdout: string): PeerJson | undefined {
  const line = stdout.trim().split("\n").reverse().find((l) => l.trim().startsWith("{"));
  if (!line) return undefined;
  try {
    return JSON.parse(line) as PeerJson;
  } catch {
    return undefined;
  }
}

/** The Python with the system's (Debian's) PyTorch, as the bench has always looked for it. */
function systemTorchPython(): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import torch"], { stdio: "ignore" });
    if (r.status === 0) return py;
  }
  return undefined;
}

export interface PeerRun {
  arch: "mlp" | "conv";
  threads: ThreadSetting;
  /** Training steps to time (the full epoch is 469). */
  steps: number;
  /** The MNIST image files vae-lab read (IDX, plain or gzipped). */
  trainImages: string;
  testImages: string;
  python: string;
}

/** Why a peer's run gave no result: the last line of its stderr (at most 300 characters), else its exit code. */
function failed(r: { status: number | null; stderr?: string | null }): string {
  const last = (r.stderr || "").trim().split("\n").pop() || `exit code ${r.status}`;
  return `failed: ${last.slice(0, 300)}`;
}

/** Run one peer and return its row, or why it was skipped. */
export function runPeer(name: PeerName, run: PeerRun): PeerOutcome {
  if (name === "system-torch") return runSystemTorch(run);
  const spec = PEER_SCRIPTS[name];
  const setup = setupModule();
  if (!fs.existsSync(run.python)) return { name, skipped: `no Python at ${run.python}; run ${setup.SETUP_COMMAND}, or give --peers-python` };
  const args = [path.join(PEER_DIR, spec.script), ...spec.args, "--arch", run.arch, "--threads", run.threads, "--steps", String(run.steps), "--train", run.trainImages, "--test", run.testImages];
  const r = spawnSync(run.python, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  const out = lastJsonLine(r.stdout ?? "");
  if (r.error) return { name, skipped: `${run.python} did not start (${r.error.message})` };
  if (out?.skipped) return { name, skipped: `${out.skipped}${/^no /.test(out.skipped) ? `; run ${setup.SETUP_COMMAND}` : ""}` };
  if (r.status !== 0 || out?.secondsPerEpoch === undefined) return { name, skipped: failed(r) };
  const row: PeerRow = {
    name: spec.label.replace("{v}", out.version ?? "?"),
    threads: run.threads,
    threadCount: out.threads,
    secondsPerEpoch: out.secondsPerEpoch,
    cpuSecondsPerEpoch: out.cpuSecondsPerEpoch,
    testLoss: out.testLoss,
    warmupSeconds: out.warmupSeconds,
  };
  return { name, row, describe: `${out.framework} ${out.version}: ${out.backend}, ${out.threads} thread${out.threads === 1 ? "" : "s"}${out.threadsNote ? ` (${out.threadsNote})` : ""}` };
}

/** Debian's PyTorch with the reference script (a clone of the repository only: test/ is not installed). */
function runSystemTorch(run: PeerRun): PeerOutcome {
  const name = "system-torch";
  const script = path.join(REFERENCE_DIR, run.arch === "mlp" ? "pytorch_vae.py" : "pytorch_conv_vae.py");
  if (!fs.existsSync(script)) return { name, skipped: `its script ${path.relative(PACKAGE_ROOT, script)} comes with a clone of the repository only` };
  const py = systemTorchPython();
  if (!py) return { name, skipped: "no system PyTorch (Debian/Ubuntu: apt-get install python3-torch)" };
  const threads = run.threads === "one" ? "1" : String(os.cpus().length);
  const r = spawnSync(py, [script, "--steps", String(run.steps), "--threads", threads], { encoding: "utf8" });
  const out = lastJsonLine(r.stdout ?? "");
  if (r.status !== 0 || out?.secondsPerEpoch === undefined) return { name, skipped: failed(r) };
  const version = spawnSync(py, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" }).stdout.trim();
  const blas = process.env.OPENBLAS_CORETYPE ? `system OpenBLAS, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}` : "system BLAS, its own core choice";
  return {
    name,
    row: { name: `system PyTorch (${version})`, threads: run.threads, threadCount: Number(threads), secondsPerEpoch: out.secondsPerEpoch, cpuSecondsPerEpoch: out.cpuSecondsPerEpoch },
    describe: `system PyTorch ${version}: ${blas}, ${threads} thread${threads === "1" ? "" : "s"} (no test −ELBO: the reference script times steps only)`,
  };
}
