/**
 * The interactive latent explorer: the 2-D latent plane with the posterior means of test digits (a plotly
 * scatter), next to a canvas that shows the decoded digit at the pointer's position in that plane. The
 * decoder runs in the page itself — its weights are embedded (base64 float32) and a few lines of plain
 * JavaScript do the products — so the HTML works offline, without TensorFlow.js or a server.
 */
import { MnistSet } from "../data/mnist";
import { figureHtml, plotlyScriptTag } from "../plot/plot";
import { latentScatter } from "./figures";
import { Vae } from "./model";

export interface ExplorerOptions {
  /** Test digits in the scatter [2000]. */
  limit?: number;
  /**
   * Include the plotly.js bundle (3.5 MB) so the HTML stands alone [true]; false where the page already has
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
export function latentExplorerHtml(vae: Vae, set: MnistSet, options: ExplorerOptions = {}): string {
  const { limit = 2000, includePlotly = true, size = 224 } = options;
  const { latentDim, activation, inputDim } = vae.config;
  if (latentDim !== 2) throw new Error(`latentExplorerHtml needs a 2-D latent space (this model has ${latentDim})`);
  const side = Math.round(Math.sqrt(inputDim));
  if (side * side !== inputDim) throw new Error(`latentExplorerHtml needs square images (the model has ${inputDim} pixels)`);
  const fig = latentScatter(vae, set, { limit });
  fig.layout = { ...fig.layout, title: { text: "Latent plane: point anywhere to decode that z" }, width: 620, height: 520, autosize: false, dragmode: false, hovermode: false };
  fig.config = { ...(fig.config ?? {}), displayModeBar: false, responsive: false };
  const layers = [...vae.decoder, vae.decOut].map((l) => ({ rows: l.W.shape[0], cols: l.W.shape[1], W: base64(l.W.dataSync() as Float32Array), b: base64(l.b.dataSync() as Float32Array) }));
  const id = `vae-lab-explorer-${process.pid.toString(36)}-${Date.now().toString(36)}-${++counter}`;
  const spec = JSON.stringify({ activation, side, layers }).replace(/</g, "\\u003c");
  // The scatter is an ordinary vae-lab chart (div.vae-lab-plot, data-rendered once drawn); the script below
  // finds it inside the explorer and listens to the pointer over its plotting area.
  return `${includePlotly ? plotlyScriptTag() : ""}<div id="${id}" class="vae-lab-explorer" style="display:flex;flex-wrap:wrap;align-items:center;gap:16px">
<div style="flex:0 0 620px">${figureHtml(fig)}</div>
<div style="text-align:center;font-family:system-ui,sans-serif">
<canvas class="vae-lab-explorer-digit" width="${size}" height="${size}" style="width:${size}px;height:${size}px;border:1px solid #ccc;image-rendering:pixelated"></canvas>
<div class="vae-lab-explorer-z" style="margin-top:6px;font-size:14px">z = (0.00, 0.00)</div>
<div style="font-size:12px;color:#666">decoded in this page from the embedded weights</div>
</div></div>
<script type="text/javascript">(function () {
  var root = document.getElementById(${JSON.stringify(id)});
  var spec = ${spec};
  function f32(b64) {
    var s = atob(b64), u = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return new Float32Array(u.buffer);
  }
  var layers = spec.layers.map(function (l) { return { rows: l.rows, cols: l.cols, W: f32(l.W), b: f32(l.b) }; });
  function act(v) {
    switch (spec.activation) {
      case "relu": return v > 0 ? v : 0;
      case "tanh": return Math.tanh(v);
      case "softplus": return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
      case "elu": return v > 0 ? v : Math.exp(v) - 1;
      case "leakyRelu": return v > 0 ? v : 0.01 * v;
      case "sigmoid": return 1 / (1 + Math.exp(-v));
    }
    return v;
  }
  // The decoder's forward pass: h ← act(h·W + b) per hidden layer, then the pixel means sigmoid(h·W + b).
  function decode(z) {
    var h = Float64Array.from(z);
    layers.forEach(function (l, k) {
      var out = new Float64Array(l.cols);
      for (var j = 0; j < l.cols; j++) out[j] = l.b[j];
      for (var i = 0; i < l.rows; i++) {
        var hi = h[i];
        if (hi === 0) continue;
        var row = i * l.cols;
        for (var j2 = 0; j2 < l.cols; j2++) out[j2] += hi * l.W[row + j2];
      }
      var last = k === layers.length - 1;
      for (var j3 = 0; j3 < l.cols; j3++) out[j3] = last ? 1 / (1 + Math.exp(-out[j3])) : act(out[j3]);
      h = out;
    });
    return h;
  }
  var canvas = root.querySelector("canvas.vae-lab-explorer-digit"), ctx = canvas.getContext("2d");
  var small = document.createElement("canvas");
  small.width = small.height = spec.side;
  var sctx = small.getContext("2d");
  var label = root.querySelector(".vae-lab-explorer-z");
  function draw(z) {
    var px = decode(z), img = sctx.createImageData(spec.side, spec.side);
    for (var i = 0; i < px.length; i++) {
      var g = Math.round(255 * (1 - px[i]));
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
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
