/**
 * Checks on a training and a test set before any training starts, so that degenerate data (no images,
 * empty images, train and test images of different sizes) end in one line naming the file, not in a NaN
 * loss, a "diverged" message or a tfjs shape error minutes later.
 */
import { IdxError } from "./idx";
import { MnistSet } from "./mnist";

export function checkTrainingData(train: MnistSet, test: MnistSet): void {
  for (const set of [train, test]) {
    if (set.count === 0) throw new IdxError(set.files.images, `holds no images; ${set.split === "train" ? "training" : "testing"} needs at least one`);
    if (set.pixels === 0) throw new IdxError(set.files.images, `its images have ${set.rows}×${set.cols} = 0 pixels`);
  }
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new IdxError(test.files.images, `test images are ${test.rows}×${test.cols} pixels but the training images (${train.files.images}) are ${train.rows}×${train.cols}`);
  }
}
