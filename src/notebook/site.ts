/**
 * The published notebooks: execute every notebook in a folder through the tslab kernel (full mode, or quick
 * mode for CI) and export each as an HTML page with working, offline, interactive charts, all in one folder
 * with an index page and the shared assets (plotly.js and MathJax) beside them. Pages are written
 * atomically, and the index only after every notebook ran, so a failed build never looks finished.
 */
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../files/atomic-write";
import { plotlyBundlePath } from "../plot/plot";
import { escapeHtml, hrefTo, MATHJAX_CONFIG, NotebookJson, notebookPage, notebookTitle, renderMarkdown } from "./html";
import { failureLine, runNotebook } from "./runner";
import { plural } from "../cli/plural";

export interface SiteOptions {
  /** Folder of .ipynb files. */
  notebooks: string;
  /** Output folder. */
  out: string;
  /** VAE_LAB_QUICK=1 for the kernels. */
  quick: boolean;
  /** Only notebooks whose file name contains one of these strings. */
  only?: string[];
  log?: (message: string) => void;
}

export interface SitePage {
  notebook: string;
  page: string;
  title: string;
  seconds: number;
}

export class NotebookFailedError extends Error {}

/**
 * The first paragraph of a notebook's text, cut after the last whole sentence that fits in `max` characters.
 * A summary never ends on a colon (a paragraph that introduces a list is cut back to its last full sentence)
 * and never mid-sentence unless a single sentence is longer than `max`.
 */
export function summary(nb: NotebookJson, max = 320): string {
  for (const c of nb.cells) {
    if (c.cell_type !== "markdown") continue;
    const text = (Array.isArray(c.source) ? c.source.join("") : c.source).split(/\n\s*\n/).find((p) => p.trim() && !p.trim().startsWith("#"));
    if (!text) continue;
    const flat = text.replace(/\s+/g, " ").trim();
    if (flat.length <= max && !flat.endsWith(":")) return flat;
    const cut = flat.slice(0, Math.min(max, flat.length)) + " ";
    const end = Math.max(...[". ", "? ", "! "].map((s) => cut.lastIndexOf(s)));
    if (end > 0) return cut.slice(0, end + 1);
    const words = cut.slice(0, max).trimEnd();
    return `${words.slice(0, words.lastIndexOf(" ")).replace(/[:;,]$/, "")} …`;
  }
  return "";
}

/** The navigation bar: Contents, then each notebook's number (file names are escaped, never markup). */
export function siteNav(pages: { notebook: string; page: string }[], current: string): string {
  return [`<a href="index.html">Contents</a>`, ...pages.map((p) => (p.page === current ? `<b>${escapeHtml(p.notebook.slice(0, 2))}</b>` : `<a href="${hrefTo(p.page)}">${escapeHtml(p.notebook.slice(0, 2))}</a>`))].join(" ");
}

/**
 * One entry of the index page, numbered with the notebook's own number (the digits its file name begins
 * with, "07" of 07_vae_mnist.ipynb), not its place in the list, so a site of some notebooks (--only) keeps
 * their numbers. A title that begins with that number ("07 · A VAE on MNIST") is shown without it.
 */
export function indexItem(p: SitePage & { summary: string }): string {
  const desc = renderMarkdown(p.summary).replace(/^<p>|<\/p>\s*$/g, "");
  const number = /^\d+/.exec(p.notebook)?.[0];
  const title = number ? p.title.replace(new RegExp(`^${number}\\s*[·.:—–-]?\\s*`), "") || p.title : p.title;
  const num = number ? `<span class="num">${escapeHtml(number)}</span>` : `<span class="num"></span>`;
  return `<li>${num}<span class="entry"><a href="${hrefTo(p.page)}">${escapeHtml(title)}</a><br><span class="desc">${desc}</span> <span class="time">(${p.seconds.toFixed(0)} s)</span></span></li>`;
}

export async function buildSite(options: SiteOptions): Promise<SitePage[]> {
  const log = options.log ?? (() => undefined);
  let files = fs.readdirSync(options.notebooks).filter((f) => f.endsWith(".ipynb")).sort();
  if (options.only?.length) files = files.filter((f) => options.only!.some((o) => f.includes(o)));
  if (files.length === 0) throw new Error(`no notebooks found in ${options.notebooks}`);
  const assets = path.join(options.out, "assets");
  fs.mkdirSync(assets, { recursive: true });
  fs.copyFileSync(plotlyBundlePath(), path.join(assets, "plotly.js"));
  fs.copyFileSync(require.resolve("mathjax/es5/tex-svg-full.js"), path.join(assets, "tex-svg-full.js"));
  // Figures the notebooks' markdown shows (![…](figures/….svg)) go beside the pages, so the same links work.
  const figures = path.join(options.notebooks, "figures");
  if (fs.existsSync(figures)) fs.cpSync(figures, path.join(options.out, "figures"), { recursive: true });

  const pages: (SitePage & { summary: string })[] = files.map((f) => ({ notebook: f, page: f.replace(/\.ipynb$/, ".html"), title: f, seconds: 0, summary: "" }));
  const nav = (current: string) => siteNav(pages, current);
  for (const p of pages) {
    log(`running ${p.notebook}${options.quick ? " (quick mode)" : ""}…`);
    const executed = path.join(options.out, "executed", p.notebook);
    const run = await runNotebook(path.join(options.notebooks, p.notebook), {
      env: { VAE_LAB_QUICK: options.quick ? "1" : "" },
      cellTimeoutSeconds: 3600,
      writeTo: executed,
    });
    if (run.failure) throw new NotebookFailedError(`${p.notebook}: cell ${run.failure.index} failed: ${failureLine(run.failure.message)}`);
    const nb = JSON.parse(fs.readFileSync(executed, "utf8")) as NotebookJson;
    p.title = notebookTitle(nb, p.notebook);
    p.summary = summary(nb);
    p.seconds = run.seconds;
    writeFileAtomic(path.join(options.out, p.page), notebookPage(nb, { title: p.title, assets: "assets", nav: nav(p.page) }));
    log(`  ${p.page}: ${plural(run.cells.length, "code cell")} in ${run.seconds.toFixed(1)} s`);
  }
  const items = pages.map(indexItem).join("\n");
  const total = pages.reduce((s, p) => s + p.seconds, 0);
  writeFileAtomic(
    path.join(options.out, "index.html"),
    `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vae-lab notebooks</title>
<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}ul.toc{list-style:none;padding-left:0}ul.toc li{display:flex;gap:.8em;margin:.8em 0}.num{flex:0 0 2em;text-align:right;color:#666;font-variant-numeric:tabular-nums}.desc{color:#555;font-size:.92em}.time{color:#999;font-size:.8em}</style>
<script>${MATHJAX_CONFIG}</script>
<script src="assets/tex-svg-full.js" async></script>
</head><body>
<h1>vae-lab: Variational Autoencoders, from Bayes' rule to MNIST</h1>
<p>Executed notebooks, ${options.quick ? "in quick mode (fewer epochs, images and samples than a full run; each page's first output says so too)" : "in full mode (the complete runs each notebook describes)"}, generated ${new Date().toISOString().slice(0, 10)}; ${plural(pages.length, "notebook")}, ${total.toFixed(0)} s of computation. Everything here works offline.</p>
<ul class="toc">
${items}
</ul>
</body></html>
`,
  );
  log(`wrote ${path.join(options.out, "index.html")} and ${plural(pages.length, "page")} (${total.toFixed(0)} s in all)`);
  return pages.map(({ summary: _summary, ...page }) => page);
}
