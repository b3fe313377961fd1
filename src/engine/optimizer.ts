/**
 * Adam for trainVae. On the wasm backend with the native addon (src/native/) every variable is updated in
 * one fused pass over the wasm heap — m, v and the parameter in place — instead of the ~10 tfjs ops per
 * variable of tf.train.adam (5 ms of a 17 ms training step of the reference VAE). Elsewhere it is
 * tf.train.adam. Both use the formula of tf.train.adam and torch.optim.Adam (ε added to √v̂), and ε = 1e-8
 * as in PyTorch by default.
 */
import * as tf from "@tensorflow/tfjs";
import { loadNativeBlas, nativeMatMulStatus } from "./native-kernels";

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface TrainingOptimizer {
  /** "native" (fused, in place on the wasm heap) or "tfjs". */
  readonly kind: "native" | "tfjs";
  applyGradients(grads: tf.NamedTensorMap, variables: tf.Variable[]): void;
  dispose(): void;
}

interface WasmInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number; refCount: number } };
}

class NativeAdam implements TrainingOptimizer {
  readonly kind = "native" as const;
  private readonly moments = new Map<string, { m: tf.Tensor; v: tf.Tensor }>();
  private step = 0;
  constructor(
    private readonly lr: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly epsilon: number,
    private readonly addon: NonNullable<ReturnType<typeof loadNativeBlas>>,
  ) {}

  applyGradients(grads: tf.NamedTensorMap, variables: tf.Variable[]): void {
    this.step += 1;
    const b1p = this.beta1 ** this.step;
    const b2p = this.beta2 ** this.step;
    for (const variable of variables) {
      const g = grads[variable.name];
      if (!g) continue;
      let mv = this.moments.get(variable.name);
      if (!mv) {
        mv = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
        this.moments.set(variable.name, mv);
      }
      const backend = tf.backend() as unknown as WasmInternals;
      // In-place writes must not reach another tensor that shares the variable's memory: give it its own.
      if (backend.dataIdMap.get(variable.dataId).refCount > 1) tf.tidy(() => variable.assign(tf.add(variable, 0)));
      const off = (t: tf.Tensor) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
      const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
      this.addon.adam(heap, off(variable), off(g), off(mv.m), off(mv.v), variable.size, this.lr, this.beta1, this.beta2, this.epsilon, b1p, b2p);
    }
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }
}

class TfjsAdam implements TrainingOptimizer {
  readonly kind = "tfjs" as const;
  private readonly opt: tf.AdamOptimizer;
  constructor(lr: number, beta1: number, beta2: number, epsilon: number) {
    this.opt = tf.train.adam(lr, beta1, beta2, epsilon);
  }
  applyGradients(grads: tf.NamedTensorMap): void {
    this.opt.applyGradients(grads as Record<string, tf.Variable>);
  }
  dispose(): void {
    this.opt.dispose();
  }
}

/** Adam with learning rate `lr`: fused native where the wasm backend and the addon allow, else tfjs. */
export function createAdam(lr: number, options: AdamOptions = {}): TrainingOptimizer {
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = options;
  const addon = tf.getBackend() === "wasm" && nativeMatMulStatus().active ? loadNativeBlas() : null;
  if (addon && typeof addon.adam === "function") return new NativeAdam(lr, beta1, beta2, epsilon, addon);
  return new TfjsAdam(lr, beta1, beta2, epsilon);
}
