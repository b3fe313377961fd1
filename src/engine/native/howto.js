/*
 * How a user gets the native kernels built, in one wording for build.js (at install) and for `vae-lab info`
 * and `train` (at run time). The command depends on where vae-lab is: in a checkout of the repository the
 * package is the root project, which `npm rebuild` rebuilds and `npm rebuild vae-lab` does not (the root is
 * not a dependency of itself); installed as a dependency (under node_modules/) it is `npm rebuild vae-lab`,
 * run in the project that depends on it.
 */
const path = require("path");

/** The package's own folder (this file is src/engine/native/howto.js in it). */
const PACKAGE_ROOT = path.resolve(__dirname, "..", "..", "..");

/** The command that rebuilds the native kernels of the vae-lab in `root`. */
function rebuildCommand(root = PACKAGE_ROOT) {
  return path.resolve(root).split(path.sep).includes("node_modules") ? "npm rebuild vae-lab" : `npm rebuild (in ${path.resolve(root)})`;
}

/** What to do to get the native kernels: install OpenBLAS, then the rebuild command for where vae-lab is. */
function nativeHowto(root = PACKAGE_ROOT) {
  return `install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev), then run ${rebuildCommand(root)}`;
}

module.exports = { PACKAGE_ROOT, rebuildCommand, nativeHowto };
