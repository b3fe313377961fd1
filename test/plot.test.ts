import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { barChart, figureHtml, heatmap, histogram, imageGrid, lineChart, logAxisTicks, pageHtml, saveHtml, scatterByLabel } from "../src/plot/plot";
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

  it("imageGrid tiles images row-major with gaps", () => {
    // Three 2×2 images with values 0.1, 0.2, 0.3 in 2 columns.
    const imgs = [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3];
    const f = imageGrid(imgs, 2, 2, { columns: 2, gap: 1 });
    const z = f.data[0].z as (number | null)[][];
    expect(z).toHaveLength(5); // 2 rows of images: 2 + 1 + 2
    expect(z[0]).toEqual([0.1, 0.1, null, 0.2, 0.2]);
    expect(z[2]).toEqual([null, null, null, null, null]);
    expect(z[3]).toEqual([0.3, 0.3, null, null, null]);
    expect(() => imageGrid([1, 2, 3], 2, 2)).toThrow(/not a whole number of 2×2 images/);
  });

  it("histogram, heatmap and barChart build the matching trace types", () => {
    expect(histogram([{ name: "h", values: [1, 2] }]).data[0].type).toBe("histogram");
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
  }, 60_000);
});
