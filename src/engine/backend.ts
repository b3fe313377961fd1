/**
 * Choosing the TensorFlow.js backend.
 *
 * Order of preference for `"auto"`: the native TensorFlow binding (`@tensorflow/tfjs-node`, an optional
 * dependency that needs libtensorflow at install time), then WebAssembly (`@tensorflow/tfjs-backend-wasm`,
 * pure npm, SIMD where the runtime has it), then the plain JavaScript `cpu` backend. An explicit choice comes
 * from the `backend` argument, else the `VAE_LAB_BACKEND` environment variable, else `"auto"`.
 */
import * as tf from "./tf";
import { enableFastTile } from "./wasm-tile";
import { enableSharedIdentity } from "./wasm-identity";
import { enableNativeMatMul, nativeBlasCore, nativeHowto, nativeMatMulStatus, nativeThreadCount, setNativeThreads } from "./native-kernels";
import { enableConvKernels } from "./wasm-conv";
import { BackendChoice, BackendError, parseBackendChoice, parseThreadCount } from "./backend-choice";

export { BACKEND_CHOICES, BackendChoice, BackendError, parseBackendChoice } from "./backend-choice";

export interface BackendInfo {
  /** The backend that runs: "tensorflow", "wasm" or "cpu". */
  name: string;
  /** What was asked for (after reading VAE_LAB_BACKEND). */
  requested: BackendChoice;
  /** Version of @tensorflow/tfjs-core in use. */
  tfjsVersion: string;
  /** Backends tried before this one, with why each was skipped. */
  skipped: { name: string; reason: string }[];
  /** One-line human summary, e.g. "wasm (SIMD) + native kernels (OpenBLAS SkylakeX: matmul, conv, Adam, Bernoulli NLL) — tfjs 4.22.0; tensorflow skipped: not installed". */
  summary: string;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/Cannot find module '@tensorflow\/tfjs-node'/.test(msg)) return "not installed";
  return msg.split("\n")[0];
}

async function tryTensorflow(): Promise<void> {
  // Registers the "tensorflow" backend with the shared tfjs engine.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require("@tensorflow/tfjs-node");
  if (!(await tf.setBackend("tensorflow"))) throw new Error("tfjs-node loaded but its backend did not initialise");
}

async function tryWasm(): Promise<void> {
  require("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
  // Matrix products through OpenBLAS (and the fused Adam and Bernoulli NLL) where the optional native addon
  // was built (VAE_LAB_NATIVE=0: off); Tile as block copies (wasm-tile.ts) and Identity as a shared
  // reference (wasm-identity.ts), always; the convolution kernels wasm lacks (and, with the addon, faster
  // ones: wasm-conv.ts).
  enableNativeMatMul();
  enableFastTile();
  enableSharedIdentity();
  enableConvKernels();
}

async function tryCpu(): Promise<void> {
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not initialise");
  // On first use the cpu backend prints a banner suggesting tfjs-node; we report the backend ourselves.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

const loaders: Record<Exclude<BackendChoice, "auto">, () => Promise<void>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

let current: BackendInfo | undefined;

/**
 * Select and initialise a backend; returns what runs. Calling it again with the same request is cheap.
 * @param choice "auto" (default), "tensorflow", "wasm" or "cpu"; undefined reads VAE_LAB_BACKEND.
 */
export async function initBackend(choice?: BackendChoice | string): Promise<BackendInfo> {
  const requested = parseBackendChoice(
    choice ?? process.env.VAE_LAB_BACKEND,
    choice === undefined ? "VAE_LAB_BACKEND" : "backend",
  );
  const threads = parseThreadCount(process.env.VAE_LAB_THREADS);
  if (current && current.requested === requested && tf.getBackend() === current.name) {
    if (current.name === "wasm" && nativeMatMulStatus().active && threads !== undefined && nativeThreadCount() !== threads) {
      setNativeThreads(threads);
      current = describe(current.name, requested, current.skipped);
    }
    return current;
  }

  const order: Exclude<BackendChoice, "auto">[] = requested === "auto" ? ["tensorflow", "wasm", "cpu"] : [requested];
  const skipped: { name: string; reason: string }[] = [];
  for (const name of order) {
    try {
      await loaders[name]();
      await tf.ready();
      if (name === "wasm" && nativeMatMulStatus().active && threads !== undefined) setNativeThreads(threads);
      current = describe(name, requested, skipped);
      return current;
    } catch (e) {
      if (requested !== "auto") throw new BackendError(`backend "${name}" cannot be used here: ${firstLine(e)}`);
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new BackendError(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`);
}

function describe(name: string, requested: BackendChoice, skipped: { name: string; reason: string }[]): BackendInfo {
  let detail = "";
  if (name === "wasm") {
    detail = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? " (SIMD)" : " (no SIMD)";
    const native = nativeMatMulStatus();
    const blas = nativeBlasCore();
    const core = blas ? `OpenBLAS ${blas.name}${blas.note ? ` — ${blas.note}` : ""}` : "OpenBLAS";
    const threads = nativeThreadCount();
    detail += native.active ? ` + native kernels (${core}: matmul, conv, Adam, Bernoulli NLL, MLP gradient; ${threads === 1 ? "1 thread" : `${threads} threads`})` : `; native kernels ${native.reason}`;
  }
  const skips = skipped.map((s) => `; ${s.name} skipped: ${s.reason}`).join("");
  return {
    name,
    requested,
    tfjsVersion: tf.version_core,
    skipped,
    summary: `${name}${detail} — tfjs ${tf.version_core}${skips}`,
  };
}

/** The backend chosen by the last initBackend call, if any. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/**
 * One line on how to get the native kernels, where the wasm backend runs without them because they were not
 * built (npm hides install-script output, so the install never says it); undefined otherwise.
 */
export function nativeKernelsHint(info: BackendInfo): string | undefined {
  if (info.name !== "wasm" || nativeMatMulStatus().active || process.env.VAE_LAB_NATIVE === "0") return undefined;
  const reason = nativeMatMulStatus().reason;
  return reason.startsWith("not built") ? `native kernels not built: ${nativeHowto()}` : `native kernels off (${reason}); ${nativeHowto()}`;
}
