/**
 * `vae-lab sample --model FILE [--n N] [--seed S] [--label L] [--out F]`: decode draws from the prior N(0, I).
 * A conditional VAE's draws are decoded under the class --label names, or under every class (one row each).
 */
import { writeFileAtomic } from "../files/atomic-write";
import { backendFlag, intFlag, parse, UsageError } from "./main";
import { checkOutFile } from "./out-guard";
import { imageKindText } from "../data/image-shape";
import { FLAG_MAX, MAX_SAMPLE_VALUES } from "./flag-limits";
import { interruptible } from "./signals";
import { plural } from "./plural";
import { deferred } from "./deferred-modules";
export { SAMPLE_HELP } from "./command-help";

export async function sampleCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { model: { type: "string" }, n: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, backend: { type: "string" }, label: { type: "string" } });
  const model = values.model as string | undefined;
  if (!model) throw new UsageError("sample: --model FILE is required");
  const n = intFlag(values, "n", 16);
  const label = values.label as string | undefined;
  if (label !== undefined && label.trim() === "") throw new UsageError('--label: expected a class name or index (e.g. 7), got ""');
  const seed = intFlag(values, "seed", 1, 0);
  const out = (values.out as string | undefined) ?? "samples.html";
  checkOutFile(out, ["html", "json"], { model });
  const ext = out.toLowerCase().endsWith(".json") ? "json" : "html";
  const choice = backendFlag(values.backend);
  // Only now, with the flags checked, TensorFlow.js and the model code.
  const { initBackend } = deferred.backend();
  const { loadModel, CheckpointError } = deferred.checkpoint();
  const { imageShapeOfCheckpoint, checkFinite, classNamesOfCheckpoint, classIndexOfLabel } = deferred.modelOutputs();
  const { samplePrior } = deferred.evaluate();
  const { ConditionalVae, sampleClasses } = deferred.conditional();
  const { imageGridHtml, pageHtml } = deferred.plot();
  await initBackend(choice);
  const { model: vae, metadata } = loadModel(model);
  let what = plural(n, "sample");
  try {
    const shape = imageShapeOfCheckpoint(model, vae.config.inputDim, metadata);
    if (label !== undefined && !(vae instanceof ConditionalVae)) throw new CheckpointError(model, "is not a conditional VAE, so --label has no class to choose (train one with vae-lab train --conditional)");
    // A conditional model's draws go under one class (--label) or under each class in turn (one grid row each).
    const names = vae instanceof ConditionalVae ? classNamesOfCheckpoint(vae.config.conditionDim, metadata) : [];
    const classes = vae instanceof ConditionalVae ? (label === undefined ? names.map((_, k) => k) : [classIndexOfLabel(label, names, model)]) : [];
    // --n's bounds hold for the images written (n under each of the classes) and for their values.
    const perDraw = Math.max(classes.length, 1);
    const images = n * perDraw;
    if (images > FLAG_MAX.n) throw new UsageError(`--n: ${n} draws under each of the ${classes.length} classes make ${images} images, more than the ${FLAG_MAX.n} sample writes; give a smaller --n, or --label for one class`);
    if (images * vae.config.inputDim > MAX_SAMPLE_VALUES) {
      const most = Math.floor(MAX_SAMPLE_VALUES / vae.config.inputDim / perDraw);
      const advice = [most >= 1 ? `give --n ${most} or less for this model` : "", classes.length > 1 ? "--label for one class" : ""].filter(Boolean).join(", or ");
      throw new UsageError(`--n: ${images} ${imageKindText(shape)} are ${images * vae.config.inputDim} values, more than the ${MAX_SAMPLE_VALUES} sample writes at once${advice ? `; ${advice}` : ""}`);
    }
    if (classes.length === 1) what += ` of class ${names[classes[0]]}`;
    if (classes.length > 1) what += ` of each of ${plural(classes.length, "class", "classes")}`;
    await interruptible("sampling", async (checkpoint) => {
      let text: string;
      const decoded = vae instanceof ConditionalVae ? sampleClasses(vae, { n, seed, classes }) : samplePrior(vae, { n, seed });
      const flat = checkFinite(decoded, model, "the decoded samples");
      await checkpoint();
      const count = flat.length / vae.config.inputDim;
      if (ext === "json") {
        const px = vae.config.inputDim;
        const images = Array.from({ length: count }, (_, i) => Array.from(flat.subarray(i * px, (i + 1) * px), (v) => Math.round(v * 1e6) / 1e6));
        // A conditional model's images say their class: labels[i] (an index into classNames) for images[i].
        const byClass = vae instanceof ConditionalVae ? { classNames: names, labels: classes.flatMap((k) => new Array<number>(n).fill(k)) } : {};
        text = JSON.stringify({ n, seed, rows: shape.rows, cols: shape.cols, channels: shape.channels, latentDim: vae.config.latentDim, ...byClass, images }) + "\n";
      } else {
        // Pictures only, so no plotly.js: the page is the PNG and a few lines of HTML.
        const title =
          classes.length === 0
            ? "Samples: decoder means at z ~ N(0, I)"
            : classes.length === 1
              ? `Samples of class ${names[classes[0]]}: decoder means of p(x|z, c) at z ~ N(0, I)`
              : `Samples by class (rows: ${names.join(", ")}): each column one z ~ N(0, I), decoded under every class`;
        const grid = imageGridHtml(flat, shape.rows, shape.cols, { channels: shape.channels, columns: classes.length > 1 ? n : Math.min(n, 10), title });
        text = pageHtml([{ html: grid }], `vae-lab samples (seed ${seed})`);
      }
      await checkpoint();
      writeFileAtomic(out, text);
    });
  } finally {
    vae.dispose();
  }
  console.log(`wrote ${out} (${what}, seed ${seed})`);
}
