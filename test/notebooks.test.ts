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

/**
 * What a learner's saved copy holds: at most 4 MB, and plotly.js exactly once, in the output of the first
 * code cell (showMode), which every run writes again, so re-running any chart cell cannot lose it.
 */
function expectSavedNotebookLight(file: string): void {
  const size = fs.statSync(file).size;
  expect(size, `${path.basename(file)} saved with its outputs is ${(size / 1e6).toFixed(2)} MB`).toBeLessThanOrEqual(4_000_000);
  const nb = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: { cell_type: string; outputs?: unknown[] }[] };
  const code = nb.cells.filter((c) => c.cell_type === "code");
  const withBundle = code.map((c, i) => (JSON.stringify(c.outputs ?? []).includes("data-vae-lab-plotly") ? i : -1)).filter((i) => i >= 0);
  expect(withBundle, "code cells whose outputs carry plotly.js").toEqual([0]);
}

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
        expectSavedNotebookLight(path.join(root, "out", "executed", name));
      },
      30 * 60 * 1000,
    );
  }
});
