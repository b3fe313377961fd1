/**
 * Issue 11: faults and hostile input, through the compiled CLI (`npm run build` first) and the library.
 * Each block names the issue's item it guards.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeIdx, readIdx } from "../src/data/idx";
import { loadVae, saveVae, weightShapes } from "../src/vae/checkpoint";
import { Vae } from "../src/vae/model";
import { betaAt } from "../src/vae/train";
import { ProgressPrinter } from "../src/cli/progress";
import { parseTrainFlags } from "../src/cli/main";
import { escapeHtml, notebookPage, renderMarkdown } from "../src/notebook/html";
import { indexItem, siteNav } from "../src/notebook/site";
import { fillUntilFree, mountTmpfs, tmpfsUnavailable } from "./harness/tmpfs";
import { scratchDir } from "./harness/scratch";
import { dataDir } from "./harness/idx-data";
import { permissionsUnenforced, unprivileged } from "./harness/permissions";
import { initBackend } from "../src/engine/backend";

// VAE_LAB_TEST_CLI: run these tests against another build (to check that they fail without the fixes).
const cli = process.env.VAE_LAB_TEST_CLI ?? path.resolve(__dirname, "../dist/cli/main.js");
const tiny = path.resolve(__dirname, "../data/mnist-tiny");
const tmp = () => scratchDir("vae-lab-faults-");
const skipTmpfs = tmpfsUnavailable !== undefined;
const whyTmpfs = skipTmpfs ? ` [skipped: ${tmpfsUnavailable}]` : "";

/** The CLI's preload for fault injection (test/harness/fault-preload.cjs), when VAE_LAB_TEST_KILL_AT is given. */
const killAtPreload = path.resolve(__dirname, "harness/fault-preload.cjs");

function run(args: string[], env: Record<string, string> = {}, timeout = 180_000) {
  const preload = env.VAE_LAB_TEST_KILL_AT ? ["--require", killAtPreload] : [];
  const r = spawnSync(process.execPath, [...preload, cli, ...args], { encoding: "utf8", timeout, env: { ...process.env, VAE_LAB_BACKEND: "", ...env } });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr, lines: r.stderr.split("\n").filter(Boolean) };
}

/** A quick training run on the tiny fixture (100 training, 50 test images). */
const quick = (out: string, ...more: string[]) => ["train", "--epochs", "1", "--hidden-dim", "16", "--data", tiny, "--out", out, "--backend", "cpu", "--iwae-k", "0", ...more];

/** The hashes of the files in `dir` (not in its subfolders: a run's epoch checkpoint is looked at on its own). */
function hashes(dir: string): Record<string, string> {
  const files = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  return Object.fromEntries(files.map((f) => [f, crypto.createHash("sha256").update(fs.readFileSync(path.join(dir, f))).digest("hex")]));
}

/** What out/checkpoint holds: its files, and the epoch its training state and model's history are at. */
function checkpointAt(out: string): { files: string[]; epoch: number; history: number } {
  const dir = path.join(out, "checkpoint");
  const state = JSON.parse(fs.readFileSync(path.join(dir, "training-state.json"), "utf8"));
  const model = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
  return { files: fs.readdirSync(dir).sort(), epoch: state.epoch, history: model.metadata.history.length };
}

/** The weights of a run's model.json, as stored (base64 of float32). */
const storedWeights = (out: string): string[] => JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8")).weights.map((w: { data: string }) => w.data);


describe("1. a full disk (tmpfs)", () => {
  it.skipIf(skipTmpfs)(`train onto a full disk: one line naming the file, exit 1, the earlier outputs untouched${whyTmpfs}`, () => {
    const fsys = mountTmpfs(40 * 1024);
    try {
      const out = path.join(fsys.dir, "out");
      expect(run(quick(out, "--seed", "3")).code).toBe(0);
      const before = hashes(out);
      fillUntilFree(fsys.dir, 2048); // room for a model.json, not for a 12 MB report.html
      const r = run(quick(out, "--seed", "4"));
      expect(r.code).toBe(1);
      // The epoch checkpoint (a few hundred KB) was written after the epoch; the outputs could not be.
      const ckpt = path.join(out, "checkpoint");
      expect(r.lines.at(-1)).toBe(
        `vae-lab: ${out}/report.html: cannot write: no space left on device (ENOSPC); the run up to epoch 1 of 1 is kept in ${ckpt} (finish it with vae-lab train --resume ${ckpt}), earlier outputs in ${out} kept`,
      );
      expect(r.out).toBe("");
      expect(hashes(out)).toEqual(before);
      expect(checkpointAt(out)).toEqual({ files: ["model.json", "training-state.json"], epoch: 1, history: 1 });
      // With room again, the run is finished from its checkpoint without training (0 epochs left), and the checkpoint goes.
      fs.rmSync(path.join(fsys.dir, "filler"), { recursive: true, force: true });
      const done = run(["train", "--resume", ckpt]);
      expect(done.code, done.err).toBe(0);
      expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
      expect(JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")).config.seed).toBe(4);
    } finally {
      fsys.unmount();
    }
  }, 300_000);

  it.skipIf(skipTmpfs).each([false, true])(`no room for the first epoch's checkpoint: one line naming it, exit 1, the earlier outputs untouched, no checkpoint folder left (user's files in it: %s, kept)${whyTmpfs}`, (notes) => {
    const fsys = mountTmpfs(40 * 1024);
    try {
      const out = path.join(fsys.dir, "out");
      expect(run(quick(out, "--seed", "3")).code).toBe(0);
      if (notes) {
        fs.mkdirSync(path.join(out, "checkpoint"));
        fs.writeFileSync(path.join(out, "checkpoint", "notes.txt"), "mine");
      }
      const before = hashes(out);
      fillUntilFree(fsys.dir, 64); // not room for a checkpoint's model.json (about 140 KB at --hidden-dim 16)
      const r = run(quick(out, "--seed", "4", "--epochs", "3"));
      expect(r.code).toBe(1);
      expect(r.lines.at(-1)).toBe(`vae-lab: ${out}/checkpoint/model.json: cannot write: no space left on device (ENOSPC)`);
      // It stopped at the first epoch's end, not after three (an epoch's line is printed once its checkpoint is written).
      expect(r.lines.filter((l) => l.startsWith("epoch "))).toEqual([]);
      expect(fs.readdirSync(out).sort()).toEqual([...(notes ? ["checkpoint"] : []), "metrics.json", "model.json", "report.html", "training-state.json"]);
      if (notes) expect(fs.readdirSync(path.join(out, "checkpoint"))).toEqual(["notes.txt"]);
      expect(hashes(out)).toEqual(before);
    } finally {
      fsys.unmount();
    }
  }, 300_000);
  it.skipIf(skipTmpfs)(`no room for a later checkpoint: one line naming the file and where the earlier one is kept, which finishes the run${whyTmpfs}`, () => {
    const fsys = mountTmpfs(40 * 1024);
    try {
      const out = path.join(fsys.dir, "out");
      expect(run(quick(out, "--seed", "3")).code).toBe(0);
      // A checkpoint is the size of a run's model.json and training-state.json: room for one and a half.
      const size = ["model.json", "training-state.json"].reduce((n, f) => n + fs.statSync(path.join(out, f)).size, 0);
      fillUntilFree(fsys.dir, Math.ceil((1.5 * size) / 1024));
      const r = run(quick(out, "--seed", "4", "--epochs", "3"));
      expect(r.code).toBe(1);
      const ckpt = path.join(out, "checkpoint");
      expect(r.lines.at(-1)).toMatch(
        new RegExp(`^vae-lab: ${ckpt}/(model|training-state)\\.json: cannot write: no space left on device \\(ENOSPC\\); the run up to epoch 1 of 3 is kept in ${ckpt} \\(finish it with vae-lab train --resume ${ckpt}\\), earlier outputs in ${out} kept$`),
      );
      expect(checkpointAt(out)).toEqual({ files: ["model.json", "training-state.json"], epoch: 1, history: 1 });
      fs.rmSync(path.join(fsys.dir, "filler"));
      const done = run(["train", "--resume", ckpt]);
      expect(done.code, done.err).toBe(0);
      expect(JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")).epochs).toHaveLength(3);
    } finally {
      fsys.unmount();
    }
  }, 300_000);
});

describe("2. the output set under a kill (VAE_LAB_TEST_KILL_AT, through a test-only preload)", () => {
  it("the shipped CLI has no kill hook: VAE_LAB_TEST_KILL_AT alone does nothing to a run", () => {
    const out = path.join(tmp(), "out");
    const r = spawnSync(process.execPath, [cli, ...quick(out)], { encoding: "utf8", timeout: 180_000, env: { ...process.env, VAE_LAB_BACKEND: "", VAE_LAB_TEST_KILL_AT: "committed" } });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
  });

  it.each([
    ["staged report.html", "old"],
    // The second set a one-epoch run writes: the first is its epoch checkpoint, which the outputs remove.
    ["moved model.json#2", "new"],
  ])("killed at %s: after the next run's repair the folder holds the %s set and nothing else", (step, which) => {
    const out = path.join(tmp(), "out");
    expect(run(quick(out, "--seed", "3")).code).toBe(0);
    const old = hashes(out);
    const r = run(quick(out, "--seed", "4"), { VAE_LAB_TEST_KILL_AT: step });
    expect(r.signal).toBe("SIGKILL");
    // The repair `vae-lab train` makes before it trains (called directly here).
    const { recoverOutputSet } = require("../dist/files/output-set") as typeof import("../src/files/output-set");
    const { OUTPUT_FILES } = require("../dist/cli/job") as typeof import("../src/cli/job");
    recoverOutputSet(out, OUTPUT_FILES);
    // The killed run's epoch checkpoint stays beside the old set (its training is not lost); the new set removed it.
    expect(fs.readdirSync(out).sort()).toEqual([...(which === "old" ? ["checkpoint"] : []), "metrics.json", "model.json", "report.html", "training-state.json"]);
    if (which === "old") expect(checkpointAt(out)).toEqual({ files: ["model.json", "training-state.json"], epoch: 1, history: 1 });
    const now = hashes(out);
    const seeds = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")).config.seed;
    const model = JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8")).config.seed;
    if (which === "old") expect(now).toEqual(old);
    else expect(now).not.toEqual(old);
    expect([seeds, model]).toEqual(which === "old" ? [3, 3] : [4, 4]);
  }, 300_000);
});

describe("3. signals", () => {
  it("SIGINT during training: the last line says so, exit 130, earlier outputs kept", async () => {
    const out = path.join(tmp(), "out");
    expect(run(quick(out, "--seed", "3")).code).toBe(0);
    const before = hashes(out);
    const child = spawn(process.execPath, [cli, ...quick(out, "--epochs", "10000")], { env: { ...process.env, VAE_LAB_BACKEND: "" } });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/epoch 2\/10000/.test(err)) {
          clearInterval(t);
          resolve();
        }
      }, 50);
    });
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(130);
    const last = err.split("\n").filter(Boolean).at(-1);
    // The epochs done are in out/checkpoint, and the message says how to finish the run; the outputs are the earlier run's.
    const ckpt = path.join(out, "checkpoint");
    const m = last!.match(new RegExp(`^vae-lab: interrupted by SIGINT during training \\(epoch (\\d+)/10000\\); the run up to epoch (\\d+) of 10000 is kept in ${ckpt} \\(finish it with vae-lab train --resume ${ckpt}\\), earlier outputs in ${out} kept$`));
    expect(m, last).not.toBeNull();
    const [under, kept] = [Number(m![1]), Number(m![2])];
    expect(kept).toBe(under - 1);
    expect(hashes(out)).toEqual(before);
    expect(checkpointAt(out)).toEqual({ files: ["model.json", "training-state.json"], epoch: kept, history: kept });
    // A new run into out would replace that checkpoint: refused, in one line, before it trains.
    const again = run(quick(out, "--seed", "5"));
    expect(again.code).toBe(1);
    expect(again.lines).toEqual([`vae-lab: --out: ${ckpt} holds an unfinished run (epoch ${kept} of 10000), which this run would replace; finish it with vae-lab train --resume ${ckpt}, or delete ${ckpt} to start afresh`]);
    expect(hashes(out)).toEqual(before);
    // Finishing it for one more epoch (not the 10000 − k left) writes the run's outputs into out and removes the checkpoint.
    const done = run(["train", "--resume", ckpt, "--epochs", "1"]);
    expect(done.code, done.err).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
    expect(JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")).epochs).toHaveLength(kept + 1);
  }, 300_000);

  it("the progress bar is ended before the last line", () => {
    let text = "";
    const fake = { isTTY: true, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    const p = new ProgressPrinter(fake);
    p.step(1, 2, 5, 5, 100);
    p.end();
    expect(text.endsWith("\r\x1b[2K")).toBe(true);
  });

  it("SIGTERM to `vae-lab notebooks`: the kernel is shut down and its connection folder removed", async () => {
    const tmpdir = tmp(); // the kernel's connection folder goes here (os.tmpdir() follows TMPDIR)
    const site = tmp();
    const child: ChildProcess = spawn(process.execPath, [cli, "notebooks", "--quick", "--only", "00_", "--out", site], {
      env: { ...process.env, TMPDIR: tmpdir, VAE_LAB_BACKEND: "" },
    });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    // Wait for the kernel: a child process of the CLI, and its connection folder.
    const kernelPid = await new Promise<number>((resolve, reject) => {
      const deadline = Date.now() + 120_000;
      const t = setInterval(() => {
        const kids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
          try {
            return fs.readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ")[1] === String(child.pid);
          } catch {
            return false;
          }
        });
        if (kids.length && fs.readdirSync(tmpdir).some((d) => d.startsWith("vae-lab-kernel-"))) {
          clearInterval(t);
          setTimeout(() => resolve(Number(kids[0])), 1000);
        } else if (Date.now() > deadline) {
          clearInterval(t);
          reject(new Error(`no kernel started: ${err}`));
        }
      }, 100);
    });
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(143);
    expect(err.split("\n").filter(Boolean).at(-1)).toBe("vae-lab: interrupted by SIGTERM while running notebooks; kernel shut down");
    const alive = (() => {
      try {
        return !/^\S+ \S+ Z/.test(fs.readFileSync(`/proc/${kernelPid}/stat`, "utf8").replace(/\(.*\)/, "x"));
      } catch {
        return false;
      }
    })();
    expect(alive).toBe(false);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  }, 300_000);
});

describe("3b. the epoch checkpoint: a kill during training loses at most the epoch under way", () => {
  it.each([
    // Killed once the second epoch's checkpoint is committed (the repair finishes it): epoch 2 is kept.
    ["committed#2", 2],
    // Killed while the second epoch's checkpoint is staged: the first epoch's checkpoint is whole.
    ["staged model.json#2", 1],
  ])("SIGKILL at %s: the run resumed from out/checkpoint ends with the weights and losses of a run never killed", (step, keptEpoch) => {
    const straight = path.join(tmp(), "straight");
    expect(run(quick(straight, "--epochs", "3", "--seed", "7")).code).toBe(0);
    const out = path.join(tmp(), "out");
    const killed = run(quick(out, "--epochs", "3", "--seed", "7"), { VAE_LAB_TEST_KILL_AT: step });
    expect(killed.signal).toBe("SIGKILL");
    expect(fs.existsSync(path.join(out, "model.json"))).toBe(false);
    const ckpt = path.join(out, "checkpoint");
    // --resume finishes the epochs left (3 − kept) by default, and writes into the folder around the checkpoint.
    const done = run(["train", "--resume", ckpt]);
    expect(done.code, done.err).toBe(0);
    const left = Array.from({ length: 3 - keptEpoch }, (_, i) => `${keptEpoch + 1 + i}/3`);
    expect(done.lines.filter((l) => l.startsWith("epoch ")).map((l) => l.split(" ")[1])).toEqual(left);
    expect(fs.readdirSync(out).sort()).toEqual(["metrics.json", "model.json", "report.html", "training-state.json"]);
    expect(storedWeights(out)).toEqual(storedWeights(straight));
    const losses = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "metrics.json"), "utf8")).epochs.map((e: { testLoss: number }) => e.testLoss);
    expect(losses(out)).toEqual(losses(straight));
  }, 300_000);
});

describe("4. reads without limits", () => {
  it("a FIFO in place of the images file: one line, no hang", () => {
    const dir = dataDir([10, 28, 28], [5, 28, 28]);
    const f = path.join(dir, "train-images-idx3-ubyte");
    fs.rmSync(f);
    expect(spawnSync("mkfifo", [f]).status).toBe(0);
    const r = run(["info", "--backend", "cpu", "--data", dir], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: ${f}: not a regular file (a FIFO)`]);
  });

  it("/dev/zero in place of the images file: one line, nothing read", () => {
    const dir = dataDir([10, 28, 28], [5, 28, 28]);
    const f = path.join(dir, "train-images-idx3-ubyte");
    fs.rmSync(f);
    fs.symlinkSync("/dev/zero", f);
    expect(() => readIdx(f, 3)).toThrow(`${f}: not a regular file (a character device)`);
  });

  it("a gzip bomb is cut off at the size its header describes", () => {
    const dir = tmp();
    const f = path.join(dir, "bomb.gz");
    const header = encodeIdx([1, 28, 28], new Uint8Array(0)).subarray(0, 16);
    fs.writeFileSync(f, zlib.gzipSync(Buffer.concat([header, Buffer.alloc(64 * 1024 * 1024)]), { level: 9 }));
    expect(() => readIdx(f, 3)).toThrow(`${f}: gzip data decompress to more than the 800 bytes the header describes`);
  });

  it("a header describing more than 1 GiB is refused before any data are read", () => {
    const f = path.join(tmp(), "huge.gz");
    const header = Buffer.from(encodeIdx([100000, 1000, 1000], new Uint8Array(0)).subarray(0, 16));
    fs.writeFileSync(f, zlib.gzipSync(header));
    expect(() => readIdx(f, 3)).toThrow(/huge\.gz: header describes 100000×1000×1000 = 100000000000 bytes of data, more than the 1073741824 bytes/);
  });
});

describe("5. degenerate data: one line each, before training", () => {
  it.each([
    ["no training images", [0, 28, 28], [5, 28, 28], /train-images-idx3-ubyte: holds no images; training needs at least one$/],
    ["no test images", [10, 28, 28], [0, 28, 28], /t10k-images-idx3-ubyte: holds no images; testing needs at least one$/],
    ["train and test sizes differ", [10, 28, 28], [5, 10, 10], /t10k-images-idx3-ubyte: test images are 10×10 pixels but the training images \(.*\) are 28×28$/],
  ])("%s", (_name, train, test, message) => {
    const dir = dataDir(train as [number, number, number], test as [number, number, number]);
    const out = path.join(dir, "out");
    const r = run(["train", "--data", dir, "--out", out, "--backend", "cpu", "--epochs", "1"]);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(message as RegExp);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("10×10 images train and get figures of their own size; the report describes the data read (10)", () => {
    const dir = dataDir([30, 10, 10], [20, 10, 10]);
    const out = path.join(dir, "out");
    const r = run(["train", "--data", dir, "--out", out, "--backend", "cpu", "--epochs", "1", "--hidden-dim", "8", "--iwae-k", "0", "--train-size", "9999999"]);
    expect(r.code, r.err).toBe(0);
    const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(html).toContain("MLP VAE 100-8-2");
    expect(html.includes("30 training images and 20 test images of 10×10 pixels, 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)")).toBe(true);
    expect(html).not.toContain("9999999 training");
    expect(html.match(/class="vae-lab-plot"/g)).toHaveLength(5);
    const m = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(m.data).toEqual({ trainImages: 30, testImages: 20, rows: 10, cols: 10, channels: 1, classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] });
  }, 120_000);
});

describe("6. flags: bounds, and the flag named in every message", () => {
  it.each([
    [["--latent-dim", "99999999999999999999"], '--latent-dim: expected an integer from 1 to 512, got "99999999999999999999"'],
    [["--latent-dim", "100000"], '--latent-dim: expected an integer from 1 to 512, got "100000"'],
    [["--samples", "10000"], '--samples: expected an integer from 1 to 1000, got "10000"'],
    [["--samples", "100"], "--samples: 100 samples × --batch-size 128 = 12800 rows per step, more than 4096; lower one of them"],
    [["--epochs", "1e20"], '--epochs: expected an integer from 1 to 10000, got "1e20"'],
    [["--epochs", "-1"], '--epochs: expected an integer from 1 to 10000, got "-1"'],
    [["--seed="], '--seed: expected an integer from 0 to 4294967295, got ""'],
    [["--iwae-k="], '--iwae-k: expected an integer from 0 to 10000, got ""'],
    [["--warmup="], '--warmup: expected an integer from 0 to 10000, got ""'],
    [["--lr", "10"], '--lr: expected a learning rate > 0 and ≤ 1, got "10"'],
    [["--lr", "-0.1"], '--lr: expected a learning rate > 0 and ≤ 1, got "-0.1"'],
    [["--beta", "1e9"], '--beta: expected a number from 0 to 10000, got "1e9"'],
    [["--hidden-dim", "0x10"], '--hidden-dim: expected an integer from 1 to 4096, got "0x10"'],
    [["--train-size", "0"], '--train-size: expected an integer from 1 to 10000000, got "0"'],
    [["--out="], '--out: expected a path, got ""'],
    [["--data="], '--data: expected a path, got ""'],
  ])("%j → %s", (args, message) => {
    expect(() => parseTrainFlags(args as string[])).toThrow(message as string);
  });

  it("through the CLI: one line, exit 2", () => {
    const r = run(["train", "--epochs", "-1"]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(['vae-lab: --epochs: expected an integer from 1 to 10000, got "-1" (see vae-lab --help)']);
  });

  it("the largest accepted values parse", () => {
    const c = parseTrainFlags(["--seed", "0", "--latent-dim", "512", "--hidden-dim", "4096", "--batch-size", "4096", "--iwae-k", "0", "--warmup", "0"]);
    expect(c).toMatchObject({ seed: 0, latentDim: 512, hiddenDim: 4096, batchSize: 4096, iwaeK: 0, warmupEpochs: 0 });
  });
});

describe("7. VAE_LAB_BACKEND is read by the CLI when --backend is absent", () => {
  it("=cpu runs cpu", () => {
    const r = run(["info", "--data", tiny], { VAE_LAB_BACKEND: "cpu" });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^backend: cpu — /m);
  });

  it("=gpu fails at once, naming the variable", () => {
    const r = run(["train", "--data", tiny, "--out", path.join(tmp(), "o")], { VAE_LAB_BACKEND: "gpu" });
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(['vae-lab: VAE_LAB_BACKEND: unknown backend "gpu" (expected one of auto, tensorflow, wasm, cpu) (see vae-lab --help)']);
  });

  it("--backend wins over the variable", () => {
    const r = run(["info", "--data", tiny, "--backend", "cpu"], { VAE_LAB_BACKEND: "gpu" });
    expect(r.code, r.err).toBe(0);
  });
});

describe("8. checkpoints are checked before the model is built", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  function stored(mutate: (ckpt: { config: Record<string, unknown>; weights: { shape: number[]; data: string }[] }) => void): string {
    const vae = new Vae({ inputDim: 16, hiddenDims: [8], latentDim: 2, seed: 1 });
    const f = path.join(tmp(), "model.json");
    saveVae(vae, f);
    vae.dispose();
    const ckpt = JSON.parse(fs.readFileSync(f, "utf8"));
    mutate(ckpt);
    fs.writeFileSync(f, JSON.stringify(ckpt));
    return f;
  }

  it("the shapes derived from a configuration are the model's", () => {
    for (const c of [
      { inputDim: 784, hiddenDims: [400], latentDim: 20 },
      { inputDim: 100, hiddenDims: [64, 32], latentDim: 3, likelihood: "gaussian" as const, gaussianVariance: "learned" as const },
      { inputDim: 10, hiddenDims: [], latentDim: 2 },
    ]) {
      const vae = new Vae(c);
      expect(weightShapes(vae.config)).toEqual(vae.variables().map((v) => v.shape));
      vae.dispose();
    }
  });

  it("a NaN or infinite weight is refused, naming the file", () => {
    const f = stored((c) => {
      const w = new Float32Array(new Uint8Array(Buffer.from(c.weights[2].data, "base64")).buffer);
      w[3] = NaN;
      c.weights[2].data = Buffer.from(w.buffer).toString("base64");
    });
    expect(() => loadVae(f)).toThrow(`${f}: weight 2 (mu/W) holds NaN at index 3: weights must be finite numbers`);
    const g = stored((c) => {
      const w = new Float32Array(new Uint8Array(Buffer.from(c.weights[0].data, "base64")).buffer);
      w[0] = Infinity;
      c.weights[0].data = Buffer.from(w.buffer).toString("base64");
    });
    expect(() => loadVae(g)).toThrow(`${g}: weight 0 (enc0/W) holds Infinity at index 0`);
  });

  it("a configuration claiming a huge layer allocates nothing before it is refused", async () => {
    const f = stored((c) => (c.config.hiddenDims = [200000]));
    const before = tf.memory().numTensors;
    const info = await tf.profile(() => {
      expect(() => loadVae(f)).toThrow(`${f}: weight 0 (enc0/W) has shape [16,8], expected [16,200000]`);
      return tf.scalar(0);
    });
    info.result.dispose();
    expect(info.peakBytes).toBeLessThan(1024);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ["weights[0] = null", (c: { weights: unknown[] }) => (c.weights[0] = null), "weight 0 (enc0/W) is not an object with a shape and base64 data"],
    ["weights missing", (c: { weights?: unknown }) => delete c.weights, "holds no list of weight arrays, the configuration needs 10"],
    ["hiddenDims not a list", (c: { config: Record<string, unknown> }) => (c.config.hiddenDims = "400"), 'bad configuration: hiddenDims must be a list of numbers (got "400")'],
    ["config null", (c: { config: unknown }) => (c.config = null), "bad configuration: missing or not an object"],
    ["short data", (c: { weights: { data: string }[] }) => (c.weights[1].data = "AAAA"), "weight 1 (enc0/b) holds fewer than the 32 bytes its shape needs"],
  ])("%s: one message naming the file", (_n, mutate, message) => {
    const f = stored(mutate as never);
    expect(() => loadVae(f)).toThrow(`${f}: ${message}`);
  });
});

describe("10. what the report says", () => {
  it("--warmup N: β starts at 0 and reaches the full β after N epochs (--warmup 1 is not a no-op)", () => {
    expect([1, 2, 3].map((e) => betaAt(e, 4, 1))).toEqual([0, 4, 4]);
    expect([1, 2, 3, 4].map((e) => betaAt(e, 1, 2))).toEqual([0, 0.5, 1, 1]);
  });
  // The data counts, the image size and the model's input size in the report: see item 5's 10×10 run.
});

describe("11. the site builder escapes names and data", () => {
  const hostile = `01"><img src=x onerror=alert(1)>.ipynb`;

  it("notebook file names become escaped, percent-encoded links", () => {
    const page = hostile.replace(/\.ipynb$/, ".html");
    const nav = siteNav([{ notebook: hostile, page }], "index.html");
    expect(nav).not.toContain("<img");
    expect(nav).toContain(`href="${encodeURIComponent(page)}"`);
    const item = indexItem({ notebook: hostile, page, title: `<script>x</script>`, seconds: 1, summary: "" });
    expect(item).not.toMatch(/<img|<script/);
  });

  it("image/png data that are not base64 are left out", () => {
    const nb = { cells: [{ cell_type: "code", source: "", outputs: [{ output_type: "display_data", data: { "image/png": `AAAA"><script>alert(1)</script>` } }] }] };
    const html = notebookPage(nb, { title: "t", assets: "assets" });
    expect(html).not.toContain("alert(1)");
    expect(html).toContain("[an image/png output whose data are not base64 was left out]");
    const ok = notebookPage({ cells: [{ cell_type: "code", source: "", outputs: [{ output_type: "display_data", data: { "image/png": "iVBORw0KGgo=\n" } }] }] }, { title: "t", assets: "a" });
    expect(ok).toContain('<img src="data:image/png;base64,iVBORw0KGgo=">');
  });

  it("placeholder-like text is text", () => {
    expect(renderMarkdown("@@MATH7@@ and @@CODE0@@")).toBe("<p>@@MATH7@@ and @@CODE0@@</p>\n");
    expect(renderMarkdown("$a_1$ then @@MATH0@@")).toBe("<p>$a_1$ then @@MATH0@@</p>\n");
  });

  it("escapeHtml escapes both quote characters", () => {
    expect(escapeHtml(`<a href='x' title="y">&`)).toBe("&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;");
  });
});

describe("12. output folders that cannot be written fail before training", () => {
  it.skipIf(skipTmpfs)(`a read-only file system${whyTmpfs}`, () => {
    const fsys = mountTmpfs(1024, "ro");
    try {
      const out = path.join(fsys.dir, "out");
      const r = run(quick(out));
      expect(r.code).toBe(1);
      expect(r.lines).toEqual([`vae-lab: --out: ${out}: cannot write: read-only file system (EROFS)`]);
    } finally {
      fsys.unmount();
    }
  });

  it("a path through a file", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "file"), "x");
    const r = run(quick(path.join(dir, "file", "out")));
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`vae-lab: --out: ${path.join(dir, "file")}: is not a folder`]);
  });

  it.skipIf(permissionsUnenforced !== undefined)(`a folder without write permission${permissionsUnenforced ? ` [skipped: ${permissionsUnenforced}]` : ""}`, () => {
    // The CLI runs with file permissions enforced (test/harness/permissions.ts): as root without the
    // capabilities that bypass them, so it reads the checkout wherever it lives and only the folder refuses it.
    const dir = path.join(tmp(), "locked");
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o555); // anyone may enter, no one may write
    const out = path.join(dir, "out");
    const [cmd, args] = unprivileged(process.execPath, [cli, ...quick(out)]);
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000, env: { ...process.env, VAE_LAB_BACKEND: "" } });
    expect(r.stderr).toBe(`vae-lab: --out: ${out}: cannot write: permission denied (EACCES)\n`);
    expect(r.status).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
