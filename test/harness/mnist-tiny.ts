/** The small MNIST fixture in data/mnist-tiny (IDX files of a few hundred digits), both splits. */
import * as path from "path";
import { loadMnist, MnistSet } from "../../src/data/mnist";

export const TINY_MNIST = path.resolve(__dirname, "../../data/mnist-tiny");

export function tinyMnist(): { train: MnistSet; test: MnistSet } {
  return { train: loadMnist({ dir: TINY_MNIST, split: "train" }), test: loadMnist({ dir: TINY_MNIST, split: "test" }) };
}
