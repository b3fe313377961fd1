/**
 * Loading an HTML file in headless Chromium and counting the charts that rendered. Each vae-lab chart is a
 * `div.vae-lab-plot` that plotly's newPlot marks `data-rendered="1"` once drawn; the DOM after the page's
 * scripts ran (`--dump-dom` with a virtual time budget) tells how many did.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export function findChromium(): string | undefined {
  for (const c of [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    if (c && fs.existsSync(c)) return c;
  }
  return undefined;
}

function flags(): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-chromium-"))}`,
    "--virtual-time-budget=30000",
  ];
}

export interface RenderCheck {
  plots: number;
  rendered: number;
  /** Error texts the page shows in place of a chart. */
  failures: string[];
}

export function checkCharts(htmlFile: string, chromium = findChromium()): RenderCheck {
  if (!chromium) throw new Error("no Chromium found (apt-get install chromium)");
  const dom = execFileSync(chromium, [...flags(), "--dump-dom", "file://" + path.resolve(htmlFile)], {
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
    stdio: ["ignore", "pipe", "ignore"],
    timeout: 120_000,
  });
  const divs = dom.match(/<div[^>]*class="vae-lab-plot[^"]*"[^>]*>/g) ?? [];
  return {
    plots: divs.length,
    rendered: divs.filter((d) => d.includes('data-rendered="1"')).length,
    failures: dom.match(/>plotly\.js did not load</g) ?? [],
  };
}

export function screenshot(htmlFile: string, pngFile: string, width = 1100, height = 1400, chromium = findChromium()): void {
  if (!chromium) throw new Error("no Chromium found (apt-get install chromium)");
  execFileSync(chromium, [...flags(), `--window-size=${width},${height}`, `--screenshot=${path.resolve(pngFile)}`, "file://" + path.resolve(htmlFile)], {
    stdio: "ignore",
    timeout: 120_000,
  });
}
