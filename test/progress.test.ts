/**
 * Progress of long steps (cli/progress.ts): a bar on a terminal, whole lines now and then elsewhere, and the
 * job reporting where its evaluation stands (the IWAE bound over many test images took minutes unseen).
 */
import * as path from "path";
import { describe, expect, it } from "vitest";
import { ProgressPrinter } from "../src/cli/progress";
import { runJob, DEFAULT_JOB } from "../src/cli/job";
import { scratchDir } from "./harness/scratch";

function fakeStream(isTTY: boolean) {
  const out = { text: "", isTTY, write: (s: string) => ((out.text += s), true) };
  return out;
}

describe("ProgressPrinter.task", () => {
  it("off a terminal: nothing for a short step, then one whole line per interval with where it stands and the time left", () => {
    const out = fakeStream(false);
    let now = 0;
    const p = new ProgressPrinter(out as unknown as NodeJS.WriteStream, { lineEveryMs: 10_000, now: () => now });
    p.task("IWAE bound (k=100)", 0, 1000);
    now = 9_000;
    p.task("IWAE bound (k=100)", 100, 1000);
    expect(out.text).toBe("");
    now = 20_000;
    p.task("IWAE bound (k=100)", 250, 1000);
    expect(out.text).toBe("IWAE bound (k=100): 250/1000 images (20 s, ~60 s left)\n");
    now = 25_000;
    p.task("IWAE bound (k=100)", 300, 1000);
    expect(out.text.split("\n").filter(Boolean)).toHaveLength(1);
    now = 31_000;
    p.task("IWAE bound (k=100)", 400, 1000);
    expect(out.text.split("\n").filter(Boolean)).toHaveLength(2);
    expect(out.text).not.toContain("\r");
    p.line("writing report…");
    expect(out.text.endsWith("\nwriting report…\n")).toBe(true);
  });

  it("off a terminal, a long epoch gets the same lines (steps and loss)", () => {
    const out = fakeStream(false);
    let now = 0;
    const p = new ProgressPrinter(out as unknown as NodeJS.WriteStream, { lineEveryMs: 30_000, now: () => now });
    p.step(3, 10, 1, 469, 200);
    now = 30_000;
    p.step(3, 10, 100, 469, 160.214);
    expect(out.text).toBe("epoch 3/10: 100/469 steps, loss 160.21 (30 s, ~111 s left)\n");
  });

  it("on a terminal: a redrawn bar, ended before the next line", () => {
    const out = fakeStream(true);
    let now = 0;
    const p = new ProgressPrinter(out as unknown as NodeJS.WriteStream, { now: () => now });
    p.task("test −ELBO", 0, 10000);
    now = 4_000;
    p.task("test −ELBO", 5000, 10000);
    expect(out.text).toMatch(/\r\x1b\[2Ktest −ELBO \[#{15}-{15}\] 5000\/10000  ~4 s left$/);
    p.line("evaluating…");
    expect(out.text.endsWith("\r\x1b[2Kevaluating…\n")).toBe(true);
  });
});

describe("runJob reports the progress of its evaluation", () => {
  it("the test ELBO after each epoch and at the end, and the IWAE bound image by image", async () => {
    const seen: [string, number, number][] = [];
    const config = {
      ...DEFAULT_JOB,
      epochs: 1,
      hiddenDim: 16,
      iwaeK: 3,
      iwaeImages: 7,
      data: path.resolve(__dirname, "../data/mnist-tiny"),
      out: scratchDir("vae-lab-progress-"),
      backend: "cpu" as const,
    };
    await runJob(config, { onProgress: (label, done, total) => seen.push([label, done, total]) });
    expect(seen).toContainEqual(["epoch 1/1: test −ELBO", 50, 50]);
    expect(seen).toContainEqual(["test −ELBO", 50, 50]);
    const iwae = seen.filter(([label]) => label === "IWAE bound (k=3)");
    expect(iwae.map(([, done, total]) => `${done}/${total}`)).toEqual(["1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7"]);
  });
});
