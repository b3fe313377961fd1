/**
 * `vae-lab sample --model FILE [--n N] [--seed S] [--out F]`: decode draws from the prior N(0, I).
 */
import { writeFileAtomic } from "../files/atomic-write";
import { backendFlag, intFlag, parse, UsageError } from "./main";
import { checkOutFile } from "./out-guard";
import { interruptible } from "./signals";
import { plural } from "./plural";
import { deferred } from "./deferred-modules";
export { SAMPLE_HELP } from "./command-help";

export async function sampleCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { model: { type: "string" }, n: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, backend: { type: "string" } });
  const model = values.model as string | undefined;
  if (!model) throw new UsageError("sample: --model FILE is required");
  const n = intFlag(values, "n", 16);
  const seed = intFlag(values, "seed", 1, 0);
  const out = (values.out as string | undefined) ?? "samples.html";
  checkOutFile(out, ["html", "json"], { model });
  const ext = out.toLowerCase().endsWith(".json") ? "json" : "html";
  const choice = backendFlag(values.backend);
  // Only now, with the flags checked, TensorFlow.js and the model code.
  const { initBackend } = deferred.backend();
  const { loadModel } = deferred.checkpoint();
  const { imageShapeOfCheckpoint, checkFinite } = deferred.modelOutputs();
  const { samplePrior } = deferred.evaluate();
  const { imageGridHtml, pageHtml } = deferred.plot();
  await initBackend(choice);
  const { model: vae, metadata } = loadModel(model);
  try {
    const shape = imageShapeOfCheckpoint(model, vae.config.inputDim, metadata);
    await interruptible("sampling", async (checkpoint) => {
      let text: string;
      const flat = checkFinite(samplePrior(vae, { n, seed }), model, "the decoded samples");
      await checkpoint();
      if (ext === "json") {
        const px = vae.config.inputDim;
        const images = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * px, (i + 1) * px), (v) => Math.round(v * 1e6) / 1e6));
        text = JSON.stringify({ n, seed, rows: shape.rows, cols: shape.cols, latentDim: vae.config.latentDim, images }) + "\n";
      } else {
        // Pictures only, so no plotly.js: the page is the PNG and a few lines of HTML.
        const grid = imageGridHtml(flat, shape.rows, shape.cols, { columns: Math.min(n, 10), title: "Samples: decoder means at z ~ N(0, I)" });
        text = pageHtml([{ html: grid }], `vae-lab samples (seed ${seed})`);
      }
      await checkpoint();
      writeFileAtomic(out, text);
    });
  } finally {
    vae.dispose();
  }
  console.log(`wrote ${out} (${plural(n, "sample")}, seed ${seed})`);
}
