/**
 * Whether the tests of the native kernels run. They run where the addon loaded, and in CI even where it did
 * not (CI installs OpenBLAS, so a missing addon must fail there, not be skipped) — unless the kernels were
 * switched off on purpose with VAE_LAB_NATIVE=0, the setting a user picks to run without them: then those
 * tests are skipped, and `nativeSkipped` says why.
 */
import { afterAll, beforeAll, describe, expect } from "vitest";
import { initBackend } from "../../src/engine/backend";
import { loadNativeBlas, nativeMatMulStatus } from "../../src/engine/native-kernels";

const loaded = loadNativeBlas() !== null;

/** Run the native kernels' tests (a missing addon then fails them). */
export const nativeExpected = loaded || (!!process.env.CI && process.env.VAE_LAB_NATIVE !== "0");

/** Why they are skipped (undefined: they run). */
export const nativeSkipped: string | undefined = nativeExpected ? undefined : `native kernels ${nativeMatMulStatus().reason}`;

/**
 * describe(name, body) on the wasm backend with the native kernels active (checked before the tests, which
 * `setup` may prepare further), the cpu backend again afterwards; skipped where the kernels are not expected.
 */
export function describeOnNativeWasm(name: string, setup: () => void, body: () => void): void {
  (nativeExpected ? describe : describe.skip)(name, () => {
    beforeAll(async () => {
      await initBackend("wasm");
      expect(nativeMatMulStatus().active).toBe(true);
      setup();
    });
    afterAll(async () => {
      await initBackend("cpu");
    });
    body();
  });
}
