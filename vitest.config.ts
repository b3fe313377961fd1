import { defineConfig } from "vitest/config";

/**
 * Time limits are hang detectors, never speed checks: no test may pass or fail by how fast the machine is at
 * that moment (speed is measured by `npm run bench`, which prints numbers). vitest's defaults (5 s a test,
 * 10 s a hook) are speed checks in disguise: the cpu-backend reference products, the estimator studies and
 * the short trainings in beforeAll hooks take well under them on an idle machine and several times more
 * when the test files share two busy cores, so they failed at random under load. One budget for all,
 * far above anything but a hang: 20 minutes for every test and hook (the notebooks keep their own 30
 * minutes, each being a whole kernel run). Tests that were slow for no reason were made smaller instead.
 */
const HANG_BUDGET_MS = 20 * 60 * 1000;

export default defineConfig({
  test: {
    // Only the project's tests (not copies of them under out/, e.g. the mutation-testing sandbox).
    include: ["test/**/*.test.ts"],
    testTimeout: HANG_BUDGET_MS,
    hookTimeout: HANG_BUDGET_MS,
    teardownTimeout: 60_000,
  },
});
