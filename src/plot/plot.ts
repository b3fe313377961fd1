/**
 * Plotly figures: small builders for the charts this package draws, and two ways to show them.
 *
 * - In a tslab notebook, `show(fig)` from `vae-lab/notebook` renders an interactive chart. The plotly.js bundle (from the
 *   `plotly.js-dist` package, never a CDN) is sent once per kernel session, in the output of the first chart,
 *   so notebooks work offline in Jupyter Notebook and JupyterLab and in their HTML exports. (Jupyter runs
 *   the scripts of trusted outputs only: outputs you produce are trusted; a notebook opened from disk may
 *   need "Trust Notebook".)
 * - In a script, `saveHtml(file, figs)` writes one standalone HTML page with plotly.js inlined.
 *
 * Every chart is a `<div class="vae-lab-plot">` that gets `data-rendered="1"` once plotly has drawn it,
 * which is what the headless-browser checks look for.
 */
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../files/atomic-write";

/** A plotly figure: traces, layout and config as plotly.js takes them. */
export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

type Numbers = ArrayLike<number>;

export interface AxesOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
  /** Ticks at whole numbers only on the x axis (epochs, counts). */
  integerX?: boolean;
}

/**
 * A log axis labelled at powers of ten written as powers (10⁻⁶, not "1µ") when the values span at least a
 * decade, so no minor labels (2, 3, 4, 5…) crowd it; over less than a decade plotly's own ticks are kept.
 */
export function logAxis(values: Iterable<number | null | undefined> = []): Record<string, unknown> {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (typeof v === "number" && v > 0 && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const axis: Record<string, unknown> = { type: "log", exponentformat: "power", showexponent: "all" };
  if (hi / lo >= 10) axis.dtick = Math.max(1, Math.ceil(Math.log10(hi / lo) / 8));
  return axis;
}

function axisLayout(title: string | undefined, log: boolean | undefined, values: Iterable<number | null | undefined> | undefined): Record<string, unknown> {
  return { title: { text: title ?? "" }, ...(log ? logAxis(values) : { type: "linear" }) };
}

function baseLayout(o: AxesOptions, xs?: Iterable<number | null | undefined>, ys?: Iterable<number | null | undefined>): Record<string, unknown> {
  return {
    title: o.title ? { text: o.title } : undefined,
    xaxis: { ...axisLayout(o.xTitle, o.logX, xs), ...(o.integerX ? { dtick: 1, tickformat: "d" } : {}) },
    yaxis: axisLayout(o.yTitle, o.logY, ys),
    width: o.width,
    height: o.height ?? 400,
    margin: { l: 60, r: 20, t: o.title ? 50 : 20, b: 50 },
  };
}

export interface Series {
  name: string;
  y: Numbers;
  /** Default 0, 1, 2, … */
  x?: Numbers;
  /** "lines" (default), "markers" or "lines+markers". */
  mode?: "lines" | "markers" | "lines+markers";
  dash?: "solid" | "dash" | "dot";
  /** Symmetric error bars. */
  error?: Numbers;
}

/** Line chart of one or more curves (loss curves, densities, variance vs. sample count…). */
export function lineChart(series: Series[], options: AxesOptions = {}): Figure {
  const data = series.map((s) => ({
    type: "scatter",
    name: s.name,
    mode: s.mode ?? "lines",
    x: s.x ? Array.from(s.x) : Array.from({ length: s.y.length }, (_, i) => i),
    y: Array.from(s.y),
    line: s.dash ? { dash: s.dash } : undefined,
    error_y: s.error ? { type: "data", array: Array.from(s.error), visible: true } : undefined,
  }));
  const all = (key: "x" | "y") => data.flatMap((d) => d[key] as number[]);
  const layout: Record<string, unknown> = { ...baseLayout(options, all("x"), all("y")), showlegend: series.length > 1 };
  // A log x axis over a few sample points (L = 2, 4, 16, 64; β = 0.5 … 784) is labelled at exactly those points.
  const xs = [...new Set(all("x"))].filter((v) => v > 0).sort((a, b) => a - b);
  if (options.logX && xs.length <= 8) layout.xaxis = { ...(layout.xaxis as object), tickvals: xs, ticktext: xs.map(String) };
  return { data, layout };
}

/** 2-D scatter with one trace (and colour, and legend entry) per label value, e.g. latent codes by digit. */
export function scatterByLabel(
  x: Numbers,
  y: Numbers,
  labels: Numbers,
  options: AxesOptions & { markerSize?: number; labelName?: (label: number) => string } = {},
): Figure {
  if (x.length !== y.length || x.length !== labels.length) {
    throw new Error(`scatterByLabel: x, y and labels differ in length (${x.length}, ${y.length}, ${labels.length})`);
  }
  const groups = new Map<number, { x: number[]; y: number[] }>();
  for (let i = 0; i < x.length; i++) {
    const g = groups.get(labels[i]) ?? { x: [], y: [] };
    g.x.push(x[i]);
    g.y.push(y[i]);
    groups.set(labels[i], g);
  }
  const name = options.labelName ?? ((l: number) => String(l));
  const data = [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([label, g]) => ({
      type: "scattergl",
      mode: "markers",
      name: name(label),
      x: g.x,
      y: g.y,
      marker: { size: options.markerSize ?? 4, opacity: 0.7 },
    }));
  return { data, layout: { ...baseLayout(options), showlegend: true } };
}

/**
 * Bar chart of values per category (a discrete distribution, counts per class…); several series group.
 * `style: "dots"` draws a marker per value instead of a bar — the right choice on a log axis, where a bar's
 * length means nothing.
 */
export function barChart(
  categories: (string | number)[],
  series: { name: string; values: Numbers }[],
  options: AxesOptions & { style?: "bars" | "dots" } = {},
): Figure {
  const dots = options.style === "dots";
  const data = series.map((s) =>
    dots
      ? { type: "scatter", mode: "markers", marker: { size: 11 }, name: s.name, x: categories.map(String), y: Array.from(s.values) }
      : { type: "bar", name: s.name, x: categories.map(String), y: Array.from(s.values) },
  );
  return {
    data,
    layout: {
      ...baseLayout(options, undefined, series.flatMap((s) => Array.from(s.values))),
      xaxis: { title: { text: options.xTitle ?? "" }, type: "category" },
      barmode: "group",
      // Dots of several series side by side within a category, as grouped bars would be.
      ...(dots ? { scattermode: "group" } : {}),
      showlegend: series.length > 1,
    },
  };
}

export interface HistogramSeries {
  name: string;
  values: Numbers;
}

/**
 * Histograms normalised to densities so different sample sizes compare: overlaid, or with `panels: true`
 * one panel per series, stacked on a shared x axis (several overlaid histograms blur into one mass).
 */
export function histogram(series: HistogramSeries[], options: AxesOptions & { bins?: number; panels?: boolean } = {}): Figure {
  const panels = options.panels === true && series.length > 1;
  const data = series.map((s, i) => ({
    type: "histogram",
    name: s.name,
    x: Array.from(s.values),
    histnorm: "probability density",
    opacity: series.length > 1 && !panels ? 0.6 : 1,
    nbinsx: options.bins ?? 50,
    ...(panels ? { yaxis: i === 0 ? "y" : `y${i + 1}` } : {}),
  }));
  const layout: Record<string, unknown> = { ...baseLayout(options), barmode: "overlay", showlegend: series.length > 1 };
  if (panels) {
    const n = series.length;
    const gap = 0.04;
    const h = (1 - gap * (n - 1)) / n;
    series.forEach((s, i) => {
      // Panel 0 at the top.
      const top = 1 - i * (h + gap);
      // Each panel's y axis is titled with its series (the legend would repeat it).
      layout[i === 0 ? "yaxis" : `yaxis${i + 1}`] = { domain: [top - h, top], title: { text: s.name }, anchor: "x" };
    });
    layout.showlegend = false;
    layout.height = options.height ?? 150 * n + 100;
    // The shared x axis (and its title) under the bottom panel.
    layout.xaxis = { ...(layout.xaxis as object), anchor: `y${n}` };
  }
  return { data, layout };
}

/** A heatmap of a matrix (row 0 drawn at the top, as images are). */
export function heatmap(z: number[][], options: AxesOptions & { colorscale?: string; showScale?: boolean } = {}): Figure {
  return {
    data: [{ type: "heatmap", z, colorscale: options.colorscale ?? "Viridis", showscale: options.showScale ?? true }],
    layout: { ...baseLayout(options), yaxis: { autorange: "reversed", scaleanchor: "x" } },
  };
}

export interface ImageGridOptions extends AxesOptions {
  /** Images per row of the grid; default ceil(sqrt(n)). */
  columns?: number;
  /** Pixels of gap between images. */
  gap?: number;
}

/**
 * Tile greyscale images (each `rows × cols` values in [0, 1], row-major, concatenated in `images`) into one
 * grid drawn as a single heatmap: black ink on white, as MNIST digits are usually shown.
 */
export function imageGrid(images: Numbers, rows: number, cols: number, options: ImageGridOptions = {}): Figure {
  const n = Math.floor(images.length / (rows * cols));
  if (n * rows * cols !== images.length || n === 0) {
    throw new Error(`imageGrid: ${images.length} values are not a whole number of ${rows}×${cols} images`);
  }
  const columns = options.columns ?? Math.ceil(Math.sqrt(n));
  const gridRows = Math.ceil(n / columns);
  const gap = options.gap ?? 1;
  const H = gridRows * rows + (gridRows - 1) * gap;
  const W = columns * cols + (columns - 1) * gap;
  const z: (number | null)[][] = Array.from({ length: H }, () => new Array<number | null>(W).fill(null));
  for (let k = 0; k < n; k++) {
    const r0 = Math.floor(k / columns) * (rows + gap);
    const c0 = (k % columns) * (cols + gap);
    for (let r = 0; r < rows; r++) {
      // Three decimals are plenty for grey levels and keep pages small.
      for (let c = 0; c < cols; c++) z[r0 + r][c0 + c] = Math.round(images[k * rows * cols + r * cols + c] * 1000) / 1000;
    }
  }
  const size = options.width ?? Math.min(800, Math.max(200, W * 4));
  return {
    data: [{ type: "heatmap", z, colorscale: "Greys", reversescale: true, zmin: 0, zmax: 1, showscale: false, hoverinfo: "skip" }],
    layout: {
      title: options.title ? { text: options.title } : undefined,
      width: size,
      height: options.height ?? Math.round((size * H) / W) + (options.title ? 50 : 20),
      margin: { l: 10, r: 10, t: options.title ? 50 : 10, b: 10 },
      xaxis: { visible: false, constrain: "domain" },
      yaxis: { visible: false, autorange: "reversed", scaleanchor: "x" },
      plot_bgcolor: "white",
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/** The plotly.js bundle's source (read once). */
let plotlySource: string | undefined;
function plotlyJs(): string {
  plotlySource ??= fs.readFileSync(require.resolve("plotly.js-dist/plotly.js"), "utf8");
  return plotlySource;
}

/** `<script>` with the whole plotly.js bundle, safe to embed in HTML. */
export function plotlyScriptTag(): string {
  return `<script type="text/javascript" data-vae-lab-plotly="1">${plotlyJs().replace(/<\/script/gi, "<\\/script")}</script>`;
}

let divCounter = 0;
function nextDivId(): string {
  divCounter += 1;
  return `vae-lab-plot-${process.pid.toString(36)}-${Date.now().toString(36)}-${divCounter}`;
}

function toJson(value: unknown): string {
  const s = JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as number[]) : v));
  // Keep "</script>" and friends out of the inline script.
  return s.replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The HTML of one chart: a div and a script that draws it once `window.Plotly` exists (it waits, so charts
 * may appear before the bundle in the page, as happens when outputs render out of order).
 */
export function figureHtml(fig: Figure): string {
  const id = nextDivId();
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  return `<div id="${id}" class="vae-lab-plot" style="min-height:${Number(fig.layout.height ?? 400)}px"></div>
<script type="text/javascript">(function () {
  var fig = ${toJson({ data: fig.data, layout: fig.layout, config })};
  var tries = 0;
  function draw() {
    var el = document.getElementById(${JSON.stringify(id)});
    if (!el) return;
    if (!window.Plotly) { if (++tries < 600) setTimeout(draw, 50); else el.textContent = "plotly.js did not load"; return; }
    window.Plotly.newPlot(el, fig.data, fig.layout, fig.config).then(function () { el.setAttribute("data-rendered", "1"); });
  }
  draw();
})();</script>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
}

/** A standalone HTML page holding the charts (plotly.js inlined once), and optional HTML before each. */
export function pageHtml(items: (Figure | { html: string })[], title = "vae-lab"): string {
  const body = items.map((it) => ("html" in it ? it.html : figureHtml(it))).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}</style>
${plotlyScriptTag()}
</head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

/** Write a standalone HTML page of charts; the file appears whole or not at all. Returns its path. */
export function saveHtml(file: string, items: Figure | (Figure | { html: string })[], title?: string): string {
  const list = Array.isArray(items) ? items : [items];
  writeFileAtomic(file, pageHtml(list, title ?? path.basename(file, path.extname(file))));
  return file;
}

export function formatCell(v: string | number, digits: number): string {
  if (typeof v === "string") return escapeHtml(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1) : v.toPrecision(digits);
}

/** An HTML table (numbers to `digits` significant figures). */
export function tableHtml(header: string[], rows: (string | number)[][], digits = 4): string {
  const th = header.map((h) => `<th style="text-align:right;padding:2px 10px">${escapeHtml(h)}</th>`).join("");
  const trs = rows
    .map((r) => `<tr>${r.map((c) => `<td style="text-align:right;padding:2px 10px;font-family:monospace">${formatCell(c, digits)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table class="vae-lab-table" style="border-collapse:collapse"><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}
