#!/usr/bin/env node
/*
 * `npm run bench:peers-setup`: make the Python environment in which `vae-lab bench --peers` runs the
 * same training epoch in PyTorch 2, JAX and Keras 3. A venv, by default in the user's cache
 * (~/.cache/vae-lab/peers-venv, or $XDG_CACHE_HOME/vae-lab/peers-venv), elsewhere with --venv DIR or the
 * VAE_LAB_PEERS_VENV environment variable; the Python that makes it is `python3`, or --python PATH.
 *
 * Idempotent: where the venv already imports every framework nothing is installed. pip runs with
 * `--retries 0`, so that where only a local wheel index is reachable it fails at once instead of retrying
 * the default index for minutes. On failure: one line saying what failed and where pip's output is.
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

/** What pip installs: the frameworks the bench compares with. */
const PEER_PACKAGES = ["torch==2.13.0+cpu", "jax", "jaxlib", "tensorflow-cpu", "keras"];

/** The modules the peers import (all of them present = nothing to install). */
const PEER_MODULES = ["torch", "jax", "tensorflow", "keras", "numpy"];

/** The venv's folder: VAE_LAB_PEERS_VENV, else the user's cache folder. */
function defaultVenv(env = process.env) {
  if (env.VAE_LAB_PEERS_VENV) return path.resolve(env.VAE_LAB_PEERS_VENV);
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(cache, "vae-lab", "peers-venv");
}

/** The venv's Python. */
function venvPython(venv) {
  return path.join(venv, "bin", "python");
}

/** The command a user runs to make the venv (for the bench's "not installed" lines). */
const SETUP_COMMAND = "npm run bench:peers-setup (in vae-lab's folder)";

function parse(argv) {
  const o = { venv: undefined, python: "python3" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [name, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (name === "--help" || name === "-h") return { help: true };
    if (name !== "--venv" && name !== "--python") throw new Error(`unknown option "${a}" (expected --venv DIR, --python PATH)`);
    const v = inline ?? argv[++i];
    if (v === undefined || v.trim() === "") throw new Error(`${name}: expected a path`);
    o[name.slice(2)] = v;
  }
  return o;
}

function main(argv) {
  let o;
  try {
    o = parse(argv);
  } catch (e) {
    process.stderr.write(`bench:peers-setup: ${e.message}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(`Usage: npm run bench:peers-setup [-- --venv DIR] [--python PATH]\n  makes a venv with ${PEER_PACKAGES.join(" ")}\n  [venv: $VAE_LAB_PEERS_VENV or ${defaultVenv({ XDG_CACHE_HOME: process.env.XDG_CACHE_HOME })}]\n`);
    return 0;
  }
  const venv = o.venv ? path.resolve(o.venv) : defaultVenv();
  const py = venvPython(venv);
  const importAll = `import ${PEER_MODULES.join(", ")}`;
  if (fs.existsSync(py) && spawnSync(py, ["-c", importAll], { stdio: "ignore" }).status === 0) {
    console.log(`peers venv ${venv}: already set up (${PEER_MODULES.slice(0, 4).join(", ")} import)`);
    return 0;
  }
  if (fs.existsSync(venv) && !fs.existsSync(py)) {
    process.stderr.write(`bench:peers-setup: ${venv} exists and is not a venv (no bin/python); choose another folder with --venv or VAE_LAB_PEERS_VENV\n`);
    return 1;
  }
  const log = `${venv}.setup.log`;
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  const out = fs.openSync(log, "w");
  const step = (what, cmd, args) => {
    console.log(`${what}…`);
    const r = spawnSync(cmd, args, { stdio: ["ignore", out, out] });
    if (r.error || r.status !== 0) {
      const reason = r.error ? r.error.message : `exit code ${r.status}`;
      const last = fs.readFileSync(log, "utf8").trim().split("\n").filter((l) => l.trim()).pop() || "";
      process.stderr.write(`bench:peers-setup: ${what} failed (${reason}${last ? `: ${last.trim()}` : ""}); full output in ${log}\n`);
      return false;
    }
    return true;
  };
  if (!fs.existsSync(py) && !step(`making the venv ${venv} with ${o.python}`, o.python, ["-m", "venv", venv])) return 1;
  if (!step(`installing ${PEER_PACKAGES.join(" ")} (several minutes)`, py, ["-m", "pip", "install", "--retries", "0", ...PEER_PACKAGES])) return 1;
  fs.closeSync(out);
  if (spawnSync(py, ["-c", importAll], { stdio: "ignore" }).status !== 0) {
    process.stderr.write(`bench:peers-setup: installed, but "${importAll}" fails in ${py}; see ${log}\n`);
    return 1;
  }
  console.log(`peers venv ready: ${venv} (vae-lab bench --peers finds it there)`);
  return 0;
}

module.exports = { PEER_PACKAGES, PEER_MODULES, defaultVenv, venvPython, SETUP_COMMAND };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
