/**
 * `vae-lab encode --model FILE [--data DIR] [--split S] [--limit N] --out F.json`: q(z|x) of MNIST digits.
 */
import { writeFileAtomic } from "../files/atomic-write";
import type { Split } from "../data/mnist";
import { Rng } from "../engine/random";
import { backendFlag, intFlag, parse, UsageError } from "./main";
import { checkOutFile } from "./out-guard";
import { interruptible } from "./signals";
import { plural } from "./plural";
import { deferred } from "./deferred-modules";
export { ENCODE_HELP } from "./command-help";

export async function encodeCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    model: { type: "string" },
    out: { type: "string" },
    data: { type: "string" },
    split: { type: "string" },
    limit: { type: "string" },
    backend: { type: "string" },
  });
  const model = values.model as string | undefined;
  const out = values.out as string | undefined;
  if (!model) throw new UsageError("encode: --model FILE is required");
  if (!out) throw new UsageError("encode: --out FILE.json is required");
  checkOutFile(out, ["json"], { model });
  const split = (values.split as string | undefined) ?? "test";
  if (split !== "test" && split !== "train") throw new UsageError(`--split: expected test or train, got "${split}"`);
  const limit = values.limit === undefined ? undefined : intFlag(values, "limit", 0);
  const choice = backendFlag(values.backend);
  // Only now, with the flags checked, TensorFlow.js and the model code.
  const { loadMnist, batchTensor } = deferred.mnist();
  const { initBackend } = deferred.backend();
  const { loadModel } = deferred.checkpoint();
  const { tidyValue } = deferred.tidy();
  const { checkFinite } = deferred.modelOutputs();
  const { batchesFor, ConditionalVae } = deferred.conditional();
  const set = loadMnist({ dir: values.data as string | undefined, split: split as Split, limit });
  await initBackend(choice);
  const { model: vae } = loadModel(model);
  const D = vae.config.latentDim;
  try {
    if (set.pixels !== vae.config.inputDim) throw new Error(`${model}: the model expects ${vae.config.inputDim} pixels per image, the data have ${set.pixels}`);
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
      writeFileAtomic(out, JSON.stringify({ split, count: set.count, latentDim: D, ...given, labels: Array.from(set.labels), mu, logVar }) + "\n");
    });
  } finally {
    vae.dispose();
  }
  console.log(`wrote ${out} (q(z|x) of ${plural(set.count, `${split} image`)}, ${plural(D, "latent dimension")})`);
}
