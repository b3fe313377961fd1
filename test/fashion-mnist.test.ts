/**
 * Fashion-MNIST (src/data/fashion-mnist.ts): found where Debian's dataset-fashion-mnist installs it, or in a
 * given folder; where it is missing, one line saying how to get it. The tests on the real files skip, saying
 * why, where the package is not installed (except in CI, which installs it).
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./harness/scratch";
import { dataDir } from "./harness/idx-data";
import { defaultFashionMnistDir, FASHION_MNIST_CLASSES, fashionMnistDirs, fashionMnistInstalled, loadFashionMnist } from "../src/data/fashion-mnist";
import { describeDataset, loadDataset } from "../src/data/dataset";
import { hasMnistFiles } from "../src/data/mnist";

const installed = fashionMnistDirs().find((d) => hasMnistFiles(d));
if (!installed) {
  if (process.env.CI === "true") throw new Error("Fashion-MNIST is not installed in CI: .ci/run installs dataset-fashion-mnist");
  console.log("fashion-mnist.test.ts: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): the tests on its files are skipped");
}

describe("Fashion-MNIST", () => {
  it("where it is missing, one line says how to install it", () => {
    const empty = scratchDir("vae-lab-fashion-");
    expect(() => defaultFashionMnistDir([empty])).toThrow(/^Fashion-MNIST not found \(looked in .*\); install it with: apt-get install dataset-fashion-mnist \(or give a folder of its IDX files with --data\)$/);
    expect(() => loadDataset({ dataset: "fashion-mnist", path: empty })).toThrow(/holds no Fashion-MNIST IDX files .*apt-get install dataset-fashion-mnist/);
    expect(() => loadDataset({ dataset: "fashion-mnist", path: path.join(empty, "nope") })).toThrow(/Fashion-MNIST folder not found; install it with: apt-get install dataset-fashion-mnist/);
    expect(fashionMnistInstalled([empty])).toBe(false);
    expect(fashionMnistInstalled([empty, dataDir([2, 28, 28], [2, 28, 28])])).toBe(true);
    expect(fashionMnistInstalled()).toBe(installed !== undefined);
  });

  it("a folder of its IDX files given as --data: its labels are named by its ten classes", () => {
    const dir = dataDir([20, 28, 28], [10, 28, 28]);
    const { train, test } = loadDataset({ dataset: "fashion-mnist", path: dir });
    expect(train.classNames).toEqual([...FASHION_MNIST_CLASSES]);
    expect(test.classNames[9]).toBe("Ankle boot");
    expect(FASHION_MNIST_CLASSES).toEqual(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);
    // The same files without --dataset are MNIST-named IDX files: digits.
    expect(loadDataset({ path: dir }).train.classNames).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  });

  it.skipIf(!installed)("the installed copy: 60 000 + 10 000 images of 28×28, 6 000 training images per class", () => {
    const d = describeDataset({ dataset: "fashion-mnist" });
    expect(d.source.where).toBe(installed);
    expect([d.trainCount, d.testCount, d.rows, d.cols, d.colour]).toEqual([60000, 10000, 28, 28, "grey"]);
    expect(d.trainPerClass).toEqual(new Array(10).fill(6000));
    const test = loadFashionMnist({ split: "test", limit: 100 });
    expect([test.count, test.pixels, test.channels]).toEqual([100, 784, 1]);
    expect(fs.existsSync(test.files.images)).toBe(true);
    // The first test image is an ankle boot (label 9), as in the original distribution.
    expect(test.classNames[test.labels[0]]).toBe("Ankle boot");
  });
});
