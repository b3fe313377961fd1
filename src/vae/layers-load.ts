/**
 * Loading a TensorFlow.js Layers model from files on disk in plain Node: the `model.json` and weight files
 * that `vae-lab export` writes (layers-export.ts), or any Layers model saved the same way.
 *
 * `tf.loadLayersModel("file://…")` needs `@tensorflow/tfjs-node` (without it tfjs tries to fetch the path
 * and fails with "fetch failed … not implemented"); `tf.loadLayersModel(layersModelFileHandler(path))` reads the
 * same files with Node's fs and nothing else: model.json and every weight file its manifest lists, each read
 * with a bound (files/bounded-read.ts), the weights checked to be exactly as many bytes as the manifest
 * describes. Anything missing or damaged is one FileError naming the file.
 */
import * as path from "path";
import * as tf from "../engine/tf";
import { readFileBounded } from "../files/bounded-read";
import { FileError } from "../files/file-error";

/** The most a model.json may hold (the topology and the manifest; the weights are in the other files). */
export const MAX_MODEL_JSON_BYTES = 64 << 20;
/** The most all the weight files of one model may hold together. */
export const MAX_WEIGHT_BYTES = 1 << 30;

const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** "web/decoder/model.json" from "file://web/decoder/model.json" or "web/decoder/model.json". */
function filePath(p: string): string {
  return p.startsWith("file://") ? p.slice("file://".length) : p;
}

/** model.json, parsed and checked to be a Layers model with a weights manifest. */
function readModelJson(file: string): tf.io.ModelJSON {
  const text = readFileBounded(file, MAX_MODEL_JSON_BYTES, "a model.json", "model file not found").toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new FileError(file, "not a TensorFlow.js model.json (not a JSON object)");
  const m = json as Partial<tf.io.ModelJSON>;
  if (typeof m.modelTopology !== "object" || m.modelTopology === null) throw new FileError(file, "not a TensorFlow.js Layers model.json (no modelTopology)");
  if (m.format !== undefined && m.format !== "layers-model") throw new FileError(file, `a "${m.format}" model, not a Layers model ("layers-model")`);
  const manifest = m.weightsManifest;
  if (!Array.isArray(manifest) || manifest.some((g) => typeof g !== "object" || g === null || !Array.isArray(g.paths) || !Array.isArray(g.weights))) {
    throw new FileError(file, "not a TensorFlow.js Layers model.json (no valid weightsManifest: groups of paths and weights)");
  }
  return m as tf.io.ModelJSON;
}

/** The bytes a weight takes in the weight files, per the manifest; a FileError on `file` for a spec it cannot size. */
function weightBytes(spec: tf.io.WeightsManifestEntry, file: string): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = VALUE_BYTES[dtype];
  const shapeOk = Array.isArray(spec.shape) && spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (size === undefined || !shapeOk) throw new FileError(file, `weight "${spec.name}": cannot size ${dtype} of shape ${JSON.stringify(spec.shape)}`);
  return spec.shape.reduce((a, b) => a * b, 1) * size;
}

/**
 * A tf.io handler that loads the Layers model at `modelJson` (a path to its model.json, "file://" allowed)
 * and its weight files (paths relative to model.json's folder, as the manifest lists them), with fs.
 * Use: `await tf.loadLayersModel(layersModelFileHandler("web/decoder/model.json"))`, or loadLayersModelFile.
 */
export function layersModelFileHandler(modelJson: string): tf.io.IOHandler {
  const file = filePath(modelJson);
  return {
    load: async () => {
      const json = readModelJson(file);
      const dir = path.dirname(file);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const expected = specs.reduce((sum, s) => sum + weightBytes(s, file), 0);
        if (expected > MAX_WEIGHT_BYTES) throw new FileError(file, `its manifest lists ${expected} bytes of weights, more than the 1 GiB a model may have`);
        const shards: Uint8Array[] = [];
        let total = 0;
        for (const p of manifest.flatMap((g) => g.paths)) {
          if (typeof p !== "string" || p === "" || path.isAbsolute(p) || p.split(/[\\/]/).includes("..")) {
            throw new FileError(file, `weight file path ${JSON.stringify(p)} is not a path inside the model's folder`);
          }
          const shard = path.join(dir, p);
          const bytes = readFileBounded(shard, Math.max(0, expected - total), "the rest of the model's weights", `weight file not found (listed in ${file})`);
          shards.push(bytes);
          total += bytes.byteLength;
        }
        if (total !== expected) {
          const last = manifest.flatMap((g) => g.paths).slice(-1)[0] ?? "weights";
          throw new FileError(path.join(dir, last), `the weight files hold ${total} bytes, ${file} describes ${expected}`);
        }
        const data = new Uint8Array(total);
        let at = 0;
        for (const s of shards) {
          data.set(s, at);
          at += s.byteLength;
        }
        return [specs, data.buffer];
      });
    },
  };
}

/**
 * Load the Layers model at `modelJson` from disk (see layersModelFileHandler), e.g. a decoder written by
 * `vae-lab export --out web`: `const decoder = await loadLayersModelFile("web/decoder/model.json")`. A file
 * that is missing, too large or damaged, or a model.json tfjs cannot build a model from, is a FileError
 * naming the file. The caller disposes the model.
 */
export async function loadLayersModelFile(modelJson: string, options: tf.io.LoadOptions = {}): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(layersModelFileHandler(modelJson), options);
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(filePath(modelJson), `not a loadable TensorFlow.js Layers model (${(e as Error).message.split("\n")[0]})`);
  }
}
