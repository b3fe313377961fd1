/**
 * The convolution kernels registered for the wasm backend (src/engine/wasm-conv.ts) must keep tfjs's
 * semantics: every result is compared with the cpu backend (the reference) — the forward convolution, the
 * transposed convolution (Conv2DBackpropInput) and the filter gradient (Conv2DBackpropFilter) — on random
 * shapes, strides 1 and 2, "same" and "valid" padding, dilations and batch sizes, and gradients through
 * autodiff of a small conv / transposed-conv loss. Both implementations are tested: the native one
 * (im2col + OpenBLAS, where the addon is built; CI builds it) and the JavaScript filter gradient.
 */
import * as tf from "../src/engine/tf";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it, onTestFinished as onExit } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadNativeBlas, setNativeThreads } from "../src/engine/native-kernels";
import { nativeExpected } from "./harness/native";
import { convKernelStatus, disableConvKernels, enableConvKernels } from "../src/engine/wasm-conv";
import { Rng } from "../src/engine/random";

const rng = new Rng(7);

function randomData(shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: n }, () => rng.normal()) };
}
type Data = ReturnType<typeof randomData>;
const t = (d: Data) => tf.tensor(d.values, d.shape) as tf.Tensor4D;

/** The Conv2DBackpropFilter kernel itself (tfjs exports no op for it; autodiff of tf.conv2d reaches it). */
function backpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: number | [number, number], pad: "same" | "valid"): tf.Tensor4D {
  return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { strides, pad, dataFormat: "NHWC", dimRoundingMode: undefined, filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

async function on(backend: string, f: () => number[]): Promise<number[]> {
  await tf.setBackend(backend);
  return tf.tidy(f);
}

function expectClose(got: number[], ref: number[], tol = 1e-5) {
  expect(got.length).toBe(ref.length);
  const scale = ref.reduce((s, v) => Math.max(s, Math.abs(v)), 1);
  let worst = 0;
  got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ref[i]) / scale)));
  expect(worst).toBeLessThan(tol);
}

interface Case {
  batch: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  fh: number;
  fw: number;
  /** One stride for both axes, or [rows, columns]. */
  stride: number | [number, number];
  pad: "same" | "valid";
  dilation: number;
}

/** Random small convolutions: every stride × padding combination, batch sizes 1–3, odd and even sizes. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const stride of [1, 2]) {
    for (const pad of ["same", "valid"] as const) {
      for (let i = 0; i < 3; i++) {
        const fh = 1 + rng.int(3);
        const fw = 1 + rng.int(3);
        out.push({ batch: 1 + rng.int(3), h: fh + rng.int(7), w: fw + rng.int(7), ci: 1 + rng.int(4), co: 1 + rng.int(5), fh, fw, stride, pad, dilation: 1 });
      }
    }
  }
  // Dilation (forward only in tfjs), a 1×1 filter, and the conv VAE's own layer shapes (batch 1).
  out.push({ batch: 2, h: 9, w: 8, ci: 2, co: 3, fh: 3, fw: 2, stride: 1, pad: "same", dilation: 2 });
  out.push({ batch: 3, h: 5, w: 5, ci: 4, co: 2, fh: 1, fw: 1, stride: 1, pad: "valid", dilation: 1 });
  // "same" with padding before the image (top/left > 0): 3×3 at stride 1 (1 before), 5×4 at stride 2 (2 above, 1 left).
  out.push({ batch: 2, h: 6, w: 5, ci: 2, co: 3, fh: 3, fw: 3, stride: 1, pad: "same", dilation: 1 });
  out.push({ batch: 2, h: 7, w: 9, ci: 3, co: 2, fh: 5, fw: 4, stride: 2, pad: "same", dilation: 1 });
  // "same", stride 2, non-square filters: wasm's own Conv2D (XNNPACK) gets these wrong unless given explicit padding.
  out.push({ batch: 3, h: 4, w: 2, ci: 1, co: 2, fh: 3, fw: 1, stride: 2, pad: "same", dilation: 1 });
  out.push({ batch: 1, h: 4, w: 4, ci: 2, co: 1, fh: 1, fw: 2, stride: 2, pad: "same", dilation: 1 });
  out.push({ batch: 1, h: 28, w: 28, ci: 1, co: 32, fh: 3, fw: 3, stride: 2, pad: "valid", dilation: 1 });
  // One input channel, which the native kernels compute by direct loops rather than im2col: the conv VAE's
  // last transposed convolution (32 channels back to 1, stride 1, "same"), a dilated one, and a 5×4 filter at stride 2.
  out.push({ batch: 2, h: 28, w: 28, ci: 1, co: 32, fh: 3, fw: 3, stride: 1, pad: "same", dilation: 1 });
  out.push({ batch: 2, h: 9, w: 8, ci: 1, co: 3, fh: 3, fw: 2, stride: 1, pad: "same", dilation: 2 });
  out.push({ batch: 3, h: 7, w: 9, ci: 1, co: 5, fh: 5, fw: 4, stride: 2, pad: "same", dilation: 1 });
  // The direct loops' other paths: channels beyond whole blocks of 16 (20: one block and 4; 48: three blocks),
  // "valid" at stride 1, the 3×3 filter of 32 channels at stride 2 (its transposed form goes through the
  // checked path), an image narrower than four pixels, a dilated 3×3 of 32 channels, a 5×3 of 32 channels.
  out.push({ batch: 2, h: 11, w: 13, ci: 1, co: 20, fh: 3, fw: 3, stride: 1, pad: "same", dilation: 1 });
  out.push({ batch: 1, h: 10, w: 9, ci: 1, co: 48, fh: 3, fw: 3, stride: 1, pad: "valid", dilation: 1 });
  out.push({ batch: 2, h: 12, w: 12, ci: 1, co: 32, fh: 3, fw: 3, stride: 2, pad: "same", dilation: 1 });
  out.push({ batch: 1, h: 3, w: 3, ci: 1, co: 16, fh: 3, fw: 3, stride: 1, pad: "same", dilation: 1 });
  out.push({ batch: 1, h: 12, w: 11, ci: 1, co: 32, fh: 3, fw: 3, stride: 1, pad: "same", dilation: 2 });
  out.push({ batch: 1, h: 9, w: 10, ci: 1, co: 32, fh: 5, fw: 3, stride: 1, pad: "same", dilation: 1 });
  // Stride 2 with one pixel of padding before the image (a 4×4 filter, "same"); strides 1 × 2 and 2 × 1.
  out.push({ batch: 1, h: 9, w: 12, ci: 1, co: 16, fh: 4, fw: 4, stride: 2, pad: "same", dilation: 1 });
  out.push({ batch: 2, h: 8, w: 10, ci: 1, co: 32, fh: 3, fw: 3, stride: [1, 2], pad: "same", dilation: 1 });
  out.push({ batch: 2, h: 10, w: 8, ci: 1, co: 32, fh: 3, fw: 3, stride: [2, 1], pad: "same", dilation: 1 });
  out.push({ batch: 1, h: 13, w: 13, ci: 32, co: 64, fh: 3, fw: 3, stride: 2, pad: "valid", dilation: 1 });
  out.push({ batch: 1, h: 14, w: 14, ci: 64, co: 32, fh: 3, fw: 3, stride: 2, pad: "same", dilation: 1 });
  return out;
}

const label = (c: Case) => `x [${c.batch},${c.h},${c.w},${c.ci}] * W [${c.fh},${c.fw},${c.ci},${c.co}], stride ${typeof c.stride === "number" ? c.stride : c.stride.join("×")}, ${c.pad}${c.dilation > 1 ? `, dilation ${c.dilation}` : ""}`;

const modes: { name: string; native: boolean }[] = [{ name: "JavaScript filter gradient", native: false }];
if (nativeExpected) modes.push({ name: "native (im2col + OpenBLAS)", native: true });

// The cpu backend's reference convolutions are slow on a loaded machine: generous per-test time limits.
for (const mode of modes) {
  describe(`wasm convolution kernels, ${mode.name}, against the cpu backend`, { timeout: 120_000 }, () => {
    beforeAll(async () => {
      await initBackend("cpu"); // once through initBackend, so the cpu backend's first-use banner stays quiet
      await initBackend("wasm");
      const s = enableConvKernels({ native: mode.native });
      expect(s.backpropFilter).toBe(mode.native ? "native" : "js");
    });
    afterAll(async () => {
      await tf.setBackend("wasm");
      enableConvKernels();
    });

    for (const c of cases()) {
      it(label(c), async () => {
        const x = randomData([c.batch, c.h, c.w, c.ci]);
        const W = randomData([c.fh, c.fw, c.ci, c.co]);
        const conv = (xt: tf.Tensor4D, Wt: tf.Tensor4D) => tf.conv2d(xt, Wt, c.stride, c.pad, "NHWC", c.dilation);
        // Forward.
        const fwd = () => Array.from(conv(t(x), t(W)).dataSync());
        const y = await on("cpu", fwd);
        expectClose(await on("wasm", fwd), y);
        const yShape = tf.tidy(() => conv(t(x), t(W)).shape);
        const dy = randomData(yShape);
        if (c.dilation === 1) {
          // Transposed convolution (Conv2DBackpropInput) of dy, and the filter gradient (Conv2DBackpropFilter).
          const transposed = () => Array.from(tf.conv2dTranspose(t(dy), t(W), [c.batch, c.h, c.w, c.ci], c.stride, c.pad).dataSync());
          expectClose(await on("wasm", transposed), await on("cpu", transposed));
          const filterGrad = () => Array.from(backpropFilter(t(x), t(dy), [c.fh, c.fw, c.ci, c.co], c.stride, c.pad).dataSync());
          expectClose(await on("wasm", filterGrad), await on("cpu", filterGrad));
        }
      });
    }

    if (mode.native) {
      it("gives the same results when the im2col scratch holds one image at a time (each image its own chunk)", async () => {
        const x = randomData([4, 7, 6, 3]);
        const W = randomData([3, 3, 3, 5]);
        const dy = randomData([4, 4, 3, 5]);
        const all = () => [
          ...tf.conv2d(t(x), t(W), 2, "same").dataSync(),
          ...tf.conv2dTranspose(t(dy), t(W), [4, 7, 6, 3], 2, "same").dataSync(),
          ...backpropFilter(t(x), t(dy), [3, 3, 3, 5], 2, "same").dataSync(),
        ];
        const ref = await on("cpu", all);
        const budget = loadNativeBlas()!.setConvScratch(1);
        try {
          expectClose(await on("wasm", all), ref);
        } finally {
          expect(loadNativeBlas()!.setConvScratch(budget)).toBe(1);
        }
      });

      it("on two and three threads (the batch in parts of whole images): the cpu backend's results, y and dx within 10⁻⁶ of the one-thread floats, dW to rounding, the same floats call after call", async () => {
        // Batch 5 (parts of unequal size, 2 + 3 and 1 + 2 + 2) and 2 (three threads capped at two parts); both
        // paths: several channels (im2col + sgemm, also with one image per scratch chunk) and one channel.
        const shapes: Case[] = [
          { batch: 5, h: 9, w: 8, ci: 3, co: 4, fh: 3, fw: 3, stride: 2, pad: "same", dilation: 1 },
          { batch: 5, h: 7, w: 7, ci: 1, co: 32, fh: 3, fw: 3, stride: 1, pad: "same", dilation: 1 },
          { batch: 2, h: 6, w: 5, ci: 2, co: 3, fh: 3, fw: 2, stride: 1, pad: "valid", dilation: 1 },
          // The conv VAE's largest layer on 12 images: parts long enough to run at the same time on two cores.
          { batch: 12, h: 28, w: 28, ci: 32, co: 64, fh: 3, fw: 3, stride: 2, pad: "same", dilation: 1 },
        ];
        const blas = loadNativeBlas()!;
        for (const c of shapes) {
          const x = randomData([c.batch, c.h, c.w, c.ci]);
          const W = randomData([c.fh, c.fw, c.ci, c.co]);
          const yShape = tf.tidy(() => tf.conv2d(t(x), t(W), c.stride, c.pad).shape);
          const dy = randomData(yShape);
          const three = () => [
            Array.from(tf.conv2d(t(x), t(W), c.stride, c.pad).dataSync()),
            Array.from(tf.conv2dTranspose(t(dy), t(W), [c.batch, c.h, c.w, c.ci], c.stride, c.pad).dataSync()),
            Array.from(backpropFilter(t(x), t(dy), [c.fh, c.fw, c.ci, c.co], c.stride, c.pad).dataSync()),
          ];
          const ref = await on("cpu", three);
          const one = await on("wasm", three);
          for (const chunkOfOne of [false, true]) {
            const budget = chunkOfOne ? blas.setConvScratch(1) : 0;
            try {
              for (const threads of [2, 3]) {
                setNativeThreads(threads);
                const many = await on("wasm", three);
                for (let k = 0; k < 3; k++) expectClose(many[k], ref[k]);
                expectClose(many[0], one[0], 1e-6);
                expectClose(many[1], one[1], 1e-6);
                expectClose(many[2], one[2]);
                expect(await on("wasm", three)).toEqual(many);
              }
            } finally {
              setNativeThreads(1);
              if (chunkOfOne) blas.setConvScratch(budget);
            }
          }
        }
      });

      it("on three threads a direct call writes only the outputs it is given (the filter gradient's parts summed into dW alone)", () => {
        const blas = loadNativeBlas()!;
        const [B, H, Wd, C, CO, F] = [5, 6, 6, 2, 3, 3];
        const xn = B * H * Wd * C, yn = B * H * Wd * CO, wn = F * F * C * CO;
        const heap = new Float32Array(xn + yn + wn + 64);
        for (let i = 0; i < xn + yn; i++) heap[i] = rng.normal();
        heap.fill(7, xn + yn);
        setNativeThreads(3);
        try {
          // mode 2, stride 1, one pixel of padding ("same"): dW = Σ x · dy.
          blas.conv2d(heap, 2, 0, xn, xn + yn, B, H, Wd, C, H, Wd, CO, F, F, 1, 1, 1, 1, 1, 1);
        } finally {
          setNativeThreads(1);
        }
        let worst = 0;
        for (let fy = 0; fy < F; fy++)
          for (let fx = 0; fx < F; fx++)
            for (let ci = 0; ci < C; ci++)
              for (let co = 0; co < CO; co++) {
                let sum = 0;
                for (let b = 0; b < B; b++)
                  for (let oy = 0; oy < H; oy++)
                    for (let ox = 0; ox < Wd; ox++) {
                      const iy = oy + fy - 1, ix = ox + fx - 1;
                      if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) continue;
                      sum += heap[((b * H + iy) * Wd + ix) * C + ci] * heap[xn + ((b * H + oy) * Wd + ox) * CO + co];
                    }
                worst = Math.max(worst, Math.abs(heap[xn + yn + ((fy * F + fx) * C + ci) * CO + co] - sum));
              }
        expect(worst).toBeLessThan(1e-4);
        expect(Array.from(heap.subarray(xn + yn + wn))).toEqual(new Array(64).fill(7));
      });

      it.each([1, 3])("the native one-channel loops write only the outputs they are given, also fewer than the image has room for (%i threads)", (threads) => {
        // conv2d called directly with a 5×6 output of a 12×12 image (stride 1, no padding, 3×3 filter, 16
        // channels): every output against a sum written out here, and the floats after the output untouched.
        const blas = loadNativeBlas()!;
        setNativeThreads(threads);
        onExit(() => setNativeThreads(1));
        const [B, H, Wd, OH, OW, C, F] = [2, 12, 12, 5, 6, 16, 3];
        const xn = B * H * Wd, wn = F * F * C, yn = B * OH * OW * C;
        const heap = new Float32Array(xn + wn + yn + 64);
        for (let i = 0; i < xn + wn; i++) heap[i] = rng.normal();
        heap.fill(7, xn + wn);
        blas.conv2d(heap, 0, 0, xn, xn + wn, B, H, Wd, 1, OH, OW, C, F, F, 1, 1, 0, 0, 1, 1);
        let worst = 0;
        for (let b = 0; b < B; b++)
          for (let oy = 0; oy < OH; oy++)
            for (let ox = 0; ox < OW; ox++)
              for (let c = 0; c < C; c++) {
                let sum = 0;
                for (let fy = 0; fy < F; fy++)
                  for (let fx = 0; fx < F; fx++) sum += heap[(b * H + oy + fy) * Wd + ox + fx] * heap[xn + (fy * F + fx) * C + c];
                worst = Math.max(worst, Math.abs(heap[xn + wn + ((b * OH + oy) * OW + ox) * C + c] - sum));
              }
        expect(worst).toBeLessThan(1e-5);
        expect(Array.from(heap.subarray(xn + wn + yn))).toEqual(new Array(64).fill(7));
      });

      it.each([1, 3])("the native one-channel input gradient stays inside dx when the padding after the image exceeds the filter's reach (%i threads)", (threads) => {
        // conv2d mode 1 (a transposed convolution back to one channel) at stride 1 with 4 pixels of padding on
        // each side of a 6×6 image and a 3×3 filter: dy is 12×12, so ow − pad = 8 > 6. Every dx against a sum
        // written out here, and the floats after dx untouched.
        const blas = loadNativeBlas()!;
        setNativeThreads(threads);
        onExit(() => setNativeThreads(1));
        const [B, H, Wd, OH, OW, C, F, P] = [2, 6, 6, 12, 12, 16, 3, 4];
        const yn = B * OH * OW * C, wn = F * F * C, xn = B * H * Wd;
        const heap = new Float32Array(yn + wn + xn + 64);
        for (let i = 0; i < yn + wn; i++) heap[i] = rng.normal();
        heap.fill(7, yn + wn);
        blas.conv2d(heap, 1, 0, yn, yn + wn, B, H, Wd, 1, OH, OW, C, F, F, 1, 1, P, P, 1, 1);
        let worst = 0;
        for (let b = 0; b < B; b++)
          for (let iy = 0; iy < H; iy++)
            for (let ix = 0; ix < Wd; ix++) {
              let sum = 0;
              for (let fy = 0; fy < F; fy++)
                for (let fx = 0; fx < F; fx++) {
                  const oy = iy + P - fy, ox = ix + P - fx;
                  if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                  for (let c = 0; c < C; c++) sum += heap[((b * OH + oy) * OW + ox) * C + c] * heap[yn + (fy * F + fx) * C + c];
                }
              worst = Math.max(worst, Math.abs(heap[yn + wn + (b * H + iy) * Wd + ix] - sum));
            }
        expect(worst).toBeLessThan(1e-4);
        expect(Array.from(heap.subarray(yn + wn + xn))).toEqual(new Array(64).fill(7));
      });
    }

    it("gradients of a conv → relu → transposed-conv loss through autodiff match the cpu backend", async () => {
      const x = randomData([3, 12, 12, 2]);
      const W1 = randomData([3, 3, 2, 5]);
      const W2 = randomData([3, 3, 4, 5]);
      const r = randomData([3, 12, 12, 4]);
      const g = () => {
        const loss = (xt: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
          const h = tf.relu(tf.conv2d(xt as tf.Tensor4D, a as tf.Tensor4D, 2, "same"));
          const out = tf.conv2dTranspose(h, b as tf.Tensor4D, [3, 12, 12, 4], 2, "same");
          return tf.sum(tf.mul(tf.square(out), t(r)));
        };
        return tf.grads(loss)([t(x), t(W1), t(W2)]).flatMap((d) => Array.from(d.dataSync()));
      };
      expectClose(await on("wasm", g), await on("cpu", g), 1e-4);
    });

    it("a gradient's dy that is not the convolution's output (tfjs checks only its channels) is refused with one line, not read past its end", async () => {
      await tf.setBackend("wasm");
      tf.tidy(() => {
        const x = tf.ones([1, 5, 5, 3]);
        const dy = tf.ones([2, 4, 4, 2]); // the convolution's output is [1, 3, 3, 2]
        const attrs = { strides: 1, pad: "valid", dataFormat: "NHWC", dimRoundingMode: undefined };
        expect(() => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: [3, 3, 3, 2] } as unknown as tf.NamedAttrMap)).toThrow(
          /^Conv2DBackpropFilter on the wasm backend: dy has shape \[2,4,4,2\], but the convolution's output is \[1,3,3,2\]$/,
        );
        if (mode.native) {
          expect(() => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: tf.ones([3, 3, 3, 2]) }, { ...attrs, inputShape: [1, 5, 5, 3] } as unknown as tf.NamedAttrMap)).toThrow(
            /^Conv2DBackpropInput on the wasm backend: dy has shape \[2,4,4,2\], but the convolution's output is \[1,3,3,2\]$/,
          );
        }
      });
    });

    it("leaks no tensors", async () => {
      await tf.setBackend("wasm");
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.ones([2, 6, 6, 3]) as tf.Tensor4D;
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same").sum())([x, tf.ones([3, 3, 3, 4])]);
        gx.dataSync();
        gw.dataSync();
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe("without the registered kernels", () => {
  it("the wasm backend has no Conv2DBackpropFilter (what this module is for), and enabling brings it back", async () => {
    await initBackend("wasm");
    disableConvKernels();
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeUndefined();
    expect(convKernelStatus().backpropFilter).toBe("missing");
    expect(() => tf.tidy(() => backpropFilter(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([1, 2, 2, 1]) as tf.Tensor4D, [3, 3, 1, 1], 1, "valid"))).toThrow(/not registered|not found|Conv2DBackpropFilter/);
    const s = enableConvKernels();
    expect(s.backpropFilter).toBe(loadNativeBlas() !== null ? "native" : "js");
    const v = tf.tidy(() => Array.from(backpropFilter(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([1, 2, 2, 1]) as tf.Tensor4D, [3, 3, 1, 1], 1, "valid").dataSync()));
    expect(v).toEqual(new Array(9).fill(4));
  });
});
