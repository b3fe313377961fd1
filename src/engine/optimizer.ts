/**
 * Adam for trainVae. On the wasm backend with the native addon (src/native/) every variable is updated in
 * one fused pass over the wasm heap — m, v and the parameter in place — instead of the ~10 tfjs ops per
 * variable of tf.train.adam (5 ms of a 17 ms training step of the reference VAE). Elsewhere it is
 * tf.train.adam. Both use the formula of tf.train.adam and torch.optim.Adam (ε added to √v̂), and ε = 1e-8
 * as in PyTorch by default.
 */
import * as tf from "./tf";
import { ADAM_ALL_MAX_VARIABLES, loadNativeBlas, nativeMatMulStatus } from "./native-kernels";

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Everything Adam carries from step to step, in the order of the model's variables: the step count t, the
 * moments m and v (null for a variable never updated), and β1^(t+1), β2^(t+1) as tf.train.adam accumulates
 * them in float32 (the native Adam computes the powers from t). Saved beside a checkpoint, it lets a
 * resumed run take exactly the steps an uninterrupted one would.
 */
export interface AdamState {
  step: number;
  accBeta1: number;
  accBeta2: number;
  m: (Float32Array | null)[];
  v: (Float32Array | null)[];
}

export interface TrainingOptimizer {
  /** "native" (fused, in place on the wasm heap) or "tfjs". */
  readonly kind: "native" | "tfjs";
  applyGradients(grads: tf.NamedTensorMap, variables: tf.Variable[]): void;
  /** The state after the steps taken so far, for `variables` in this order. */
  getState(variables: tf.Variable[]): AdamState;
  /** Continue from `state` (taken for the same model's variables, in the same order); before the first step. */
  setState(state: AdamState, variables: tf.Variable[]): void;
  /** Use learning rate `lr` from the next step on (a schedule); the moments are kept. */
  setLearningRate(lr: number): void;
  dispose(): void;
}

function checkLearningRate(lr: number): void {
  if (!(lr > 0 && Number.isFinite(lr))) throw new Error(`learning rate must be a finite number > 0 (got ${lr})`);
}

function checkState(state: AdamState, variables: tf.Variable[]): void {
  if (state.m.length !== variables.length || state.v.length !== variables.length) throw new Error(`optimizer state holds moments for ${state.m.length} variables, the model has ${variables.length}`);
  variables.forEach((v, i) => {
    for (const arr of [state.m[i], state.v[i]]) if (arr && arr.length !== v.size) throw new Error(`optimizer state: moment ${i} has ${arr.length} values, variable ${v.name} has ${v.size}`);
  });
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
    private lr: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly epsilon: number,
    private readonly addon: NonNullable<ReturnType<typeof loadNativeBlas>>,
  ) {}

  applyGradients(grads: tf.NamedTensorMap, variables: tf.Variable[]): void {
    this.step += 1;
    const b1p = this.beta1 ** this.step;
    const b2p = this.beta2 ** this.step;
    const backend = tf.backend() as unknown as WasmInternals;
    const rows: number[] = [];
    for (const variable of variables) {
      const g = grads[variable.name];
      if (!g) continue;
      let mv = this.moments.get(variable.name);
      if (!mv) {
        mv = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
        this.moments.set(variable.name, mv);
      }
      // In-place writes must not reach another tensor that shares the variable's memory: give it its own.
      if (backend.dataIdMap.get(variable.dataId).refCount > 1) tf.tidy(() => variable.assign(tf.add(variable, 0)));
      const off = (t: tf.Tensor) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
      rows.push(off(variable), off(g), off(mv.m), off(mv.v), variable.size);
    }
    // Every offset is taken before the heap is read: the assign above may have grown the wasm memory.
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const { adamAll } = this.addon;
    if (adamAll) {
      // All variables in one native call (the thread pool woken once), in runs of at most the call's limit.
      const per = 5 * ADAM_ALL_MAX_VARIABLES;
      for (let i = 0; i < rows.length; i += per) {
        adamAll.call(this.addon, heap, Float64Array.from(rows.slice(i, i + per)), this.lr, this.beta1, this.beta2, this.epsilon, b1p, b2p);
      }
    } else {
      for (let i = 0; i < rows.length; i += 5) {
        this.addon.adam(heap, rows[i], rows[i + 1], rows[i + 2], rows[i + 3], rows[i + 4], this.lr, this.beta1, this.beta2, this.epsilon, b1p, b2p);
      }
    }
  }

  setLearningRate(lr: number): void {
    checkLearningRate(lr);
    this.lr = lr;
  }
  getState(variables: tf.Variable[]): AdamState {
    const mv = variables.map((v) => this.moments.get(v.name));
    return {
      step: this.step,
      accBeta1: Math.fround(this.beta1 ** (this.step + 1)),
      accBeta2: Math.fround(this.beta2 ** (this.step + 1)),
      m: mv.map((x) => (x ? Float32Array.from(x.m.dataSync() as Float32Array) : null)),
      v: mv.map((x) => (x ? Float32Array.from(x.v.dataSync() as Float32Array) : null)),
    };
  }

  setState(state: AdamState, variables: tf.Variable[]): void {
    checkState(state, variables);
    this.dispose();
    this.step = state.step;
    variables.forEach((variable, i) => {
      const [m, v] = [state.m[i], state.v[i]];
      if (m && v) this.moments.set(variable.name, { m: tf.keep(tf.tensor(m, variable.shape)), v: tf.keep(tf.tensor(v, variable.shape)) });
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }
}

/** What tf.AdamOptimizer keeps (tfjs-core 4.22's adam_optimizer.ts): β powers and moments by gradient position. */
interface TfjsAdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  /** Read by every applyGradients (tfjs-core's adam_optimizer.js, pinned with the addon). */
  learningRate: number;
}

class TfjsAdam implements TrainingOptimizer {
  readonly kind = "tfjs" as const;
  private readonly opt: tf.AdamOptimizer;
  private step = 0;
  /** Moments to install at the first step, by variable name (tfjs keys them by the gradient's position). */
  private pending: Map<string, { m: Float32Array; v: Float32Array }> | undefined;
  constructor(lr: number, beta1: number, beta2: number, epsilon: number) {
    this.opt = tf.train.adam(lr, beta1, beta2, epsilon);
  }
  private get internals(): TfjsAdamInternals {
    return this.opt as unknown as TfjsAdamInternals;
  }
  setLearningRate(lr: number): void {
    checkLearningRate(lr);
    this.internals.learningRate = lr;
  }
  applyGradients(grads: tf.NamedTensorMap): void {
    if (this.pending) {
      const o = this.internals;
      Object.keys(grads).forEach((name, i) => {
        const p = this.pending!.get(name);
        if (!p) return;
        const shape = grads[name].shape;
        // tidy frees the tensors the variables are made from (a variable is kept, its initial tensor is not).
        o.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.variable(tf.tensor(p.m, shape), false)) };
        o.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.variable(tf.tensor(p.v, shape), false)) };
      });
      this.pending = undefined;
    }
    this.opt.applyGradients(grads as Record<string, tf.Variable>);
    this.step += 1;
  }
  getState(variables: tf.Variable[]): AdamState {
    const o = this.internals;
    const byName = new Map<string, { m: Float32Array; v: Float32Array }>(this.pending ?? []);
    o.accumulatedFirstMoment.forEach((first, i) => {
      const second = o.accumulatedSecondMoment[i];
      if (!first || !second) return;
      byName.set(first.originalName.replace(/\/m$/, ""), { m: Float32Array.from(first.variable.dataSync() as Float32Array), v: Float32Array.from(second.variable.dataSync() as Float32Array) });
    });
    return {
      step: this.step,
      accBeta1: o.accBeta1.dataSync()[0],
      accBeta2: o.accBeta2.dataSync()[0],
      m: variables.map((v) => byName.get(v.name)?.m ?? null),
      v: variables.map((v) => byName.get(v.name)?.v ?? null),
    };
  }
  setState(state: AdamState, variables: tf.Variable[]): void {
    checkState(state, variables);
    const o = this.internals;
    tf.tidy(() => {
      o.accBeta1.assign(tf.scalar(state.accBeta1));
      o.accBeta2.assign(tf.scalar(state.accBeta2));
    });
    this.step = state.step;
    this.pending = new Map();
    variables.forEach((variable, i) => {
      const [m, v] = [state.m[i], state.v[i]];
      if (m && v) this.pending!.set(variable.name, { m, v });
    });
  }
  dispose(): void {
    this.opt.dispose();
  }
}

/** Adam with learning rate `lr`: fused native where the wasm backend and the addon allow, else tfjs. */
/** The smallest ε the native Adam takes (see createAdam). */
export const NATIVE_ADAM_MIN_EPSILON = 1e-16;

export function createAdam(lr: number, options: AdamOptions = {}): TrainingOptimizer {
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = options;
  const addon = tf.getBackend() === "wasm" && nativeMatMulStatus().active ? loadNativeBlas() : null;
  // The native Adam stores moments below the smallest normal float as 0, which changes no step while ε is
  // far above √(10⁻³⁸); a smaller ε (below NATIVE_ADAM_MIN_EPSILON) gets tfjs's Adam, which keeps them.
  if (addon && typeof addon.adam === "function" && epsilon >= NATIVE_ADAM_MIN_EPSILON) return new NativeAdam(lr, beta1, beta2, epsilon, addon);
  return new TfjsAdam(lr, beta1, beta2, epsilon);
}
