/**
 * Charts render in a real browser (headless Chromium). Skipped where no Chromium is installed, except in
 * CI, which must have it. With VAE_LAB_HTML_DIR set, every .html file in that folder (notebooks exported
 * by nbconvert, or the published site) is checked as well; with VAE_LAB_SCREENSHOT=page.html:N:out.png the
 * N-th chart of that page is saved as a PNG.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { figureHtml, imageGrid, lineChart, saveHtml, scatterByLabel } from "../src/plot/plot";
import { checkCharts, findChromium, tmpDir, useBrowser } from "./harness/browser";

const chromium = findChromium();
const required = !!process.env.CI;
const run = chromium || required ? describe : describe.skip;
if (!chromium && !required) console.log("browser tests skipped: no Chromium (apt-get install chromium)");

run("charts in headless Chromium", () => {
  const browser = useBrowser();

  it("a saved page of charts renders every chart, offline", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "charts.html");
    saveHtml(file, [
      lineChart([{ name: "loss", y: [3, 2, 1.5] }], { title: "loss" }),
      scatterByLabel([0, 1, 2], [1, 0, 2], [0, 1, 1]),
      imageGrid(new Float32Array(4 * 9).fill(0.5), 3, 3),
    ]);
    const png = path.join(dir, "chart.png");
    expect(await checkCharts(browser(), file, { screenshot: { nth: 1, file: png } })).toEqual({ plots: 3, rendered: 3, errors: [] });
    expect(fs.statSync(png).size).toBeGreaterThan(5_000);
  });

  it("the check sees a chart that cannot draw (no plotly.js on the page)", async () => {
    const file = path.join(tmpDir(), "broken.html");
    fs.writeFileSync(file, `<!DOCTYPE html><html><body>${figureHtml(lineChart([{ name: "a", y: [1] }]))}</body></html>`);
    const r = await checkCharts(browser(), file, { timeoutMs: 3000 });
    expect(r.plots).toBe(1);
    expect(r.rendered).toBe(0);
  });

  const htmlDir = process.env.VAE_LAB_HTML_DIR;
  const pages = htmlDir ? fs.readdirSync(htmlDir).filter((f) => f.endsWith(".html") && f !== "index.html").sort() : [];
  if (htmlDir) {
    it(`finds exported pages in ${htmlDir}`, () => expect(pages.length).toBeGreaterThan(0));
  }
  const shot = process.env.VAE_LAB_SCREENSHOT?.split(":");
  for (const page of pages) {
    it(`every chart renders in ${page}`, async () => {
      const screenshot = shot && shot[0] === page ? { nth: Number(shot[1]), file: shot[2] } : undefined;
      const r = await checkCharts(browser(), path.join(htmlDir!, page), { screenshot });
      console.log(`${page}: ${r.rendered}/${r.plots} charts rendered${screenshot ? `; chart ${screenshot.nth} saved to ${screenshot.file}` : ""}`);
      expect(r.plots).toBeGreaterThan(0);
      expect(r).toEqual({ plots: r.plots, rendered: r.plots, errors: [] });
      if (screenshot) expect(fs.statSync(screenshot.file).size).toBeGreaterThan(10_000);
    });
  }
});
