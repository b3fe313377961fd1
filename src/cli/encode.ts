/**
 * `vae-lab encode --model FILE [--data PATH] [--split S] [--limit N] --out F.json`: q(z|x) of the images a
 * model was trained on, or of others read the same way (the checkpoint records how: `metadata.data`).
 */
import { writeFileAtomic } from "../files/atomic-write";
import type { DatasetSpec } from "../data/dataset";
import type { ImageSet } from "../data/image-set";
import { imageKindText } from "../data/image-shape";
import { Rng } from "../engine/random";
import { backendFlag, dataFlags, flagOptions, intFlag, parse, UsageError } from "./main";
import { checkOutFile } from "./out-guard";
import { interruptible } from "./signals";
import { plural } from "./plural";
import { deferred } from "./deferred-modules";
export { ENCODE_HELP } from "./command-help";

export async function encodeCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, flagOptions(["model", "out", "data", "dataset", "size", "fit", "grey", "test-fraction", "labels", "split", "limit", "backend"]));
  const model = values.model as string | undefined;
  const out = values.out as string | undefined;
  if (!model) throw new UsageError("encode: --model FILE is required");
  if (!out) throw new UsageError("encode: --out FILE.json is required");
  checkOutFile(out, ["json"], { model });
  const split = (values.split as string | undefined) ?? "test";
  if (split !== "test" && split !== "train") throw new UsageError(`--split: expected test or train, got "${split}"`);
  const limit = values.limit === undefined ? undefined : intFlag(values, "limit", 0);
  const flags = dataFlags(values);
  const choice = backendFlag(values.backend);
  // Only now, with the flags checked, TensorFlow.js and the model code.
  const { batchTensor } = deferred.mnist();
  const { loadDataset } = deferred.dataset();
  const { initBackend } = deferred.backend();
  const { loadModel } = deferred.checkpoint();
  const { tidyValue } = deferred.tidy();
  const { checkFinite, dataSpecOfCheckpoint, imageShapeOfCheckpoint } = deferred.modelOutputs();
  const { batchesFor, ConditionalVae } = deferred.conditional();
  await initBackend(choice);
  const { model: vae, metadata } = loadModel(model);
  const D = vae.config.latentDim;
  try {
    // The images are read as the model's were (size, fit, grey, held-out share, binarisation): from the
    // checkpoint's record, where it has one, with the flags given here in its place.
    // A grey model refuses colour images (unless --grey reads their grey levels); a colour model reads them.
    const shape = imageShapeOfCheckpoint(model, vae.config.inputDim, metadata);
    const spec: DatasetSpec = { ...dataSpecOfCheckpoint(model, metadata, flags), ...(shape.channels === 1 ? { colourRefusal: COLOUR_REFUSAL } : {}) };
    // The training images beyond the first are read only when they are the ones encoded (the held-out
    // split and the test images' binarisation do not depend on how many training images are read).
    const { train, test } = loadDataset({ ...spec, limit: split === "train" ? limit : 1 });
    const set = split === "train" ? train : firstImages(test, limit);
    if (set.pixels !== vae.config.inputDim) {
      const hint = shape.channels === 3 && set.channels === 1 ? " (a model of colour images encodes colour images only)" : "";
      throw new Error(`${model}: the model reads ${imageKindText(shape)}, the data are ${imageKindText(set)}${hint}`);
    }
    // A conditional VAE encodes each image with its class: q(z|x, c), c the one-hot of the image's label.
    let batchOf: ReturnType<typeof batchesFor>;
    try {
      batchOf = batchesFor(vae, set);
    } catch (e) {
      throw new Error(`${model}: ${(e as Error).message}`);
    }
    await interruptible("encoding", async (checkpoint) => {
      const mu: number[][] = [];
      const logVar: number[][] = [];
      const rng = new Rng(0);
      for (let start = 0; start < set.count; start += 500) {
        const idx = Int32Array.from({ length: Math.min(500, set.count - start) }, (_, i) => start + i);
        const [m, lv] = tidyValue(() => {
          const { model: m, x } = batchOf(idx, batchTensor(set, idx, rng));
          const q = m.encode(x);
          return [Float32Array.from(q.mu.dataSync()), Float32Array.from(q.logVar.dataSync())];
        });
        checkFinite(m, model, "the encoder's means");
        checkFinite(lv, model, "the encoder's log-variances");
        for (let i = 0; i < idx.length; i++) {
          mu.push(Array.from(m.subarray(i * D, (i + 1) * D)));
          logVar.push(Array.from(lv.subarray(i * D, (i + 1) * D)));
        }
        await checkpoint();
      }
      const given = vae instanceof ConditionalVae ? { conditionedOn: "class" } : {};
      writeFileAtomic(out, JSON.stringify({ split, count: set.count, latentDim: D, ...given, classNames: set.classNames, labels: Array.from(set.labels), mu, logVar }) + "\n");
    });
    console.log(`wrote ${out} (q(z|x) of ${plural(set.count, `${split} image`)}, ${plural(D, "latent dimension")})`);
  } finally {
    vae.dispose();
  }
}

/** A grey model's data: colour images are read as grey only when asked. */
const COLOUR_REFUSAL = "colour images (3 channels): the model reads grey images; pass --grey to read their grey levels";

/** The first `limit` images of a set (all of them without a limit). */
function firstImages(set: ImageSet, limit: number | undefined): ImageSet {
  if (limit === undefined || limit >= set.count) return set;
  return { ...set, count: limit, images: set.images.slice(0, limit * set.pixels), labels: set.labels.slice(0, limit) };
}
