/** Small IDX data folders for the CLI tests (test/faults*.test.ts), removed with the test file's scratch folders. */
import * as fs from "fs";
import * as path from "path";
import { encodeIdx } from "../../src/data/idx";
import { scratchDir } from "./scratch";

/** A data folder with the given train and test images (count × rows × cols, a fixed grey pattern) and labels i mod 10. */
export function dataDir(train: [number, number, number], test: [number, number, number]): string {
  const dir = scratchDir("vae-lab-data-");
  const write = (stem: string, [n, r, c]: [number, number, number]) => {
    fs.writeFileSync(path.join(dir, `${stem}-images-idx3-ubyte`), encodeIdx([n, r, c], new Uint8Array(n * r * c).map((_, i) => (i * 37) % 256)));
    fs.writeFileSync(path.join(dir, `${stem}-labels-idx1-ubyte`), encodeIdx([n], new Uint8Array(n).map((_, i) => i % 10)));
  };
  write("train", train);
  write("t10k", test);
  return dir;
}
