import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parseTrainFlags } from "../src/cli/main";

const cli = path.resolve(__dirname, "../dist/cli/main.js");
const data = path.resolve(__dirname, "../data/mnist-tiny");
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("vae-lab train --latent categorical", () => {
  it("defaults: gumbel, 2 samples, static binarisation, 512 hidden; gaussian runs are unchanged", () => {
    const c = parseTrainFlags(["--latent", "categorical"]);
    expect([c.latent, c.estimator, c.samples, c.binarize, c.hiddenDim]).toEqual(["categorical", "gumbel", 2, "static", 512]);
    const g = parseTrainFlags([]);
    expect(g.latent).toBeUndefined();
    expect(g.estimator).toBeUndefined();
    expect(g.samples).toBe(1);
  });

  for (const estimator of ["vimco", "st"]) {
    it(`${estimator}: a smoke run on the tiny fixture writes metrics.json (test −ELBO, seconds, gradient SNR) and report.html`, () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-cat-"));
      const r = run("train", "--latent", "categorical", "--estimator", estimator, "--epochs", "2", "--batch-size", "25", "--hidden-dim", "64", "--data", data, "--out", out);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(new RegExp(`^test −ELBO \\d+\\.\\d\\d nats \\(categorical 20×10, ${estimator}; final evaluation with new random draws; epoch 2's \\d+\\.\\d\\d differs by sampling noise only\\)`));
      const m = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
      expect(m.epochs).toHaveLength(2);
      expect(m.config.hiddenDims).toEqual([64, 32]);
      expect(m.test.elbo).toBeGreaterThan(50);
      expect(m.epochs[1].seconds).toBeGreaterThan(0);
      expect(m.epochs[1].gradient.snr).toBeGreaterThanOrEqual(0);
      expect(fs.readFileSync(path.join(out, "report.html"), "utf8")).toContain("vae-lab-plot");
      fs.rmSync(out, { recursive: true });
    }, 300_000);
  }

  it.each([
    [["--latent", "discrete"], /^vae-lab: --latent: expected one of gaussian, categorical, got "discrete"/],
    [["--latent", "categorical", "--estimator", "rebar"], /^vae-lab: --estimator: expected one of score, score-loo, vimco, gumbel, st, got "rebar"/],
    [["--estimator", "st"], /^vae-lab: --estimator: only with --latent categorical/],
    [["--latent", "categorical", "--estimator", "score-loo", "--samples", "1"], /^vae-lab: --samples: --estimator score-loo needs at least 2/],
  ])("bad flags %j: one line, exit 2", (args, message) => {
    const r = run("train", ...(args as string[]), "--data", data);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.split("\n").filter(Boolean)).toHaveLength(1);
  }, 60_000);
});
