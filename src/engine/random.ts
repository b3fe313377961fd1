/**
 * Seeded randomness.
 *
 * How to make a run repeatable: pass the same `seed` to every function that draws random numbers (the CLI's
 * `--seed`). Each such function builds an `Rng` from its seed; an `Rng` hands out further integer seeds with
 * `nextSeed()` for TensorFlow.js random ops (`tf.randomNormal(shape, 0, 1, "float32", tfSeed(rng.nextSeed()))`),
 * so a whole run follows from one number. Every seed passes through `tfSeed` on its way into a tfjs random op,
 * because tfjs takes a seed of 0 to mean "no seed".
 *
 * What is repeatable: on one backend, the same seed gives the same results, bit for bit, run after run. The
 * random numbers themselves (initial weights, ε, shuffles, binarisation) are drawn in JavaScript and are the
 * same on every backend. Arithmetic is not: wasm, cpu and the native kernels (OpenBLAS) sum in different
 * orders, so the same seed on two backends gives results that agree to float32 rounding for one step
 * (relative 1e-5) and drift apart slowly in training (test/determinism.test.ts measures both).
 * Without a seed, one is drawn from Math.random.
 */
import seedrandom from "seedrandom";

/**
 * The seed to hand a tfjs random op for `seed`. tfjs's normal sampler reads a seed of 0 as "unseeded"
 * (`seed ? seed : Math.random()`), so 0 is passed as 2³², a value no Rng hands out (nextSeed is below 2³²)
 * and the CLI does not accept; every other seed is passed unchanged (results of existing seeds do not move).
 */
export function tfSeed(seed: number): number {
  return seed === 0 ? 2 ** 32 : seed;
}

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
