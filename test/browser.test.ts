/**
 * Charts render in a real browser (headless Chromium). Skipped where no Chromium is installed, except in
 * CI, which must have it. With VAE_LAB_HTML_DIR set, every .html file in that folder (e.g. notebooks
 * exported by nbconvert) is checked as well.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { figureHtml, imageGrid, lineChart, saveHtml, scatterByLabel } from "../src/plot";
import { checkCharts, findChromium, screenshot } from "./harness/browser";

const chromium = findChromium();
const required = !!process.env.CI;
const run = chromium || required ? describe : describe.skip;
if (!chromium && !required) console.log("browser tests skipped: no Chromium (apt-get install chromium)");

run("charts in headless Chromium", () => {
  it("a saved page of charts renders every chart, offline", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-browser-"));
    const file = path.join(dir, "charts.html");
    saveHtml(file, [
      lineChart([{ name: "loss", y: [3, 2, 1.5] }], { title: "loss" }),
      scatterByLabel([0, 1, 2], [1, 0, 2], [0, 1, 1]),
      imageGrid(new Float32Array(4 * 9).fill(0.5), 3, 3),
    ]);
    expect(checkCharts(file)).toEqual({ plots: 3, rendered: 3, failures: [] });
    const png = path.join(dir, "charts.png");
    screenshot(file, png, 800, 600);
    expect(fs.statSync(png).size).toBeGreaterThan(10_000);
  }, 180_000);

  it("the check sees a chart that cannot draw (no plotly.js on the page)", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-browser-")), "broken.html");
    fs.writeFileSync(file, `<!DOCTYPE html><html><body>${figureHtml(lineChart([{ name: "a", y: [1] }]))}</body></html>`);
    const r = checkCharts(file);
    expect(r.plots).toBe(1);
    expect(r.rendered).toBe(0);
  }, 180_000);

  const htmlDir = process.env.VAE_LAB_HTML_DIR;
  const pages = htmlDir ? fs.readdirSync(htmlDir).filter((f) => f.endsWith(".html")).sort() : [];
  if (htmlDir) {
    it(`finds exported pages in ${htmlDir}`, () => expect(pages.length).toBeGreaterThan(0));
  }
  for (const page of pages) {
    it(`every chart renders in ${page}`, () => {
      const r = checkCharts(path.join(htmlDir!, page));
      console.log(`${page}: ${r.rendered}/${r.plots} charts rendered`);
      expect(r.plots).toBeGreaterThan(0);
      expect(r).toEqual({ plots: r.plots, rendered: r.plots, failures: [] });
    }, 180_000);
  }
});
