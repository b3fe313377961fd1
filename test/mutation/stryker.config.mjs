// @ts-check
/**
 * `npm run mutation`: StrykerJS mutation testing of the core (not part of `npm test`; it takes long).
 * Each mutant of the files in `mutate` must make at least one test fail. The tests it runs are those of
 * test/mutation/vitest.config.ts, and of those only the ones that cover the mutant (perTest coverage).
 * The HTML report is out/mutation/index.html; survivors that cannot be killed because they do not change
 * behaviour are listed with a reason in test/mutation/equivalent.md. Incremental: results are kept in
 * out/mutation/stryker-incremental.json, so a rerun only tests mutants in changed code or covered by
 * changed tests (`npm run mutation -- --force` for a full run).
 *
 * Versions: StrykerJS 9.6 (10.x needs Node ≥ 22; this package supports Node ≥ 18, and Node 20 is what it was set up with),
 * whose vitest runner accepts vitest ≥ 2 and runs with the installed vitest 4.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "test/mutation/vitest.config.ts", related: true },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  coverageAnalysis: "perTest",
  mutate: [
    "src/prob/*.ts",
    "src/vae/model.ts",
    "src/vae/backprop.ts",
    "src/vae/evaluate.ts",
    "src/engine/optimizer.ts",
    "src/engine/random.ts",
    "src/data/idx.ts",
    "src/data/mnist.ts",
  ],
  // Not needed in the sandbox copy of the project.
  ignorePatterns: ["dist", "out", "site", "notebooks", ".ci", "*.log"],
  incremental: true,
  incrementalFile: "out/mutation/stryker-incremental.json",
  reporters: ["progress", "clear-text", "html", "json"],
  htmlReporter: { fileName: "out/mutation/index.html" },
  jsonReporter: { fileName: "out/mutation/mutation.json" },
  thresholds: { high: 90, low: 80, break: null },
  // One test process: the statistical tests are CPU-bound, and two cores are shared with the rest.
  concurrency: 1,
  // A mutant that makes a test loop forever is killed by timeout: after 3× the test's time plus a minute.
  timeoutFactor: 3,
  timeoutMS: 60_000,
  // The first, unmutated run of all the tests above (with coverage) takes minutes on a busy machine.
  dryRunTimeoutMinutes: 60,
  tempDirName: "out/stryker-tmp",
  cleanTempDir: true,
};
