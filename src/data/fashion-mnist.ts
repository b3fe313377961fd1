/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 70 000 28×28 grey images of clothing in ten classes, in
 * MNIST's IDX format and file names, so it loads through loadMnist with its own class names.
 *
 * Nothing is downloaded: the files are read where Debian's package dataset-fashion-mnist installs them
 * (/usr/share/datasets/fashion-mnist), where Keras keeps its download (~/.keras/datasets/fashion-mnist), or
 * from a folder given by the caller (`dir`, the CLI's --data).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IdxError } from "./idx";
import { hasMnistFiles, loadMnist, MnistOptions, MnistSet } from "./mnist";

/** The ten classes, in label order 0–9. */
export const FASHION_MNIST_CLASSES: readonly string[] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/** How to get it, in one line. */
export const FASHION_MNIST_INSTALL = "apt-get install dataset-fashion-mnist";

/** The folders searched, in order: Debian's package, then Keras's download cache. */
export function fashionMnistDirs(): string[] {
  return ["/usr/share/datasets/fashion-mnist", path.join(os.homedir(), ".keras", "datasets", "fashion-mnist")];
}

/** Whether Fashion-MNIST's four files are in one of `dirs` (by default the folders searched). */
export function fashionMnistInstalled(dirs: string[] = fashionMnistDirs()): boolean {
  return dirs.some((d) => hasMnistFiles(d));
}

/** Raised where Fashion-MNIST is not installed; the message says how to get it. */
export class FashionMnistNotFoundError extends Error {}

/** The first of `dirs` holding Fashion-MNIST's four files, or an error saying how to install it. */
export function defaultFashionMnistDir(dirs: string[] = fashionMnistDirs()): string {
  const found = dirs.find((d) => hasMnistFiles(d));
  if (found) return found;
  throw new FashionMnistNotFoundError(`Fashion-MNIST not found (looked in ${dirs.join(", ")}); install it with: ${FASHION_MNIST_INSTALL} (or give a folder of its IDX files with --data)`);
}

/** One split of Fashion-MNIST (options as loadMnist's; `dir` defaults to the installed copy). */
export function loadFashionMnist(options: MnistOptions = {}): MnistSet {
  const dir = options.dir ?? defaultFashionMnistDir();
  if (options.dir !== undefined && !fs.existsSync(options.dir)) throw new IdxError(options.dir, `Fashion-MNIST folder not found; install it with: ${FASHION_MNIST_INSTALL}`);
  return loadMnist({ ...options, dir, classNames: FASHION_MNIST_CLASSES });
}
