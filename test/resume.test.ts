import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "../src/engine/tf";
import { describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { createAdam } from "../src/engine/optimizer";
import { Rng } from "../src/engine/random";
import { loadMnist } from "../src/data/mnist";
import { loadTrainingState, loadVae, saveTrainingState, saveVae } from "../src/vae/checkpoint";
import { trainVae, TrainingState } from "../src/vae/train";
import { Vae } from "../src/vae/model";

const train = loadMnist({ split: "train", limit: 384, binarize: "dynamic", seed: 3 });
const test = loadMnist({ split: "test", limit: 100 });
const config = { hiddenDims: [32], latentDim: 2, seed: 5 };
const opts = { batchSize: 128, lr: 3e-3, seed: 9, warmupEpochs: 2 };

function weights(vae: Vae): Float32Array[] {
  return vae.variables().map((v) => Float32Array.from(v.dataSync() as Float32Array));
}

describe("Rng state", () => {
  it("an Rng rebuilt from its state continues the same stream (normals' spare half included)", () => {
    const a = new Rng(7);
    a.permutation(50);
    a.normal(); // leaves a spare normal
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
    expect([b.normal(), b.uniform(), b.nextSeed(), ...b.permutation(20)]).toEqual([a.normal(), a.uniform(), a.nextSeed(), ...a.permutation(20)]);
  });
});

describe.each(["cpu", "wasm"] as const)("resuming training on %s", (backend) => {
  it("1 + 1 epochs through a saved checkpoint and training state equal 2 epochs in one run, weight for weight", async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const straight = new Vae(config);
    const h2 = trainVae(straight, train, test, { ...opts, epochs: 2 });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-resume-"));
    const first = new Vae(config);
    let state: TrainingState | undefined;
    const h1 = trainVae(first, train, test, { ...opts, epochs: 1, onState: (s) => (state = s) });
    expect(state!.epoch).toBe(1);
    expect(state!.adam.step).toBe(3);
    saveVae(first, path.join(dir, "model.json"));
    saveTrainingState(state!, path.join(dir, "training-state.json"));
    first.dispose();

    const { vae: resumed } = loadVae(path.join(dir, "model.json"));
    const { state: loaded } = loadTrainingState(path.join(dir, "training-state.json"));
    const hMore = trainVae(resumed, train, test, { ...opts, epochs: 1, resume: loaded });

    expect(hMore[0].epoch).toBe(2);
    expect(hMore[0].beta).toBe(h2[1].beta); // the warm-up continues
    expect([h1[0].trainLoss, hMore[0].trainLoss, hMore[0].testLoss]).toEqual([h2[0].trainLoss, h2[1].trainLoss, h2[1].testLoss]);
    const [w2, wr] = [weights(straight), weights(resumed)];
    w2.forEach((w, i) => expect(Array.from(wr[i])).toEqual(Array.from(w)));

    // Without the optimizer state (fresh Adam moments) the second epoch differs: the state matters.
    const { vae: fresh } = loadVae(path.join(dir, "model.json"));
    trainVae(fresh, train, test, { ...opts, epochs: 1, resume: { ...loaded, adam: { step: 0, accBeta1: 0.9, accBeta2: 0.999, m: loaded.adam.m.map(() => null), v: loaded.adam.v.map(() => null) } } });
    expect(Math.max(...weights(fresh).map((w, i) => Math.max(...w.map((x, j) => Math.abs(x - w2[i][j])))))).toBeGreaterThan(1e-4);

    for (const v of [straight, resumed, fresh]) v.dispose();
    expect(tf.memory().numTensors).toBe(before);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("onState hands out every epoch's state with the weights of that moment: resuming from epoch 1's state of a 3-epoch run equals that run", async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const straight = new Vae(config);
    const seen: { epoch: number; history: number; weights: Float32Array[]; state: TrainingState }[] = [];
    const h3 = trainVae(straight, train, test, { ...opts, epochs: 3, onState: (s, h) => seen.push({ epoch: s.epoch, history: h.length, weights: weights(straight), state: s }) });
    expect(seen.map((x) => [x.epoch, x.history, x.state.adam.step])).toEqual([[1, 1, 3], [2, 2, 6], [3, 3, 9]]);
    // The weights at epoch 1's end and its state, put back into a fresh model: 2 more epochs end where the run ended.
    const resumed = new Vae(config);
    resumed.variables().forEach((v, i) => {
      const t = tf.tensor(seen[0].weights[i], v.shape);
      v.assign(t);
      t.dispose();
    });
    const hMore = trainVae(resumed, train, test, { ...opts, epochs: 2, resume: seen[0].state });
    expect(hMore.map((h) => [h.epoch, h.trainLoss, h.testLoss])).toEqual(h3.slice(1).map((h) => [h.epoch, h.trainLoss, h.testLoss]));
    const [w3, wr] = [weights(straight), weights(resumed)];
    w3.forEach((w, i) => expect(Array.from(wr[i])).toEqual(Array.from(w)));
    // Each state is a copy: epoch 1's was not changed by the epochs after it.
    expect(Array.from(seen[0].state.adam.m[0]!)).not.toEqual(Array.from(seen[2].state.adam.m[0]!));
    for (const v of [straight, resumed]) v.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it("a state saved after 1 000 steps, whose β1 power has underflowed in float32 (to 0 with the native Adam), loads from its file and resumes as the uninterrupted run", async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const many = loadMnist({ split: "train", limit: 500, binarize: "dynamic", seed: 3 });
    const small = { hiddenDims: [8], latentDim: 2, seed: 5 };
    const quick = { batchSize: 1, lr: 1e-3, seed: 9 };
    const straight = new Vae(small);
    const seen: { weights: Float32Array[]; state: TrainingState }[] = [];
    const h3 = trainVae(straight, many, test, { ...quick, epochs: 3, onState: (s) => seen.push({ weights: weights(straight), state: s }) });
    // After epoch 2: 1 000 steps. 0.9^1001 is below float32's smallest subnormal (1.4e-45): the native Adam saves
    // 0; tfjs's Adam (the cpu backend, or wasm without the addon), multiplying in float32 step by step, stops at
    // 4 times that subnormal (0.9 × 4 rounds to 4).
    const at = seen[1];
    expect(at.state.adam.step).toBe(1000);
    const probe = createAdam(1e-3); // the Adam trainVae runs here: native on wasm with the addon, else tfjs's
    const native = probe.kind === "native";
    probe.dispose();
    expect(at.state.adam.accBeta1).toBe(native ? 0 : 4 * 2 ** -149);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-resume-"));
    saveTrainingState(at.state, path.join(dir, "training-state.json"));
    const { state: loaded } = loadTrainingState(path.join(dir, "training-state.json"));
    const resumed = new Vae(small);
    resumed.variables().forEach((v, i) => {
      const t = tf.tensor(at.weights[i], v.shape);
      v.assign(t);
      t.dispose();
    });
    const hMore = trainVae(resumed, many, test, { ...quick, epochs: 1, resume: loaded });
    expect(hMore.map((h) => [h.epoch, h.trainLoss, h.testLoss])).toEqual([[3, h3[2].trainLoss, h3[2].testLoss]]);
    const [w3, wr] = [weights(straight), weights(resumed)];
    w3.forEach((w, i) => expect(Array.from(wr[i])).toEqual(Array.from(w)));
    for (const v of [straight, resumed]) v.dispose();
    expect(tf.memory().numTensors).toBe(before);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("an optimizer's state round-trips through getState/setState, and a state for another model is refused", async () => {
    await initBackend(backend);
    const vae = new Vae(config);
    const other = new Vae({ ...config, hiddenDims: [16] });
    let state: TrainingState | undefined;
    trainVae(vae, train, test, { ...opts, epochs: 1, onState: (s) => (state = s) });
    const opt = createAdam(1e-3);
    opt.setState(state!.adam, vae.variables());
    const back = opt.getState(vae.variables());
    expect(back.step).toBe(state!.adam.step);
    back.m.forEach((m, i) => expect(Array.from(m!)).toEqual(Array.from(state!.adam.m[i]!)));
    expect(() => opt.setState(state!.adam, other.variables())).toThrow(/moment 0 has \d+ values, variable .* has \d+/);
    opt.dispose();
    vae.dispose();
    other.dispose();
  }, 120_000);
});
