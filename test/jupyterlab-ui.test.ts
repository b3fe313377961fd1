/**
 * The notebooks in JupyterLab 4 and Notebook 7, the front ends readers use: with VAE_LAB_JUPYTERLAB_URL and/or
 * VAE_LAB_NOTEBOOK7_URL pointing at running servers (`jupyter lab` and `jupyter notebook`, started on loopback
 * by .ci/run with VAE_LAB_QUICK=1 in their environment, serving notebooks/, with expose_app_in_browser), each
 * notebook is opened in headless Chromium at 1400×1000 and run with Run All; it must finish with every code
 * cell run, no error output, every chart drawn and every equation typeset. Then, on the same page, the dark
 * theme (no chart a white box, chart text and the mode banner at WCAG contrast ≥ 4.5) and a 900 px window
 * (every chart within its output area); then the first chart cell is run again (as after changing a
 * parameter; it must run without error after the whole notebook has), the notebook saved, and the saved file
 * reopened in a fresh browser: every chart must draw from it alone, and it must be at most 4 MB. For 05 and 07 the saved file is also reopened as a byte-for-byte
 * copy and as a changed copy, which Jupyter does not trust: each chart must then say what to do.
 *
 * The notebooks are never written: each run works on a scratch copy beside them (the notebooks import
 * "../dist"), deleted afterwards. A summary table (per notebook and front end: cells, charts drawn, seconds
 * from Run All to idle, the dark and narrow checks, saved size, the reopened counts) goes to
 * out/jupyterlab-ui-<front end>.json and the log; screenshots of 05 and 07 in the dark theme and in a 900 px window go to
 * out/jupyterlab-*.png, for looking at.
 */
import * as fs from "fs";
import * as path from "path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { useBrowser } from "./harness/browser";
import { FRONT_ENDS, reopen, runAllInFrontEnd, shutdownKernels, untrustedCopy } from "./harness/jupyterlab";

const dir = path.resolve(__dirname, "../notebooks");
const out = path.resolve(__dirname, "../out");
const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith(".ipynb") && /^\d\d_/.test(f)).sort();
const SCREENSHOTS = new Set(["05_reparameterization.ipynb", "07_vae_mnist.ipynb"]);
/** Notebooks whose saved file is also reopened as a byte-for-byte copy and as a changed (untrusted) copy. */
const UNTRUSTED = new Set(["05_reparameterization.ipynb", "07_vae_mnist.ipynb"]);

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

/** The per-notebook records, one file per front end (CI runs the two front ends in two processes at once). */
const summary: Record<string, Record<string, unknown>[]> = {};
afterAll(() => {
  if (Object.keys(summary).length === 0) return;
  fs.mkdirSync(out, { recursive: true });
  for (const [key, rows] of Object.entries(summary)) fs.writeFileSync(path.join(out, `jupyterlab-ui-${key}.json`), JSON.stringify(rows, null, 1) + "\n");
});

for (const fe of FRONT_ENDS) {
  const base = process.env[fe.env];
  const run = base ? describe : describe.skip;
  const tag = (nb: string) => `${fe.key}-${process.pid}-${nb}`;

  run(`notebooks in ${fe.name}`, () => {
    const browser = useBrowser();
    afterEach(() => shutdownKernels(base!), 60_000);

    for (const nb of notebooks) {
      it(`${nb}: Run All, every cell runs, every chart draws, equations typeset, no errors; dark theme and 900 px readable; a chart cell run again, saved, reopened: every chart draws`, async () => {
        await withCopy(tag(nb), async (copy) => {
          const r = await runAllInFrontEnd(browser(), base!, fe.key, copy, {
            screenshot: SCREENSHOTS.has(nb) ? (what) => path.join(out, `jupyterlab-${fe.key}-${nb.replace(/\.ipynb$/, "")}-${what}.png`) : undefined,
            rerunAndSave: true,
          });
          const savedBytes = fs.statSync(path.join(dir, copy)).size;
          const reopened = await reopen(browser(), base!, fe.key, copy);
          const row: Record<string, unknown> = { frontEnd: fe.key, notebook: nb, ...r, savedBytes, reopened };
          console.log(
            `${fe.name} | ${nb} | ${r.executed}/${r.cells} code cells run | ${r.rendered}/${r.plots} charts drawn | ${r.mathjax} equations | ${r.seconds.toFixed(1)} s Run All → idle` +
              ` | dark: ${r.dark.opaquePaper} opaque of ${r.dark.charts}, text contrast ≥ ${r.dark.chartTextContrast.toFixed(1)}, banner ${r.dark.bannerContrast?.toFixed(1) ?? "none"}` +
              ` | 900 px: ${r.narrow.spilling} of ${r.narrow.charts} past a ${r.narrow.outputWidth} px output area (${r.narrow.spillingAtFirstLook} at the first look${r.narrow.spillers.length ? `; ${JSON.stringify(r.narrow.spillers)}` : ""})` +
              ` | cell ${r.rerun?.cell} run again${r.rerun?.errors.length ? ` (${r.rerun.errors.join("; ")})` : ""}, saved ${(savedBytes / 1e6).toFixed(2)} MB, reopened: ${reopened.rendered}/${reopened.plots} drawn` +
              (r.screenshots.length ? ` | screenshots: ${r.screenshots.map((s) => path.relative(process.cwd(), s)).join(", ")}` : ""),
          );

          // A copy of the saved file: byte for byte under another name (the signature is a hash of the content,
          // so it is still trusted; recorded, not asserted: Jupyter decides trust), and a changed one, which is
          // not trusted: no chart can draw (the scripts are stripped) and each chart's placeholder says what to do.
          if (UNTRUSTED.has(nb)) {
            row.byteCopy = await withCopy(tag(`copy-${nb}`), (c) => reopen(browser(), base!, fe.key, c), copy);
            const u = await withCopy(tag(`untrusted-${nb}`), (c) => {
              untrustedCopy(dir, copy, c);
              return reopen(browser(), base!, fe.key, c);
            });
            row.untrusted = u;
            console.log(`${fe.name} | ${nb}: changed copy: trusted ${u.trusted}, ${u.rendered}/${u.plots} charts drawn, ${u.placeholdersVisible} placeholders visible`);
            expect(u.trusted).toBe(false);
            expect(u.chartOutputs).toBe(r.chartOutputs);
            expect(u.plots).toBe(u.chartOutputs);
            expect(u.rendered).toBe(0);
            expect(u.placeholdersVisible).toBe(u.plots);
          }
          (summary[fe.key] ??= []).push(row);

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
          // Dark theme: no chart is a white box, chart text and the mode banner are readable (WCAG's 4.5).
          expect(r.dark.charts).toBe(r.plots);
          expect(r.dark.opaquePaper).toBe(0);
          expect(r.dark.chartTextContrast).toBeGreaterThanOrEqual(4.5);
          expect(r.dark.bannerContrast).not.toBeNull();
          expect(r.dark.bannerContrast!).toBeGreaterThanOrEqual(4.5);
          // 900 px window: every chart, scrolled to as a reader would, within its output area.
          expect(r.narrow.charts).toBe(r.plots);
          expect(r.narrow.spilling).toBe(0);
          // Run again, saved, reopened in a fresh browser: every chart draws from the saved (signed) file alone,
          // and the file is small (one minified plotly.js).
          expect(r.rerun).not.toBeNull();
          expect(r.rerun!.errors, "the first chart cell, run again after Run All").toEqual([]);
          expect(savedBytes).toBeLessThanOrEqual(4e6);
          expect(reopened).toMatchObject({ trusted: true, chartOutputs: r.chartOutputs, plots: r.chartOutputs, rendered: r.chartOutputs, placeholdersVisible: 0, pageErrors: [] });
        }, nb);
      });
    }
  });
}
