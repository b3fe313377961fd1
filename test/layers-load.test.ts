/**
 * loadLayersModelFile / layersModelFileHandler (vae/layers-load.ts): the files `vae-lab export` writes, read
 * back from disk in plain Node (no tfjs-node), give the original model's numbers; a missing, short, long or
 * damaged file is one FileError naming it; nothing leaks, loaded or refused.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "../src/engine/tf";
import { initBackend } from "../src/engine/backend";
import { FileError } from "../src/files/file-error";
import { Vae } from "../src/vae/model";
import { exportLayersModels, exportMetadata } from "../src/vae/layers-export";
import { ConditionalVae } from "../src/vae/conditional";
import { layersModelFileHandler, loadLayersModelFile } from "../src/vae/layers-load";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-layers-load-"));
const exported = path.join(tmp, "web");
let vae: Vae;

/** A copy of the export's decoder folder under a new name, to damage. */
function decoderCopy(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(exported, "decoder"), dir, { recursive: true });
  return dir;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const [u, v] = [a.dataSync(), b.dataSync()];
  expect(u.length).toBe(v.length);
  let worst = 0;
  for (let i = 0; i < u.length; i++) worst = Math.max(worst, Math.abs(u[i] - v[i]));
  return worst;
}

/** The FileError that loading `modelJson` gives (and that it leaks no tensor). */
async function refusal(modelJson: string): Promise<FileError> {
  const before = tf.memory().numTensors;
  const e = await loadLayersModelFile(modelJson).then(
    (m) => {
      m.dispose();
      throw new Error(`${modelJson} loaded`);
    },
    (err: unknown) => err,
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(e).toBeInstanceOf(FileError);
  return e as FileError;
}

describe("loading an exported model from disk (loadLayersModelFile)", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    vae = new Vae({ latentDim: 2, hiddenDims: [16], seed: 5 });
    await exportLayersModels(vae, exported);
  });
  afterAll(() => {
    vae?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("the decoder decodes as the original (to 1e-6), from a path or a file:// URL; nothing leaks", async () => {
    const z = tf.randomNormal([32, 2], 0, 2, "float32", 11) as tf.Tensor2D;
    const want = vae.decodeMean(z);
    const before = tf.memory().numTensors;
    for (const where of [path.join(exported, "decoder", "model.json"), `file://${path.join(exported, "decoder", "model.json")}`]) {
      const decoder = await loadLayersModelFile(where);
      const got = decoder.predict(z) as tf.Tensor;
      expect(got.shape).toEqual([32, 784]);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
      got.dispose();
      decoder.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.max(...Array.from(want.dataSync()))).toBeGreaterThan(0.05); // not a trivial output
    tf.dispose([z, want]);
  });

  it("the encoder outputs μ and log σ² as the original (to 1e-6), through tf.loadLayersModel and the handler", async () => {
    const x = tf.randomUniform([8, 784], 0, 1, "float32", 3) as tf.Tensor2D;
    const q = vae.encode(x);
    const encoder = await tf.loadLayersModel(layersModelFileHandler(path.join(exported, "encoder", "model.json")));
    const [mu, logVar] = encoder.predict(x) as tf.Tensor[];
    expect(maxAbsDiff(mu, q.mu)).toBeLessThan(1e-6);
    expect(maxAbsDiff(logVar, q.logVar)).toBeLessThan(1e-6);
    tf.dispose([x, q.mu, q.logVar, mu, logVar]);
    encoder.dispose();
  });

  it("each model.json says what its model takes and gives; the image shape and class names where given", async () => {
    const encoder = await loadLayersModelFile(path.join(exported, "encoder", "model.json"));
    // exportLayersModels was given no image: none is claimed.
    expect(encoder.getUserDefinedMetadata()).toEqual({
      vaeLab: { part: "encoder", inputDim: 784, latentDim: 2, inputs: ["x [batch, 784]: an image's values in [0, 1]"], outputs: ["mu [batch, 2]", "logVar [batch, 2]"] },
    });
    encoder.dispose();
    const cvae = new ConditionalVae({ inputDim: 12, conditionDim: 3, latentDim: 2, hiddenDims: [4], seed: 1 });
    try {
      const dir = path.join(tmp, "conditional");
      await exportLayersModels(cvae, dir, { image: { rows: 2, cols: 2, channels: 3 }, classNames: ["a", "b", "c"] });
      const decoder = await loadLayersModelFile(path.join(dir, "decoder", "model.json"));
      expect(decoder.getUserDefinedMetadata()).toEqual({
        vaeLab: {
          part: "decoder", inputDim: 12, latentDim: 2, conditionDim: 3, inputs: ["z [batch, 2]", "c [batch, 3]: the one-hot class"], outputs: ["pixel means [batch, 12]"],
          image: { rows: 2, cols: 2, channels: 3, layout: "row-major, channels last" }, classNames: ["a", "b", "c"],
        },
      });
      decoder.dispose();
    } finally {
      cvae.dispose();
    }
    // Class names only describe a conditional model's condition.
    expect((exportMetadata(vae, "decoder", { classNames: ["x"] }).vaeLab as Record<string, unknown>).classNames).toBeUndefined();
  });

  it("weights in several shards are read in the manifest's order", async () => {
    const dir = decoderCopy("shards");
    const bytes = fs.readFileSync(path.join(dir, "weights.bin"));
    const cut = 1000; // inside the first weight: the order matters
    fs.writeFileSync(path.join(dir, "a.bin"), bytes.subarray(0, cut));
    fs.writeFileSync(path.join(dir, "b.bin"), bytes.subarray(cut));
    fs.rmSync(path.join(dir, "weights.bin"));
    const json = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
    json.weightsManifest[0].paths = ["a.bin", "b.bin"];
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(json));
    const z = tf.randomNormal([4, 2], 0, 1, "float32", 2) as tf.Tensor2D;
    const want = vae.decodeMean(z);
    const decoder = await loadLayersModelFile(path.join(dir, "model.json"));
    const got = decoder.predict(z) as tf.Tensor;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    tf.dispose([z, want, got]);
    decoder.dispose();
  });

  it("a missing model.json or weight file is refused naming it", async () => {
    const dir = decoderCopy("no-weights");
    fs.rmSync(path.join(dir, "weights.bin"));
    const e = await refusal(path.join(dir, "model.json"));
    expect(e.file).toBe(path.join(dir, "weights.bin"));
    expect(e.message).toBe(`${path.join(dir, "weights.bin")}: weight file not found (listed in ${path.join(dir, "model.json")})`);
    const none = path.join(tmp, "nowhere", "model.json");
    expect((await refusal(none)).message).toBe(`${none}: model file not found`);
  });

  it("a corrupt model.json is refused naming it: not JSON, not a Layers model, a topology tfjs cannot build", async () => {
    const dir = decoderCopy("corrupt");
    const file = path.join(dir, "model.json");
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, good.slice(0, good.length / 2));
    expect((await refusal(file)).message).toMatch(new RegExp(`^${file}: not valid JSON \\(`));
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(good), modelTopology: undefined }));
    expect((await refusal(file)).message).toBe(`${file}: not a TensorFlow.js Layers model.json (no modelTopology)`);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(good), weightsManifest: "weights.bin" }));
    expect((await refusal(file)).message).toMatch(/: not a TensorFlow\.js Layers model\.json \(no valid weightsManifest/);
    fs.writeFileSync(file, good.replace(/"class_name":"Dense"/g, '"class_name":"NoSuchLayer"'));
    expect((await refusal(file)).message).toMatch(new RegExp(`^${file}: not a loadable TensorFlow\\.js Layers model \\(.*NoSuchLayer`));
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(good), weightsManifest: [{ paths: ["../encoder/weights.bin"], weights: [] }] }));
    expect((await refusal(file)).message).toBe(`${file}: weight file path "../encoder/weights.bin" is not a path inside the model's folder`);
  });

  it("weights shorter or longer than the manifest describes are refused naming the file", async () => {
    const dir = decoderCopy("bad-weights");
    const weights = path.join(dir, "weights.bin");
    const bytes = fs.readFileSync(weights);
    fs.writeFileSync(weights, bytes.subarray(0, bytes.length - 4));
    expect((await refusal(path.join(dir, "model.json"))).message).toBe(
      `${weights}: the weight files hold ${bytes.length - 4} bytes, ${path.join(dir, "model.json")} describes ${bytes.length}`,
    );
    fs.writeFileSync(weights, Buffer.concat([bytes, Buffer.alloc(4)]));
    expect((await refusal(path.join(dir, "model.json"))).message).toBe(
      `${weights}: ${bytes.length + 4} bytes, more than the ${bytes.length} bytes the rest of the model's weights may have`,
    );
  });
});
