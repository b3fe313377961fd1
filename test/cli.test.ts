import { spawnSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./harness/scratch";
import { nativeExpected } from "./harness/native";

const cli = path.resolve(__dirname, "../dist/cli/main.js");
function run(...args: string[]) {
  // A hang guard only (spawnSync blocks vitest's own timer): as long as vitest.config.ts's budget.
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20 * 60 * 1000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("vae-lab CLI (compiled)", () => {
  it("--help prints usage and exits 0", () => {
    const r = run("--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^vae-lab — /);
  });

  it("a flag it refuses, and --help, answer without loading TensorFlow.js, for train, sample, encode and export (each loads it once the flags pass)", () => {
    const loaded = (...args: string[]) => {
      const script = `require(${JSON.stringify(cli)}).main(${JSON.stringify(args)}).then((code) => console.log(JSON.stringify({ code, tf: Object.keys(require.cache).filter((k) => k.includes("@tensorflow")).length })))`;
      const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 120_000 });
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { code: number; tf: number };
    };
    for (const args of [["--help"], ["train", "--help"], ["sample", "--help"], ["train", "--epochs", "x"], ["train", "--activation", "gelu"], ["info", "--backend", "gpu"], ["bench", "--arch", "rnn"], ["frob"], ["sample", "--model", "m.json", "--n", "0"], ["sample", "--model", "m.json", "--out", "x.png"], ["encode", "--model", "m.json"], ["export", "--out", "x"], ["export", "--model", "m.json", "--out", "x", "--backend", "gpu"]]) {
      const r = loaded(...args);
      expect(r.tf, args.join(" ")).toBe(0);
    }
    // The guard above must be able to fail: a command that runs does load it.
    expect(loaded("info", "--backend", "cpu", "--data", path.resolve(__dirname, "../data/mnist-tiny")).tf).toBeGreaterThan(0);
    expect(loaded("sample", "--model", "/no/such/model.json", "--out", "x.json", "--backend", "cpu").tf).toBeGreaterThan(0);
  });

  it("info reports the backend and the data", () => {
    const r = run("info", "--backend", "cpu", "--data", path.resolve(__dirname, "../data/mnist-tiny"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^backend: cpu — tfjs 4\./m);
    expect(r.out).toMatch(/train 100 × 28×28, test 50/);
  });

  it.each(["train", "bench", "info", "notebooks", "sample", "encode", "export"])("vae-lab %s --help explains every flag it names, one line each", (command) => {
    const r = run(command, "--help");
    expect(r.code).toBe(0);
    const named = new Set(r.out.match(/--[a-z][a-z-]*/g));
    named.delete("--help");
    expect(named.size).toBeGreaterThan(0);
    // "  --flag [ARG]   what it does": the flag at the start of a line, then its description on that line.
    for (const flag of named) expect(r.out, `${command} ${flag}`).toMatch(new RegExp(`^  ${flag}( [A-Z]+)? {2,}\\S`, "m"));
  });

  it.each([
    [["frob"], 2, /^vae-lab: unknown command "frob" \(see vae-lab --help\)\n$/],
    [["info", "--bogus"], 2, /^vae-lab: Unknown option '--bogus' \(see vae-lab --help\)\n$/],
    [["info", "--backend", "gpu"], 2, /^vae-lab: --backend: unknown backend "gpu"/],
    [["info", "--data", "/no/such/dir"], 1, /^vae-lab: \/no\/such\/dir: MNIST folder not found\n$/],
  ])("bad input %j: one clear line, exit %i, no stack trace", (args, code, message) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.out).toBe("");
  });
});

describe("vae-lab train (smoke run on the tiny fixture)", () => {
  const data = path.resolve(__dirname, "../data/mnist-tiny");

  it("trains, evaluates and writes metrics.json, report.html and model.json", () => {
    const fs = require("fs") as typeof import("fs");
    const out = scratchDir("vae-lab-train-");
    const r = run("train", "--epochs", "2", "--hidden-dim", "32", "--data", data, "--out", out, "--backend", "cpu", "--iwae-k", "5", "--iwae-images", "10", "--seed", "3");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^backend: cpu/m);
    expect(r.err).toMatch(/^epoch 2\/2  train \d+\.\d\d  test −ELBO \d+\.\d\d \(recon/m);
    expect(r.out).toMatch(/wrote .*metrics.json/);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
    const m = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(m.backend).toBe("cpu");
    expect(m.config).toMatchObject({ epochs: 2, latentDim: 2, hiddenDim: 32, seed: 3 });
    expect(m.epochs).toHaveLength(2);
    expect(Object.keys(m.epochs[0]).sort()).toEqual(["epoch", "kl", "recon", "seconds", "testLoss", "trainLoss"]);
    expect(m.test.iwae).toMatchObject({ k: 5, images: 10 });
    expect(m.test.iwae.nll).toBeLessThan(m.test.elbo + 20);
    const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(html.match(/class="vae-lab-plot"/g)).toHaveLength(5); // losses, latent, manifold, reconstructions, samples
  });

  it("the report of the default model (784-400-2, as npm start trains) stays within 4 MB: one plotly.js, pictures as PNG", () => {
    const fs = require("fs") as typeof import("fs");
    const out = scratchDir("vae-lab-train-");
    const r = run("train", "--epochs", "1", "--data", data, "--out", out, "--backend", "wasm", "--iwae-k", "0", "--seed", "3");
    expect(r.code, r.err).toBe(0);
    const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(html.match(/window\.Plotly = Plotly/g)).toHaveLength(1);
    expect(html.match(/data:image\/png;base64,/g)).toHaveLength(3); // manifold, reconstructions, samples
    expect(fs.statSync(path.join(out, "report.html")).size).toBeLessThanOrEqual(4_000_000);
  });

  it("the epoch line and the final line say which test −ELBO each is: the final one names the last epoch's and why they differ", () => {
    const out = scratchDir("vae-lab-labels-");
    const r = run("train", "--epochs", "2", "--hidden-dim", "16", "--data", data, "--out", out, "--backend", "cpu", "--iwae-k", "0");
    expect(r.code, r.err).toBe(0);
    const epochTest = /^epoch 2\/2  train [\d.]+  test −ELBO (\d+\.\d\d) \(recon/m.exec(r.err)?.[1];
    expect(epochTest).toBeDefined();
    const final = /^test −ELBO (\d+\.\d\d) nats \(final evaluation with new random draws; epoch 2's (\d+\.\d\d) differs by sampling noise only\)/m.exec(r.out);
    expect(final, r.out).not.toBeNull();
    expect(final![2]).toBe(epochTest);
    const m = JSON.parse(require("fs").readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(final![1]).toBe(m.test.elbo.toFixed(2));
  });

  it("counts of one are singular: 1 epoch, 1 test image, 1 sample, 1 latent dimension", () => {
    const fs = require("fs") as typeof import("fs");
    const out = scratchDir("vae-lab-one-");
    const t = run("train", "--epochs", "1", "--latent-dim", "1", "--hidden-dim", "16", "--data", data, "--out", out, "--backend", "cpu", "--iwae-k", "2", "--iwae-images", "1");
    expect(t.code, t.err).toBe(0);
    const report = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(report).toContain("1 epoch, batch");
    expect(report).toContain("k = 2, 1 test image)");
    expect(report).not.toMatch(/\b1 (epochs|test images)\b/);
    const s = run("sample", "--model", path.join(out, "model.json"), "--n", "1", "--out", path.join(out, "s.json"), "--backend", "cpu");
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/\(1 sample, seed/);
    const e = run("encode", "--model", path.join(out, "model.json"), "--data", data, "--limit", "1", "--out", path.join(out, "c.json"), "--backend", "cpu");
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/\(q\(z\|x\) of 1 test image, 1 latent dimension\)/);
  });

  it.each([
    [["train", "--epochs", "0"], /^vae-lab: --epochs: expected an integer from 1 to 10000, got "0"/],
    [["train", "--lr", "fast"], /^vae-lab: --lr: expected a learning rate > 0 and ≤ 1, got "fast"/],
    [["train", "--likelihood", "poisson"], /^vae-lab: --likelihood: expected one of bernoulli, gaussian, got "poisson"/],
    [["train", "--binarize", "yes"], /^vae-lab: --binarize: expected one of none, static, dynamic/],
    [["train", "--latent-dim", "2.5"], /^vae-lab: --latent-dim: expected an integer from 1 to 512, got "2.5"/],
    [["train", "--epoch", "3"], /^vae-lab: Unknown option '--epoch'; did you mean --epochs\? \(see vae-lab --help\)$/m],
    [["sample", "--modle", "m.json"], /^vae-lab: Unknown option '--modle'; did you mean --model\? \(see vae-lab --help\)$/m],
    [["train", "--hidden", "3"], /^vae-lab: Unknown option '--hidden'; did you mean --hidden-dim\? \(see vae-lab --help\)$/m],
    [["train", "--beta=-1"], /^vae-lab: --beta: expected a number from 0 to 10000/],
  ])("rejects %j with one line and exit 2", (args, message) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("a bad data folder or an --out that is a file: one line, exit 1, nothing written", () => {
    const fs = require("fs") as typeof import("fs");
    const dir = scratchDir("vae-lab-bad-");
    const r = run("train", "--data", path.join(dir, "none"), "--out", path.join(dir, "out"), "--backend", "cpu");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^vae-lab: .*none: MNIST folder not found\n$/);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    fs.writeFileSync(path.join(dir, "file"), "x");
    const r2 = run("train", "--out", path.join(dir, "file"), "--backend", "cpu");
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/--out: .*file exists and is not a folder/);
  });
});

describe("vae-lab bench", () => {
  it("times a few steps of the reference setup and can profile them", () => {
    // On wasm: the pure-JS cpu backend takes four times as long for the same two steps and their profile.
    const r = run("bench", "--steps", "2", "--no-torch", "--backend", "wasm", "--profile");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^vae-lab \(wasm\): +\d+\.\d\d s per epoch, \d+ images\/s$/m);
    expect(r.out).toMatch(/^profile: \d+ kernels and [\d.]+ ms of kernel time per step/m);
    // The step's products: in the one fused native kernel where it runs, else tfjs's BatchMatMul.
    expect(r.out).toMatch(nativeExpected ? /VaeLabMlpGradients \[128,784\]/ : /BatchMatMul \[128,784\]/);
  });

  it("--threads both: vae-lab on one thread and on every core, a line each", () => {
    const r = run("bench", "--steps", "2", "--no-torch", "--backend", "wasm", "--threads", "both");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^vae-lab \(wasm, 1 thread\): +\d+\.\d\d s per epoch/m);
    const cores = require("os").availableParallelism() as number;
    const many = nativeExpected ? cores : 1;
    expect(r.out).toMatch(new RegExp(`^vae-lab \\(wasm, ${many === 1 ? "1 thread" : `${many} threads`}\\): +\\d+\\.\\d\\d s per epoch`, "m"));
  });
});

describe("how to get the native kernels: one command, the one that works where vae-lab is", () => {
  const fs = require("fs") as typeof import("fs");
  const root = path.resolve(__dirname, "..");
  const tiny = path.resolve(__dirname, "../data/mnist-tiny");
  /** A copy of the built package (dist/ and the install scripts, no compiled addon) at `dir`, using this checkout's node_modules. */
  function copyWithoutAddon(dir: string): void {
    fs.mkdirSync(path.join(dir, "src", "engine", "native"), { recursive: true });
    fs.cpSync(path.join(root, "dist"), path.join(dir, "dist"), { recursive: true });
    for (const f of ["howto.js", "build.js"]) fs.copyFileSync(path.join(root, "src", "engine", "native", f), path.join(dir, "src", "engine", "native", f));
    fs.copyFileSync(path.join(root, "package.json"), path.join(dir, "package.json"));
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
  }
  function info(dir: string): string {
    const r = spawnSync(process.execPath, [path.join(dir, "dist", "cli", "main.js"), "info", "--backend", "wasm", "--data", tiny], {
      encoding: "utf8",
      env: { ...process.env, VAE_LAB_NATIVE: "", VAE_LAB_BACKEND: "" },
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  }

  it("in a checkout: npm rebuild (the root package is no dependency of itself), said once", () => {
    const dir = path.join(scratchDir("vae-lab-checkout-"), "vae-lab");
    copyWithoutAddon(dir);
    const out = info(dir);
    expect(out).toMatch(/native kernels not built/);
    expect(out.match(/npm rebuild/g)).toHaveLength(1);
    expect(out).toContain(`then run npm rebuild (in ${dir})`);
    expect(out).not.toContain("npm rebuild vae-lab");
  });

  it("installed as a dependency: npm rebuild vae-lab, said once", () => {
    const dir = path.join(scratchDir("vae-lab-dependency-"), "app", "node_modules", "vae-lab");
    copyWithoutAddon(dir);
    const out = info(dir);
    expect(out.match(/npm rebuild/g)).toHaveLength(1);
    expect(out).toContain("then run npm rebuild vae-lab");
  });

  it("build.js says it in the same words (its skip message comes from the same module)", () => {
    const howto = require(path.join(root, "src", "engine", "native", "howto.js"));
    expect(howto.rebuildCommand("/home/u/vae-lab")).toBe("npm rebuild (in /home/u/vae-lab)");
    expect(howto.rebuildCommand("/home/u/app/node_modules/vae-lab")).toBe("npm rebuild vae-lab");
    const build = fs.readFileSync(path.join(root, "src", "engine", "native", "build.js"), "utf8");
    expect(build).toContain('require("./howto")');
    expect(build).not.toMatch(/npm rebuild/);
  });
});
