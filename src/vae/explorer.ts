/**
 * The interactive latent explorer: the 2-D latent plane with the posterior means of test digits (a plotly
 * scatter), next to a canvas that shows the decoded digit (or colour image) at the pointer's position in that plane. The
 * decoder runs in the page itself — its weights are embedded (base64 float32) and a few lines of plain
 * JavaScript do the products (dense layers for the MLP; dense and transposed convolutions for the
 * convolutional model) — so the HTML works offline, without TensorFlow.js or a server.
 */
import { MnistSet } from "../data/mnist";
import { figureHtml, plotlyScriptTag } from "../plot/plot";
import { latentScatter } from "./figures";
import { Activation, Vae } from "./model";
import { ConvVae, convGeometry } from "./conv";
import { imageSizeText } from "../data/image-shape";

export interface ExplorerOptions {
  /** Test digits in the scatter [2000]. */
  limit?: number;
  /**
   * Include the plotly.js bundle (1.5 MB) so the HTML stands alone [true]; false where the page already has
   * it (report.html, a notebook that showed a chart before).
   */
  includePlotly?: boolean;
  /** Side of the drawn digit in CSS pixels [224]. */
  size?: number;
}

function base64(values: Float32Array): string {
  const copy = new Float32Array(values);
  return Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).toString("base64");
}

let counter = 0;

/** Self-contained HTML (a fragment: put it in a page, or show it with nb.showHtml) of the explorer. */
export function latentExplorerHtml(vae: Vae | ConvVae, set: MnistSet, options: ExplorerOptions = {}): string {
  const { limit = 2000, includePlotly = true, size = 224 } = options;
  const { latentDim, inputDim } = vae.config;
  if (latentDim !== 2) throw new Error(`latentExplorerHtml needs a 2-D latent space (this model has ${latentDim})`);
  // The images' shape is the data's (rows × cols, which need not be square; 1 channel grey, 3 colour).
  if (set.pixels !== inputDim) throw new Error(`latentExplorerHtml: the data's ${imageSizeText(set)} images do not have the model's ${inputDim} values per image`);
  const { rows, cols, channels } = set;
  const [width, height] = cols >= rows ? [size, Math.round((size * rows) / cols)] : [Math.round((size * cols) / rows), size];
  const fig = latentScatter(vae, set, { limit });
  fig.layout = { ...fig.layout, title: { text: "Latent plane: point anywhere to decode that z" }, width: 620, height: 520, autosize: false, dragmode: false, hovermode: false };
  fig.config = { ...(fig.config ?? {}), displayModeBar: false, responsive: false };
  const layers = decoderSpec(vae);
  const id = `vae-lab-explorer-${process.pid.toString(36)}-${Date.now().toString(36)}-${++counter}`;
  const spec = JSON.stringify({ rows, cols, channels, layers }).replace(/</g, "\\u003c");
  // The scatter is an ordinary vae-lab chart (div.vae-lab-plot, data-rendered once drawn); the script below
  // finds it inside the explorer and listens to the pointer over its plotting area.
  return `${includePlotly ? plotlyScriptTag() : ""}<div id="${id}" class="vae-lab-explorer" style="display:flex;flex-wrap:nowrap;align-items:center;gap:16px;max-width:100%">
<div style="flex:0 1 620px;min-width:280px">${figureHtml(fig)}</div>
<div style="text-align:center;font-family:system-ui,sans-serif">
<canvas class="vae-lab-explorer-digit" width="${width}" height="${height}" style="width:${width}px;height:${height}px;border:1px solid #ccc;image-rendering:pixelated"></canvas>
<div class="vae-lab-explorer-z" style="margin-top:6px;font-size:14px">z = (0.00, 0.00)</div>
<div style="font-size:12px;opacity:.7">decoded in this page from the embedded weights</div>
</div></div>
<script type="text/javascript">(function () {
  var root = document.getElementById(${JSON.stringify(id)});
  var spec = ${spec};
  function f32(b64) {
    var s = atob(b64), u = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return new Float32Array(u.buffer);
  }
  var decode = (${DECODER_JS})(spec.layers, f32);
  var canvas = root.querySelector("canvas.vae-lab-explorer-digit"), ctx = canvas.getContext("2d");
  var small = document.createElement("canvas");
  small.width = spec.cols;
  small.height = spec.rows;
  var sctx = small.getContext("2d");
  var label = root.querySelector(".vae-lab-explorer-z");
  function draw(z) {
    var px = decode(z), img = sctx.createImageData(spec.cols, spec.rows), C = spec.channels;
    // Grey: black ink on white, as the figures draw digits. Colour: red, green and blue as they are.
    for (var i = 0; i < spec.rows * spec.cols; i++) {
      for (var c = 0; c < 3; c++) img.data[4 * i + c] = Math.round(255 * (C === 3 ? px[3 * i + c] : 1 - px[i]));
      img.data[4 * i + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    label.textContent = "z = (" + z[0].toFixed(2) + ", " + z[1].toFixed(2) + ")";
    root.setAttribute("data-z", z[0] + "," + z[1]);
  }
  root.vaeLabExplorer = { decode: decode, draw: draw };
  draw([0, 0]);
  var plot = root.querySelector("div.vae-lab-plot");
  plot.addEventListener("pointermove", function (ev) {
    var fl = plot._fullLayout;
    if (!fl || !fl.xaxis || !fl.yaxis) return;
    var r = plot.getBoundingClientRect();
    var x = ev.clientX - r.left - fl._size.l, y = ev.clientY - r.top - fl._size.t;
    if (x < 0 || y < 0 || x > fl._size.w || y > fl._size.h) return;
    draw([fl.xaxis.p2c(x), fl.yaxis.p2c(y)]);
  });
})();</script>`;
}

type Act = Activation | "linear";

/** One decoder layer as the page computes it: a dense layer, or a transposed convolution (NHWC). */
export type DecoderLayer =
  | { kind: "dense"; rows: number; cols: number; act: Act; W: string; b: string }
  | { kind: "convT"; inH: number; inW: number; inC: number; outH: number; outW: number; outC: number; k: number; stride: number; act: Act; W: string; b: string };

/** The decoder of `vae` as the layers the page runs; the last one is followed by the sigmoid. */
export function decoderSpec(vae: Vae | ConvVae): DecoderLayer[] {
  const w = (t: { dataSync(): unknown }) => base64(t.dataSync() as Float32Array);
  if (vae instanceof Vae) {
    const all = [...vae.decoder, vae.decOut];
    return all.map((l, i) => ({ kind: "dense", rows: l.W.shape[0], cols: l.W.shape[1], act: i === all.length - 1 ? "linear" : vae.config.activation, W: w(l.W), b: w(l.b) }));
  }
  const z = vae.config.latentDim;
  const { rows, cols, dh, dw } = convGeometry(vae.config);
  const convT = (l: ConvVae["deconv1"], inH: number, inW: number, inC: number, outH: number, outW: number, outC: number, stride: number, act: Act): DecoderLayer => ({
    kind: "convT", inH, inW, inC, outH, outW, outC, k: 3, stride, act, W: w(l.W), b: w(l.b),
  });
  return [
    { kind: "dense", rows: z, cols: dh * dw * 32, act: "relu", W: w(vae.decIn.W), b: w(vae.decIn.b) },
    convT(vae.deconv1, dh, dw, 32, 2 * dh, 2 * dw, 64, 2, "relu"),
    convT(vae.deconv2, 2 * dh, 2 * dw, 64, rows, cols, 32, 2, "relu"),
    convT(vae.deconv3, rows, cols, 32, rows, cols, vae.channels, 1, "linear"),
  ];
}

/**
 * The page's decoder, as JavaScript source: a function of (layers, f32) returning decode(z) → pixel means.
 * A transposed convolution with TensorFlow's "same" padding is the gradient of the forward convolution of
 * the output size: input pixel (i, j) adds W[a][b] into output pixel (i·s + a − p, j·s + b − p), where p is
 * the forward convolution's padding before (half of the total, rounded down).
 * test/explorer.test.ts runs this very source against decodeMean.
 */
export const DECODER_JS = `function (specLayers, f32) {
  var layers = specLayers.map(function (l) { var c = Object.assign({}, l); c.W = f32(l.W); c.b = f32(l.b); return c; });
  function act(name, v) {
    switch (name) {
      case "relu": return v > 0 ? v : 0;
      case "tanh": return Math.tanh(v);
      case "softplus": return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
      case "elu": return v > 0 ? v : Math.exp(v) - 1;
      case "leakyRelu": return v > 0 ? v : 0.01 * v;
      case "sigmoid": return 1 / (1 + Math.exp(-v));
    }
    return v;
  }
  function dense(l, h) {
    var out = new Float64Array(l.cols);
    for (var j = 0; j < l.cols; j++) out[j] = l.b[j];
    for (var i = 0; i < l.rows; i++) {
      var hi = h[i];
      if (hi === 0) continue;
      var row = i * l.cols;
      for (var j2 = 0; j2 < l.cols; j2++) out[j2] += hi * l.W[row + j2];
    }
    return out;
  }
  function convT(l, h) {
    var out = new Float64Array(l.outH * l.outW * l.outC);
    var padH = Math.floor(Math.max((l.inH - 1) * l.stride + l.k - l.outH, 0) / 2);
    var padW = Math.floor(Math.max((l.inW - 1) * l.stride + l.k - l.outW, 0) / 2);
    for (var i = 0; i < l.inH; i++) for (var j = 0; j < l.inW; j++) {
      var src = (i * l.inW + j) * l.inC;
      for (var a = 0; a < l.k; a++) {
        var oi = i * l.stride + a - padH;
        if (oi < 0 || oi >= l.outH) continue;
        for (var b = 0; b < l.k; b++) {
          var oj = j * l.stride + b - padW;
          if (oj < 0 || oj >= l.outW) continue;
          var dst = (oi * l.outW + oj) * l.outC, wk = (a * l.k + b) * l.outC * l.inC;
          for (var oc = 0; oc < l.outC; oc++) {
            var s = 0, wrow = wk + oc * l.inC;
            for (var ic = 0; ic < l.inC; ic++) s += h[src + ic] * l.W[wrow + ic];
            out[dst + oc] += s;
          }
        }
      }
    }
    for (var p = 0; p < l.outH * l.outW; p++) for (var c = 0; c < l.outC; c++) out[p * l.outC + c] += l.b[c];
    return out;
  }
  // h <- act(layer(h)) for every layer, then the pixel means sigmoid(h).
  return function decode(z) {
    var h = Float64Array.from(z);
    layers.forEach(function (l) {
      h = l.kind === "convT" ? convT(l, h) : dense(l, h);
      for (var j = 0; j < h.length; j++) h[j] = act(l.act, h[j]);
    });
    for (var j2 = 0; j2 < h.length; j2++) h[j2] = 1 / (1 + Math.exp(-h[j2]));
    return h;
  };
}`;
