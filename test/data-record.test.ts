/**
 * How a checkpoint records the way its data were read (`metadata.data`, written by vae-lab train) and how
 * encode reads images with it: the record of a job's DatasetSpec, every field checked when read back, and the
 * precedence of the record and the flags given to encode.
 */
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parseDataRecord } from "../src/data/dataset";
import { dataRecord } from "../src/cli/job";
import { dataSpecOfCheckpoint } from "../src/cli/model-outputs";

describe("the record of how a model's data were read", () => {
  it("keeps the source (paths made absolute) and the reading flags, not the training-size limit, and reads back equal", () => {
    const record = dataRecord({ path: "photos", labels: "y.npy", size: { rows: 16, cols: 24 }, fit: "pad", grey: true, testFraction: 0.2, binarize: "static", seed: 3, limit: 100 });
    expect(record).toEqual({ path: path.resolve("photos"), labels: path.resolve("y.npy"), size: { rows: 16, cols: 24 }, fit: "pad", grey: true, testFraction: 0.2, binarize: "static", seed: 3 });
    expect(parseDataRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(dataRecord({ dataset: "fashion-mnist", seed: 1 })).toEqual({ dataset: "fashion-mnist", binarize: "none", seed: 1 });
    expect(dataRecord({ grey: false })).toEqual({ binarize: "none" });
  });

  it("refuses a record that is not one, naming the field", () => {
    const ok = { binarize: "none" };
    const refusals: [unknown, string][] = [
      [null, "metadata.data is null, not an object"],
      [[1], "metadata.data is [1], not an object"],
      [{}, "metadata.data.binarize is undefined, not none | static | dynamic | threshold"],
      [{ ...ok, extra: 1 }, 'metadata.data has a field "extra" this version does not know'],
      [{ ...ok, dataset: "cifar" }, 'metadata.data.dataset is "cifar", not mnist | fashion-mnist'],
      [{ ...ok, path: "" }, 'metadata.data.path is "", not a path'],
      [{ ...ok, labels: 3 }, "metadata.data.labels is 3, not a path"],
      [{ ...ok, size: { rows: 0, cols: 4 } }, "metadata.data.size is"],
      [{ ...ok, size: { rows: 4, cols: 1025 } }, "metadata.data.size is"],
      [{ ...ok, size: { rows: 4, cols: 4, channels: 3 } }, "metadata.data.size is"],
      [{ ...ok, size: null }, "metadata.data.size is null"],
      [{ ...ok, fit: "zoom" }, 'metadata.data.fit is "zoom", not crop | pad | stretch'],
      [{ ...ok, grey: "yes" }, 'metadata.data.grey is "yes", not true or false'],
      [{ ...ok, testFraction: 1 }, "metadata.data.testFraction is 1, not a number between 0 and 1"],
      [{ ...ok, testFraction: 0 }, "metadata.data.testFraction is 0, not a number between 0 and 1"],
      [{ ...ok, seed: -1 }, "metadata.data.seed is -1, not a whole number ≥ 0"],
      [{ ...ok, seed: 1.5 }, "metadata.data.seed is 1.5, not a whole number ≥ 0"],
    ];
    for (const [value, message] of refusals) expect(() => parseDataRecord(value), JSON.stringify(value)).toThrow(message);
    // The edges that are allowed.
    expect(parseDataRecord({ ...ok, size: { rows: 1, cols: 1024 }, seed: 0, testFraction: 0.5, grey: false })).toEqual({ ...ok, size: { rows: 1, cols: 1024 }, seed: 0, testFraction: 0.5, grey: false });
  });
});

describe("the data encode reads with a checkpoint", () => {
  const recorded = { path: "/data/photos", size: { rows: 16, cols: 16 }, fit: "pad", grey: true, testFraction: 0.25, binarize: "static", seed: 4 };
  const meta = { data: recorded };

  it("without flags, the recorded source read the recorded way", () => {
    expect(dataSpecOfCheckpoint("m.json", meta, {})).toEqual(recorded);
  });

  it("a new source replaces the recorded one and its held-out share, and keeps the way images were read", () => {
    expect(dataSpecOfCheckpoint("m.json", meta, { data: "/other" })).toEqual({ path: "/other", size: { rows: 16, cols: 16 }, fit: "pad", grey: true, binarize: "static", seed: 4 });
    expect(dataSpecOfCheckpoint("m.json", { data: { dataset: "fashion-mnist", labels: "/y.npy", binarize: "none" } }, { dataset: "mnist" })).toEqual({ dataset: "mnist", binarize: "none" });
  });

  it("each reading flag given replaces the recorded one; --size without --fit takes the default fit", () => {
    expect(dataSpecOfCheckpoint("m.json", meta, { size: { rows: 8, cols: 8 } })).toEqual({ path: "/data/photos", size: { rows: 8, cols: 8 }, grey: true, testFraction: 0.25, binarize: "static", seed: 4 });
    expect(dataSpecOfCheckpoint("m.json", meta, { testFraction: 0.5, labels: "/l.npy" })).toEqual({ ...recorded, testFraction: 0.5, labels: "/l.npy" });
    expect(dataSpecOfCheckpoint("m.json", { data: { binarize: "none" } }, { grey: true })).toEqual({ grey: true, binarize: "none" });
  });

  it("a checkpoint without the record reads what the flags say (MNIST without them); a broken record names the checkpoint", () => {
    expect(dataSpecOfCheckpoint("m.json", undefined, {})).toEqual({ binarize: "none" });
    expect(dataSpecOfCheckpoint("m.json", { history: [] }, { data: "/x", size: { rows: 4, cols: 4 }, fit: "crop" })).toEqual({ path: "/x", size: { rows: 4, cols: 4 }, fit: "crop", binarize: "none" });
    expect(() => dataSpecOfCheckpoint("m.json", { data: { binarize: "none", size: "big" } }, {})).toThrow(/^m\.json: metadata\.data\.size is "big"/);
  });
});
