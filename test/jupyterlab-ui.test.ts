/**
 * The notebooks in JupyterLab 4 and Notebook 7, the front ends readers use: with VAE_LAB_JUPYTERLAB_URL and/or
 * VAE_LAB_NOTEBOOK7_URL pointing at running servers (`jupyter lab` and `jupyter notebook`, started on loopback
 * by .ci/run with VAE_LAB_QUICK=1 in their environment, serving notebooks/, with expose_app_in_browser), each
 * notebook is opened in headless Chromium at 1400×1000 and run with Run All; it must finish with every code
 * cell run, no error output, every chart drawn and every equation typeset.
 *
 * The notebooks are never written: each run works on a scratch copy beside them (the notebooks import
 * "../dist"), deleted afterwards. A summary table (per notebook and front end: cells, charts drawn, seconds
 * from Run All to idle) goes to out/jupyterlab-ui.json and the log; screenshots of 05 and 07 in the dark theme
 * and in a 900 px window go to out/jupyterlab-*.png, for looking at.
 */
import * as fs from "fs";
import * as path from "path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { useBrowser } from "./harness/browser";
import { FRONT_ENDS, reopen, rerunSaveReopen, runAllInFrontEnd, shutdownKernels, untrustedCopy } from "./harness/jupyterlab";

const dir = path.resolve(__dirname, "../notebooks");
const out = path.resolve(__dirname, "../out");
const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith(".ipynb") && /^\d\d_/.test(f)).sort();
const SCREENSHOTS = new Set(["05_reparameterization.ipynb", "07_vae_mnist.ipynb"]);

/** A scratch copy of a notebook beside the others; `use` gets its file name; the copy and its checkpoint go afterwards. */
async function withCopy<T>(name: string, use: (copy: string) => Promise<T>, from?: string): Promise<T> {
  const copies: string[] = [];
  try {
    if (from) fs.copyFileSync(path.join(dir, from), path.join(dir, name));
    copies.push(name);
    return await use(name);
  } finally {
    for (const c of copies) {
      fs.rmSync(path.join(dir, c), { force: true });
      fs.rmSync(path.join(dir, ".ipynb_checkpoints", c.replace(/\.ipynb$/, "-checkpoint.ipynb")), { force: true });
    }
  }
}

const summary: Record<string, unknown>[] = [];
afterAll(() => {
  if (summary.length === 0) return;
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "jupyterlab-ui.json"), JSON.stringify(summary, null, 1) + "\n");
});

for (const fe of FRONT_ENDS) {
  const base = process.env[fe.env];
  const run = base ? describe : describe.skip;
  const tag = (nb: string) => `${fe.key}-${process.pid}-${nb}`;

  run(`notebooks in ${fe.name}`, () => {
    const browser = useBrowser();
    afterEach(() => shutdownKernels(base!), 60_000);

    for (const nb of notebooks) {
      it(`${nb}: Run All finishes, every code cell runs, every chart draws, equations typeset, no errors`, async () => {
        const r = await withCopy(tag(nb), (copy) =>
          runAllInFrontEnd(browser(), base!, fe.key, copy, {
            screenshot: SCREENSHOTS.has(nb) ? (what) => path.join(out, `jupyterlab-${fe.key}-${nb.replace(/\.ipynb$/, "")}-${what}.png`) : undefined,
          }),
        nb);
        summary.push({ frontEnd: fe.key, notebook: nb, ...r });
        console.log(
          `${fe.name} | ${nb} | ${r.executed}/${r.cells} code cells run | ${r.rendered}/${r.plots} charts drawn | ${r.mathjax} equations | ${r.seconds.toFixed(1)} s Run All → idle` +
            (r.screenshots.length ? ` | screenshots: ${r.screenshots.map((s) => path.relative(process.cwd(), s)).join(", ")}` : ""),
        );
        expect(r.errorOutputs).toEqual([]);
        expect(r.stderrOutputs).toBe(0);
        expect(r.pageErrors).toEqual([]);
        expect(r.cells).toBeGreaterThan(0);
        expect(r.executed).toBe(r.cells);
        // Every chart in the outputs is on the page, and drawn.
        expect(r.plots).toBe(r.chartOutputs);
        expect(r.rendered).toBe(r.plots);
        expect(r.plots).toBeGreaterThan(0); // every notebook has charts, 00 its first one
        expect(r.markdownRendered).toBe(r.markdownCells);
        if (r.hasMath) expect(r.mathjax).toBeGreaterThan(0);
        expect(r.rawTex).toBe(0);
      });
    }

    it("05: a chart cell run again, saved, reopened: every chart draws from the saved (signed) file; a changed copy shows the placeholders", async () => {
      const nb = "05_reparameterization.ipynb";
      await withCopy(tag(`rerun-${nb}`), async (saved) => {
        const r = await rerunSaveReopen(browser(), base!, fe.key, saved);
        console.log(`${fe.name} | ${nb}: cell ${r.rerunCell} run again, saved, reopened: ${r.rendered}/${r.plots} charts drawn`);
        expect(r.chartOutputs).toBeGreaterThan(0);
        expect(r).toMatchObject({ trusted: true, plots: r.chartOutputs, rendered: r.chartOutputs, placeholdersVisible: 0, pageErrors: [] });

        // The saved file byte for byte under another name: the signature is a hash of the content, so it is
        // still trusted. Recorded, not asserted (the point is what a reader sees; Jupyter decides trust).
        const same = await withCopy(tag(`copy-${nb}`), (copy) => reopen(browser(), base!, fe.key, copy), saved);
        console.log(`${fe.name} | ${nb}: byte-for-byte copy under a new name: trusted ${same.trusted}, ${same.rendered}/${same.plots} charts drawn, ${same.placeholdersVisible} placeholders visible`);

        // A changed copy is not trusted: no chart can draw (the scripts are stripped) and each chart's
        // placeholder text must say so.
        const u = await withCopy(tag(`untrusted-${nb}`), (copy) => {
          untrustedCopy(dir, saved, copy);
          return reopen(browser(), base!, fe.key, copy);
        });
        console.log(`${fe.name} | ${nb}: changed copy: trusted ${u.trusted}, ${u.rendered}/${u.plots} charts drawn, ${u.placeholdersVisible} placeholders visible`);
        summary.push({ frontEnd: fe.key, notebook: nb, check: "rerun-save-reopen", ...r, byteCopy: same, untrusted: u });
        expect(u.trusted).toBe(false);
        expect(u.chartOutputs).toBe(r.chartOutputs);
        expect(u.plots).toBe(u.chartOutputs);
        expect(u.rendered).toBe(0);
        expect(u.placeholdersVisible).toBe(u.plots);
      }, nb);
    });
  });
}
