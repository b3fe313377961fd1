import * as tf from "../src/engine/tf";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError, initBackend, parseBackendChoice } from "../src/engine/backend";
import { nativeMatMulStatus, nativeThreadCount } from "../src/engine/native-kernels";

function tfjsNodeInstalled(): boolean {
  try {
    require.resolve("@tensorflow/tfjs-node");
    return true;
  } catch {
    return false;
  }
}

describe("backend selection", () => {
  const saved = process.env.VAE_LAB_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.VAE_LAB_BACKEND;
    else process.env.VAE_LAB_BACKEND = saved;
  });

  it("parses choices and rejects unknown names with the source in the message", () => {
    expect(parseBackendChoice(undefined)).toBe("auto");
    expect(parseBackendChoice("wasm")).toBe("wasm");
    expect(() => parseBackendChoice("gpu", "--backend")).toThrow(/--backend: unknown backend "gpu" \(expected one of auto, tensorflow, wasm, cpu\)/);
  });

  it("runs an explicit cpu or wasm choice and reports it", async () => {
    const cpu = await initBackend("cpu");
    expect(cpu.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    const wasm = await initBackend("wasm");
    expect(wasm.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(wasm.summary).toMatch(/^wasm \((no )?SIMD\)( \+ native kernels \(OpenBLAS [A-Za-z0-9]+( — [^:]+)?: matmul, conv, Adam, Bernoulli NLL, MLP gradient; 1 thread\)|; native kernels .+)? — tfjs 4\./);
    const y = tf.tidy(() => tf.tensor1d([1, 2, 3]).square().sum().dataSync()[0]);
    expect(y).toBe(14);
  });

  it("auto prefers tensorflow, else wasm, and says why it skipped", async () => {
    const info = await initBackend("auto");
    if (tfjsNodeInstalled()) {
      expect(info.name).toBe("tensorflow");
    } else {
      expect(info.name).toBe("wasm");
      expect(info.skipped).toEqual([{ name: "tensorflow", reason: "not installed" }]);
      expect(info.summary).toContain("tensorflow skipped: not installed");
    }
  });

  it("an explicit tensorflow choice fails clearly where tfjs-node is missing", async () => {
    if (tfjsNodeInstalled()) {
      expect((await initBackend("tensorflow")).name).toBe("tensorflow");
    } else {
      await expect(initBackend("tensorflow")).rejects.toThrow(new BackendError('backend "tensorflow" cannot be used here: not installed'));
    }
  });

  it("reads VAE_LAB_THREADS: the native kernels' threads, said in the summary; a bad value is refused naming the variable", async () => {
    try {
      process.env.VAE_LAB_THREADS = "2";
      const two = await initBackend("wasm");
      if (nativeMatMulStatus().active) {
        expect(two.summary).toContain("MLP gradient; 2 threads)");
        expect(nativeThreadCount()).toBe(2);
      }
      for (const bad of ["0", "two", "65", "1.5"]) {
        process.env.VAE_LAB_THREADS = bad;
        await expect(initBackend("wasm")).rejects.toThrow(new BackendError(`VAE_LAB_THREADS: expected an integer from 1 to 64, got "${bad}"`));
      }
      // Unset: the count stays as it was set.
      delete process.env.VAE_LAB_THREADS;
      await initBackend("wasm");
      if (nativeMatMulStatus().active) expect(nativeThreadCount()).toBe(2);
      process.env.VAE_LAB_THREADS = "1";
      const one = await initBackend("wasm");
      expect(nativeThreadCount()).toBe(1);
      if (nativeMatMulStatus().active) expect(one.summary).toContain("MLP gradient; 1 thread)");
    } finally {
      delete process.env.VAE_LAB_THREADS;
    }
  });

  it("reads VAE_LAB_BACKEND when no choice is passed", async () => {
    process.env.VAE_LAB_BACKEND = "cpu";
    expect((await initBackend()).name).toBe("cpu");
    process.env.VAE_LAB_BACKEND = "fast";
    await expect(initBackend()).rejects.toThrow(/VAE_LAB_BACKEND: unknown backend "fast"/);
  });
});
