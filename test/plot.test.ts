import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { PNG } from "pngjs";
import { barChart, CHART_PLACEHOLDER, figureHtml, heatmap, histogram, imageGrid, imageGridHtml, lineChart, logAxisTicks, pageHtml, saveHtml, scatterByLabel, tileImages } from "../src/plot/plot";
import { show } from "../src/notebook/display";
import { scratchDir } from "./harness/scratch";

describe("figure builders", () => {
  it("lineChart: one trace per series, x defaults to 0..n-1, log axes", () => {
    const f = lineChart([{ name: "a", y: new Float32Array([3, 2, 1]) }, { name: "b", x: [1, 10, 100], y: [1, 2, 3], mode: "markers", error: [0.1, 0.2, 0.3] }], { logX: true, title: "T" });
    expect(f.data).toHaveLength(2);
    expect(f.data[0].x).toEqual([0, 1, 2]);
    expect(f.data[0].y).toEqual([3, 2, 1]);
    expect(f.data[1].error_y).toEqual({ type: "data", array: [0.1, 0.2, 0.3], visible: true });
    expect((f.layout.xaxis as { type: string }).type).toBe("log");
  });

  it("scatterByLabel: one trace per label, sorted, points kept together", () => {
    const f = scatterByLabel([0, 1, 2, 3], [4, 5, 6, 7], [2, 0, 2, 1]);
    expect(f.data.map((d) => d.name)).toEqual(["0", "1", "2"]);
    expect(f.data[2].x).toEqual([0, 2]);
    expect(f.data[2].y).toEqual([4, 6]);
    expect(() => scatterByLabel([0], [1, 2], [0])).toThrow(/differ in length/);
  });

  it("imageGrid tiles images row-major with gaps, as a PNG of grey levels (ink black on white)", () => {
    // Three 2×2 images with values 0.1, 0.2, 0.3 in 2 columns.
    const imgs = [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3];
    const f = imageGrid(imgs, 2, 2, { columns: 2, gap: 1 });
    expect(f.data[0].type).toBe("image");
    const source = f.data[0].source as string;
    expect(source.startsWith("data:image/png;base64,")).toBe(true);
    const png = PNG.sync.read(Buffer.from(source.slice("data:image/png;base64,".length), "base64"));
    expect([png.width, png.height]).toEqual([5, 5]); // 2 images a row: 2 + 1 + 2; 2 rows of images: 2 + 1 + 2
    const grey = (r: number) => Array.from({ length: 5 }, (_, c) => png.data[4 * (r * 5 + c)]);
    const g = (v: number) => Math.round(255 * (1 - v));
    expect(grey(0)).toEqual([g(0.1), g(0.1), 255, g(0.2), g(0.2)]);
    expect(grey(2)).toEqual([255, 255, 255, 255, 255]);
    expect(grey(3)).toEqual([g(0.3), g(0.3), 255, 255, 255]);
    // Pixel (r, c) sits at x = c, y = r, row 0 at the top.
    expect(f.layout.xaxis).toMatchObject({ range: [-0.5, 4.5] });
    expect(f.layout.yaxis).toMatchObject({ range: [4.5, -0.5] });
    expect(() => imageGrid([1, 2, 3], 2, 2)).toThrow(/not a whole number of 2×2 images/);
  });

  it("imageGrid draws colour images (3 channels) as an RGB PNG, intensities as they are, gaps white", () => {
    // Two 1×2 images, pixels (R, G, B): a red and a green pixel, then a blue and a mid-grey one.
    const imgs = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5];
    const f = imageGrid(imgs, 1, 2, { columns: 2, gap: 1, channels: 3 });
    const source = f.data[0].source as string;
    const bytes = Buffer.from(source.slice("data:image/png;base64,".length), "base64");
    expect(bytes[25]).toBe(2); // IHDR colour type 2: RGB
    const png = PNG.sync.read(bytes);
    expect([png.width, png.height]).toEqual([5, 1]);
    const rgb = (c: number) => Array.from(png.data.subarray(4 * c, 4 * c + 3));
    expect([0, 1, 2, 3, 4].map(rgb)).toEqual([[255, 0, 0], [0, 255, 0], [255, 255, 255], [0, 0, 255], [128, 128, 128]]);
    // 11 values are not a whole number of 1×2 colour images (6 values each); 4 channels are no picture.
    expect(() => imageGrid(imgs.slice(1), 1, 2, { channels: 3 })).toThrow(/not a whole number of 1×2×3 images/);
    expect(() => imageGrid(imgs, 1, 2, { channels: 4 })).toThrow(/1 \(grey\) or 3 \(RGB\) channels, not 4/);
    // A page of pictures only carries the same RGB PNG.
    const html = imageGridHtml(imgs, 1, 2, { columns: 2, channels: 3 });
    const src = /src="data:image\/png;base64,([^"]+)"/.exec(html)![1];
    expect(Buffer.from(src, "base64")[25]).toBe(2);
  });

  it("tileImages clips to [0, 1] and draws a value that is not a number white; imageGridHtml needs no plotly", () => {
    const t = tileImages([-1, 2, Number.NaN, 0.5], 2, 2);
    expect(Array.from(t.bytes)).toEqual([255, 0, 255, 128]);
    const html = imageGridHtml([0, 1, 1, 0], 2, 2, { title: "a <b>", scale: 3 });
    expect(html).toMatch(/<img [^>]*width="6" height="6"[^>]*src="data:image\/png;base64,/);
    expect(html).toContain("a &lt;b&gt;");
    expect(html).not.toContain("vae-lab-plot");
  });

  it("histogram counts into shared bins and draws densities (bars integrate to 1, non-finite values left out)", () => {
    const a = [0, 0.1, 0.2, 0.9, 1, Number.NaN, Infinity];
    const b = [0.5, 0.55];
    const f = histogram([{ name: "a", values: a }, { name: "b", values: b }], { bins: 4 });
    const [ta, tb] = f.data as { type: string; x: number[]; y: number[]; width: number }[];
    expect(ta.type).toBe("bar");
    expect(ta.width).toBeCloseTo(0.25, 12);
    expect(ta.x).toEqual(tb.x);
    expect(ta.x.map((v) => Number(v.toFixed(6)))).toEqual([0.125, 0.375, 0.625, 0.875]);
    // a: 3 of its 5 finite values in the first bin, the largest value (1) in the last.
    expect(ta.y.map((v) => v * 5 * 0.25)).toEqual([3, 0, 0, 2]);
    expect(tb.y.map((v) => v * 2 * 0.25)).toEqual([0, 0, 2, 0]);
    for (const t of [ta, tb]) expect(t.y.reduce((s, v) => s + v * t.width, 0)).toBeCloseTo(1, 12);
    // The page carries the bars, not the values.
    const many = histogram([{ name: "m", values: Float64Array.from({ length: 100_000 }, (_, i) => Math.sin(i)) }], { bins: 50 });
    expect((many.data[0].x as number[]).length).toBe(50);
    expect(figureHtml(many).length).toBeLessThan(20_000);
    // All values equal: one bin of width 1 around them.
    const one = histogram([{ name: "c", values: [3, 3] }], { bins: 10 }).data[0] as { x: number[]; y: number[] };
    expect(one.y.filter((v) => v > 0)).toEqual([1]);
  });

  it("histogram, heatmap and barChart build the matching trace types", () => {
    expect(heatmap([[1, 2]]).data[0].type).toBe("heatmap");
    const b = barChart([0, 1], [{ name: "p", values: [0.3, 0.7] }]);
    expect(b.data[0]).toMatchObject({ type: "bar", x: ["0", "1"], y: [0.3, 0.7] });
  });
});

describe("axes and chart options", () => {
  it("integer x ticks; xTicksAtData labels a log x axis at the data's own points", () => {
    const f = lineChart([{ name: "a", x: [1, 2], y: [1e-6, 1e-2] }], { logY: true, integerX: true });
    expect(f.layout.yaxis).toMatchObject({ type: "log", exponentformat: "power", tickmode: "array" });
    expect(f.layout.xaxis).toMatchObject({ type: "linear", dtick: 1, tickformat: "d" });
    const few = lineChart([{ name: "v", x: [2, 4, 16, 64], y: [8, 4, 1, 0.25] }], { logX: true, xTicksAtData: true });
    expect(few.layout.xaxis).toMatchObject({ type: "log", tickvals: [2, 4, 16, 64], ticktext: ["2", "4", "16", "64"] });
    expect((lineChart([{ name: "v", x: [1, 2, 3], y: [1, 2, 3] }]).layout.xaxis as { tickvals?: number[] }).tickvals).toBeUndefined();
  });

  it("barChart style dots draws markers on a log axis with explicit ticks", () => {
    const b = barChart(["u", "v"], [{ name: "p", values: [3, 3000] }], { style: "dots", logY: true });
    expect(b.data[0]).toMatchObject({ type: "scatter", mode: "markers" });
    expect(b.layout.yaxis).toMatchObject({ type: "log", tickmode: "array" });
    expect((b.layout.yaxis as { tickvals: number[] }).tickvals).toEqual([10, 100, 1000]);
    expect(b.layout.scattermode).toBe("group");
    expect(barChart(["u"], [{ name: "p", values: [1] }]).layout.scattermode).toBeUndefined();
  });

});

describe("HTML output", () => {
  it("figureHtml embeds typed arrays as JSON arrays and cannot be broken out of by a title", () => {
    const f = lineChart([{ name: "</script><b>x", y: new Float64Array([1.5, 2]) }]);
    const html = figureHtml(f);
    expect(html).toContain('"y":[1.5,2]');
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    expect(html).toContain('class="vae-lab-plot"');
  });

  it("pageHtml inlines plotly.js once, with no CDN", () => {
    const html = pageHtml([lineChart([{ name: "a", y: [1] }]), lineChart([{ name: "b", y: [2] }])]);
    expect(html.match(/window\.Plotly = Plotly/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html.match(/class="vae-lab-plot"/g)).toHaveLength(2);
    // A page with no chart carries no plotly.js.
    const pictures = pageHtml([{ html: imageGridHtml([0.5], 1, 1) }]);
    expect(pictures).not.toContain("window.Plotly = Plotly");
    expect(pictures.length).toBeLessThan(2000);
  });

  it("a chart says what to do until plotly draws it; its numbers keep 6 significant digits", () => {
    const html = figureHtml(lineChart([{ name: "a", y: [Math.PI, 2, 1e-9 / 3] }]));
    expect(html).toContain("Trust Notebook");
    expect(CHART_PLACEHOLDER).toMatch(/Run All/);
    expect(html).toContain('"y":[3.14159,2,3.33333e-10]');
  });

  it("saveHtml writes the whole page atomically and leaves no temporary file", () => {
    const dir = scratchDir("vae-lab-plot-");
    const file = path.join(dir, "sub", "chart.html");
    saveHtml(file, lineChart([{ name: "a", y: [1, 2] }]));
    expect(fs.readFileSync(file, "utf8")).toMatch(/<\/html>\n$/);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["chart.html"]);
  });

  it("show() outside a notebook prints a hint instead of failing", () => {
    const logs: string[] = [];
    const orig = console.log;
    console.log = (m: string) => logs.push(m);
    try {
      show(lineChart([{ name: "a", y: [1] }], { title: "Loss" }));
    } finally {
      console.log = orig;
    }
    expect(logs[0]).toMatch(/"Loss": not in a tslab notebook; use saveHtml/);
  });
});

describe("tables", () => {
  it("tableHtml formats numbers to significant figures and escapes text", async () => {
    const { tableHtml } = await import("../src/plot/plot");
    const html = tableHtml(["a<b", "value"], [["x", 3.14159265], ["y", 0.000012345], ["n", 42]], 3);
    expect(html).toContain("a&lt;b");
    expect(html).toContain(">3.14<");
    expect(html).toContain(">1.23e-5<");
    expect(html).toContain(">42<");
  });
});

describe("log axes and reference lines", () => {
  it("logAxisTicks: 1-2-5 ticks within two and a half decades, decades beyond, plain labels without SI prefixes", () => {
    expect(logAxisTicks(0.06, 0.8)).toEqual({ tickvals: [0.1, 0.2, 0.5], ticktext: ["0.1", "0.2", "0.5"] });
    const wide = logAxisTicks(3e-6, 2000);
    expect(wide.tickvals).toEqual([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]);
    expect(wide.ticktext.slice(0, 3)).toEqual(["10<sup>−5</sup>", "10<sup>−4</sup>", "0.001"]);
    expect(wide.ticktext.join(" ")).not.toMatch(/μ|n$|k/);
    expect(logAxisTicks(3, 4)).toEqual({ tickvals: [3, 4], ticktext: ["3", "4"] });
  });

  it("lineChart sets explicit ticks on log axes only, covering the data and its error bars", () => {
    const f = lineChart([{ name: "a", x: [1, 10, 100], y: [5, 50, 400], error: [1, 1, 200] }], { logX: true, logY: true });
    const xaxis = f.layout.xaxis as { tickvals: number[]; tickmode: string; exponentformat: string };
    const yaxis = f.layout.yaxis as { tickvals: number[] };
    expect(xaxis.tickvals).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(xaxis.exponentformat).toBe("power");
    expect(yaxis.tickvals[0]).toBe(5);
    expect(yaxis.tickvals[yaxis.tickvals.length - 1]).toBe(500); // 400 + 200 from the error bar
    expect((lineChart([{ name: "a", y: [1, 2] }]).layout.xaxis as { tickvals?: number[] }).tickvals).toBeUndefined();
  });

  it("reference lines become shapes (data units) with labels (log10 units on a log axis, as plotly places annotations)", () => {
    const f = lineChart([{ name: "a", x: [1, 100], y: [1, 2] }], { logX: true, vLines: [{ value: 10, label: "ten" }], hLines: [{ value: 1.5 }] });
    const shapes = f.layout.shapes as { x0: number; y0: number; xref: string; yref: string }[];
    expect(shapes).toHaveLength(2);
    expect(shapes[0]).toMatchObject({ x0: 10, x1: 10, xref: "x", yref: "y domain" });
    expect(shapes[1]).toMatchObject({ y0: 1.5, xref: "x domain", yref: "y" });
    expect((f.layout.annotations as { text: string; x: number }[]).map((a) => [a.text, a.x])).toEqual([["ten", 1]]);
    expect(lineChart([{ name: "a", y: [1] }]).layout.shapes).toBeUndefined();
  });

  it("histogram panels: one y axis per series on a shared x axis, reference line in each", () => {
    const f = histogram([{ name: "a", values: [1, 2] }, { name: "b", values: [3] }], { panels: true, vLines: [{ value: 1 }] });
    expect(f.data.map((d) => [d.xaxis, d.yaxis])).toEqual([["x", "y"], ["x", "y2"]]);
    expect(f.layout.grid).toMatchObject({ rows: 2, columns: 1 });
    expect((f.layout.shapes as { yref: string }[]).map((s) => s.yref)).toEqual(["y domain", "y2 domain"]);
    expect(f.layout.showlegend).toBe(false);
    expect(histogram([{ name: "a", values: [1] }, { name: "b", values: [2] }]).data[0].xaxis).toBeUndefined();
  });
});

describe("VAE figures", () => {
  it("lossCurves puts the KL on its own right-hand axis; manifoldFigure's ticks are the grid's z values", async () => {
    const { lossCurves, manifoldFigure } = await import("../src/vae/figures");
    const { Vae } = await import("../src/vae/model");
    const { normalQuantile } = await import("../src/vae/evaluate");
    const rec = (epoch: number) => ({ epoch, trainLoss: 200, testLoss: 190, recon: 185, kl: 5, trainRecon: 195, trainKl: 5, beta: 1, seconds: 1 });
    const f = lossCurves([rec(1), rec(2)]);
    expect(f.data.filter((d) => d.yaxis === "y2").map((d) => d.name)).toEqual(["test KL (right axis)"]);
    expect(f.layout.yaxis2).toMatchObject({ overlaying: "y", side: "right" });
    const vae = new Vae({ latentDim: 2, hiddenDims: [4], seed: 1 });
    const m = manifoldFigure(vae, { n: 20 });
    vae.dispose();
    const x = m.layout.xaxis as { tickvals: number[]; ticktext: string[] };
    const y = m.layout.yaxis as { tickvals: number[]; ticktext: string[] };
    expect(x.tickvals[0]).toBe(13.5);
    expect(x.ticktext[0]).toBe(normalQuantile(0.5 / 20).toFixed(2)); // leftmost column: most negative z1
    expect(y.ticktext[0]).toBe(normalQuantile(19.5 / 20).toFixed(2)); // top row: largest z2, as in the scatter
    expect(x.ticktext).toEqual([...x.ticktext].reverse().map((t) => (t.startsWith("-") ? t.slice(1) : `-${t}`)));
    // No two ticks closer than the tick spacing (3 cells for n = 20): the middle cells' ±0.06 labels would overlap.
    const gaps = x.tickvals.slice(1).map((v, i) => v - x.tickvals[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(3 * 28);
  }, 60_000);
});
