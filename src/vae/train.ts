/**
 * Training a VAE: minibatch Adam over shuffled MNIST on the negative ELBO (or the IWAE bound), per-epoch
 * train and test loss (nats per image) with the reconstruction and KL terms, seconds per epoch, an optional
 * linear KL warm-up, progress callbacks, and a clear stop when the loss stops being a finite number.
 */
import * as tf from "../engine/tf";
import { batchTensor, meanOverSet, MnistSet } from "../data/mnist";
import { AdamState, createAdam } from "../engine/optimizer";
import { Rng, RngState } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import { LossTerms, negativeElbo, Vae } from "./model";
import type { LatentModel } from "./latent-model";
import { explicitGradientsSupported, negativeElboGradients } from "./backprop";
import { fusedNegativeElboGradients } from "./fused-gradients";
import { EncoderEstimator, surrogateLoss } from "./encoder-gradients";
import { iwaeBound } from "./iwae";
import { batchesFor, Condition, ConditionalVae } from "./conditional";
import { LR_SCHEDULES, LrSchedule, Objective, OBJECTIVES } from "./model-options";
import { learningRateAt } from "./schedule";
export { LR_SCHEDULES, OBJECTIVES };
export type { LrSchedule, Objective };

export interface TrainOptions {
  epochs: number;
  batchSize?: number;
  /** Adam learning rate. */
  lr?: number;
  /** KL weight β after warm-up. */
  beta?: number;
  /** Epochs over which β rises linearly from 0 to `beta` (0 = no warm-up). */
  warmupEpochs?: number;
  /**
   * Free bits λ, nats per latent unit (Kingma et al. 2016; model.ts freeBitsKl): the KL term trained on is
   * Σ_j max(λ, KL_j), so no unit is pushed below λ nats towards the prior. 0 (default) = the plain KL. With
   * the reparameterized gradient and the ELBO objective only. The train loss reported stays recon + β·KL.
   */
  freeBits?: number;
  /** Monte Carlo samples of z per image in the training loss (L for the ELBO, k for the IWAE bound). */
  samples?: number;
  /**
   * What is optimised: "elbo" (default), the β-weighted negative ELBO averaged over `samples` draws; or
   * "iwae", the negative k-sample importance-weighted bound with k = `samples` (Burda et al. 2016,
   * vae/iwae.ts), which has no β (it must be 1, with no warm-up) and is differentiated by autodiff.
   */
  objective?: Objective;
  /**
   * How the learning rate changes over epochs (vae/schedule.ts): "constant" (default: `lr` throughout) or
   * "burda" (3^i epochs at lr·10^(−i/7), i = 0…7). Epochs count on across a resume.
   */
  lrSchedule?: LrSchedule;
  /**
   * A conditional VAE only: what it is conditioned on (conditional.ts): each image's class (the default), or
   * `{ on: "top-rows", rows: r }`, the top r rows, the rest of the image being what it models.
   */
  condition?: Condition;
  /** Seed for shuffling, ε and dynamic binarisation. */
  seed?: number;
  /**
   * How the encoder's gradient is estimated: "reparam" (default, the reparameterization trick) or one of
   * the score-function variants of vae/encoder-gradients.ts (for comparison; the decoder's gradient is the same).
   */
  encoderEstimator?: EncoderEstimator;
  /**
   * How gradients are computed: "auto" (default) uses the backpropagation written out in vae/backprop.ts
   * where it applies (a Bernoulli likelihood, any estimator) — for the reparameterised estimator in one
   * native call (vae/fused-gradients.ts) where the native kernels run — else tfjs's autodiff tape;
   * "written" the written-out backpropagation in tfjs ops, never the native call; "tape" always the tape.
   * All give the same gradients to float32 rounding; the native call is fastest, the tape slowest.
   */
  backprop?: "auto" | "written" | "tape";
  /**
   * Continue a run from where it stopped (see TrainingState): epochs are numbered on from `resume.epoch`,
   * and the random stream and Adam's moments continue, so 1 + 1 epochs equal 2 epochs of one run. The
   * other options must be those of the run being continued.
   */
  resume?: TrainingState;
  /**
   * Called after every epoch, before `onEpoch`, with the state to resume from at that epoch's end and the
   * history of this call so far (the model's weights are those of that moment too): a caller that saves
   * them there can continue an interrupted run from its last finished epoch. The last call is the final state.
   */
  onState?: (state: TrainingState, history: EpochRecord[]) => void;
  /** Called after every optimisation step. */
  onStep?: (p: StepProgress) => void;
  /** Called as the test set is evaluated after an epoch: images done of all. */
  onTestProgress?: (p: { epoch: number; done: number; total: number }) => void;
  /** Called after every epoch with its record (and the history so far). */
  onEpoch?: (record: EpochRecord, history: EpochRecord[]) => void;
}

export interface StepProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  /** Loss of this minibatch. */
  loss: number;
}

export interface EpochRecord {
  epoch: number;
  /**
   * Mean training loss over the epoch's minibatches (weighted by batch size), nats per image: recon + β·KL
   * for the ELBO, −L_k for the IWAE objective.
   */
  trainLoss: number;
  /** Test negative ELBO (β = 1, one sample of z per image), nats per image. */
  testLoss: number;
  /** Test reconstruction term E_q[−log p(x|z)]. */
  recon: number;
  /** Test KL(q(z|x) ‖ p(z)). */
  kl: number;
  /** Training reconstruction and KL terms, averaged like trainLoss. */
  trainRecon: number;
  trainKl: number;
  /** β used in this epoch (after warm-up). */
  beta: number;
  /** Wall-clock seconds of the epoch's training (evaluation excluded). */
  seconds: number;
}

/** Where a training run stopped: the epochs done, the random stream's position and Adam's state. */
export interface TrainingState {
  epoch: number;
  rng: RngState;
  adam: AdamState;
}

/** Thrown when the loss becomes NaN or infinite; the bad step is not applied, so the model keeps its last good weights. */
export class TrainingDivergedError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly value: number,
  ) {
    super(`training diverged: the loss became ${value} at epoch ${epoch}, step ${step} (try a lower learning rate)`);
    this.name = "TrainingDivergedError";
  }
}

export interface Evaluation {
  loss: number;
  recon: number;
  kl: number;
}

/**
 * Negative ELBO (β = 1 by default) averaged over a whole set, evaluated in batches; for a conditional VAE,
 * −ELBO(x|c) with x and c as `condition` says (default: c the image's class).
 */
export function evaluateElbo(
  vae: LatentModel | ConditionalVae,
  set: MnistSet,
  options: { batchSize?: number; seed?: number; samples?: number; beta?: number; condition?: Condition; onProgress?: (done: number, total: number) => void } = {},
): Evaluation {
  const { samples = 1, beta = 1 } = options;
  const batchOf = batchesFor(vae, set, options.condition);
  const [loss, recon, kl] = meanOverSet(set, (images, rng, indices) => {
    const { model, x } = batchOf(indices, images);
    const t = negativeElbo(model, x, { beta, samples, seed: rng.nextSeed() });
    return [t.loss.dataSync()[0], t.recon.dataSync()[0], t.kl.dataSync()[0]];
  }, options);
  return { loss, recon, kl };
}

/** The loss itself as the objective (the reparameterization gradient), for models without surrogateLoss. */
function reparamObjective(t: LossTerms): LossTerms & { objective: tf.Scalar } {
  return { ...t, objective: t.loss };
}

/** recon + β · Σ_j max(λ, KL_j) as the objective (reparameterized), from terms computed with freeBits. */
function freeBitsObjective(t: LossTerms, beta: number): LossTerms & { objective: tf.Scalar } {
  return { ...t, objective: t.recon.add(t.freeBitsKl!.mul(beta)) as tf.Scalar };
}

/**
 * β in epoch `epoch` (1-based) under a linear warm-up over `warmupEpochs` epochs: 0 in epoch 1, rising by
 * β/warmupEpochs each epoch, the full β from epoch warmupEpochs + 1 on.
 */
export function betaAt(epoch: number, beta: number, warmupEpochs: number): number {
  if (warmupEpochs <= 0) return beta;
  return beta * Math.min(1, (epoch - 1) / warmupEpochs);
}

/**
 * Train `vae` on `train`, evaluating on `test` after every epoch. Returns the per-epoch history of this
 * call. The optimiser state lives only for this call; `onState` hands it out after every epoch and `resume`
 * takes it back.
 * A conditional VAE (conditional.ts) is trained on −ELBO(x|c), c each image's class (one-hot) or its top rows.
 * Models other than the MLP (the convolutional one of conv.ts) train with the reparameterization gradient
 * through tfjs's autodiff.
 */
export function trainVae(vae: LatentModel | ConditionalVae, train: MnistSet, test: MnistSet, options: TrainOptions): EpochRecord[] {
  const steps = trainVaeSteps(vae, train, test, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * trainVae one step at a time: the generator yields after every optimisation step, so a caller can give
 * the event loop a turn (to notice Ctrl-C) or stop early; stopping (`return()`, or a throw in a for…of)
 * frees the optimiser state. Its return value is the history.
 */
export function* trainVaeSteps(vae: LatentModel | ConditionalVae, train: MnistSet, test: MnistSet, options: TrainOptions): Generator<StepProgress, EpochRecord[], void> {
  const { epochs, batchSize = 128, lr = 1e-3, beta = 1, warmupEpochs = 0, samples = 1, encoderEstimator: estimator = "reparam", objective = "elbo", lrSchedule = "constant", freeBits = 0 } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`epochs must be a positive integer (got ${epochs})`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batchSize must be a positive integer (got ${batchSize})`);
  if (!(lr > 0 && Number.isFinite(lr))) throw new Error(`lr must be a finite number > 0 (got ${lr})`);
  if (!(beta >= 0 && Number.isFinite(beta))) throw new Error(`beta must be a finite number ≥ 0 (got ${beta})`);
  if (!(Number.isInteger(warmupEpochs) && warmupEpochs >= 0)) throw new Error(`warmupEpochs must be an integer ≥ 0 (got ${warmupEpochs})`);
  if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`samples must be a positive integer (got ${samples})`);
  if (!LR_SCHEDULES.includes(lrSchedule)) throw new Error(`lrSchedule must be one of ${LR_SCHEDULES.join(", ")} (got ${lrSchedule})`);
  if (!OBJECTIVES.includes(objective)) throw new Error(`objective must be one of ${OBJECTIVES.join(", ")} (got ${objective})`);
  if (objective === "iwae" && (beta !== 1 || warmupEpochs !== 0)) throw new Error("the IWAE objective has no KL weight: beta must be 1 and warmupEpochs 0");
  if (objective === "iwae" && estimator !== "reparam") throw new Error(`the IWAE objective is trained with the reparameterized gradient, not ${estimator}`);
  if (!(freeBits >= 0 && Number.isFinite(freeBits))) throw new Error(`freeBits must be a finite number ≥ 0 (got ${freeBits})`);
  if (freeBits > 0 && objective !== "elbo") throw new Error("free bits apply to the ELBO's KL term; the IWAE objective has none");
  if (freeBits > 0 && estimator !== "reparam") throw new Error(`free bits are trained with the reparameterized gradient, not ${estimator}`);
  if (!(train.count >= 1)) throw new Error("the training set is empty");
  if (!(test.count >= 1)) throw new Error("the test set is empty");
  const trainBatch = batchesFor(vae, train, options.condition);
  batchesFor(vae, test, options.condition); // refused here, before training, if the test set does not fit
  const mlp = vae instanceof Vae ? vae : undefined;
  if (!mlp && estimator !== "reparam") throw new Error(`the ${estimator} estimator is implemented for the MLP VAE only`);
  const rng = options.resume ? Rng.fromState(options.resume.rng) : new Rng(options.seed ?? 0);
  const first = (options.resume?.epoch ?? 0) + 1;
  // PyTorch's Adam defaults (tfjs would otherwise use ε = 1e-7); fused and native on wasm where built.
  // Everything that can be refused is checked before this: tfjs's Adam holds variables from the start.
  const optimizer = createAdam(lr);
  const variables = vae.variables();
  if (options.resume) {
    try {
      optimizer.setState(options.resume.adam, variables);
    } catch (e) {
      optimizer.dispose();
      throw e;
    }
  }
  const history: EpochRecord[] = [];
  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  const explicit = objective === "elbo" && freeBits === 0 && options.backprop !== "tape" && !!mlp && explicitGradientsSupported(mlp);
  try {
    for (let epoch = first; epoch < first + epochs; epoch++) {
      const b = betaAt(epoch, beta, warmupEpochs);
      if (lrSchedule !== "constant") optimizer.setLearningRate(learningRateAt(epoch, lr, lrSchedule));
      const order = rng.permutation(train.count);
      const t0 = performance.now();
      let sum = 0;
      let sumRecon = 0;
      let sumKl = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const idx = order.subarray(step * batchSize, Math.min((step + 1) * batchSize, train.count));
        const [l, r, k] = tidyValue(() => {
          const { model, x } = trainBatch(idx, batchTensor(train, idx, rng));
          if (explicit) {
            const opts = { estimator, beta: b, samples, seed: rng.nextSeed() };
            // One native call where it runs (vae/fused-gradients.ts); the same numbers written out in tfjs ops elsewhere.
            const g = (estimator === "reparam" && options.backprop !== "written" ? fusedNegativeElboGradients(mlp!, x, opts) : null) ?? negativeElboGradients(mlp!, x, opts);
            const [reconValue, klValue] = [g.recon.dataSync()[0], g.kl.dataSync()[0]];
            const loss = reconValue + b * klValue;
            if (Number.isFinite(loss)) optimizer.applyGradients(g.grads, variables);
            tf.dispose(g.grads);
            return [loss, reconValue, klValue];
          }
          let recon: tf.Scalar | undefined;
          let kl: tf.Scalar | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const opts = { beta: b, samples, seed: rng.nextSeed() };
            if (objective === "iwae") {
              const t = iwaeBound(model, x, opts);
              recon = tf.keep(t.recon);
              kl = tf.keep(t.kl);
              return t.bound.neg() as tf.Scalar;
            }
            const t =
              freeBits > 0
                ? freeBitsObjective(negativeElbo(model, x, { ...opts, freeBits }), b)
                : mlp
                  ? surrogateLoss(mlp, x, { estimator, ...opts })
                  : reparamObjective(negativeElbo(model, x, opts));
            recon = tf.keep(t.recon);
            kl = tf.keep(t.kl);
            return t.objective;
          }, variables);
          const reconValue = recon!.dataSync()[0];
          const klValue = kl!.dataSync()[0];
          tf.dispose([recon!, kl!]); // kept out of variableGrads' scope, so not freed by tidy
          // The ELBO's loss is recon + β·KL (the surrogate objective's value is not); the IWAE's is −L_k itself.
          const loss = objective === "iwae" ? value.dataSync()[0] : reconValue + b * klValue;
          // Apply the step only if the loss is finite, so a diverged run keeps its last good weights.
          if (Number.isFinite(loss)) optimizer.applyGradients(grads, variables);
          return [loss, reconValue, klValue];
        });
        if (!Number.isFinite(l)) throw new TrainingDivergedError(epoch, step + 1, l);
        sum += l * idx.length;
        sumRecon += r * idx.length;
        sumKl += k * idx.length;
        options.onStep?.({ epoch, step: step + 1, stepsPerEpoch, loss: l });
        yield { epoch, step: step + 1, stepsPerEpoch, loss: l };
      }
      const seconds = (performance.now() - t0) / 1000;
      const ev = evaluateElbo(vae, test, { seed: rng.nextSeed(), condition: options.condition, onProgress: options.onTestProgress && ((done, total) => options.onTestProgress!({ epoch, done, total })) });
      const record: EpochRecord = {
        epoch,
        trainLoss: sum / train.count,
        testLoss: ev.loss,
        recon: ev.recon,
        kl: ev.kl,
        trainRecon: sumRecon / train.count,
        trainKl: sumKl / train.count,
        beta: b,
        seconds,
      };
      if (!Number.isFinite(record.testLoss)) throw new TrainingDivergedError(epoch, stepsPerEpoch, record.testLoss);
      history.push(record);
      options.onState?.({ epoch, rng: rng.state(), adam: optimizer.getState(variables) }, history);
      options.onEpoch?.(record, history);
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}
