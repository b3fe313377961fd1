/**
 * `vae-lab sample --model FILE [--n N] [--seed S] [--out F]`: decode draws from the prior N(0, I).
 */
import { initBackend } from "../engine/backend";
import { writeFileAtomic } from "../files/atomic-write";
import { saveHtml } from "../plot/plot";
import { loadModel } from "../vae/checkpoint";
import { samplePrior } from "../vae/evaluate";
import { samplesFigure } from "../vae/figures";
import { backendFlag, intFlag, parse, UsageError } from "./main";

export const SAMPLE_HELP = `vae-lab sample --model FILE [--n N] [--seed S] [--out FILE] [--backend B]

Draw z ~ N(0, I) and decode it: the pixel means of p(x|z) of a checkpoint written by vae-lab train.
The output format follows the extension of --out:
  .html   an image grid (self-contained page, works offline)
  .json   { "n", "seed", "rows", "cols", "latentDim", "images": [[784 pixel means in 0..1], ...] }

Options:
  --model FILE           checkpoint to read (required)
  --n N                  number of samples [16]
  --seed S               seed of the draws (same seed, same samples) [1]
  --out FILE             .html or .json [samples.html]
  --backend B            auto | tensorflow | wasm | cpu [auto]
`;

export async function sampleCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { model: { type: "string" }, n: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, backend: { type: "string" } });
  const model = values.model as string | undefined;
  if (!model) throw new UsageError("sample: --model FILE is required");
  const n = intFlag(values, "n", 16);
  const seed = intFlag(values, "seed", 1, 0);
  const out = (values.out as string | undefined) ?? "samples.html";
  const ext = out.toLowerCase().split(".").pop();
  if (ext !== "html" && ext !== "json") throw new UsageError(`--out: expected a .html or .json file, got "${out}"`);
  await initBackend(backendFlag(values.backend));
  const { model: vae } = loadModel(model);
  try {
    const side = Math.round(Math.sqrt(vae.config.inputDim));
    if (ext === "json") {
      const px = vae.config.inputDim;
      const flat = samplePrior(vae, { n, seed });
      const images = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * px, (i + 1) * px), (v) => Math.round(v * 1e6) / 1e6));
      writeFileAtomic(out, JSON.stringify({ n, seed, rows: side, cols: side, latentDim: vae.config.latentDim, images }) + "\n");
    } else {
      saveHtml(out, [samplesFigure(vae, { n, seed })], `vae-lab samples (seed ${seed})`);
    }
  } finally {
    vae.dispose();
  }
  console.log(`wrote ${out} (${n} samples, seed ${seed})`);
}
