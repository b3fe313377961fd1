/**
 * The CLI's subcommands that use a trained model (compiled, dist/): train --resume, export, sample, encode,
 * and --help on every subcommand.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as tf from "../src/engine/tf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadModel, loadVae } from "../src/vae/checkpoint";
import { batchTensor, loadMnist } from "../src/data/mnist";
import { parseTrainFlags } from "../src/cli/main";
import { DEFAULT_JOB } from "../src/cli/job-config";
import { storedJob } from "../src/cli/resume";

const cli = path.resolve(__dirname, "../dist/cli/main.js");
const data = path.resolve(__dirname, "../data/mnist-tiny");
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-cli-model-"));
const small = ["--hidden-dim", "24", "--iwae-k", "0", "--data", data, "--backend", "cpu", "--seed", "4", "--lr", "0.003"];
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("--help on every subcommand", () => {
  it.each([
    ["train", ["--epochs", "--latent-dim", "--resume", "--out"]],
    ["bench", ["--steps", "--no-torch", "--profile"]],
    ["info", ["--backend", "--data"]],
    ["notebooks", ["--quick", "--only"]],
    ["sample", ["--model", "--n", "--seed", "--out"]],
    ["encode", ["--model", "--out", "--data", "--split", "--limit"]],
    ["export", ["--model", "--out"]],
  ])("vae-lab %s --help exits 0 and lists its flags", (command, flags) => {
    const r = run(command, "--help");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    for (const f of flags) expect(r.out).toContain(f);
    expect(r.out).toContain(`vae-lab ${command}`);
  });
});

describe("train flags of the objective and the depth", () => {
  it("--objective, --hidden-layers and --lr-schedule: defaults, values, and what each refuses, in one line naming the flag", () => {
    expect(parseTrainFlags([])).toMatchObject({ objective: "elbo", hiddenLayers: 1, lrSchedule: "constant" });
    expect(parseTrainFlags(["--objective", "iwae", "--samples", "50", "--batch-size", "20", "--hidden-layers", "2"])).toMatchObject({ objective: "iwae", samples: 50, hiddenLayers: 2 });
    const refused: [string[], RegExp][] = [
      [["--objective", "iwea"], /^--objective: expected one of elbo, iwae, got "iwea"$/],
      [["--objective", "iwae", "--beta", "0.5"], /^--beta: the IWAE objective \(--objective iwae\) has no KL weight/],
      [["--objective", "iwae", "--warmup", "3"], /^--warmup: the IWAE objective/],
      [["--hidden-layers", "0"], /^--hidden-layers: expected an integer from 1 to 8, got "0"$/],
      [["--hidden-layers", "9"], /^--hidden-layers: expected an integer from 1 to 8/],
      [["--arch", "conv", "--hidden-layers", "2"], /^--hidden-layers: the conv model's layers are fixed/],
      [["--latent", "categorical", "--objective", "iwae"], /^--objective: only with a Gaussian latent/],
      [["--latent", "categorical", "--hidden-layers", "2"], /^--hidden-layers: the categorical VAE's layers are fixed/],
      [["--objective", "iwae", "--samples", "100", "--batch-size", "100"], /^--samples: 100 samples × --batch-size 100 = 10000 rows per step/],
      [["--lr-schedule", "cosine"], /^--lr-schedule: expected one of constant, burda, got "cosine"$/],
      [["--latent", "categorical", "--lr-schedule", "burda"], /^--lr-schedule: only with a Gaussian latent/],
    ];
    for (const [argv, message] of refused) expect(() => parseTrainFlags(argv), argv.join(" ")).toThrow(message);
    // β = 1 said out loud is not a KL weight.
    expect(parseTrainFlags(["--objective", "iwae", "--beta", "1", "--warmup", "0"]).objective).toBe("iwae");
  });
});

describe("train --free-bits", () => {
  it("default 0; a value is kept, stored and read back on --resume (a run stored before the flag reads 0); refusals name the flag", () => {
    expect(parseTrainFlags([]).freeBits).toBe(0);
    const c = parseTrainFlags(["--free-bits", "0.25", "--latent-dim", "32"]);
    expect(c.freeBits).toBe(0.25);
    expect(storedJob("training-state.json", JSON.parse(JSON.stringify(c))).freeBits).toBe(0.25);
    const older: Record<string, unknown> = { ...DEFAULT_JOB };
    delete older.freeBits;
    expect(storedJob("training-state.json", older).freeBits).toBe(0);
    const refused: [string[], RegExp][] = [
      [["--free-bits", "-0.5"], /^--free-bits: expected a number of nats from 0 to 100, got "-0.5"$/],
      [["--free-bits", "many"], /^--free-bits: expected a number of nats from 0 to 100/],
      [["--objective", "iwae", "--free-bits", "0.5"], /^--free-bits: the IWAE objective \(--objective iwae\) has no KL term/],
      [["--latent", "categorical", "--free-bits", "0.5"], /^--free-bits: only with a Gaussian latent/],
    ];
    for (const [argv, message] of refused) expect(() => parseTrainFlags(argv), argv.join(" ")).toThrow(message);
  });
});

function weightsOf(file: string): string[] {
  return JSON.parse(fs.readFileSync(file, "utf8")).weights.map((w: { data: string }) => w.data);
}

describe("train --resume", () => {
  it("1 epoch, then --resume for 1 more, writes the same weights as 2 epochs in one run", () => {
    const a = run("train", "--epochs", "2", ...small, "--out", path.join(tmp, "straight"));
    expect(a.code, a.err).toBe(0);
    const b = run("train", "--epochs", "1", ...small, "--out", path.join(tmp, "first"));
    expect(b.code, b.err).toBe(0);
    const c = run("train", "--resume", path.join(tmp, "first"), "--epochs", "1", "--out", path.join(tmp, "resumed"));
    expect(c.code, c.err).toBe(0);
    expect(weightsOf(path.join(tmp, "resumed", "model.json"))).toEqual(weightsOf(path.join(tmp, "straight", "model.json")));
    const m = JSON.parse(fs.readFileSync(path.join(tmp, "resumed", "metrics.json"), "utf8"));
    const s = JSON.parse(fs.readFileSync(path.join(tmp, "straight", "metrics.json"), "utf8"));
    expect(m.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
    expect(m.epochs[1].trainLoss).toBe(s.epochs[1].trainLoss);
    expect(m.test.elbo).toBe(s.test.elbo);
  }, 600_000);

  it("the IWAE objective on two hidden layers: 1 + 1 epochs equal 2, and the run's files say what was trained", () => {
    // Burda et al.'s schedule too: epoch 2 is in its second stage, at lr·10^(−1/7), also when resumed.
    const iw = ["--objective", "iwae", "--samples", "3", "--hidden-layers", "2", "--activation", "tanh", "--binarize", "dynamic", "--lr-schedule", "burda", ...small];
    const a = run("train", "--epochs", "2", ...iw, "--out", path.join(tmp, "iwae2"));
    expect(a.code, a.err).toBe(0);
    expect(a.err).toMatch(/^epoch 2\/2  train −IWAE\(k=3\) \d+\.\d\d  test −ELBO/m);
    expect(run("train", "--epochs", "1", ...iw, "--out", path.join(tmp, "iwae1")).code).toBe(0);
    const c = run("train", "--resume", path.join(tmp, "iwae1"), "--epochs", "1", "--out", path.join(tmp, "iwae1+1"));
    expect(c.code, c.err).toBe(0);
    expect(weightsOf(path.join(tmp, "iwae1+1", "model.json"))).toEqual(weightsOf(path.join(tmp, "iwae2", "model.json")));
    const m = JSON.parse(fs.readFileSync(path.join(tmp, "iwae2", "metrics.json"), "utf8"));
    expect(m.config).toMatchObject({ objective: "iwae", samples: 3, hiddenLayers: 2, hiddenDim: 24, lrSchedule: "burda" });
    expect(m.config.parameters).toBe((784 * 24 + 24) + (24 * 24 + 24) + 2 * (24 * 2 + 2) + (2 * 24 + 24) + (24 * 24 + 24) + (24 * 784 + 784));
    const report = fs.readFileSync(path.join(tmp, "iwae2", "report.html"), "utf8");
    expect(report).toContain("MLP VAE 784-24-24-2 (tanh)");
    expect(report).toContain("IWAE bound, k = 3");
    // A change of objective is a change of the run.
    const r = run("train", "--resume", path.join(tmp, "iwae1"), "--objective", "elbo");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vae-lab: --objective: cannot be changed when resuming/);
  }, 600_000);

  it("refuses to change a setting the saved run fixes, and names a missing training state", () => {
    const r = run("train", "--resume", path.join(tmp, "first"), "--lr", "0.1");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vae-lab: --lr: cannot be changed when resuming/);
    const missing = run("train", "--resume", path.join(tmp, "nowhere"));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nowhere\/training-state\.json: training state not found/);
    expect(missing.err.split("\n").filter(Boolean)).toHaveLength(1);
  });
});

describe("export, sample, encode", () => {
  let server: http.Server;
  let base = "";
  beforeAll(async () => {
    await initBackend("cpu");
    // A model to use (the "first" run of the resume test may not exist when this block runs alone).
    const r = run("train", "--epochs", "1", ...small, "--latent-dim", "3", "--activation", "leakyRelu", "--out", path.join(tmp, "model"));
    expect(r.code, r.err).toBe(0);
    const ex = run("export", "--model", path.join(tmp, "model", "model.json"), "--out", path.join(tmp, "exported"));
    expect(ex.code, ex.err).toBe(0);
    // Serve the export over http, as a browser page would load it (weights.bin by its relative path).
    server = http.createServer((req, res) => {
      const file = path.join(tmp, decodeURIComponent((req.url ?? "/").split("?")[0]));
      if (!file.startsWith(tmp) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader("content-type", file.endsWith(".json") ? "application/json" : "application/octet-stream");
      // No keep-alive: the tests block the event loop in spawnSync for many seconds between fetches, and a pooled
      // connection the server closes meanwhile would reset the next request (ECONNRESET).
      res.setHeader("connection", "close");
      res.end(fs.readFileSync(file));
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 600_000);
  afterAll(() => server?.close());

  it("the exported decoder loads with tf.loadLayersModel and outputs decodeMean's numbers (to 1e-6)", async () => {
    expect(fs.readdirSync(path.join(tmp, "exported", "decoder")).sort()).toEqual(["model.json", "weights.bin"]);
    const decoder = await tf.loadLayersModel(`${base}/exported/decoder/model.json`);
    const { vae } = loadVae(path.join(tmp, "model", "model.json"));
    const z = tf.randomNormal([64, 3], 0, 2, "float32", 7) as tf.Tensor2D;
    const got = (decoder.predict(z) as tf.Tensor).dataSync();
    const want = vae.decodeMean(z).dataSync();
    expect(got.length).toBe(64 * 784);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(want))).toBeGreaterThan(0.05); // not a trivial output
    // What the decoder takes and gives, and the image its values make, travel with it.
    expect(decoder.getUserDefinedMetadata()).toEqual({
      vaeLab: { part: "decoder", inputDim: 784, latentDim: 3, inputs: ["z [batch, 3]"], outputs: ["pixel means [batch, 784]"], image: { rows: 28, cols: 28, channels: 1, layout: "row-major, channels last" } },
    });
    decoder.dispose();
    vae.dispose();
    z.dispose();
  });

  it("the exported encoder outputs μ and log σ² (to 1e-6)", async () => {
    const encoder = await tf.loadLayersModel(`${base}/exported/encoder/model.json`);
    const { vae } = loadVae(path.join(tmp, "model", "model.json"));
    const x = tf.randomUniform([16, 784], 0, 1, "float32", 3) as tf.Tensor2D;
    const [mu, logVar] = encoder.predict(x) as tf.Tensor[];
    const q = vae.encode(x);
    for (const [a, b] of [[mu, q.mu], [logVar, q.logVar]] as [tf.Tensor, tf.Tensor][]) {
      expect(a.shape).toEqual([16, 3]);
      const [u, v] = [a.dataSync(), b.dataSync()];
      expect(Math.max(...Array.from(u, (t, i) => Math.abs(t - v[i])))).toBeLessThan(1e-6);
    }
    tf.dispose([mu, logVar, q.mu, q.logVar, x]);
    encoder.dispose();
    vae.dispose();
  });

  it("sample writes decoded prior draws (JSON: the same numbers as samplePrior; HTML: an image grid), repeatable by seed", () => {
    const model = path.join(tmp, "model", "model.json");
    const out = path.join(tmp, "s.json");
    expect(run("sample", "--model", model, "--n", "5", "--seed", "3", "--out", out, "--backend", "cpu").code).toBe(0);
    const s = JSON.parse(fs.readFileSync(out, "utf8"));
    expect([s.n, s.seed, s.rows, s.cols, s.images.length, s.images[0].length]).toEqual([5, 3, 28, 28, 5, 784]);
    expect(s.images.flat().every((v: number) => v >= 0 && v <= 1)).toBe(true);
    const again = path.join(tmp, "s2.json");
    run("sample", "--model", model, "--n", "5", "--seed", "3", "--out", again, "--backend", "cpu");
    expect(fs.readFileSync(again, "utf8")).toBe(fs.readFileSync(out, "utf8"));
    const other = path.join(tmp, "s3.json");
    run("sample", "--model", model, "--n", "5", "--seed", "4", "--out", other, "--backend", "cpu");
    expect(fs.readFileSync(other, "utf8")).not.toBe(fs.readFileSync(out, "utf8"));
    const html = path.join(tmp, "s.html");
    expect(run("sample", "--model", model, "--n", "32", "--out", html, "--backend", "cpu").code).toBe(0);
    const page = fs.readFileSync(html, "utf8");
    expect(page).toMatch(/Samples: decoder means/);
    // A page of pictures: the grid as one PNG, no plotly.js, well under 1 MB (32 samples: a few tens of KB).
    expect(page.match(/<img [^>]*src="data:image\/png;base64,/g)).toHaveLength(1);
    expect(page).not.toContain("Plotly");
    expect(fs.statSync(html).size).toBeLessThan(100_000);
  });

  it("encode writes q(z|x) with labels, equal to the encoder's", () => {
    const model = path.join(tmp, "model", "model.json");
    const out = path.join(tmp, "e.json");
    const r = run("encode", "--model", model, "--data", data, "--limit", "20", "--out", out, "--backend", "cpu");
    expect(r.code, r.err).toBe(0);
    const e = JSON.parse(fs.readFileSync(out, "utf8"));
    expect([e.split, e.count, e.latentDim, e.labels.length, e.mu.length, e.logVar[0].length]).toEqual(["test", 20, 3, 20, 20, 3]);
    const { vae } = loadVae(model);
    const set = loadMnist({ dir: data, split: "test", limit: 20 });
    const q = vae.encode(batchTensor(set, Array.from({ length: 20 }, (_, i) => i)));
    const mu = q.mu.arraySync();
    e.mu.forEach((row: number[], i: number) => row.forEach((v, j) => expect(v).toBeCloseTo(mu[i][j], 6)));
    expect(e.labels).toEqual(Array.from(set.labels));
    tf.dispose([q.mu, q.logVar]);
    vae.dispose();
  });

  it("the convolutional VAE: resume (1 + 1 epochs = 2), export (decoder and encoder to 1e-5), sample, encode", async () => {
    // On wasm (its conv kernels): tfjs's cpu backend takes minutes for these convolutions.
    const conv = ["--arch", "conv", "--binarize", "threshold", "--iwae-k", "0", "--data", data, "--backend", "wasm", "--seed", "2", "--train-size", "40", "--batch-size", "8", "--lr", "0.01"];
    expect(run("train", "--epochs", "2", ...conv, "--out", path.join(tmp, "conv2")).code).toBe(0);
    expect(run("train", "--epochs", "1", ...conv, "--out", path.join(tmp, "conv1")).code).toBe(0);
    const r = run("train", "--resume", path.join(tmp, "conv1"), "--epochs", "1", "--out", path.join(tmp, "conv1+1"));
    expect(r.code, r.err).toBe(0);
    expect(weightsOf(path.join(tmp, "conv1+1", "model.json"))).toEqual(weightsOf(path.join(tmp, "conv2", "model.json")));
    const model = path.join(tmp, "conv2", "model.json");
    const ex = run("export", "--model", model, "--out", path.join(tmp, "conv-exported"));
    expect(ex.code, ex.err).toBe(0);
    const { model: vae } = loadModel(model);
    expect(vae.constructor.name).toBe("ConvVae");
    const decoder = await tf.loadLayersModel(`${base}/conv-exported/decoder/model.json`);
    const encoder = await tf.loadLayersModel(`${base}/conv-exported/encoder/model.json`);
    const z = tf.randomNormal([8, 2], 0, 2, "float32", 5) as tf.Tensor2D;
    const x = tf.randomUniform([8, 784], 0, 1, "float32", 6) as tf.Tensor2D;
    const gap = (a: tf.Tensor, b: tf.Tensor) => {
      const [u, v] = [a.dataSync(), b.dataSync()];
      expect(u.length).toBe(v.length);
      return Math.max(...Array.from(u, (t, i) => Math.abs(t - v[i])));
    };
    const means = vae.decodeMean(z);
    expect(gap(decoder.predict(z) as tf.Tensor, means)).toBeLessThan(1e-5);
    expect(tf.moments(means).variance.dataSync()[0]).toBeGreaterThan(1e-4); // not a constant picture
    const [mu, logVar] = encoder.predict(x) as tf.Tensor[];
    const q = vae.encode(x);
    expect(gap(mu, q.mu)).toBeLessThan(1e-5);
    expect(gap(logVar, q.logVar)).toBeLessThan(1e-5);
    const s = path.join(tmp, "conv-s.json");
    expect(run("sample", "--model", model, "--n", "3", "--seed", "1", "--out", s, "--backend", "wasm").code).toBe(0);
    expect(JSON.parse(fs.readFileSync(s, "utf8")).images).toHaveLength(3);
    const e = path.join(tmp, "conv-e.json");
    expect(run("encode", "--model", model, "--data", data, "--limit", "5", "--out", e, "--backend", "wasm").code).toBe(0);
    expect(JSON.parse(fs.readFileSync(e, "utf8")).mu).toHaveLength(5);
    tf.dispose([z, x, mu, logVar, q.mu, q.logVar]);
    decoder.dispose();
    encoder.dispose();
    vae.dispose();
  }, 600_000);

  it.each([
    [["export", "--out", "x"], 2, /^vae-lab: export: --model FILE is required/],
    [["encode", "--model", "m.json"], 2, /^vae-lab: encode: --out FILE\.json is required/],
    [["sample", "--model", "/no/such/model.json", "--out", "x.json"], 1, /^vae-lab: \/no\/such\/model\.json: checkpoint not found\n$/],
    [["sample", "--model", "m.json", "--n", "0"], 2, /^vae-lab: --n: expected an integer from 1 to 10000/],
    [["sample", "--model", "m.json", "--n", "100000"], 2, /^vae-lab: --n: expected an integer from 1 to 10000/],
  ])("bad input %j: one line, exit %i", (args, code, message) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.split("\n").filter(Boolean)).toHaveLength(1);
  });
});
