/**
 * Seeded randomness.
 *
 * How to make a run repeatable: pass the same `seed` to every function that draws random numbers (the CLI's
 * `--seed`). Each such function builds an `Rng` from its seed; an `Rng` hands out further integer seeds with
 * `nextSeed()` for TensorFlow.js random ops (`tf.randomNormal(shape, 0, 1, "float32", rng.nextSeed())`), so a
 * whole run follows from one number. On the wasm and cpu backends the same seed gives bit-identical results;
 * the native tensorflow backend may differ in the last bits because its reductions run multi-threaded.
 * Without a seed, one is drawn from Math.random.
 */
import seedrandom from "seedrandom";

/** Where an Rng is in its stream (plain JSON): what a resumed training run continues from. */
export interface RngState {
  seed: number;
  alea: seedrandom.State.Alea;
  spareNormal?: number;
}

export class Rng {
  private readonly prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;
  private spareNormal: number | undefined;

  constructor(readonly seed: number = Math.floor(Math.random() * 2 ** 31), state?: RngState) {
    this.prng = seedrandom.alea(String(seed), { state: state?.alea ?? true });
    this.spareNormal = state?.spareNormal;
  }

  /** The current position in the stream; `Rng.fromState` continues from it exactly. */
  state(): RngState {
    return { seed: this.seed, alea: this.prng.state(), spareNormal: this.spareNormal };
  }

  /** An Rng that continues where `state` was taken. */
  static fromState(state: RngState): Rng {
    return new Rng(state.seed, state);
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.prng();
  }

  /** Standard normal draw (Box–Muller, both halves used). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.prng();
    const v = this.prng();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  /** A fresh integer seed for a tfjs random op or a child Rng. */
  nextSeed(): number {
    return this.prng.int32() >>> 0;
  }

  /** In-place Fisher–Yates shuffle; returns the array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
