/**
 * Learning-rate schedules of trainVae (no TensorFlow.js here, so that the command line can check and describe
 * them without loading it).
 *
 * "burda" is the schedule of Burda, Grosse & Salakhutdinov (2016, §5): 3^i passes over the data at learning
 * rate lr·10^(−i/7) for i = 0, …, 7, 3 280 passes in all (with lr = 10⁻³ as in the paper); an epoch past the
 * last stage keeps its rate.
 */
import type { LrSchedule } from "./model-options";

/** Stages of the "burda" schedule and the epochs they take together: Σ_{i=0..7} 3^i = 3 280. */
export const BURDA_STAGES = 8;
export const BURDA_EPOCHS = (3 ** BURDA_STAGES - 1) / 2;

/** The stage i of epoch `epoch` (counted from 1) in the "burda" schedule: epochs (3^i − 1)/2 + 1 … (3^{i+1} − 1)/2. */
export function burdaStage(epoch: number): number {
  if (!(Number.isSafeInteger(epoch) && epoch >= 1)) throw new Error(`burdaStage: epoch must be an integer ≥ 1 (got ${epoch})`);
  let i = 0;
  while (i < BURDA_STAGES - 1 && epoch > (3 ** (i + 1) - 1) / 2) i++;
  return i;
}

/** The learning rate of epoch `epoch` (from 1) under `schedule`, with base rate `lr`. */
export function learningRateAt(epoch: number, lr: number, schedule: LrSchedule = "constant"): number {
  if (schedule === "constant") return lr;
  return lr * 10 ** (-burdaStage(epoch) / 7);
}
