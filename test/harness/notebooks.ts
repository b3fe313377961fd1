/**
 * The notebook tests (every notebook in notebooks/ run top to bottom through the tslab kernel, in quick mode,
 * without a cell error), in groups: one test file per group, so that vitest can run the groups on different
 * cores at once instead of one notebook after another in a single file — the notebooks are the suite's largest
 * single item. Every notebook is in exactly one group: the groups below name the slow ones, and the last group
 * (test/notebooks.test.ts) takes every notebook the others do not name, so a new notebook is tested without
 * being listed here. test/notebooks.test.ts also checks that every notebook named here exists.
 *
 * The groups are balanced by the quick-mode time each notebook took in a full `npm test` on two cores; a
 * notebook that grows a lot may be moved to a group of its own, or the groups rebalanced, without changing
 * what is tested.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { runNotebook } from "../../src/notebook/runner";
import { fashionMnistInstalled } from "../../src/data/fashion-mnist";

const root = path.resolve(__dirname, "..", "..");

/** Every notebook, by file name, sorted. */
export const NOTEBOOKS: string[] = fs
  .readdirSync(path.join(root, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

/** The named groups (test/notebooks-<n>.test.ts runs group n); the rest run in test/notebooks.test.ts. */
export const NOTEBOOK_GROUPS: Record<string, string[]> = {
  "1": ["08_conv_vae.ipynb", "13_importance_weighted_bound.ipynb", "14_amortisation_gap.ipynb"], // 08 by far the longest: 184 s of the notebooks' 504 s
  "2": ["06_autoencoders_and_manifolds.ipynb", "07_vae_mnist.ipynb", "12_reading_a_loss_number.ipynb", "16_conditional_vae.ipynb"],
  "3": ["03_kl_and_elbo.ipynb", "04_score_function_gradients.ipynb", "09_gradient_variance_in_vae.ipynb", "15_posterior_collapse.ipynb"], // 96 s
};

/** The notebooks no named group holds (test/notebooks.test.ts runs them). */
export const OTHER_NOTEBOOKS: string[] = NOTEBOOKS.filter((n) => !Object.values(NOTEBOOK_GROUPS).some((g) => g.includes(n)));

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

/**
 * One test per notebook: it runs in quick mode without a cell error; the executed copy goes to out/executed/,
 * and as a learner would save it, it is light and carries plotly.js once, in its first cell. A notebook that
 * stops at Fashion-MNIST's "not found" (notebook 07's last section reads it) on a machine without it is skipped,
 * saying so (its cells up to there ran); where Fashion-MNIST is installed, and in CI (which installs it), that
 * stop is a failure like any other.
 */
export function notebookTests(names: string[]): void {
  describe("notebooks (quick mode, tslab kernel)", () => {
    for (const name of names) {
      it(
        name,
        async (ctx) => {
          const run = await runNotebook(path.join(root, "notebooks", name), {
            env: { VAE_LAB_QUICK: "1" },
            writeTo: path.join(root, "out", "executed", name),
          });
          console.log(`${name}: ${run.cells.length} code cells in ${run.seconds.toFixed(1)} s`);
          if (run.failure && /Fashion-MNIST not found/.test(run.failure.message) && !fashionMnistInstalled() && process.env.CI !== "true") {
            console.log(`${name}: stopped at cell ${run.failure.index}, which reads Fashion-MNIST, not installed here (apt-get install dataset-fashion-mnist): skipped`);
            ctx.skip();
          }
          expect(run.failure, run.failure && `cell ${run.failure.index}:\n${run.failure.source}\n→ ${run.failure.message}`).toBeUndefined();
          expectSavedNotebookLight(path.join(root, "out", "executed", name));
        },
        30 * 60 * 1000,
      );
    }
  });
}
