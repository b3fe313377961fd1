/**
 * Loading HTML pages in headless Chromium (Debian's, driven by playwright-core, which downloads nothing)
 * and checking that every vae-lab chart rendered: each chart is a `div.vae-lab-plot` that gets
 * `data-rendered="1"` once plotly has drawn it.
 */
import * as fs from "fs";
import * as path from "path";
import { Browser, Page, chromium as pw } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { scratchDir } from "./scratch";

export function findChromium(): string | undefined {
  for (const c of [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    if (c && fs.existsSync(c)) return c;
  }
  return undefined;
}

export async function launch(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("no Chromium found (apt-get install chromium)");
  return pw.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** One Chromium for the enclosing describe block: launched before its tests, closed after. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error("the browser did not start");
    return browser;
  };
}

export interface RenderCheck {
  plots: number;
  rendered: number;
  /** Page errors (uncaught exceptions) and failed requests: anything that did not load offline. */
  errors: string[];
}

/** Open a page, wait until its charts are drawn (or `timeoutMs` passes), and count them. */
export async function checkCharts(browser: Browser, htmlFile: string, options: { timeoutMs?: number; screenshot?: { nth: number; file: string } } = {}): Promise<RenderCheck> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => errors.push(`failed to load ${r.url()}`));
  try {
    await page.goto("file://" + path.resolve(htmlFile), { waitUntil: "load", timeout: 120_000 });
    const plots = await page.locator("div.vae-lab-plot").count();
    try {
      await page.waitForFunction(() => document.querySelectorAll('div.vae-lab-plot:not([data-rendered="1"])').length === 0, undefined, {
        timeout: options.timeoutMs ?? 60_000,
      });
    } catch {
      // counted below
    }
    const rendered = await page.locator('div.vae-lab-plot[data-rendered="1"]').count();
    if (options.screenshot) {
      const el = page.locator("div.vae-lab-plot").nth(options.screenshot.nth);
      await el.scrollIntoViewIfNeeded();
      await el.screenshot({ path: options.screenshot.file });
    }
    return { plots, rendered, errors };
  } finally {
    await page.close();
  }
}

/** A temporary folder for test pages, removed when the test file finishes. */
export function tmpDir(): string {
  return scratchDir("vae-lab-browser-");
}

/**
 * Wait until the page's kernel is connected and has answered its kernel_info request; a kernel that has not
 * answered after two minutes is stopped and the notebook opened again, once (as a reader would close and
 * reopen it). tslab 1.0.22 alone can lose its first request for good: its receive loops start before its
 * sockets finish binding, and a request that lands in between makes zeromq throw EBUSY inside the loop
 * ("Socket is blocked by a bind or unbind operation"), after which that kernel answers nothing; seen once in a
 * CI run (the server logged "Timeout waiting for kernel_info reply"). The kernel registered for these tests,
 * src/notebook/kernel.ts, binds before it reads; this stays as the reader's remedy for a kernel silent for any
 * other reason. Said on the test's output when it happens.
 */
async function kernelReady(page: Page, notebook: string): Promise<void> {
  type K = { info_reply: Record<string, unknown>; kill(done: () => void): void; is_connected(): boolean };
  const connected = () => !!(window as unknown as { IPython?: { notebook?: { kernel?: K } } }).IPython?.notebook?.kernel?.is_connected();
  const answered = () => Object.keys((window as unknown as { IPython: { notebook: { kernel: K } } }).IPython.notebook.kernel.info_reply ?? {}).length > 0;
  for (let attempt = 1; ; attempt++) {
    await page.waitForFunction(connected, undefined, { timeout: 120_000 });
    try {
      await page.waitForFunction(answered, undefined, { timeout: 120_000 });
      return;
    } catch (e) {
      if (attempt === 2) throw e;
      console.log(`${notebook}: the kernel gave no kernel_info reply in 120 s; stopping it and opening the notebook again`);
    }
    // Stop that kernel (the server's DELETE, which waits for it and then kills it), then open the notebook
    // again: a new session with a new kernel.
    await page.evaluate(
      () =>
        new Promise<void>((done) => {
          const k = (window as unknown as { IPython: { notebook: { kernel: K } } }).IPython.notebook.kernel;
          k.kill(() => done());
          setTimeout(done, 90_000);
        }),
    );
    await page.reload();
  }
}

/**
 * Open a notebook in a running Jupyter Notebook (6.x) server, run all its cells through the page (as a
 * reader clicking "Run All" would), wait for every code cell to finish, and count its charts.
 * `base` is the server URL with its token, e.g. http://127.0.0.1:8899/?token=abc.
 */
export async function runInNotebookUI(browser: Browser, base: string, notebook: string, timeoutMs = 600_000): Promise<RenderCheck & { stderrOutputs: number }> {
  const url = new URL(base);
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  try {
    await page.goto(`${url.origin}/notebooks/${encodeURIComponent(notebook)}${url.search}`);
    type Cell = { cell_type: string; get_text(): string; input_prompt_number: unknown };
    type NotebookUI = {
      notebook: { kernel: { kill(): void }; execute_all_cells(): void; get_cells(): Cell[]; set_autosave_interval(ms: number): void };
    };
    await kernelReady(page, notebook);
    // Never write outputs back into the notebook file.
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.set_autosave_interval(0));
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.execute_all_cells());
    await page.waitForFunction(
      () =>
        (window as unknown as { IPython: NotebookUI }).IPython.notebook
          .get_cells()
          .filter((c) => c.cell_type === "code" && c.get_text().trim() !== "")
          .every((c) => typeof c.input_prompt_number === "number"),
      undefined,
      { timeout: timeoutMs, polling: 500 },
    );
    await page
      .waitForFunction(() => document.querySelectorAll('div.vae-lab-plot:not([data-rendered="1"])').length === 0, undefined, { timeout: 30_000 })
      .catch(() => undefined);
    const counts = await page.evaluate(() => ({
      plots: document.querySelectorAll("div.vae-lab-plot").length,
      rendered: document.querySelectorAll('div.vae-lab-plot[data-rendered="1"]').length,
      stderrOutputs: document.querySelectorAll(".output_stderr").length,
    }));
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.kernel.kill());
    return { ...counts, errors };
  } finally {
    await page.close();
  }
}

/**
 * A learner's round trip in the Jupyter Notebook (6.x) UI: open `notebook`, Run All, run the first chart
 * cell a second time (as after changing a parameter), save, close; then open the saved file in a fresh
 * browser context, with no kernel running anything, and count the charts that draw from the saved outputs
 * alone. The notebook must be a scratch copy inside the server's folder: it is written.
 */
export async function rerunSaveReopen(browser: Browser, base: string, notebook: string, timeoutMs = 600_000): Promise<{ plots: number; rendered: number; rerunCell: number; errors: string[] }> {
  const url = new URL(base);
  const address = `${url.origin}/notebooks/${encodeURIComponent(notebook)}${url.search}`;
  type Cell = { cell_type: string; get_text(): string; input_prompt_number: unknown; output_area: { outputs: unknown[] } };
  type NotebookUI = {
    notebook: {
      kernel: { kill(): void };
      execute_all_cells(): void;
      execute_cells(indices: number[]): void;
      get_cells(): Cell[];
      set_autosave_interval(ms: number): void;
      save_notebook(): Promise<unknown>;
      dirty: boolean;
    };
  };
  const errors: string[] = [];
  const first = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  let rerunCell = -1;
  try {
    const page = await first.newPage();
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    await page.goto(address);
    await kernelReady(page, notebook);
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.set_autosave_interval(0));
    const allDone = () =>
      (window as unknown as { IPython: NotebookUI }).IPython.notebook
        .get_cells()
        .filter((c) => c.cell_type === "code" && c.get_text().trim() !== "")
        .every((c) => typeof c.input_prompt_number === "number");
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.execute_all_cells());
    await page.waitForFunction(allDone, undefined, { timeout: timeoutMs, polling: 500 });
    // The first cell that drew a chart, run again.
    rerunCell = await page.evaluate(() =>
      (window as unknown as { IPython: NotebookUI }).IPython.notebook.get_cells().findIndex((c) =>
        ((c.output_area?.outputs ?? []) as { data?: Record<string, unknown> }[]).some((o) => String(o.data?.["text/html"] ?? "").includes('class="vae-lab-plot"')),
      ),
    );
    if (rerunCell < 0) throw new Error(`${notebook}: no cell drew a chart`);
    const before = await page.evaluate((i) => (window as unknown as { IPython: NotebookUI }).IPython.notebook.get_cells()[i].input_prompt_number as number, rerunCell);
    await page.evaluate((i) => (window as unknown as { IPython: NotebookUI }).IPython.notebook.execute_cells([i]), rerunCell);
    await page.waitForFunction(
      ([i, n]) => {
        const c = (window as unknown as { IPython: NotebookUI }).IPython.notebook.get_cells()[i];
        return typeof c.input_prompt_number === "number" && c.input_prompt_number > n;
      },
      [rerunCell, before] as const,
      { timeout: timeoutMs, polling: 500 },
    );
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.save_notebook());
    await page.waitForFunction(() => !(window as unknown as { IPython: NotebookUI }).IPython.notebook.dirty, undefined, { timeout: 60_000 });
    await page.evaluate(() => (window as unknown as { IPython: NotebookUI }).IPython.notebook.kernel.kill());
  } finally {
    await first.close();
  }
  const second = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  try {
    const page = await second.newPage();
    page.on("pageerror", (e) => errors.push(`page error (reopened): ${e.message}`));
    await page.goto(address);
    await page.waitForSelector("div.vae-lab-plot", { timeout: 120_000 });
    await page
      .waitForFunction(() => document.querySelectorAll('div.vae-lab-plot:not([data-rendered="1"])').length === 0, undefined, { timeout: 60_000 })
      .catch(() => undefined);
    const counts = await page.evaluate(() => ({
      plots: document.querySelectorAll("div.vae-lab-plot").length,
      rendered: document.querySelectorAll('div.vae-lab-plot[data-rendered="1"]').length,
    }));
    return { ...counts, rerunCell, errors };
  } finally {
    await second.close();
  }
}
