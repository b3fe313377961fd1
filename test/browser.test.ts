/**
 * Charts render in a real browser (headless Chromium). Skipped where no Chromium is installed, except in
 * CI, which must have it. With VAE_LAB_HTML_DIR set, every .html file in that folder (notebooks exported
 * by nbconvert, or the published site) is checked as well; with VAE_LAB_SCREENSHOT=page.html:N:out.png the
 * N-th chart of that page is saved as a PNG.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { figureHtml, imageGrid, lineChart, plotlyScriptTag, saveHtml, scatterByLabel } from "../src/plot/plot";
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
    const r = await checkCharts(browser(), file, { timeoutMs: 1000 }); // it can never draw: any wait shows that
    expect(r.plots).toBe(1);
    expect(r.rendered).toBe(0);
  });

  it("a chart without plotly.js says what to do instead of leaving a blank gap", async () => {
    const file = path.join(tmpDir(), "untrusted.html");
    fs.writeFileSync(file, `<!DOCTYPE html><html><body>${figureHtml(lineChart([{ name: "a", y: [1] }]))}</body></html>`);
    const page = await browser().newPage();
    try {
      await page.goto("file://" + file);
      expect(await page.locator(".vae-lab-plot-placeholder").innerText()).toContain("Trust Notebook");
    } finally {
      await page.close();
    }
  });

  it("in a narrow output a fixed-width picture grid is scaled to fit; a dark theme gets transparent charts in its text colour", async () => {
    const dir = tmpDir();
    const figs = [imageGrid(new Float32Array(100 * 784).fill(0.3), 28, 28, { columns: 10, width: 680, title: "grid" }), lineChart([{ name: "a", y: [1, 2] }], { title: "line", vLines: [{ value: 0.5, label: "ref" }] })];
    const body = figs.map((f) => figureHtml(f)).join("\n");
    const page = (attrs: string) => `<!DOCTYPE html><html><head>${plotlyScriptTag()}</head><body ${attrs}><div style="width:420px">${body}</div></body></html>`;
    fs.writeFileSync(path.join(dir, "narrow.html"), page(""));
    fs.writeFileSync(path.join(dir, "dark.html"), page(`data-jp-theme-light="false" style="background:#111;--jp-ui-font-color1:#eeeeee"`));
    const p = await browser().newPage({ viewport: { width: 1000, height: 800 } });
    try {
      await p.goto("file://" + path.join(dir, "narrow.html"));
      await p.waitForFunction(() => document.querySelectorAll('.vae-lab-plot[data-rendered="1"]').length === 2, undefined, { timeout: 60_000 });
      const widths = await p.evaluate(() => [...document.querySelectorAll(".vae-lab-plot")].map((el) => (el as HTMLElement & { _fullLayout: { width: number } })._fullLayout.width));
      expect(widths[0]).toBeLessThanOrEqual(420); // asked for 680
      const light = await p.evaluate(() => (document.querySelector(".vae-lab-plot") as HTMLElement & { _fullLayout: { paper_bgcolor: string } })._fullLayout.paper_bgcolor);
      expect(light).toBe("#fff");
      await p.goto("file://" + path.join(dir, "dark.html"));
      await p.waitForFunction(() => document.querySelectorAll('.vae-lab-plot[data-rendered="1"]').length === 2, undefined, { timeout: 60_000 });
      const dark = await p.evaluate(() =>
        [...document.querySelectorAll(".vae-lab-plot")].map((el) => {
          const fl = (el as HTMLElement & { _fullLayout: { paper_bgcolor: string; plot_bgcolor: string; font: { color: string }; annotations: { bgcolor: string }[] } })._fullLayout;
          return { paper: fl.paper_bgcolor, plot: fl.plot_bgcolor, font: fl.font.color, label: fl.annotations[0]?.bgcolor };
        }),
      );
      expect(dark[0]).toMatchObject({ paper: "rgba(0,0,0,0)", plot: "white", font: "#eeeeee" }); // pictures keep their paper
      expect(dark[1]).toMatchObject({ paper: "rgba(0,0,0,0)", plot: "rgba(0,0,0,0)", font: "#eeeeee", label: "rgba(0,0,0,0.6)" });
      // Drawn wide and light, then the room shrinks and the theme turns dark (a side panel opened, the theme
      // switched): the charts follow.
      fs.writeFileSync(path.join(dir, "later.html"), `<!DOCTYPE html><html><head>${plotlyScriptTag()}</head><body style="--jp-ui-font-color1:#eeeeee"><div id="box" style="width:900px">${body}</div></body></html>`);
      await p.goto("file://" + path.join(dir, "later.html"));
      await p.waitForFunction(() => document.querySelectorAll('.vae-lab-plot[data-rendered="1"]').length === 2, undefined, { timeout: 60_000 });
      const fl = () => p.evaluate(() => { const el = document.querySelector(".vae-lab-plot") as HTMLElement & { _fullLayout: { width: number; paper_bgcolor: string } }; return { width: el._fullLayout.width, paper: el._fullLayout.paper_bgcolor }; });
      expect(await fl()).toEqual({ width: 680, paper: "#fff" });
      await p.evaluate(() => {
        (document.getElementById("box") as HTMLElement).style.width = "420px";
        window.dispatchEvent(new Event("resize"));
        document.body.setAttribute("data-jp-theme-light", "false");
      });
      await p.waitForFunction(() => (document.querySelector(".vae-lab-plot") as HTMLElement & { _fullLayout: { width: number } })._fullLayout.width <= 420, undefined, { timeout: 10_000 });
      expect((await fl()).paper).toBe("rgba(0,0,0,0)");
      // The room shrinks with no window resize (JupyterLab's side panel opening), then while the charts are out
      // of the page (JupyterLab's windowing detaches cells far off screen) as the window is resized: both charts
      // (the picture grid of fixed width, the line chart sized by plotly) follow each time, the second once back.
      const widthAtMost = (w: number) =>
        p.waitForFunction(
          (max) => {
            const els = [...document.querySelectorAll(".vae-lab-plot")] as (HTMLElement & { _fullLayout: { width: number } })[];
            return els.length === 2 && els.every((el) => el._fullLayout.width <= max);
          },
          w,
          { timeout: 10_000 },
        );
      await p.evaluate(() => void ((document.getElementById("box") as HTMLElement).style.width = "300px"));
      await widthAtMost(300);
      await p.evaluate(() => {
        const box = document.getElementById("box") as HTMLElement;
        const parent = box.parentNode as HTMLElement;
        box.remove();
        box.style.width = "200px";
        window.dispatchEvent(new Event("resize"));
        setTimeout(() => parent.appendChild(box), 500);
      });
      await widthAtMost(200);
      // Far off screen in a cell whose layout the page skips (JupyterLab's content-visibility: auto), the room
      // shrinks: the chart follows once it is scrolled into view.
      await p.evaluate(() => {
        const box = document.getElementById("box") as HTMLElement;
        const spacer = document.createElement("div");
        spacer.style.height = "6000px";
        box.parentNode!.insertBefore(spacer, box);
        box.style.contentVisibility = "auto";
        window.scrollTo(0, 0);
      });
      await p.waitForTimeout(500);
      await p.evaluate(() => void ((document.getElementById("box") as HTMLElement).style.width = "160px"));
      await p.waitForTimeout(800);
      await p.evaluate(() => (document.getElementById("box") as HTMLElement).scrollIntoView());
      await widthAtMost(160);
    } finally {
      await p.close();
    }
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
