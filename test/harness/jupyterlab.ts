/**
 * The notebooks in the front ends readers use: JupyterLab 4 and Notebook 7 (itself built from JupyterLab's
 * components), each served by its own server started with `expose_app_in_browser` so that the page has
 * `window.jupyterapp` (JupyterLab's application object: its command registry and its shell). Everything here
 * goes through the page as a reader's clicks would: `notebook:run-all-cells` is the command behind
 * Run > Run All Cells, `docmanager:save` behind File > Save, `apputils:change-theme` behind Settings > Theme.
 *
 * Counts come from two places and are compared: the notebook model (every output of every cell, whether or not
 * the cell is on screen) and the page (what was drawn). JupyterLab may leave cells far off screen unrendered
 * (windowing), which would hide a chart from a page-only count; comparing with the model catches that.
 */
import * as fs from "fs";
import * as path from "path";
import { Browser, BrowserContext, Page } from "playwright-core";

export type FrontEnd = "jupyterlab" | "notebook7";

export const FRONT_ENDS: { key: FrontEnd; name: string; env: string }[] = [
  { key: "jupyterlab", name: "JupyterLab 4", env: "VAE_LAB_JUPYTERLAB_URL" },
  { key: "notebook7", name: "Notebook 7", env: "VAE_LAB_NOTEBOOK7_URL" },
];

export const VIEWPORT = { width: 1400, height: 1000 };

/**
 * Page errors that come from the front end itself, not from anything a notebook sends (ignored only when
 * thrown from the front end's own bundles): JupyterLab's debugger sidebar asks every kernel for a debug
 * session, and tslab has none; Notebook 7's keyboard-shortcuts plugin reads the settings schema of a plugin
 * that it has none for, on every page load.
 */
const FRONT_END_NOISE = [/No active debugger session/, /Cannot read properties of undefined \(reading 'schema'\)/];
const isFrontEndNoise = (e: Error) => FRONT_END_NOISE.some((re) => re.test(e.message)) && /\/static\/(lab|notebook)\//.test(e.stack ?? "");

/** The address of `notebook` (a file in the server's root folder) in a front end; `base` carries the token. */
export function notebookAddress(base: string, frontEnd: FrontEnd, notebook: string): string {
  const url = new URL(base);
  const token = url.searchParams.get("token") ?? "";
  const file = encodeURIComponent(notebook);
  // JupyterLab restores the tabs of its last session (its "workspace"); `reset` starts from an empty one, so
  // notebooks opened by earlier tests (scratch copies since deleted) are not reopened and rerun.
  if (frontEnd === "jupyterlab") return `${url.origin}/lab/tree/${file}?token=${token}&reset`;
  return `${url.origin}/notebooks/${file}?token=${token}`;
}

export interface LabRun {
  /** Code cells with source, and how many of them have an execution count at the end. */
  cells: number;
  executed: number;
  /** Charts in the outputs (model), chart divs on the page, and those plotly drew. */
  chartOutputs: number;
  plots: number;
  rendered: number;
  /** Outputs on stderr and error outputs (tracebacks), counted in the model. */
  stderrOutputs: number;
  errorOutputs: string[];
  /** Markdown cells, those rendered on the page, MathJax containers, and rendered cells still showing `$$`. */
  markdownCells: number;
  markdownRendered: number;
  hasMath: boolean;
  mathjax: number;
  rawTex: number;
  /** Seconds from Run All until every code cell has run and the kernel is idle. */
  seconds: number;
  /** Uncaught exceptions in the page (front-end noise excluded). */
  pageErrors: string[];
}

type Win = {
  jupyterapp?: {
    commands: { execute(id: string, args?: unknown): Promise<unknown>; hasCommand(id: string): boolean };
    restored: Promise<void>;
    shell: { currentWidget: Panel | null };
  };
};
type Panel = {
  content?: {
    widgets: { model: { type: string; sharedModel: { getSource(): string }; executionCount?: number | null; outputs?: { toJSON(): Output[] } }; node: HTMLElement }[];
    activeCellIndex: number;
  };
  context?: { isReady: boolean; model: { dirty: boolean } };
  sessionContext?: { isReady: boolean; session: { kernel: { status: string } | null } | null; shutdown(): Promise<void> };
};
type Output = { output_type: string; name?: string; ename?: string; evalue?: string; data?: Record<string, unknown> };

/** Open `notebook` in a new page of `context` and wait until its kernel is idle. */
async function openNotebook(context: BrowserContext, base: string, frontEnd: FrontEnd, notebook: string, pageErrors: string[], waitForKernel = true): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    if (!isFrontEndNoise(e)) pageErrors.push(`page error: ${e.message} (${(e.stack ?? "").split("\n")[1]?.trim() ?? "no stack"})`);
  });
  await page.goto(notebookAddress(base, frontEnd, notebook));
  await page.waitForFunction(() => !!(window as unknown as Win).jupyterapp, undefined, { timeout: 120_000 });
  await page.evaluate(() => (window as unknown as Win).jupyterapp!.restored);
  await page.waitForFunction(
    (wait) => {
      const w = (window as unknown as Win).jupyterapp!.shell.currentWidget;
      if (!w?.content || !w.context?.isReady) return false;
      return !wait || (!!w.sessionContext?.isReady && w.sessionContext.session?.kernel?.status === "idle");
    },
    waitForKernel,
    { timeout: 120_000, polling: 250 },
  );
  return page;
}

/** Every code cell with source has run (an execution count) and the kernel is idle; or a cell failed. */
function finished(): boolean {
  const w = (window as unknown as Win).jupyterapp!.shell.currentWidget!;
  if (w.sessionContext?.session?.kernel?.status !== "idle") return false;
  const code = w.content!.widgets.filter((c) => c.model.type === "code" && c.model.sharedModel.getSource().trim() !== "");
  if (code.every((c) => typeof c.model.executionCount === "number")) return true;
  // Run All stops at a cell that raised: nothing is queued any more ("[*]" prompts) and an error is shown.
  const queued = code.some((c) => (c.node.querySelector(".jp-InputPrompt")?.textContent ?? "").includes("*"));
  const failed = code.some((c) => (c.model.outputs?.toJSON() ?? []).some((o) => o.output_type === "error"));
  return !queued && failed;
}

/** Wait until every chart div on the page is drawn, or `timeoutMs` passes. */
async function waitForCharts(page: Page, timeoutMs: number): Promise<void> {
  await page
    .waitForFunction(() => document.querySelectorAll('div.vae-lab-plot:not([data-rendered="1"])').length === 0, undefined, { timeout: timeoutMs })
    .catch(() => undefined);
}

/** The chart divs in the outputs of the open notebook's model, drawn or not, on screen or not. */
function modelChartOutputs(): number {
  const w = (window as unknown as Win).jupyterapp!.shell.currentWidget!;
  const outputs = w.content!.widgets.filter((c) => c.model.type === "code").flatMap((c) => c.model.outputs?.toJSON() ?? []);
  return outputs.reduce((n, o) => n + (String(o.data?.["text/html"] ?? "").match(/class="vae-lab-plot"/g) ?? []).length, 0);
}

/** What the open notebook shows: the counts of `LabRun` except `seconds` and `pageErrors`. */
async function inspect(page: Page): Promise<Omit<LabRun, "seconds" | "pageErrors">> {
  return page.evaluate(() => {
    const w = (window as unknown as Win).jupyterapp!.shell.currentWidget!;
    const cells = w.content!.widgets;
    const code = cells.filter((c) => c.model.type === "code" && c.model.sharedModel.getSource().trim() !== "");
    const outputs = code.flatMap((c) => c.model.outputs?.toJSON() ?? []);
    const markdown = cells.filter((c) => c.model.type === "markdown");
    const rendered = [...document.querySelectorAll(".jp-MarkdownCell .jp-MarkdownOutput")];
    return {
      cells: code.length,
      executed: code.filter((c) => typeof c.model.executionCount === "number").length,
      chartOutputs: outputs.reduce((n, o) => n + (String(o.data?.["text/html"] ?? "").match(/class="vae-lab-plot"/g) ?? []).length, 0),
      plots: document.querySelectorAll("div.vae-lab-plot").length,
      rendered: document.querySelectorAll('div.vae-lab-plot[data-rendered="1"]').length,
      stderrOutputs: outputs.filter((o) => o.output_type === "stream" && o.name === "stderr").length,
      errorOutputs: outputs.filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}`),
      markdownCells: markdown.length,
      markdownRendered: rendered.length,
      hasMath: markdown.some((c) => /\$\$|\$[^$\s][^$]*\$/.test(c.model.sharedModel.getSource())),
      mathjax: document.querySelectorAll(".jp-MarkdownOutput mjx-container").length,
      rawTex: rendered.filter((e) => (e.textContent ?? "").includes("$$")).length,
    };
  });
}

/** Scroll the notebook so that `selector` (the nth match) is in view; the top of the notebook if none. */
async function scrollTo(page: Page, selector: string, nth = 0): Promise<void> {
  const el = page.locator(selector).nth(nth);
  if ((await el.count()) > 0) await el.scrollIntoViewIfNeeded();
}

/** What a dark theme does to the charts and the mode banner (see `darkCheck`). */
export interface DarkCheck {
  /** Charts drawn, and those whose paper stays opaque (a white box on the dark page). */
  charts: number;
  opaquePaper: number;
  /** The lowest contrast ratio (WCAG) of a chart's text, and of the banner's, against what is behind it. */
  chartTextContrast: number;
  bannerContrast: number | null;
}

/** What a 900 px window does to the charts (see `narrowCheck`). */
export interface NarrowCheck {
  /** Width of the widest output area, charts drawn, and charts reaching past their output area's edge. */
  outputWidth: number;
  charts: number;
  spilling: number;
  /** Charts past the edge at the first look, before any was scrolled to (those far off screen not yet refitted). */
  spillingAtFirstLook?: number;
  /** Each chart past the edge: its place among the page's charts, its drawn width, its div's and its output area's. */
  spillers: { index: number; drawn: number; div: number; area: number }[];
}

/**
 * Page-side (passed to `page.evaluate`, so self-contained): under the theme now set, every drawn chart's
 * paper must be transparent and its text readable against the notebook's background; the same for the
 * quick/full-mode banner (a translucent tint over the background). Contrast is WCAG's ratio of relative
 * luminances, (L1 + 0.05) / (L2 + 0.05); 4.5 is its bar for text.
 */
function darkCheck(): DarkCheck {
  const parse = (c: string): number[] => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (m) {
      const v = m[1].split(",").map((x) => parseFloat(x));
      return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
    }
    const h = c.trim().replace("#", "");
    const full = h.length === 3 ? h.split("").map((x) => x + x).join("") : h;
    return [parseInt(full.slice(0, 2), 16), parseInt(full.slice(2, 4), 16), parseInt(full.slice(4, 6), 16), 1];
  };
  const over = (top: number[], under: number[]) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
  const lum = (c: number[]) => {
    const ch = c.slice(0, 3).map((v) => {
      const x = v / 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  const contrast = (a: number[], b: number[]) => {
    const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const nb = document.querySelector(".jp-Notebook") ?? document.body;
  let ground = parse(getComputedStyle(nb).backgroundColor);
  if (ground[3] === 0) ground = parse(getComputedStyle(document.body).backgroundColor);
  const drawn = [...document.querySelectorAll('div.vae-lab-plot[data-rendered="1"]')] as (HTMLElement & { _fullLayout?: { paper_bgcolor: string; font: { color: string } } })[];
  let opaquePaper = 0;
  let chartTextContrast = Infinity;
  for (const el of drawn) {
    const fl = el._fullLayout;
    if (!fl) continue;
    const paper = parse(fl.paper_bgcolor);
    if (paper[3] > 0) opaquePaper++;
    chartTextContrast = Math.min(chartTextContrast, contrast(over(parse(fl.font.color), over(paper, ground)), over(paper, ground)));
  }
  const banner = document.querySelector(".vae-lab-mode");
  let bannerContrast: number | null = null;
  if (banner) {
    const st = getComputedStyle(banner);
    const behind = over(parse(st.backgroundColor), ground);
    bannerContrast = contrast(over(parse(st.color), behind), behind);
  }
  return { charts: drawn.length, opaquePaper, chartTextContrast, bannerContrast };
}

/** The charts drawn on the page, in page order (`narrowCheck` counts by this). */
const DRAWN_CHART = 'div.vae-lab-plot[data-rendered="1"]';

/**
 * Page-side: each drawn chart's plot (plotly's outer svg) lies within its output area, left and right; with
 * `only`, the chart of that place alone (the others still counted in `charts`).
 */
function narrowCheck(only?: number): NarrowCheck {
  let outputWidth = 0;
  const spillers: NarrowCheck["spillers"] = [];
  const drawn = [...document.querySelectorAll('div.vae-lab-plot[data-rendered="1"]')];
  drawn.forEach((el, index) => {
    if (only !== undefined && index !== only) return;
    const area = el.closest(".jp-OutputArea-output") ?? el.parentElement!;
    const a = area.getBoundingClientRect();
    outputWidth = Math.max(outputWidth, a.width);
    const svg = el.querySelector(".main-svg");
    if (!svg) return;
    const r = svg.getBoundingClientRect();
    if (r.left < a.left - 1 || r.right > a.right + 1) spillers.push({ index, drawn: Math.round(r.width), div: (el as HTMLElement).clientWidth, area: Math.round(a.width) });
  });
  return { outputWidth: Math.round(outputWidth), charts: drawn.length, spilling: spillers.length, spillers };
}

const setTheme = (page: Page, theme: string) => page.evaluate((t) => (window as unknown as Win).jupyterapp!.commands.execute("apputils:change-theme", { theme: t }), theme);

/**
 * The dark theme and a 900 px window, checked (`darkCheck`, `narrowCheck`) on a notebook that has run, and
 * with `file` also photographed for looking at: in the dark theme at 1400 px, and in the light theme at
 * 900 px; each at the top (the mode banner) and at the first chart, the narrow window also at its widest
 * chart. The theme is set back to light afterwards: it is a user setting, kept by the server for later pages.
 */
async function themeAndWidth(page: Page, file?: (what: string) => string): Promise<{ dark: DarkCheck; narrow: NarrowCheck; screenshots: string[] }> {
  const shots: string[] = [];
  const settle = () => page.waitForTimeout(1500); // the theme's stylesheet, the charts' debounced refit and relayout
  const take = async (what: string) => {
    if (!file) return;
    await page.screenshot({ path: file(what) });
    shots.push(file(what));
  };
  // The top of the notebook (the mode banner) and its first chart.
  const topAndFirstChart = async (prefix: string) => {
    for (const [selector, what] of [[".jp-Cell", "top"], ["div.vae-lab-plot", "chart"]]) {
      await scrollTo(page, selector);
      await settle();
      await take(`${prefix}-${what}`);
    }
  };
  let dark: DarkCheck;
  try {
    await setTheme(page, "JupyterLab Dark");
    await page.waitForFunction(() => document.body.getAttribute("data-jp-theme-light") === "false", undefined, { timeout: 30_000 });
    await settle();
    dark = await page.evaluate(darkCheck);
    if (file) await topAndFirstChart("dark");
  } finally {
    await setTheme(page, "JupyterLab Light");
  }
  await page.setViewportSize({ width: 900, height: VIEWPORT.height });
  await settle();
  // Each chart as a reader sees it: scrolled to, then given the time of its refit (a debounced redraw). JupyterLab
  // skips the layout of cells far off screen (content-visibility), so a chart there is only laid out at the new
  // width, and refitted, once it comes near the view; the first look, before any scrolling, is kept for the record.
  // A chart still past the edge is looked at again every 0.25 s for up to 5 s (on a busy machine the refit can
  // come later than its 0.6 s on an idle one); one that stays past the edge is recorded.
  const firstLook = await page.evaluate(narrowCheck, undefined);
  const spillers: NarrowCheck["spillers"] = [];
  for (let i = 0; i < firstLook.charts; i++) {
    await scrollTo(page, DRAWN_CHART, i);
    await page.waitForTimeout(600);
    let seen = await page.evaluate(narrowCheck, i);
    for (let waited = 600; seen.spillers.length > 0 && waited < 5000; waited += 250) {
      await page.waitForTimeout(250);
      seen = await page.evaluate(narrowCheck, i);
    }
    spillers.push(...seen.spillers);
  }
  const narrow = { ...firstLook, spilling: spillers.length, spillers, spillingAtFirstLook: firstLook.spilling };
  if (file) {
    await topAndFirstChart("narrow");
    // The widest chart (image grids have a fixed width), where a narrow window clips first.
    const widest = await page.evaluate(() => {
      const plots = [...document.querySelectorAll("div.vae-lab-plot")];
      const widths = plots.map((p) => (p.querySelector(".main-svg") as SVGElement | null)?.getBoundingClientRect().width ?? 0);
      return widths.indexOf(Math.max(...widths));
    });
    if (widest >= 0) {
      await scrollTo(page, "div.vae-lab-plot", widest);
      await settle();
      await take("narrow-widest-chart");
    }
  }
  await page.setViewportSize(VIEWPORT);
  return { dark, narrow, screenshots: shots };
}

/**
 * Run the first cell that drew a chart once more (as a learner does after changing a parameter), after the
 * whole notebook has run, wait until it has run and its charts are drawn, and save. Returns the cell's index
 * and its error outputs (a cell that needs something a later cell disposed fails here).
 */
async function rerunFirstChartCellAndSave(page: Page, notebook: string, timeoutMs: number): Promise<{ cell: number; errors: string[] }> {
  const rerunCell = await page.evaluate(() =>
    (window as unknown as Win).jupyterapp!.shell.currentWidget!.content!.widgets.findIndex((c) =>
      (c.model.outputs?.toJSON() ?? []).some((o) => String(o.data?.["text/html"] ?? "").includes('class="vae-lab-plot"')),
    ),
  );
  if (rerunCell < 0) throw new Error(`${notebook}: no cell drew a chart`);
  const before = await page.evaluate((i) => (window as unknown as Win).jupyterapp!.shell.currentWidget!.content!.widgets[i].model.executionCount as number, rerunCell);
  await page.evaluate((i) => {
    const app = (window as unknown as Win).jupyterapp!;
    app.shell.currentWidget!.content!.activeCellIndex = i;
    return app.commands.execute("notebook:run-cell");
  }, rerunCell);
  await page.waitForFunction(
    ([i, n]) => {
      const w = (window as unknown as Win).jupyterapp!.shell.currentWidget!;
      const count = w.content!.widgets[i].model.executionCount;
      return typeof count === "number" && count > n && w.sessionContext?.session?.kernel?.status === "idle";
    },
    [rerunCell, before] as const,
    { timeout: timeoutMs, polling: 500 },
  );
  await waitForCharts(page, 30_000);
  const errors = await page.evaluate(
    (i) =>
      ((window as unknown as Win).jupyterapp!.shell.currentWidget!.content!.widgets[i].model.outputs?.toJSON() ?? [])
        .filter((o) => o.output_type === "error")
        .map((o) => `${o.ename}: ${o.evalue}`),
    rerunCell,
  );
  await page.evaluate(() => (window as unknown as Win).jupyterapp!.commands.execute("docmanager:save"));
  await page.waitForFunction(() => !(window as unknown as Win).jupyterapp!.shell.currentWidget!.context!.model.dirty, undefined, { timeout: 60_000 });
  return { cell: rerunCell, errors };
}

/**
 * Open `notebook` (a scratch copy in the server's folder: the front end may autosave into it) in a front end,
 * clear its outputs, Run All, wait until every code cell has run and the kernel is idle, and count what the
 * page shows; then check it in the dark theme and a 900 px window (`themeAndWidth`; `screenshot(what)` names
 * the screenshots, if wanted); with `rerunAndSave`, run the first chart cell again and save (the file is
 * written). The kernel is shut down at the end.
 */
export async function runAllInFrontEnd(
  browser: Browser,
  base: string,
  frontEnd: FrontEnd,
  notebook: string,
  options: { timeoutMs?: number; screenshot?: (what: string) => string; rerunAndSave?: boolean } = {},
): Promise<LabRun & { dark: DarkCheck; narrow: NarrowCheck; screenshots: string[]; rerun: { cell: number; errors: string[] } | null }> {
  const pageErrors: string[] = [];
  const context = await browser.newContext({ viewport: VIEWPORT });
  const timeoutMs = options.timeoutMs ?? 900_000;
  try {
    const page = await openNotebook(context, base, frontEnd, notebook, pageErrors);
    await page.evaluate(() => (window as unknown as Win).jupyterapp!.commands.execute("notebook:clear-all-cell-outputs"));
    const t0 = Date.now();
    await page.evaluate(() => (window as unknown as Win).jupyterapp!.commands.execute("notebook:run-all-cells"));
    // The kernel may still report idle for a moment after Run All: wait until it has been busy or cells ran.
    await page.waitForFunction(finished, undefined, { timeout: timeoutMs, polling: 500 });
    const seconds = (Date.now() - t0) / 1000;
    await waitForCharts(page, 30_000);
    const counts = await inspect(page);
    const looks = await themeAndWidth(page, options.screenshot);
    const rerun = options.rerunAndSave ? await rerunFirstChartCellAndSave(page, notebook, timeoutMs) : null;
    await page.evaluate(() => (window as unknown as Win).jupyterapp!.shell.currentWidget!.sessionContext!.shutdown());
    return { ...counts, seconds, pageErrors, ...looks, rerun };
  } finally {
    await context.close();
  }
}

export interface Reopened {
  /** Whether the front end trusts the file's outputs (and so runs their scripts). */
  trusted: boolean;
  /** Charts in the saved outputs (the model), chart divs on the page, and those plotly drew. */
  chartOutputs: number;
  plots: number;
  rendered: number;
  /** Chart divs whose placeholder text (what a notebook that is not trusted shows) is visible. */
  placeholdersVisible: number;
  pageErrors: string[];
}

/**
 * Open a saved notebook in a fresh browser context, run nothing, and count the charts drawn from the file.
 * The kernel the front end starts for it is not waited for (`shutdownKernels` stops it afterwards).
 */
export async function reopen(browser: Browser, base: string, frontEnd: FrontEnd, notebook: string): Promise<Reopened> {
  const pageErrors: string[] = [];
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const page = await openNotebook(context, base, frontEnd, notebook, pageErrors, false);
    // The charts the file holds (the model), then until the page has a div for each: the front end attaches
    // cell outputs a few at a time, so counting at the first chart div can count only some of them.
    const chartOutputs = await page.evaluate(modelChartOutputs);
    await page
      .waitForFunction((n) => document.querySelectorAll("div.vae-lab-plot").length >= n, chartOutputs, { timeout: 60_000, polling: 250 })
      .catch(() => undefined);
    const trusted = await page.evaluate(() =>
      (window as unknown as Win).jupyterapp!.shell.currentWidget!.content!.widgets.filter((c) => c.model.type === "code").every((c) => (c.model as { trusted?: boolean }).trusted !== false),
    );
    // Scripts of trusted outputs draw within seconds; untrusted ones never run: a short look is enough.
    await waitForCharts(page, trusted ? 60_000 : 5_000);
    let placeholdersVisible = 0;
    const plots = page.locator("div.vae-lab-plot");
    for (let i = 0; i < (await plots.count()); i++) {
      await plots.nth(i).scrollIntoViewIfNeeded();
      if (await plots.nth(i).locator("p.vae-lab-plot-placeholder").isVisible()) placeholdersVisible++;
    }
    const counts = await page.evaluate(() => ({
      plots: document.querySelectorAll("div.vae-lab-plot").length,
      rendered: document.querySelectorAll('div.vae-lab-plot[data-rendered="1"]').length,
    }));
    return { ...counts, chartOutputs, trusted, placeholdersVisible, pageErrors };
  } finally {
    await context.close();
  }
}

/**
 * A copy of a saved notebook that this server did not sign: the same outputs, with one line added to the
 * first markdown cell (as a notebook downloaded from elsewhere and edited). Jupyter's signature is a hash of
 * the notebook's content kept by the server, so a byte-for-byte copy under a new name would still be trusted;
 * a changed one is not, and its HTML outputs are shown without their scripts.
 */
export function untrustedCopy(dir: string, from: string, to: string): void {
  const nb = JSON.parse(fs.readFileSync(path.join(dir, from), "utf8")) as { cells: { cell_type: string; source: string | string[] }[]; metadata: Record<string, unknown> };
  delete nb.metadata.signature;
  const md = nb.cells.find((c) => c.cell_type === "markdown");
  if (md) md.source = [...(Array.isArray(md.source) ? md.source : [md.source]), "\n\n(a copy)"];
  fs.writeFileSync(path.join(dir, to), JSON.stringify(nb, null, 1) + "\n");
}

/**
 * Shut down every kernel of the server at `base` (tests run one after another, so none is still in use): a
 * kernel left by a failed test, or started for a reopened notebook, must not take CPU from the next test.
 */
export async function shutdownKernels(base: string): Promise<void> {
  const url = new URL(base);
  const api = (p: string) => `${url.origin}/api/${p}${url.search}`;
  const res = await fetch(api("kernels"));
  if (!res.ok) throw new Error(`GET /api/kernels: ${res.status}`);
  for (const k of (await res.json()) as { id: string }[]) await fetch(api(`kernels/${k.id}`), { method: "DELETE" });
}
