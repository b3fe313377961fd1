/**
 * Every notebook in notebooks/ runs top to bottom through the tslab kernel, in quick mode, without a cell
 * error. Executed copies (with outputs) land in out/executed/ for inspection.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { runNotebook } from "../src/notebook/runner";

const root = path.resolve(__dirname, "..");
const notebooks = fs
  .readdirSync(path.join(root, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

describe("notebooks (quick mode, tslab kernel)", () => {
  it("finds the notebooks", () => {
    expect(notebooks).toContain("00_setup.ipynb");
  });
  for (const name of notebooks) {
    it(
      name,
      async () => {
        const run = await runNotebook(path.join(root, "notebooks", name), {
          env: { VAE_LAB_QUICK: "1" },
          writeTo: path.join(root, "out", "executed", name),
        });
        console.log(`${name}: ${run.cells.length} code cells in ${run.seconds.toFixed(1)} s`);
        expect(run.failure, run.failure && `cell ${run.failure.index}:\n${run.failure.source}\n→ ${run.failure.message}`).toBeUndefined();
      },
      30 * 60 * 1000,
    );
  }
});
