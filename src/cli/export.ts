/**
 * `vae-lab export --model FILE --out DIR`: a checkpoint's encoder and decoder as TensorFlow.js Layers models
 * (DIR/encoder/, DIR/decoder/; see vae/layers-export.ts).
 */
import { writeOutputSet } from "../files/output-set";
import { backendFlag, parse, UsageError } from "./main";
import { checkOutFolder } from "./out-guard";
import { interruptible } from "./signals";
import { deferred } from "./deferred-modules";
export { EXPORT_HELP } from "./command-help";

export async function exportCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { model: { type: "string" }, out: { type: "string" }, backend: { type: "string" } });
  const model = values.model as string | undefined;
  const out = values.out as string | undefined;
  if (!model) throw new UsageError("export: --model FILE is required");
  if (!out) throw new UsageError("export: --out DIR is required");
  checkOutFolder(out);
  const choice = backendFlag(values.backend);
  // Only now, with the flags checked, TensorFlow.js and the model code.
  const { initBackend } = deferred.backend();
  const { loadModel } = deferred.checkpoint();
  const { layersExportFiles } = deferred.layersExport();
  const { lockOutFolder } = deferred.job();
  const { classNamesOfCheckpoint, imageShapeIfKnown } = deferred.modelOutputs();
  await initBackend(choice);
  const { model: vae, metadata } = loadModel(model);
  try {
    // The image shape and class names the checkpoint records go into each model.json (a checkpoint without
    // them: the grey square its pixel count makes, if it makes one).
    const image = imageShapeIfKnown(model, vae.config.inputDim, metadata);
    const classNames = vae instanceof deferred.conditional().ConditionalVae ? classNamesOfCheckpoint(vae.config.conditionDim, metadata) : undefined;
    await interruptible("exporting", async (checkpoint) => {
      const files = await layersExportFiles(vae, { image, classNames });
      await checkpoint();
      // The four files replace an earlier export's as one set (files/output-set.ts), under the folder's lock,
      // so an export never repairs away the staging of a train writing into the same folder.
      const release = lockOutFolder(out);
      try {
        writeOutputSet(out, files);
      } finally {
        release();
      }
    });
  } finally {
    vae.dispose();
  }
  console.log(`wrote ${out}/encoder/ and ${out}/decoder/ (TensorFlow.js Layers models: model.json + weights.bin)`);
}
