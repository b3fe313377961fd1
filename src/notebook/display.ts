/**
 * Showing things in a tslab notebook: charts (`show`), tables (`showTable`), a chart that redraws in place
 * (`LiveFigure`, `liveLossCurves`). tslab is loaded lazily, so importing this module outside a notebook
 * costs nothing; there every helper falls back to a line of text.
 */
import { Figure, figureHtml, formatCell, plotlyScriptTag, tableHtml } from "../plot/plot";
import { lossCurves } from "../vae/figures";
import { EpochRecord } from "../vae/train";
import { quickMode } from "./quick";

interface TslabDisplay {
  html(s: string): void;
}
interface Tslab {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

let plotlySent = false;

function tslab(): Tslab | undefined {
  try {
    // Loaded lazily: only a notebook needs it, and it is heavy.
    return require("tslab") as Tslab;
  } catch {
    return undefined;
  }
}

/**
 * Send the plotly.js bundle to the notebook: with `force`, always (as `showMode()`, the first cell of every
 * notebook, does each time it runs); otherwise only if nothing sent it in this kernel session yet.
 *
 * Where the bundle lives decides whether a saved notebook still draws its charts when reopened: the browser
 * that ran the cells has plotly.js loaded, but a reopened notebook has only the outputs in the file. If the
 * bundle travelled with the first chart's output, running that cell again (a second Run All, a changed
 * parameter) would replace the output by one without the bundle, and every chart of the reopened notebook
 * would be blank. So it travels with the first cell's output, which every run of the notebook writes again.
 */
export function initNotebookPlotting(force = false): void {
  if (plotlySent && !force) return;
  const t = tslab();
  if (!t) throw new Error("initNotebookPlotting: tslab is not installed");
  t.display.html(plotlyScriptTag());
  plotlySent = true;
}

/**
 * Display a figure in the notebook. Outside a notebook it prints a one-line hint instead (scripts should
 * use saveHtml).
 */
export function show(fig: Figure): void {
  const t = tslab();
  try {
    if (!t) throw new Error("no tslab");
    initNotebookPlotting();
    t.display.html(figureHtml(fig));
  } catch {
    const title = (fig.layout.title as { text?: string } | undefined)?.text ?? "figure";
    console.log(`[vae-lab] "${title}": not in a tslab notebook; use saveHtml(file, fig) to write it as HTML`);
  }
}

/** Show a table in the notebook; outside a notebook, print it as text. */
export function showTable(header: string[], rows: (string | number)[][], digits = 4): void {
  const t = tslab();
  try {
    if (!t) throw new Error("no tslab");
    t.display.html(tableHtml(header, rows, digits));
  } catch {
    console.log([header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? formatCell(c, digits) : c)))].map((r) => r.join("\t")).join("\n"));
  }
}

/**
 * A chart that redraws in place (one notebook output updated again and again), for live loss curves.
 * Outside a notebook `update` does nothing.
 */
export class LiveFigure {
  private display: TslabDisplay | undefined;
  update(fig: Figure): void {
    const t = tslab();
    if (!t) return;
    try {
      initNotebookPlotting();
      this.display ??= t.newDisplay();
      this.display.html(figureHtml(fig));
    } catch {
      // Not in a notebook: nothing to redraw.
    }
  }
}

/**
 * For notebooks: an `onEpoch` callback that redraws the loss curves in place after every epoch and prints
 * one line per epoch. `trainVae(vae, train, test, { epochs, onEpoch: liveLossCurves().onEpoch })`.
 */
export function liveLossCurves(options: { title?: string } = {}): { onEpoch: (r: EpochRecord, history: EpochRecord[]) => void } {
  const fig = new LiveFigure();
  return {
    onEpoch: (r, history) => {
      console.log(`epoch ${r.epoch}: train ${r.trainLoss.toFixed(2)}, test ${r.testLoss.toFixed(2)} = recon ${r.recon.toFixed(2)} + KL ${r.kl.toFixed(2)} nats (${r.seconds.toFixed(1)} s)`);
      fig.update(lossCurves(history, { title: options.title }));
    },
  };
}

/** Show raw HTML in the notebook (an SVG, a widget page fragment); outside a notebook, print a hint. */
export function showHtml(html: string, label = "HTML output"): void {
  const t = tslab();
  try {
    if (!t) throw new Error("no tslab");
    t.display.html(html);
  } catch {
    console.log(`[vae-lab] ${label}: not in a tslab notebook`);
  }
}

/**
 * The line each notebook opens with: which mode this run is in. Quick mode (VAE_LAB_QUICK=1, what the tests
 * and the published site use) trains for fewer epochs on fewer images, so its numbers and pictures are
 * rougher than a full run's; the prose beside each output says what holds in both.
 */
export function showMode(): void {
  const quick = quickMode();
  const text = quick
    ? "Quick mode (VAE_LAB_QUICK=1): fewer epochs, images and samples than a full run. Numbers below are this run's; a full run's are sharper."
    : "Full mode: the complete runs this notebook describes.";
  // Translucent tints and the theme's own text colour: readable on light and dark themes alike.
  const style = quick ? "background:rgba(240,160,48,0.16);border-left:4px solid #f0a030;color:inherit" : "background:rgba(68,170,68,0.14);border-left:4px solid #4a4;color:inherit";
  showHtml(`<div class="vae-lab-mode" style="${style};padding:6px 10px;margin:4px 0">${text}</div>`, text);
  // The notebook's one copy of plotly.js, in this first cell's output (see initNotebookPlotting).
  try {
    initNotebookPlotting(true);
  } catch {
    // Not in a notebook: nothing to send.
  }
}
