/**
 * Faults, round two (issue 24): the commands other than `train` — sample, encode, export — as careful as
 * train, through the compiled CLI (`npm run build` first). Each block names the item it guards.
 */
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { encodeIdx } from "../src/data/idx";
import { saveVae } from "../src/vae/checkpoint";
import { Vae } from "../src/vae/model";
import { initBackend } from "../src/engine/backend";
import { scratchDir } from "./harness/scratch";
import { dataDir } from "./harness/idx-data";
import { permissionsUnenforced, unprivileged } from "./harness/permissions";

const cli = process.env.VAE_LAB_TEST_CLI ?? path.resolve(__dirname, "../dist/cli/main.js");
const tiny = path.resolve(__dirname, "../data/mnist-tiny");
const preload = path.resolve(__dirname, "harness/fault-preload.cjs");
const tmp = () => scratchDir("vae-lab-faults2-");

/** The CLI, with the test-only fault preload where a VAE_LAB_TEST_* variable asks for it. */
function run(args: string[], env: Record<string, string> = {}) {
  const faults = Object.keys(env).some((k) => k.startsWith("VAE_LAB_TEST_")) ? ["--require", preload] : [];
  const r = spawnSync(process.execPath, [...faults, cli, ...args], { encoding: "utf8", timeout: 180_000, env: { ...process.env, VAE_LAB_BACKEND: "cpu", ...env } });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr, lines: r.stderr.split("\n").filter(Boolean) };
}

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${prefix}${e.name}/`);
      else out[`${prefix}${e.name}`] = crypto.createHash("sha256").update(fs.readFileSync(path.join(d, e.name))).digest("hex");
    }
  };
  walk(dir, "");
  return out;
}

/** A training run on the tiny fixture (made once per seed, on first use inside a test). */
const runs = new Map<number, string>();
function trainedRun(seed = 3): string {
  if (!runs.has(seed)) {
    const out = path.join(tmp(), "run");
    const r = run(["train", "--epochs", "1", "--hidden-dim", "16", "--data", tiny, "--out", out, "--iwae-k", "0", "--seed", String(seed)]);
    expect(r.code, r.err).toBe(0);
    runs.set(seed, out);
  }
  return runs.get(seed)!;
}

/** Start the CLI in the background; resolves once its stderr matches `until`, with the child and its stderr so far. */
async function startUntil(args: string[], until: RegExp) {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, VAE_LAB_BACKEND: "cpu" } });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (until.test(err)) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  return { child, exit, stderr: () => err };
}

/** A copy of the trained run (seed 3), for a test that changes or writes into it. */
function copyOfRun(): string {
  const dir = path.join(tmp(), "run");
  fs.cpSync(trainedRun(), dir, { recursive: true });
  return dir;
}

/** Resume a copy of the trained run whose training-state.json was edited by `edit`; the run folder must be unchanged. */
function resumeWithEditedState(edit: (state: Record<string, any>) => void) {
  const dir = copyOfRun();
  const file = path.join(dir, "training-state.json");
  const state = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(state);
  fs.writeFileSync(file, JSON.stringify(state));
  const before = hashes(dir);
  const r = run(["train", "--resume", dir, "--epochs", "1"]);
  expect(hashes(dir)).toEqual(before);
  return { r, file };
}

describe("1. a command cannot destroy its own input", () => {
  it.each([
    ["sample", "model.json"],
    ["encode", "model.json"],
  ])("%s --out the --model file is refused in one line, and the checkpoint is untouched", (command, file) => {
    const dir = trainedRun();
    const model = path.join(dir, file);
    const before = hashes(dir);
    const data = command === "encode" ? ["--data", tiny] : [];
    const r = run([command, "--model", model, ...data, "--out", model]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([`vae-lab: --out: ${model} is the --model file, which would be overwritten; choose another --out (see vae-lab --help)`]);
    expect(hashes(dir)).toEqual(before);
  });

  it("the --model file reached through a symbolic link or another spelling of its path is refused too", () => {
    const dir = trainedRun();
    const link = path.join(tmp(), "link.json");
    fs.symlinkSync(path.join(dir, "model.json"), link);
    const before = hashes(dir);
    expect(run(["sample", "--model", path.join(dir, "model.json"), "--out", link]).code).toBe(2);
    const other = `${dir}/./../${path.basename(dir)}/model.json`;
    expect(run(["sample", "--model", link, "--out", other]).lines[0]).toMatch(/is the --model file/);
    expect(hashes(dir)).toEqual(before);
  });

  it.each(["model.json", "training-state.json", "metrics.json", "report.html"])("an --out that would replace %s of a training run is refused", (name) => {
    const dir = trainedRun();
    const other = trainedRun(4);
    const before = hashes(dir);
    const command = name.endsWith(".html") ? ["sample"] : ["encode", "--data", tiny];
    const r = run([...command, "--model", path.join(other, "model.json"), "--out", path.join(dir, name)]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([`vae-lab: --out: ${path.join(dir, name)} would replace the ${name} of the training run in ${dir}; choose another --out (see vae-lab --help)`]);
    expect(hashes(dir)).toEqual(before);
  });

  it("an extension that does not match the format written is refused (encode writes JSON; sample HTML or JSON)", () => {
    const dir = trainedRun();
    const out = path.join(tmp(), "codes.html");
    const e = run(["encode", "--model", path.join(dir, "model.json"), "--data", tiny, "--out", out]);
    expect(e.code).toBe(2);
    expect(e.lines).toEqual([`vae-lab: --out: expected a .json file (the format written follows the extension), got "${out}" (see vae-lab --help)`]);
    const s = run(["sample", "--model", path.join(dir, "model.json"), "--out", path.join(tmp(), "x.png")]);
    expect(s.lines[0]).toMatch(/^vae-lab: --out: expected a \.html or a \.json file/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("export --out that is a file is refused in one line", () => {
    const dir = trainedRun();
    const file = path.join(tmp(), "a-file");
    fs.writeFileSync(file, "mine");
    const r = run(["export", "--model", path.join(dir, "model.json"), "--out", file]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([`vae-lab: --out: ${file} is a file, not a folder (see vae-lab --help)`]);
    expect(fs.readFileSync(file, "utf8")).toBe("mine");
  });
});

describe("2. a closed output pipe does not lose the run", () => {
  it("train with stdout and stderr read by nobody (the pipes closed at once) finishes and writes its set, exit 0", async () => {
    const out = path.join(tmp(), "run");
    const child = spawn(process.execPath, [cli, "train", "--epochs", "2", "--hidden-dim", "16", "--data", tiny, "--out", out, "--iwae-k", "0"], {
      env: { ...process.env, VAE_LAB_BACKEND: "cpu" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.destroy();
    child.stderr!.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
  }, 300_000);
});

describe("3. export writes its four files as one set", () => {
  it("a clean export: encoder/ and decoder/, each model.json + weights.bin, and nothing else", () => {
    const out = path.join(tmp(), "web");
    const r = run(["export", "--model", path.join(trainedRun(), "model.json"), "--out", out]);
    expect(r.code, r.err).toBe(0);
    expect(Object.keys(hashes(out))).toEqual(["decoder/model.json", "decoder/weights.bin", "encoder/model.json", "encoder/weights.bin"]);
  });

  it.each([
    ["staged decoder/model.json", "old"],
    ["committed", "new"],
    ["moved encoder/model.json", "new"],
    ["moved decoder/model.json", "new"],
  ])("killed at %s: the next export's repair leaves the whole %s set, never a mixture", (step, which) => {
    const [a, b] = [path.join(trainedRun(3), "model.json"), path.join(trainedRun(4), "model.json")];
    const refB = path.join(tmp(), "ref");
    expect(run(["export", "--model", b, "--out", refB]).code).toBe(0);
    const out = path.join(tmp(), "web");
    expect(run(["export", "--model", a, "--out", out]).code).toBe(0);
    const old = hashes(out);
    const killed = run(["export", "--model", b, "--out", out], { VAE_LAB_TEST_KILL_AT: step });
    expect(killed.signal).toBe("SIGKILL");
    // The repair every export makes first, by itself (a library call on the same folder).
    const { recoverOutputSet } = require("../dist/files/output-set") as typeof import("../src/files/output-set");
    recoverOutputSet(out, ["encoder/model.json", "encoder/weights.bin", "decoder/model.json", "decoder/weights.bin"]);
    expect(hashes(out)).toEqual(which === "old" ? old : hashes(refB));
  });
});

describe("5. every file a command reads is bounded before it is read", () => {
  it("--model /dev/zero is refused at once as not a regular file", () => {
    const r = run(["sample", "--model", "/dev/zero", "--out", path.join(tmp(), "s.json")]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual(["vae-lab: /dev/zero: not a regular file (a character device)"]);
  });

  it("a FIFO as --model or as a run's training-state.json is refused, not waited on", () => {
    const dir = tmp();
    const fifo = path.join(dir, "model.json");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const r = run(["sample", "--model", fifo, "--out", path.join(dir, "s.json")]);
    expect(r.lines).toEqual([`vae-lab: ${fifo}: not a regular file (a FIFO)`]);
    const runDir = copyOfRun();
    fs.rmSync(path.join(runDir, "training-state.json"));
    expect(spawnSync("mkfifo", [path.join(runDir, "training-state.json")]).status).toBe(0);
    const resume = run(["train", "--resume", runDir, "--epochs", "1"]);
    expect(resume.code).not.toBe(0);
    expect(resume.lines.at(-1)).toMatch(new RegExp(`training-state\\.json: not a regular file \\(a FIFO\\)`));
  });

  it("a checkpoint larger than 256 MiB (a sparse file) is refused unread", () => {
    const file = path.join(tmp(), "huge.json");
    fs.writeFileSync(file, "");
    fs.truncateSync(file, 256 * 1024 * 1024 + 1);
    const r = run(["sample", "--model", file, "--out", path.join(tmp(), "s.json")]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: ${file}: 268435457 bytes, more than the 256 MiB a checkpoint may have`]);
  });
});

describe("11. signals during sample, encode and export: one line, the signal's exit code, nothing written, no temporary file", () => {
  it.each([
    ["sample", "vae/evaluate:samplePrior", "sampling", "s.json"],
    ["encode", "data/mnist:batchTensor", "encoding", "c.json"],
    ["export", "vae/layers-export:layersExportFiles", "exporting", "web"],
  ])("%s interrupted by SIGTERM", (command, where, what, name) => {
    const dir = tmp();
    const out = path.join(dir, name);
    const data = command === "encode" ? ["--data", tiny] : [];
    const r = run([command, "--model", path.join(trainedRun(), "model.json"), ...data, "--out", out], { VAE_LAB_TEST_SIGNAL_IN: `${where}:SIGTERM` });
    expect(r.code).toBe(143);
    expect(r.lines).toEqual([`vae-lab: interrupted by SIGTERM while ${what}; nothing written`]);
    expect(r.out).toBe("");
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("13. no silent non-numbers; metadata describe the data", () => {
  it("encode of a checkpoint whose weights overflow: an error naming the checkpoint, no file", async () => {
    await initBackend("cpu");
    const vae = new Vae({ inputDim: 784, hiddenDims: [8], latentDim: 2, seed: 1 });
    for (const l of [...vae.encoder, vae.encMu, ...vae.decoder, vae.decOut]) l.W.assign(l.W.mul(1e30));
    const file = path.join(tmp(), "huge-weights.json");
    saveVae(vae, file);
    vae.dispose();
    const out = path.join(tmp(), "o.json");
    const r = run(["encode", "--data", tiny, "--model", file, "--out", out]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: ${file}: the encoder's means are not all finite numbers (entry 0 is Infinity): the weights are unusable`]);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("sample's rows and cols are the training data's shape (recorded in the checkpoint), not a square guessed from the pixel count", () => {
    const data = dataDir([40, 6, 15], [20, 6, 15]);
    const runDir = path.join(tmp(), "run");
    const t = run(["train", "--epochs", "1", "--hidden-dim", "8", "--latent-dim", "2", "--data", data, "--out", runDir, "--iwae-k", "0"]);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, "model.json"), "utf8")).metadata.image).toEqual({ rows: 6, cols: 15, channels: 1 });
    const out = path.join(tmp(), "s.json");
    expect(run(["sample", "--model", path.join(runDir, "model.json"), "--n", "2", "--out", out]).code).toBe(0);
    const s = JSON.parse(fs.readFileSync(out, "utf8"));
    expect([s.rows, s.cols, s.images[0].length]).toEqual([6, 15, 90]);
  });

  it("sample bounds the values it writes, not only the images: --n 10000 of 64×64 colour images is refused in one line naming the most", async () => {
    await initBackend("cpu");
    const vae = new Vae({ inputDim: 64 * 64 * 3, hiddenDims: [2], latentDim: 2, seed: 1 });
    const file = path.join(tmp(), "colour64.json");
    saveVae(vae, file, { image: { rows: 64, cols: 64, channels: 3 } });
    vae.dispose();
    const out = path.join(tmp(), "s.json");
    const r = run(["sample", "--model", file, "--n", "10000", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(["vae-lab: --n: 10000 64×64 colour images (12288 values each) are 122880000 values, more than the 16777216 sample writes at once; give --n 1365 or less for this model (see vae-lab --help)"]);
    expect(fs.existsSync(out)).toBe(false);
    // The most it names is allowed (as a picture grid: the same values as JSON would be 150 MB of text).
    const page = path.join(tmp(), "s.html");
    expect(run(["sample", "--model", file, "--n", "1365", "--out", page]).code).toBe(0);
    expect(fs.readFileSync(page, "utf8")).toMatch(/^<!doctype html>/i);
    expect(run(["sample", "--model", file, "--n", "1366", "--out", page]).lines[0]).toMatch(/^vae-lab: --n: 1366 64×64 colour images .* give --n 1365 or less/);
  });

  it("a checkpoint of non-square images without a recorded shape: one line saying so", async () => {
    await initBackend("cpu");
    const vae = new Vae({ inputDim: 3000, hiddenDims: [4], latentDim: 2, seed: 1 });
    const file = path.join(tmp(), "wide.json");
    saveVae(vae, file);
    vae.dispose();
    const r = run(["sample", "--model", file, "--out", path.join(tmp(), "s.json")]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: ${file}: the model's 3000 pixels are not a square image, and the checkpoint does not record the image shape (metadata.image)`]);
  });
});

describe("7. Ctrl-C during evaluation and report building", () => {
  it("SIGINT while the IWAE bound is computed stops there: one line saying where, exit 130, earlier outputs kept", async () => {
    const out = copyOfRun();
    const before = hashes(out);
    const args = ["train", "--epochs", "1", "--hidden-dim", "16", "--data", tiny, "--out", out, "--iwae-k", "10000", "--iwae-images", "50"];
    const { child, exit, stderr } = await startUntil(args, /evaluating…/);
    child.kill("SIGINT");
    expect(await exit).toBe(130);
    const last = stderr().split("\n").filter(Boolean).at(-1);
    // Training had ended: the run is kept in its epoch checkpoint, and finishing it trains no more (0 epochs left).
    const ckpt = path.join(out, "checkpoint");
    expect(last).toMatch(new RegExp(`^vae-lab: interrupted by SIGINT while evaluating \\((after the test ELBO|IWAE, image \\d+/50)\\); the run up to epoch 1 of 1 is kept in ${ckpt} \\(finish it with vae-lab train --resume ${ckpt}\\), earlier outputs in ${out} kept$`));
    const { "checkpoint/model.json": _m, "checkpoint/training-state.json": _s, ...outputs } = hashes(out);
    expect([_m, _s].every((h) => typeof h === "string")).toBe(true);
    expect(outputs).toEqual(before);
    const done = run(["train", "--resume", ckpt, "--iwae-k", "0"]);
    expect(done.code, done.err).toBe(0);
    expect(done.lines.some((l) => l.startsWith("epoch "))).toBe(false);
    expect(Object.keys(hashes(out)).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
    expect(JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")).epochs).toHaveLength(1);
  }, 300_000);

  it("after the first signal the handlers are gone, so a second one ends the process even while it computes", async () => {
    const { onInterrupt } = await import("../src/cli/signals");
    const counts = () => (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => process.listenerCount(s));
    const base = counts();
    const seen: string[] = [];
    const release = onInterrupt((s) => seen.push(s));
    expect(counts()).toEqual(base.map((n) => n + 1));
    process.emit("SIGTERM", "SIGTERM");
    expect(seen).toEqual(["SIGTERM"]);
    expect(counts()).toEqual(base);
    release();
    const [, baseTerm] = base;
    // notebooks keeps its handler for a second signal (its main thread is free to shut the kernel down)
    const keep = onInterrupt(() => undefined, { secondAtOnce: false });
    process.emit("SIGTERM", "SIGTERM");
    expect(process.listenerCount("SIGTERM")).toBe(baseTerm + 1);
    keep();
    expect(process.listenerCount("SIGTERM")).toBe(baseTerm);
  });

  it("a real second SIGINT during a long synchronous computation ends the process at once (signal death, no JavaScript needed)", () => {
    // A child that takes the first SIGINT, then computes for 60 s without yielding; the second SIGINT must end it.
    const script = `
      const { onInterrupt } = require(${JSON.stringify(path.resolve(__dirname, "../dist/cli/signals.js"))});
      onInterrupt(() => {
        process.stdout.write("first\\n");
        setImmediate(() => {
          const end = Date.now() + 60000;
          process.kill(process.pid, "SIGINT"); // the second signal, with the main thread about to be busy for 60 s
          while (Date.now() < end) {}
          process.stdout.write("finished\\n");
        });
      });
      process.kill(process.pid, "SIGINT");
      setTimeout(() => {}, 120000);`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 50_000 });
    expect(r.stdout).toBe("first\n");
    expect(r.signal).toBe("SIGINT");
  });
});

describe("4. --resume checks the job stored in training-state.json as it checks flags, and against model.json", () => {
  const resumeEdited = (edit: (job: Record<string, unknown>) => unknown) => resumeWithEditedState((s) => (s.extra.job = edit(s.extra.job) ?? s.extra.job));

  it.each([
    ["samples", 1e6, 'job.samples: expected an integer from 1 to 1000, got "1000000"'],
    ["lr", 1e6, 'job.lr: expected a learning rate > 0 and ≤ 1, got "1000000"'],
    ["beta", "NaN", 'job.beta: expected a number from 0 to 10000, got "NaN"'],
    ["latentDim", 1e9, 'job.latentDim: expected an integer from 1 to 512, got "1000000000"'],
    ["latent", "categorical", 'job.latent is "categorical": only Gaussian runs can be resumed'],
    ["iwaeK", undefined, "job.iwaeK is missing"],
    ["seed", { x: 1 }, 'job.seed is {"x":1}, not a setting'],
    ["latentDim", 3, "job.latentDim is 3 but model.json's model has 2"],
    ["hiddenDim", 32, "job.hiddenDim is 32 but model.json's model has 16"],
    ["arch", "conv", 'job.arch is "conv" but model.json\'s model has "mlp"'],
    ["activation", "tanh", 'job.activation is "tanh" but model.json\'s model has "relu"'],
  ])("job.%s = %j is refused in one line naming the file and the field, before training", (field, value, why) => {
    const { r, file } = resumeEdited((job) => {
      if (value === undefined) delete job[field];
      else job[field] = value;
    });
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe(`vae-lab: ${file}: ${why}`);
    expect(r.lines.some((l) => l.startsWith("epoch "))).toBe(false);
  });

  it("a job that is not an object, and an empty --resume=, are refused in one line", () => {
    const { r, file } = resumeEdited(() => [1, 2]);
    expect(r.lines).toEqual([`vae-lab: ${file}: holds no job settings (job)`]);
    const empty = run(["train", "--resume=", "--epochs", "1"]);
    expect(empty.code).toBe(2);
    expect(empty.lines).toEqual(['vae-lab: --resume: expected the folder of a run, got "" (see vae-lab --help)']);
  });

  it("a malformed metadata.history in model.json is refused before training, not after it", () => {
    const dir = copyOfRun();
    const model = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
    model.metadata.history = [{ epoch: "one" }];
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(model));
    const r = run(["train", "--resume", dir, "--epochs", "1"]);
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe(`vae-lab: ${path.join(dir, "training-state.json")}: cannot be continued: model.json's metadata.history is not a list of epoch records`);
    expect(r.lines.some((l) => l.startsWith("epoch "))).toBe(false);
  });

  it("the stored --data is absolute, so a resume from another working directory reads the same data", () => {
    const dir = path.join(tmp(), "run");
    const cwd = path.dirname(tiny);
    const t = spawnSync(process.execPath, [cli, "train", "--epochs", "1", "--hidden-dim", "8", "--data", path.basename(tiny), "--out", dir, "--iwae-k", "0"], { cwd, encoding: "utf8", env: { ...process.env, VAE_LAB_BACKEND: "cpu" } });
    expect(t.status, t.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "training-state.json"), "utf8")).extra.job.data).toBe(tiny);
    const r = run(["train", "--resume", dir, "--epochs", "1"]);
    expect(r.code, r.err).toBe(0);
  });
});

describe("9. output-folder problems are found before training; one train per folder", () => {
  const quick = (out: string, ...more: string[]) => ["train", "--epochs", "1", "--hidden-dim", "16", "--data", tiny, "--out", out, "--iwae-k", "0", ...more];

  it("a dangling symbolic link or a symbolic link loop as --out: one line naming it, nothing trained", () => {
    const dir = tmp();
    const dangling = path.join(dir, "dangling");
    fs.symlinkSync(path.join(dir, "nowhere"), dangling);
    const a = run(quick(dangling));
    expect(a.code).toBe(1);
    expect(a.lines).toEqual([`vae-lab: --out: ${dangling}: is a symbolic link to ${path.join(dir, "nowhere")}, which does not exist`]);
    const loop = path.join(dir, "loop");
    fs.symlinkSync(loop, loop);
    const b = run(quick(path.join(loop, "out")));
    expect(b.lines).toEqual([`vae-lab: --out: ${loop}: is a symbolic link loop`]);
    expect(fs.readdirSync(dir).sort()).toEqual(["dangling", "loop"]);
  });

  it("a folder named like an output file is refused before training, and the folder is left as it was", () => {
    const out = path.join(tmp(), "out");
    fs.mkdirSync(path.join(out, "training-state.json"), { recursive: true });
    const r = run(quick(out));
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: --out: ${path.join(out, "training-state.json")}: is a folder; vae-lab writes a file there (move it away)`]);
    expect(fs.readdirSync(out)).toEqual(["training-state.json"]);
  });

  it("a file named checkpoint, or a folder named like a checkpoint file in it, is refused before training", () => {
    const out = path.join(tmp(), "out");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "checkpoint"), "mine");
    const r = run(quick(out));
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: --out: ${path.join(out, "checkpoint")} is a file, not a folder; vae-lab train keeps its epoch checkpoint there (move it away, or choose another --out)`]);
    fs.rmSync(path.join(out, "checkpoint"));
    fs.mkdirSync(path.join(out, "checkpoint", "model.json"), { recursive: true });
    const s = run(quick(out));
    expect(s.lines).toEqual([`vae-lab: --out: ${path.join(out, "checkpoint")} holds model.json or training-state.json of something other than an unfinished run; vae-lab train keeps its epoch checkpoint there (move it away, or choose another --out)`]);
    expect(fs.readdirSync(out)).toEqual(["checkpoint"]);
    expect(fs.readdirSync(path.join(out, "checkpoint"))).toEqual(["model.json"]);
  });

  it("a second train into the same --out while one runs is refused at once, naming the first", async () => {
    const out = path.join(tmp(), "out");
    const { child: first, exit } = await startUntil(quick(out, "--epochs", "10000"), /epoch 1\/10000/);
    const second = run(quick(out));
    expect(second.code).toBe(1);
    expect(second.lines).toEqual([`vae-lab: --out: ${out}: is in use by another vae-lab train (process ${first.pid}); wait for it to finish or choose another --out (if no such run is going on, remove ${path.join(out, ".vae-lab-lock")})`]);
    first.kill("SIGINT");
    expect(await exit).toBe(130);
    // The first made the folder and wrote only its epoch checkpoint (epoch 1 had ended): its lock is gone with it.
    expect(fs.existsSync(out) ? fs.readdirSync(out) : []).toEqual(fs.existsSync(path.join(out, "checkpoint")) ? ["checkpoint"] : []);
  }, 300_000);

  it("the lock of a run killed with SIGKILL is stale: the next train takes it over and leaves only its set", () => {
    const out = path.join(tmp(), "out");
    fs.mkdirSync(out);
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    fs.writeFileSync(path.join(out, ".vae-lab-lock"), `${dead} ${require("os").hostname()}\n`);
    const r = run(quick(out));
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
  });

  it("--resume DIR finishes an interrupted write of DIR before reading it, also when writing elsewhere", () => {
    const dir = copyOfRun();
    // The second set this run writes (the first is its epoch checkpoint, which the outputs remove).
    const killed = run(["train", "--resume", dir, "--epochs", "1"], { VAE_LAB_TEST_KILL_AT: "moved model.json#2" });
    expect(killed.signal).toBe("SIGKILL");
    expect(fs.existsSync(path.join(dir, ".vae-lab-commit"))).toBe(true);
    const elsewhere = path.join(tmp(), "run2");
    const r = run(["train", "--resume", dir, "--epochs", "1", "--out", elsewhere]);
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
    const epochs = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "metrics.json"), "utf8")).epochs.length;
    expect([epochs(dir), epochs(elsewhere)]).toEqual([2, 3]);
  });

  it("--resume DIR --epochs 0 trains no further: the same weights, evaluated and written elsewhere; a new run cannot ask for 0", () => {
    const dir = copyOfRun();
    const elsewhere = path.join(tmp(), "again");
    const r = run(["train", "--resume", dir, "--epochs", "0", "--out", elsewhere, "--iwae-k", "0"]);
    expect(r.code, r.err).toBe(0);
    expect(r.lines.some((l) => l.startsWith("epoch "))).toBe(false);
    const weights = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "model.json"), "utf8")).weights;
    expect(weights(elsewhere)).toEqual(weights(dir));
    const epochs = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "metrics.json"), "utf8")).epochs.length;
    expect(epochs(elsewhere)).toBe(epochs(dir));
    expect(fs.readdirSync(elsewhere).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
    expect(run(quick(path.join(tmp(), "o"), "--epochs", "0")).lines).toEqual(['vae-lab: --epochs: expected an integer from 1 to 10000, got "0" (see vae-lab --help)']);
  });
});

describe("12. messages that point the right way", () => {
  it("notebooks --out that is a file, and --only= (empty), are one line each, before any kernel starts", () => {
    const file = path.join(tmp(), "a-file");
    fs.writeFileSync(file, "mine");
    const a = run(["notebooks", "--quick", "--out", file]);
    expect(a.code).toBe(2);
    expect(a.lines).toEqual([`vae-lab: --out: ${file} is a file, not a folder (see vae-lab --help)`]);
    const b = run(["notebooks", "--quick", "--only="]);
    expect(b.code).toBe(2);
    expect(b.lines).toEqual([`vae-lab: --only: expected part of a notebook's name (e.g. 07), got "" (see vae-lab --help)`]);
    expect(fs.readFileSync(file, "utf8")).toBe("mine");
  });
});

describe("6. the categorical path has train's safeguards", () => {
  // On wasm: a categorical epoch and its evaluation take tfjs's cpu backend about 2 s even on the tiny fixture.
  const cat = (out: string, ...more: string[]) => ["train", "--latent", "categorical", "--epochs", "1", "--batch-size", "25", "--hidden-dim", "32", "--data", tiny, "--out", out, "--backend", "wasm", ...more];

  it("over an earlier Gaussian run: one set (model.json, report.html, metrics.json), the stale Gaussian model and training state gone; sample, encode, export and --resume refuse it by name", () => {
    const out = copyOfRun();
    const r = run(cat(out));
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html"]);
    const model = path.join(out, "model.json");
    expect(JSON.parse(fs.readFileSync(model, "utf8")).format).toBe("vae-lab/categorical-checkpoint@1");
    const refusal = `vae-lab: ${model}: is the checkpoint of a categorical VAE (vae-lab train --latent categorical); this command takes the Gaussian models of vae-lab train`;
    expect(run(["sample", "--model", model, "--out", path.join(tmp(), "s.json")]).lines).toEqual([refusal]);
    expect(run(["encode", "--model", model, "--data", tiny, "--out", path.join(tmp(), "c.json")]).lines).toEqual([refusal]);
    expect(run(["export", "--model", model, "--out", path.join(tmp(), "web")]).lines).toEqual([refusal]);
    const resume = run(["train", "--resume", out, "--epochs", "1"]);
    expect(resume.code).toBe(1);
    expect(resume.lines).toEqual([`vae-lab: ${model}: is the checkpoint of a categorical VAE: only Gaussian runs can be resumed`]);
  }, 300_000);

  it("0 training images, 10×10 images and an unwritable --out are found before training", () => {
    const empty = dataDir([0, 28, 28], [5, 28, 28]);
    const a = run(["train", "--latent", "categorical", "--epochs", "1", "--data", empty, "--out", path.join(tmp(), "o")]);
    expect(a.code).toBe(1);
    expect(a.lines).toHaveLength(1);
    expect(a.lines.some((l) => l.startsWith("epoch "))).toBe(false);
    const small = dataDir([50, 10, 10], [20, 10, 10]);
    const out10 = path.join(tmp(), "o10");
    const b = run(["train", "--latent", "categorical", "--epochs", "1", "--batch-size", "25", "--hidden-dim", "32", "--data", small, "--out", out10]);
    expect(b.code, b.err).toBe(0);
    expect(fs.readFileSync(path.join(out10, "report.html"), "utf8")).toContain("images of 10×10");
    const file = path.join(tmp(), "a-file");
    fs.writeFileSync(file, "x");
    const c = run(cat(path.join(file, "out")));
    expect(c.lines).toEqual([`vae-lab: --out: ${file}: is not a folder`]);
  }, 300_000);

  it("Ctrl-C during categorical training: one line, exit 130, earlier outputs kept", async () => {
    const out = copyOfRun();
    const before = hashes(out);
    const { child, exit, stderr } = await startUntil(cat(out, "--epochs", "10000"), /epoch 1\/10000/);
    child.kill("SIGINT");
    expect(await exit).toBe(130);
    expect(stderr().split("\n").filter(Boolean).at(-1)).toMatch(new RegExp(`^vae-lab: interrupted by SIGINT during training \\(epoch \\d+/10000\\); nothing written, earlier outputs in ${out} kept$`));
    expect(hashes(out)).toEqual(before);
  }, 300_000);
});

describe("8. the model's size is bounded for the data, and info reads headers only", () => {
  /** A data folder whose train and test images are `n` × rows × cols (gzipped where asked). */
  function dataFolder(n: number, rows: number, cols: number, gzip = false, nTest = n): string {
    const dir = tmp();
    const zlib = require("zlib") as typeof import("zlib");
    for (const [stem, count] of [["train", n], ["t10k", nTest]] as const) {
      const n = count;
      // The header written by hand and zero pixels after it (encodeIdx builds arrays too large for a million images).
      const header = Buffer.alloc(16);
      [0x803, n, rows, cols].forEach((v, i) => header.writeUInt32BE(v, 4 * i));
      const file = path.join(dir, `${stem}-images-idx3-ubyte${gzip ? ".gz" : ""}`);
      if (gzip) {
        // The same bytes as one gzip of header + zeros, written as concatenated gzip members (which gunzip
        // reads as one stream): one compressed MiB of zeros repeated, instead of compressing up to 1 GB.
        const mib = 1 << 20;
        const zeros = zlib.gzipSync(Buffer.alloc(mib), { level: 1 });
        const total = n * rows * cols;
        const parts = [zlib.gzipSync(header)];
        for (let k = 0; k < Math.floor(total / mib); k++) parts.push(zeros);
        if (total % mib) parts.push(zlib.gzipSync(Buffer.alloc(total % mib), { level: 1 }));
        fs.writeFileSync(file, Buffer.concat(parts));
      } else {
        fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(n * rows * cols)]));
      }
      fs.writeFileSync(path.join(dir, `${stem}-labels-idx1-ubyte`), encodeIdx([n], new Uint8Array(n)));
    }
    return dir;
  }

  it("one 4096×4096 image (a 16 KB gzip) is refused from its header, naming the file", () => {
    const dir = dataFolder(1, 4096, 4096, true);
    const r = run(["train", "--epochs", "1", "--data", dir, "--out", path.join(tmp(), "o")]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: ${path.join(dir, "train-images-idx3-ubyte.gz")}: images of 4096×4096 = 16777216 pixels, more than the 1048576 (1024×1024) vae-lab takes`]);
  });

  it("512×512 images with the default width: the first layer's size is refused, naming --hidden-dim; so is a batch whose activations would be too large", () => {
    const dir = dataFolder(2, 512, 512);
    const r = run(["train", "--epochs", "1", "--data", dir, "--out", path.join(tmp(), "o"), "--iwae-k", "0"]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      `vae-lab: --hidden-dim: 400 hidden units × 262144 pixels (512×512 images in ${dir}) = 104857600 weights in the first layer, more than 67108864; lower --hidden-dim or use smaller images (see vae-lab --help)`,
    ]);
    const b = run(["train", "--epochs", "1", "--hidden-dim", "4", "--batch-size", "512", "--data", dir, "--out", path.join(tmp(), "o"), "--iwae-k", "0"]);
    expect(b.lines.at(-1)).toBe(
      `vae-lab: --batch-size: 512 rows per step (--batch-size 512 × --samples 1) × 262144 pixels (512×512 images in ${dir}) = 134217728 floats per activation, more than 67108864; lower --batch-size (see vae-lab --help)`,
    );
    // The convolutional model's largest activation has 32 channels at the image's size: 16 × 512 × 512 × 32.
    const conv = run(["train", "--epochs", "1", "--arch", "conv", "--batch-size", "16", "--data", dir, "--out", path.join(tmp(), "o"), "--iwae-k", "0"]);
    expect([conv.code, conv.lines.at(-1)]).toEqual([
      2,
      `vae-lab: --batch-size: 16 rows per step × 512×512 pixels × 32 channels (512×512 images in ${dir}) = 134217728 floats in the convolutional VAE's largest activation, more than 67108864; lower --batch-size or use smaller images (--size) (see vae-lab --help)`,
    ]);
  });

  it("a set of 1 369 000 images (a small gzip) is refused before its floats are made; info describes it from the headers", () => {
    const dir = dataFolder(1_369_000, 28, 28, true, 10);
    const r = run(["train", "--epochs", "1", "--data", dir, "--out", path.join(tmp(), "o")]);
    expect(r.lines).toEqual([`vae-lab: ${path.join(dir, "train-images-idx3-ubyte.gz")}: 1369000 images of 28×28 are 1073296000 pixels, more than the 268435456 (1 GiB as floats) vae-lab loads at once; use fewer (train --train-size, encode --limit)`]);
    const info = run(["info", "--data", dir]);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toContain("train 1369000 × 28×28, test 10; digits per class 1369000 0 0 0 0 0 0 0 0 0");
  }, 300_000);

  it("info reads no image data: a folder whose image files stop after their headers is still described", () => {
    const dir = tmp();
    for (const stem of ["train", "t10k"]) {
      fs.writeFileSync(path.join(dir, `${stem}-images-idx3-ubyte`), encodeIdx([1000, 28, 28], new Uint8Array(1000 * 784)).subarray(0, 16));
      fs.writeFileSync(path.join(dir, `${stem}-labels-idx1-ubyte`), encodeIdx([1000], new Uint8Array(1000).map((_, i) => i % 10)));
    }
    const info = run(["info", "--data", dir]);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toContain("train 1000 × 28×28, test 1000; digits per class 100 100 100 100 100 100 100 100 100 100");
  });
});

describe("12. a damaged training state is named field by field", () => {
  it.each([
    ["rng missing", (s: any) => delete s.rng, "rng is missing or not a random-stream state (seed, alea { c, s0, s1, s2 })"],
    ["adam.step not a count", (s: any) => (s.adam.step = -3), "adam.step is -3, not a step count"],
    ["accBeta1 out of range", (s: any) => (s.adam.accBeta1 = 2), "adam.accBeta1 is 2, not a power of β in [0, 1]"],
    ["a byte count that is not whole float32 values", (s: any) => (s.adam.m[0] = "AAAAAAA="), "adam.m[0] holds 5 bytes, not a whole number of float32 values"],
    ["text that is not base64", (s: any) => (s.adam.v[2] = "not base64!"), "adam.v[2] is not base64 text"],
    ["moments of another model", (s: any) => s.adam.v.pop(), "adam.v holds moments for 9 variables, model.json's model has 10"],
    ["a moment of the wrong size", (s: any) => (s.adam.m[1] = Buffer.from(new Float32Array(3).buffer).toString("base64")), "adam.m[1] has 3 values, model.json's variable 1 has 16"],
  ])("%s: one line naming the file and the field, before training", (_, edit, why) => {
    const { r, file } = resumeWithEditedState(edit as (s: Record<string, any>) => void);
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe(`vae-lab: ${file}: ${why}`);
    expect(r.lines.some((l) => l.startsWith("epoch "))).toBe(false);
  });
});

describe("14. the epoch checkpoint: nothing in OUT/checkpoint is replaced by mistake, and --resume finds its run's folder", () => {
  const quick = (out: string, ...more: string[]) => ["train", "--epochs", "3", "--hidden-dim", "16", "--data", tiny, "--out", out, "--iwae-k", "0", ...more];
  const files = (d: string) => fs.readdirSync(d).sort();
  const OUTPUTS = ["metrics.json", "model.json", "report.html", "training-state.json"];
  /**
   * A vae-lab run writing now, as another process sees it: `lockDir`'s lock names a live process (returned; the
   * caller kills it), and `stagingDir` holds the staging of a set being written, which a repair would remove.
   */
  function runningWriter(lockDir: string, stagingDir: string) {
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)"]);
    fs.writeFileSync(path.join(lockDir, ".vae-lab-lock"), `${sleeper.pid} ${os.hostname()}\n`);
    fs.mkdirSync(path.join(stagingDir, ".vae-lab-stage-1-x"));
    fs.writeFileSync(path.join(stagingDir, ".vae-lab-stage-1-x", "model.json"), "{}");
    return sleeper;
  }

  /** A run of 3 epochs into `out` killed after its second epoch's checkpoint (an unfinished run at epoch 2). */
  function unfinished(out: string): string {
    expect(run(quick(out), { VAE_LAB_TEST_KILL_AT: "finished#2" }).signal).toBe("SIGKILL");
    return path.join(out, "checkpoint");
  }

  it("killed inside the final write: the next train completes it (checkpoint gone) and runs; --resume of the checkpoint says the run was finished", () => {
    const a = path.join(tmp(), "a");
    // Sets 1–3 are the epoch checkpoints, 4 the outputs (which remove the checkpoint).
    expect(run(quick(a), { VAE_LAB_TEST_KILL_AT: "committed#4" }).signal).toBe("SIGKILL");
    const resume = run(["train", "--resume", path.join(a, "checkpoint")]);
    expect(resume.code).toBe(1);
    expect(resume.lines).toEqual([`vae-lab: ${path.join(a, "checkpoint")}: holds no run (an epoch checkpoint is removed once its run's outputs are written); the run in ${a} is continued with vae-lab train --resume ${a}`]);
    expect(files(a)).toEqual(OUTPUTS);
    const b = path.join(tmp(), "b");
    expect(run(quick(b), { VAE_LAB_TEST_KILL_AT: "moved model.json#4" }).signal).toBe("SIGKILL");
    const again = run(quick(b, "--epochs", "1"));
    expect(again.code, again.err).toBe(0);
    expect(files(b)).toEqual(OUTPUTS);
  });

  it("a finished run stored in OUT/checkpoint is not taken for a checkpoint: a run into OUT, or a resume of it into OUT, is refused", () => {
    const out = path.join(tmp(), "out");
    expect(run(quick(path.join(out, "checkpoint"), "--epochs", "1")).code).toBe(0);
    const before = hashes(out);
    const line = `vae-lab: --out: ${path.join(out, "checkpoint")} holds model.json or training-state.json of something other than an unfinished run; vae-lab train keeps its epoch checkpoint there (move it away, or choose another --out)`;
    expect(run(quick(out)).lines).toEqual([line]);
    expect(run(["train", "--resume", path.join(out, "checkpoint"), "--out", out, "--epochs", "1"]).lines).toEqual([line]);
    expect(hashes(out)).toEqual(before);
  });

  it("a categorical run into OUT with an unfinished run's checkpoint is refused (that run's outputs would replace it)", () => {
    const out = path.join(tmp(), "out");
    const ckpt = unfinished(out);
    const r = run(["train", "--latent", "categorical", "--epochs", "1", "--batch-size", "25", "--hidden-dim", "32", "--data", tiny, "--out", out]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: --out: ${ckpt} holds an unfinished run (epoch 2 of 3), whose outputs go into ${out} too; finish it with vae-lab train --resume ${ckpt}, or delete ${ckpt} to start afresh`]);
    expect(files(out)).toEqual(["checkpoint"]);
  });

  it("--resume through a link to OUT/checkpoint writes into OUT and removes the checkpoint; a copy elsewhere is finished into its own folder", () => {
    const out = path.join(tmp(), "out");
    const ckpt = unfinished(out);
    const copy = path.join(tmp(), "backup");
    fs.cpSync(ckpt, copy, { recursive: true });
    const links = tmp();
    fs.symlinkSync(ckpt, path.join(links, "ck"));
    const viaLink = run(["train", "--resume", path.join(links, "ck")]);
    expect(viaLink.code, viaLink.err).toBe(0);
    expect(files(out)).toEqual(OUTPUTS);
    expect(files(links)).toEqual(["ck"]);
    const fromCopy = run(["train", "--resume", copy]);
    expect(fromCopy.code, fromCopy.err).toBe(0);
    expect(files(copy)).toEqual(OUTPUTS);
    expect(files(path.dirname(copy))).toEqual(["backup"]);
    // Both finished the same run the same way.
    const weights = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "model.json"), "utf8")).weights;
    expect(weights(copy)).toEqual(weights(out));
  });

  it("a run into an unfinished run's checkpoint folder is refused; --resume OUT of a stopped run points to its checkpoint", () => {
    const out = path.join(tmp(), "out");
    const ckpt = unfinished(out);
    const before = hashes(out);
    const r = run(quick(ckpt, "--epochs", "1"));
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: --out: ${ckpt} is the epoch checkpoint of an unfinished run (epoch 2 of 3), which this run would replace; finish it with vae-lab train --resume ${ckpt}, or choose another --out`]);
    const resume = run(["train", "--resume", out]);
    expect(resume.code).toBe(1);
    expect(resume.lines).toEqual([`vae-lab: ${out}: holds no finished run, but ${ckpt} holds a stopped one: finish it with vae-lab train --resume ${ckpt}`]);
    expect(hashes(out)).toEqual(before);
  });

  it("a checkpoint copied into another run's folder (cp -r out/checkpoint F/) is finished into its own folder: F's run is untouched", () => {
    const out = path.join(tmp(), "out");
    const ckpt = unfinished(out);
    const f = path.join(tmp(), "f");
    expect(run(quick(f, "--epochs", "1", "--seed", "9")).code).toBe(0);
    const before = hashes(f);
    fs.cpSync(ckpt, path.join(f, "checkpoint"), { recursive: true });
    const r = run(["train", "--resume", path.join(f, "checkpoint")]);
    expect(r.code, r.err).toBe(0);
    const { "checkpoint/metrics.json": m, "checkpoint/report.html": h, "checkpoint/model.json": _1, "checkpoint/training-state.json": _2, ...rest } = hashes(f);
    expect([m, h].every((x) => typeof x === "string")).toBe(true);
    expect(Object.fromEntries(Object.entries(before).filter(([k]) => !k.startsWith("checkpoint/")))).toEqual(rest);
  });

  it("a diverged run says where its finished epochs are and that a resume cannot change the settings", () => {
    const out = path.join(tmp(), "div");
    const r = run(["train", "--epochs", "6", "--out", out, "--likelihood", "gaussian", "--lr", "0.1", "--activation", "leakyRelu", "--hidden-layers", "4", "--batch-size", "8", "--data", tiny, "--iwae-k", "0", "--hidden-dim", "16"]);
    expect(r.code).toBe(1);
    const m = r.lines.at(-1)!.match(new RegExp(`^vae-lab: training diverged: the loss became NaN at epoch (\\d+), step \\d+ \\(try a lower learning rate\\); the run up to epoch (\\d+) is kept in ${path.join(out, "checkpoint")} \\(delete it to start again with other settings\\)$`));
    expect(m, r.lines.at(-1)).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]) - 1);
  });

  it("the command in a message is pasteable: a path with a space or a quote is quoted", async () => {
    const { continueCommand } = await import("../src/cli/epoch-checkpoint");
    expect(continueCommand("out/checkpoint")).toBe("vae-lab train --resume out/checkpoint");
    expect(continueCommand("my o/checkpoint")).toBe("vae-lab train --resume 'my o/checkpoint'");
    expect(continueCommand("it's/checkpoint")).toBe(`vae-lab train --resume 'it'\\''s/checkpoint'`);
  });

  it("--resume OUT/checkpoint while the train writing it runs is refused, and that run goes on", async () => {
    const out = path.join(tmp(), "out");
    const { child, exit } = await startUntil(quick(out, "--epochs", "10000"), /epoch 2\/10000/);
    const r = run(["train", "--resume", path.join(out, "checkpoint"), "--out", path.join(tmp(), "elsewhere")]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: --resume: ${path.join(out, "checkpoint")} is the checkpoint of a vae-lab train that is still running (process ${child.pid}); wait for it to end, or stop it first (if no such run is going on, remove ${path.join(out, ".vae-lab-lock")})`]);
    // Nor may another run write into that checkpoint's folder.
    const into = run(quick(path.join(out, "checkpoint")));
    expect(into.lines).toEqual([`vae-lab: --out: ${path.join(out, "checkpoint")} is the epoch checkpoint of a vae-lab train that is still running (process ${child.pid}); choose another --out (if no such run is going on, remove ${path.join(out, ".vae-lab-lock")})`]);
    expect(child.exitCode).toBeNull();
    child.kill("SIGINT");
    expect(await exit).toBe(130);
    expect(files(path.join(out, "checkpoint"))).toEqual(["model.json", "training-state.json"]);
  }, 300_000);

  it("a train, a categorical train or an export into OUT/checkpoint while OUT's train runs is refused before it touches anything there (not even the checkpoint being staged)", () => {
    const out = path.join(tmp(), "out");
    const ckpt = unfinished(out);
    // OUT's train is running (its lock names a live process) and is writing its next checkpoint: the staging
    // folder a repair of interrupted writes would remove. Taking --out's lock first, a run removed it.
    const sleeper = runningWriter(out, ckpt);
    try {
      const before = hashes(out);
      const line = (o: string) => `vae-lab: --out: ${o} is the epoch checkpoint of a vae-lab train that is still running (process ${sleeper.pid}); choose another --out (if no such run is going on, remove ${path.join(out, ".vae-lab-lock")})`;
      for (const args of [quick(ckpt), ["train", "--latent", "categorical", "--epochs", "1", "--hidden-dim", "16", "--data", tiny, "--out", ckpt], ["export", "--model", path.join(trainedRun(), "model.json"), "--out", ckpt]]) {
        const r = run(args);
        expect([r.code, r.lines], args[0]).toEqual([1, [line(ckpt)]]);
        expect(hashes(out)).toEqual(before);
      }
      // OUT/checkpoint a link to a folder of another name: the name as written is the checkpoint's.
      const linked = path.join(tmp(), "linked");
      const elsewhere = path.join(tmp(), "elsewhere");
      fs.mkdirSync(linked);
      fs.renameSync(path.join(out, ".vae-lab-lock"), path.join(linked, ".vae-lab-lock"));
      fs.cpSync(ckpt, elsewhere, { recursive: true });
      fs.symlinkSync(elsewhere, path.join(linked, "checkpoint"));
      const beforeLink = hashes(elsewhere);
      const r = run(quick(path.join(linked, "checkpoint")));
      expect([r.code, r.lines]).toEqual([1, [line(path.join(linked, "checkpoint")).replace(path.join(out, ".vae-lab-lock"), path.join(linked, ".vae-lab-lock"))]]);
      expect(hashes(elsewhere)).toEqual(beforeLink);
    } finally {
      sleeper.kill();
    }
  }, 300_000);

  it("a train into OUT while another train writes into OUT/checkpoint (its --out) is refused before it repairs anything there", () => {
    const out = path.join(tmp(), "out");
    const inner = path.join(out, "checkpoint");
    fs.mkdirSync(inner, { recursive: true });
    const sleeper = runningWriter(inner, inner);
    try {
      const before = hashes(out);
      const r = run(quick(out));
      expect([r.code, r.lines]).toEqual([1, [`vae-lab: --out: ${inner}, where this run would keep its epoch checkpoint, is the output folder of a vae-lab train that is still running (process ${sleeper.pid}); choose another --out (if no such run is going on, remove ${path.join(inner, ".vae-lab-lock")})`]]);
      expect(hashes(out)).toEqual(before);
    } finally {
      sleeper.kill();
    }
  });
});

describe("review findings: locks across commands, read-only runs, long runs, long gzip headers", () => {
  it("export into a folder a train is writing is refused at once (it would repair away the train's staging)", async () => {
    const out = path.join(tmp(), "out");
    const { child, exit } = await startUntil(["train", "--epochs", "10000", "--hidden-dim", "16", "--data", tiny, "--out", out, "--iwae-k", "0"], /epoch 1\/10000/);
    const r = run(["export", "--model", path.join(trainedRun(), "model.json"), "--out", out]);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(new RegExp(`^vae-lab: --out: ${out}: is in use by another vae-lab train \\(process ${child.pid}\\)`));
    child.kill("SIGINT");
    expect(await exit).toBe(130);
  }, 300_000);

  it.skipIf(permissionsUnenforced !== undefined)("a run in a folder one cannot write to is resumed into another --out", () => {
    const dir = copyOfRun();
    fs.chmodSync(dir, 0o555);
    const elsewhere = path.join(tmp(), "run2");
    const [cmd, args] = unprivileged(process.execPath, [cli, "train", "--resume", dir, "--epochs", "1", "--out", elsewhere]);
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 180_000, env: { ...process.env, VAE_LAB_BACKEND: "cpu" } });
    fs.chmodSync(dir, 0o755);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(elsewhere, "metrics.json"), "utf8")).epochs).toHaveLength(2);
  });

  it("a run whose stored epochs passed --epochs' bound (several resumes) can still be resumed", () => {
    const dir = copyOfRun();
    const file = path.join(dir, "training-state.json");
    const state = JSON.parse(fs.readFileSync(file, "utf8"));
    state.extra.job.epochs = 12_000;
    fs.writeFileSync(file, JSON.stringify(state));
    const r = run(["train", "--resume", dir, "--epochs", "1", "--out", path.join(tmp(), "run2")]);
    expect(r.code, r.err).toBe(0);
    const bad = resumeWithEditedState((s) => (s.extra.job.epochs = 0));
    expect(bad.r.lines.at(-1)).toBe(`vae-lab: ${bad.file}: job.epochs is 0, not a number of epochs`);
  });

  it("vae-lab info reads a gzipped IDX file whose gzip header is longer than 4 KB (a long file-name field)", () => {
    const dir = tmp();
    const zlib = require("zlib") as typeof import("zlib");
    const withName = (bytes: Uint8Array) => {
      const gz = zlib.gzipSync(bytes);
      // FLG.FNAME: a zero-terminated name of 6000 bytes between the 10-byte header and the deflate data.
      return Buffer.concat([Buffer.from([gz[0], gz[1], gz[2], gz[3] | 0x08]), gz.subarray(4, 10), Buffer.alloc(6000, 0x61), Buffer.from([0]), gz.subarray(10)]);
    };
    for (const stem of ["train", "t10k"]) {
      fs.writeFileSync(path.join(dir, `${stem}-images-idx3-ubyte.gz`), withName(encodeIdx([3, 28, 28], new Uint8Array(3 * 784))));
      fs.writeFileSync(path.join(dir, `${stem}-labels-idx1-ubyte`), encodeIdx([3], new Uint8Array([1, 2, 3])));
    }
    const info = run(["info", "--data", dir]);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toContain("train 3 × 28×28, test 3; digits per class 0 1 1 1 0 0 0 0 0 0");
  });
});
