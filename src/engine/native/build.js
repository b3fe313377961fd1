#!/usr/bin/env node
/*
 * Runs at `npm install`: builds the optional native kernels (blas.c: OpenBLAS matmul, fused Adam, fused
 * Bernoulli NLL) with node-gyp where OpenBLAS's headers and library are installed (Debian: apt-get install
 * libopenblas-dev), and otherwise says it is skipping. They are compiled for this machine's CPU
 * (-march=native), since they are built where they run. Never fails the install: without them, vae-lab runs on wasm's own kernels.
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const { nativeHowto } = require("./howto");

const here = __dirname;
const say = (m) => console.log(`vae-lab: ${m}`);
if (process.env.VAE_LAB_NATIVE === "0") {
  say("native kernels skipped (VAE_LAB_NATIVE=0)");
  process.exit(0);
}
const headers = ["/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h", "/usr/include/openblas/cblas.h", "/usr/include/x86_64-linux-gnu/cblas.h", "/usr/include/cblas.h"];
const libs = ["/usr/lib/x86_64-linux-gnu/libopenblas.so", "/usr/lib/aarch64-linux-gnu/libopenblas.so", "/usr/lib/libopenblas.so", "/usr/local/lib/libopenblas.so"];
if (!headers.some((h) => fs.existsSync(h)) || !libs.some((l) => fs.existsSync(l))) {
  say(`native kernels skipped: OpenBLAS not found; to build them, ${nativeHowto()}`);
  process.exit(0);
}
// npm puts its bundled node-gyp on PATH for install scripts and names it in npm_config_node_gyp.
const candidates = [process.env.npm_config_node_gyp, path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js")].filter(Boolean);
const gyp = candidates.find((c) => fs.existsSync(c));
// Build against the running Node's own headers: nothing is downloaded.
const nodedir = path.resolve(path.dirname(process.execPath), "..");
if (!fs.existsSync(path.join(nodedir, "include", "node", "node_api.h"))) {
  say(`native kernels skipped: no Node headers under ${nodedir}/include/node`);
  process.exit(0);
}
const gypArgs = ["rebuild", `--nodedir=${nodedir}`];
const cmd = gyp ? [process.execPath, [gyp, ...gypArgs]] : ["node-gyp", gypArgs];
const r = spawnSync(cmd[0], cmd[1], { cwd: here, encoding: "utf8", env: { ...process.env } });
if (r.status !== 0) {
  const why = (r.error?.message || r.stderr || r.stdout || "").trim().split("\n").filter(Boolean).slice(-2).join(" | ");
  say(`native kernels skipped: the build failed (${why})`);
  process.exit(0);
}
say("built the native kernels (src/engine/native/build/Release/vae_lab_blas.node)");
