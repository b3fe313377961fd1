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
import { picturePng, pngDataUrl } from "./png";
import { imageSizeText } from "../data/image-shape";

/** A plotly figure: traces, layout and config as plotly.js takes them. */
export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

type Numbers = ArrayLike<number>;

/** A reference line across the whole plot (an exact value, a threshold), labelled at its end. */
export interface ReferenceLine {
  value: number;
  label?: string;
}

export interface AxesOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
  /** Vertical reference lines at these x values. */
  vLines?: ReferenceLine[];
  /** Horizontal reference lines at these y values. */
  hLines?: ReferenceLine[];
  /** Fixed distance between x ticks (1 for integer positions such as indices). */
  xTickStep?: number;
  /** Ticks at whole numbers only on the x axis (epochs, counts). */
  integerX?: boolean;
  /** Label a log x axis at the data's own x values (a few sample points: L = 2, 4, 16, 64; β = 0.5 … 16). */
  xTicksAtData?: boolean;
}

function baseLayout(o: AxesOptions): Record<string, unknown> {
  return {
    // Titles start at the left, away from plotly's toolbar, which appears at the top right.
    title: o.title ? { text: o.title, x: 0, xanchor: "left", xref: "container", pad: { l: 10 } } : undefined,
    xaxis: { title: { text: o.xTitle ?? "" }, type: o.logX ? "log" : "linear", ...(o.logX ? { exponentformat: "power" } : {}), ...(o.xTickStep ? { dtick: o.xTickStep } : {}), ...(o.integerX ? { dtick: 1, tickformat: "d" } : {}) },
    yaxis: { title: { text: o.yTitle ?? "" }, type: o.logY ? "log" : "linear", ...(o.logY ? { exponentformat: "power" } : {}) },
    width: o.width,
    height: o.height ?? 400,
    margin: { l: 60, r: 20, t: o.title ? 50 : 20, b: 50 },
    ...referenceLines(o),
  };
}

/** Shapes and labels for the reference lines of `o`, on the axes `x`/`y` (default the first pair). */
function referenceLines(o: AxesOptions, axes: { x: string; y: string }[] = [{ x: "x", y: "y" }]): Record<string, unknown> {
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const line = { color: "#444", width: 1.5, dash: "dashdot" };
  for (const a of axes) {
    for (const r of o.vLines ?? []) {
      // On a log axis plotly takes shapes in data units but annotations in log10 units.
      shapes.push({ type: "line", xref: a.x, yref: `${a.y} domain`, x0: r.value, x1: r.value, y0: 0, y1: 1, line });
      if (r.label) annotations.push({ xref: a.x, yref: `${a.y} domain`, x: o.logX ? Math.log10(r.value) : r.value, y: 1, text: r.label, showarrow: false, xanchor: "left", yanchor: "top", font: { size: 11 }, bgcolor: "rgba(255,255,255,0.8)" });
    }
    for (const r of o.hLines ?? []) {
      shapes.push({ type: "line", xref: `${a.x} domain`, yref: a.y, x0: 0, x1: 1, y0: r.value, y1: r.value, line });
      if (r.label) annotations.push({ xref: `${a.x} domain`, yref: a.y, x: 1, y: o.logY ? Math.log10(r.value) : r.value, text: r.label, showarrow: false, xanchor: "right", yanchor: "bottom", font: { size: 11 }, bgcolor: "rgba(255,255,255,0.8)" });
    }
  }
  return shapes.length ? { shapes, annotations } : {};
}

/** Plain tick labels: 0.001 … 10000 written out, other magnitudes as powers of ten (never SI prefixes like "100μ"). */
function logTickText(v: number): string {
  const k = Math.floor(Math.log10(v) + 1e-9);
  const m = Math.round(v / 10 ** k);
  if (k >= -3 && k <= 4) return String(Number(v.toPrecision(1)));
  const sup = String(k).replace("-", "−");
  return m === 1 ? `10<sup>${sup}</sup>` : `${m}×10<sup>${sup}</sup>`;
}

/**
 * Ticks for a log axis showing [lo, hi]: the powers of ten, with 2 and 5 between them when the range spans
 * two and a half decades or less; only labelled ticks, so no crowd of minor labels ("2 3 4 5 …").
 */
export function logAxisTicks(lo: number, hi: number): { tickvals: number[]; ticktext: string[] } {
  if (!(lo > 0) || !(hi >= lo) || !Number.isFinite(hi)) return { tickvals: [], ticktext: [] };
  const k0 = Math.floor(Math.log10(lo) + 1e-9);
  const k1 = Math.ceil(Math.log10(hi) - 1e-9);
  const mantissas = Math.log10(hi / lo) <= 2.5 ? [1, 2, 5] : [1];
  const tickvals: number[] = [];
  for (let k = k0; k <= k1; k++) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** k).toPrecision(1));
      if (v >= lo / 1.0001 && v <= hi * 1.0001) tickvals.push(v);
    }
  }
  // A range inside one decade without a 1-2-5 value: label its ends.
  if (tickvals.length < 2) return { tickvals: [lo, hi], ticktext: [lo, hi].map((v) => String(Number(v.toPrecision(2)))) };
  return { tickvals, ticktext: tickvals.map(logTickText) };
}

function positiveRange(values: number[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v > 0 && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/** Set explicit 1-2-5 ticks on the log axes of a layout, for the data values given per axis. */
function withLogTicks(layout: Record<string, unknown>, o: AxesOptions, xs: number[], ys: number[]): Record<string, unknown> {
  const out = { ...layout };
  for (const [key, on, values] of [["xaxis", o.logX, xs], ["yaxis", o.logY, ys]] as [string, boolean | undefined, number[]][]) {
    const range = on ? positiveRange(values) : undefined;
    if (range) out[key] = { ...(out[key] as Record<string, unknown>), ...logAxisTicks(range[0], range[1]), tickmode: "array" };
  }
  return out;
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
  /** Marker shape and size (plotly symbol names: "circle", "x", "diamond-open", …). */
  marker?: { symbol?: string; size?: number };
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
    marker: s.marker,
  }));
  const xs = data.flatMap((d) => d.x);
  const ys = series.flatMap((s) => {
    const y = Array.from(s.y);
    return s.error ? y.flatMap((v, i) => [v - s.error![i], v + s.error![i]]) : y;
  });
  const layout: Record<string, unknown> = { ...withLogTicks(baseLayout(options), options, xs, ys), showlegend: series.length > 1 };
  const points = [...new Set(xs)].filter((v) => v > 0).sort((a, b) => a - b);
  if (options.xTicksAtData) layout.xaxis = { ...(layout.xaxis as object), tickvals: points, ticktext: points.map(String) };
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
      // SVG scatter, not scattergl: it draws without WebGL, and the partial bundle has no WebGL traces.
      type: "scatter",
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
      ...withLogTicks(baseLayout(options), options, [], series.flatMap((s) => Array.from(s.values))),
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
 * Histograms normalised to densities (so different sample sizes compare): overlaid, translucent with
 * outlines, or with `panels` one above the other on a shared x axis (for spreads too different to overlay).
 * The counting is done here, not in the browser: the chart carries `bins` bars per series, not the values
 * (a study of 200 000 gradient entries would otherwise put 9 MB of numbers in the page). All series share
 * one set of `bins` equal bins over the range of their finite values; values that are not finite are left out.
 */
export function histogram(series: HistogramSeries[], options: AxesOptions & { bins?: number; panels?: boolean } = {}): Figure {
  const panels = options.panels === true && series.length > 1;
  const axis = (i: number) => (panels && i > 0 ? String(i + 1) : "");
  const bins = Math.max(1, Math.floor(options.bins ?? 50));
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  if (!(lo <= hi)) [lo, hi] = [0, 1];
  // One value (or all equal): a bin of width 1 around it.
  const width = hi > lo ? (hi - lo) / bins : 1;
  const start = hi > lo ? lo : lo - 0.5;
  const data = series.map((s, i) => {
    const counts = new Array<number>(bins).fill(0);
    let n = 0;
    for (let j = 0; j < s.values.length; j++) {
      const v = s.values[j];
      if (!Number.isFinite(v)) continue;
      counts[Math.min(bins - 1, Math.max(0, Math.floor((v - start) / width)))] += 1;
      n += 1;
    }
    return {
      type: "bar",
      name: s.name,
      x: counts.map((_, k) => start + (k + 0.5) * width),
      y: counts.map((c) => (n > 0 ? c / (n * width) : 0)),
      width,
      opacity: series.length > 1 && !panels ? 0.6 : 1,
      marker: series.length > 1 ? { line: { width: 1, color: "rgba(0,0,0,0.5)" } } : undefined,
      hovertemplate: `%{x:.4g}: density %{y:.4g}<extra>${escapeHtml(s.name)}</extra>`,
      ...(panels ? { xaxis: "x", yaxis: `y${axis(i)}` } : {}),
    };
  });
  const layout: Record<string, unknown> = { ...baseLayout(options), barmode: "overlay", bargap: 0, showlegend: series.length > 1 && !panels };
  if (panels) {
    // One row per series, the x axis shared; each panel named in its top-left corner instead of a legend.
    layout.grid = { rows: series.length, columns: 1, pattern: "coupled", roworder: "top to bottom" };
    layout.height = options.height ?? 220 * series.length + 80;
    series.forEach((_, i) => {
      layout[`yaxis${axis(i)}`] = { title: { text: options.yTitle ?? "" } };
    });
    const refs = referenceLines(options, series.map((_, i) => ({ x: "x", y: `y${axis(i)}` })));
    layout.shapes = refs.shapes;
    layout.annotations = [
      ...((refs.annotations as Record<string, unknown>[] | undefined) ?? []),
      ...series.map((s, i) => ({ xref: "x domain", yref: `y${axis(i)} domain`, x: 0.01, y: 1, text: `<b>${s.name}</b>`, showarrow: false, xanchor: "left", yanchor: "top" })),
    ];
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
  /** 1: grey images (black ink on white) [default]; 3: colour images, each pixel's red, green and blue together. */
  channels?: number;
}

/**
 * A tiled grid of images as one picture, row-major: a grey level per pixel (0 black … 255 white) where
 * `channels` is 1, red, green and blue bytes where it is 3.
 */
export interface TiledPicture {
  bytes: Uint8Array;
  channels: 1 | 3;
  width: number;
  height: number;
}

/**
 * Tile images (each `rows × cols × channels` values in [0, 1], row-major with a pixel's channels together,
 * concatenated in `images`) into one picture with white gaps between images. Grey images (1 channel) are
 * drawn as black ink (1) on white (0), as MNIST digits are usually shown; colour images (3 channels: red,
 * green, blue) as they are (1 full intensity, 0 none). Values outside [0, 1] are clipped; a value that is
 * not a number is drawn white.
 */
export function tileImages(images: Numbers, rows: number, cols: number, options: { columns?: number; gap?: number; channels?: number } = {}): TiledPicture {
  const channels = options.channels ?? 1;
  if (channels !== 1 && channels !== 3) throw new Error(`imageGrid: images have 1 (grey) or 3 (RGB) channels, not ${channels}`);
  const size = rows * cols * channels;
  const n = Math.floor(images.length / size);
  if (n * size !== images.length || n === 0) {
    throw new Error(`imageGrid: ${images.length} values are not a whole number of ${imageSizeText({ rows, cols, channels })} images`);
  }
  const columns = Math.max(1, Math.min(n, options.columns ?? Math.ceil(Math.sqrt(n))));
  const gridRows = Math.ceil(n / columns);
  const gap = options.gap ?? 1;
  const height = gridRows * rows + (gridRows - 1) * gap;
  const width = columns * cols + (columns - 1) * gap;
  const bytes = new Uint8Array(width * height * channels).fill(255);
  // Grey: ink darkens the page (1 → 0). Colour: intensity as it is (1 → 255).
  const level = channels === 1 ? (v: number) => Math.round(255 * (1 - Math.min(1, Math.max(0, v)))) : (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
  for (let k = 0; k < n; k++) {
    const r0 = Math.floor(k / columns) * (rows + gap);
    const c0 = (k % columns) * (cols + gap);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols * channels; c++) {
        const v = images[k * size + r * cols * channels + c];
        bytes[((r0 + r) * width + c0) * channels + c] = Number.isNaN(v) ? 255 : level(v);
      }
    }
  }
  return { bytes, channels, width, height };
}

/**
 * The grid of `tileImages` as a chart: one plotly image trace whose picture is PNG data (a 560×560 grid is
 * about 100 KB instead of 1.5 MB of numbers), on axes in pixel units (pixel (r, c) at x = c, y = r, row 0
 * at the top), so tick positions can be set in pixels as for a heatmap.
 */
export function imageGrid(images: Numbers, rows: number, cols: number, options: ImageGridOptions = {}): Figure {
  const { bytes, channels, width: W, height: H } = tileImages(images, rows, cols, options);
  const size = options.width ?? Math.min(800, Math.max(200, W * 4));
  return {
    data: [{ type: "image", source: pngDataUrl(picturePng(bytes, W, H, channels)), hoverinfo: "skip" }],
    layout: {
      title: options.title ? { text: options.title, x: 0, xanchor: "left", font: { size: 15 } } : undefined,
      width: size,
      // The plotting area (width less the side margins) has the picture's aspect ratio: no empty band.
      height: options.height ?? Math.round(((size - 20) * H) / W) + (options.title ? 50 : 10) + 10,
      margin: { l: 10, r: 10, t: options.title ? 50 : 10, b: 10 },
      xaxis: { visible: false, constrain: "domain", range: [-0.5, W - 0.5] },
      yaxis: { visible: false, autorange: false, range: [H - 0.5, -0.5], scaleanchor: "x" },
      plot_bgcolor: "white",
    },
    // A picture has nothing to zoom into worth a toolbar, and the toolbar would sit over the title.
    config: { displayModeBar: false },
  };
}

/**
 * The same grid as a plain `<figure>` with the PNG inline (no plotly needed): for pages of pictures only,
 * such as `vae-lab sample`'s. Drawn at `scale` CSS pixels per image pixel, without smoothing.
 */
export function imageGridHtml(images: Numbers, rows: number, cols: number, options: { columns?: number; gap?: number; channels?: number; title?: string; scale?: number } = {}): string {
  const { bytes, channels, width, height } = tileImages(images, rows, cols, options);
  const scale = options.scale ?? Math.max(1, Math.min(4, Math.floor(640 / width)));
  const caption = options.title ? `<figcaption style="font-weight:600;margin-bottom:6px">${escapeHtml(options.title)}</figcaption>` : "";
  return `<figure class="vae-lab-image-grid" style="margin:1em 0">${caption}<img alt="${escapeHtml(options.title ?? "image grid")}" width="${width * scale}" height="${height * scale}" style="image-rendering:pixelated;max-width:100%;height:auto" src="${pngDataUrl(picturePng(bytes, width, height, channels))}"></figure>`;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/**
 * The plotly.js bundle: plotly's own minified "cartesian" partial bundle (1.5 MB, against 4.8 MB for the
 * minified full bundle and 11 MB unminified), which holds every trace type vae-lab draws (scatter, bar,
 * histogram, heatmap, image).
 */
export const PLOTLY_BUNDLE = "plotly.js-cartesian-dist-min/plotly-cartesian.min.js";

/** Path of the plotly.js bundle file (for copying beside pages). */
export function plotlyBundlePath(): string {
  return require.resolve(PLOTLY_BUNDLE);
}

/** The plotly.js bundle's source (read once). */
let plotlySource: string | undefined;
function plotlyJs(): string {
  plotlySource ??= fs.readFileSync(plotlyBundlePath(), "utf8");
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

/** Numbers in charts keep 6 significant digits: far below what a chart can show, and a third of the bytes. */
function compact(v: number): number {
  return Number.isFinite(v) && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v;
}

function toJson(value: unknown): string {
  const s = JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as number[], compact) : typeof v === "number" ? compact(v) : v));
  // Keep "</script>" and friends out of the inline script.
  return s.replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * What a chart's space says until plotly.js draws it (and says for good where scripts do not run: a
 * notebook opened from disk is untrusted, and Jupyter runs no script in its outputs).
 */
export const CHART_PLACEHOLDER =
  "Chart not drawn yet. It needs plotly.js, which this page or notebook loads once (in a notebook: in the output of its first code cell). " +
  "In Jupyter, run the notebook's cells (Run All), or trust it (JupyterLab: command palette, “Trust Notebook”; Notebook 6: File › Trust Notebook).";

/**
 * Page-side adjustments of a chart's layout, as JavaScript source (a function `fitLayout(layout, el)`):
 * - Narrow output areas: a chart wider than the room it has (a fixed-width picture grid or explorer in a
 *   narrow notebook) is scaled down to fit, its height with it, instead of spilling out or being clipped;
 *   again whenever the window is resized, and again on a change of theme.
 * - Dark themes (JupyterLab sets data-jp-theme-light="false" on the body): transparent backgrounds, text
 *   and grid lines in the theme's colours (its --jp-ui-font-color1), label boxes dark, so a chart is not a
 *   glaring white box with unreadable labels. Picture grids keep their white ground: digits are ink on paper.
 */
export const FIT_LAYOUT_JS = `function fitLayout(src, el) {
    var layout = JSON.parse(JSON.stringify(src));
    var room = el.clientWidth;
    if (layout.width && room > 120 && layout.width > room) {
      var k = room / layout.width;
      layout.width = Math.floor(room);
      if (layout.height) layout.height = Math.round(layout.height * k);
    }
    var body = document.body;
    if (body && body.getAttribute("data-jp-theme-light") === "false") {
      var fg = (getComputedStyle(body).getPropertyValue("--jp-ui-font-color1") || "").trim() || "#e0e0e0";
      var grid = "rgba(255,255,255,0.15)";
      layout.paper_bgcolor = "rgba(0,0,0,0)";
      if (layout.plot_bgcolor !== "white") layout.plot_bgcolor = "rgba(0,0,0,0)";
      layout.font = Object.assign({}, layout.font, { color: fg });
      if (layout.title) layout.title = Object.assign({}, layout.title, { font: Object.assign({}, layout.title.font, { color: fg }) });
      layout.legend = Object.assign({ bgcolor: "rgba(0,0,0,0)" }, layout.legend);
      Object.keys(layout).forEach(function (key) {
        if (/^[xy]axis\\d*$/.test(key)) layout[key] = Object.assign({ gridcolor: grid, zerolinecolor: "rgba(255,255,255,0.35)", linecolor: grid }, layout[key]);
      });
      if (layout.xaxis === undefined) layout.xaxis = { gridcolor: grid, zerolinecolor: "rgba(255,255,255,0.35)" };
      if (layout.yaxis === undefined) layout.yaxis = { gridcolor: grid, zerolinecolor: "rgba(255,255,255,0.35)" };
      (layout.annotations || []).forEach(function (a) { if (a.bgcolor) a.bgcolor = "rgba(0,0,0,0.6)"; });
      (layout.shapes || []).forEach(function (sh) { if (sh.line && sh.line.color === "#444") sh.line = Object.assign({}, sh.line, { color: fg }); });
    }
    return layout;
  }`;

/**
 * The HTML of one chart: a div and a script that draws it once `window.Plotly` exists (it waits, so charts
 * may appear before the bundle in the page, as happens when outputs render out of order). Until then the
 * div shows `CHART_PLACEHOLDER`.
 */
export function figureHtml(fig: Figure): string {
  const id = nextDivId();
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  return `<div id="${id}" class="vae-lab-plot" style="min-height:${Number(fig.layout.height ?? 400)}px"><p class="vae-lab-plot-placeholder" style="margin:0;padding:1em;border:1px dashed #999;opacity:.8">${escapeHtml(CHART_PLACEHOLDER)}</p></div>
<script type="text/javascript">(function () {
  var fig = ${toJson({ data: fig.data, layout: fig.layout, config })};
  ${FIT_LAYOUT_JS}
  var tries = 0;
  function draw() {
    var el = document.getElementById(${JSON.stringify(id)});
    if (!el) return;
    var note = el.querySelector(".vae-lab-plot-placeholder");
    if (!window.Plotly) {
      if (++tries < 600) setTimeout(draw, 50);
      else if (note) note.textContent = "plotly.js did not load in 30 s, so this chart cannot be drawn. In Jupyter: run the notebook's first code cell (it loads plotly.js) or Run All.";
      return;
    }
    if (note) note.remove();
    var layout = fitLayout(fig.layout, el);
    window.Plotly.newPlot(el, fig.data, layout, fig.config).then(function () {
      el.setAttribute("data-rendered", "1");
      // Fit again when the room changes (a resized window, a side panel opened, an output area laid out again
      // after JupyterLab kept its cell off screen, unrendered or detached, while the window changed) or the
      // theme does. The room a fit used is remembered, so a refit that changes only the height ends there.
      var fittedRoom = el.clientWidth;
      function refit() {
        if (!document.body.contains(el)) return;
        fittedRoom = el.clientWidth;
        // react keeps a chart that plotly sizes itself (no width in its layout) at the width it had; resize
        // measures the div again.
        window.Plotly.react(el, fig.data, fitLayout(fig.layout, el), fig.config).then(function () {
          if (!fig.layout.width && window.Plotly.Plots && document.body.contains(el)) return window.Plotly.Plots.resize(el);
        }).catch(function () {});
      }
      var timer = null;
      function soon() { clearTimeout(timer); timer = setTimeout(refit, 150); }
      window.addEventListener("resize", soon);
      if (window.ResizeObserver) new ResizeObserver(function () { if (el.clientWidth > 0 && el.clientWidth !== fittedRoom) soon(); }).observe(el);
      if (window.MutationObserver) new MutationObserver(refit).observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
    });
  }
  draw();
})();</script>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
}

/**
 * A standalone HTML page holding the charts and HTML items, with plotly.js inlined once if anything on it
 * is a chart (a page of pictures and tables only carries no plotly.js).
 */
export function pageHtml(items: (Figure | { html: string })[], title = "vae-lab"): string {
  const body = items.map((it) => ("html" in it ? it.html : figureHtml(it))).join("\n");
  const needsPlotly = body.includes('class="vae-lab-plot"');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}</style>
${needsPlotly ? plotlyScriptTag() : ""}
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
    // Numbers right-aligned in monospace (digits line up); text left-aligned, the first column (row labels)
    // never wrapped.
    .map((r) => `<tr>${r.map((c, j) => `<td style="text-align:${typeof c === "number" ? "right;font-family:monospace" : "left"};padding:2px 10px${j === 0 ? ";white-space:nowrap" : ""}">${formatCell(c, digits)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table class="vae-lab-table" style="border-collapse:collapse"><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}
