/**
 * The notebooks in the real Jupyter Notebook UI: with VAE_LAB_JUPYTER_URL pointing at a running server
 * (started on loopback by .ci/run, with VAE_LAB_QUICK=1 in its environment), each notebook is opened in
 * headless Chromium, run with "Run All", and must finish with every chart drawn and no error output.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { rerunSaveReopen, runInNotebookUI, useBrowser } from "./harness/browser";

const base = process.env.VAE_LAB_JUPYTER_URL;
const run = base ? describe : describe.skip;
const notebooks = fs.readdirSync(path.resolve(__dirname, "../notebooks")).filter((f) => f.endsWith(".ipynb")).sort();

run("notebooks in the Jupyter Notebook UI", () => {
  const browser = useBrowser();
  for (const nb of notebooks) {
    it(`${nb}: Run All finishes, every chart draws, no errors`, async () => {
      const r = await runInNotebookUI(browser(), base!, nb);
      console.log(`${nb}: ${r.rendered}/${r.plots} charts rendered in the Notebook UI`);
      expect(r.plots).toBeGreaterThan(0);
      expect(r).toEqual({ plots: r.plots, rendered: r.plots, stderrOutputs: 0, errors: [] });
    });
  }

  it("a chart cell run again, the notebook saved and reopened: every chart draws from the saved file", async () => {
    // A scratch copy beside the notebooks (the server serves that folder); removed afterwards.
    const dir = path.resolve(__dirname, "../notebooks");
    const copy = `rerun-check-${process.pid}.ipynb`;
    fs.copyFileSync(path.join(dir, "05_reparameterization.ipynb"), path.join(dir, copy));
    try {
      const r = await rerunSaveReopen(browser(), base!, copy);
      console.log(`05_reparameterization.ipynb: cell ${r.rerunCell} run again, saved, reopened: ${r.rendered}/${r.plots} charts drawn`);
      expect(r.plots).toBeGreaterThan(0);
      expect(r).toEqual({ plots: r.plots, rendered: r.plots, rerunCell: r.rerunCell, errors: [] });
    } finally {
      fs.rmSync(path.join(dir, copy), { force: true });
    }
  });
});
