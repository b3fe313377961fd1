// @ts-check
import { PARTS } from "./parts.mjs";
/**
 * StrykerJS mutation testing of one part of the core (test/mutation/parts.mjs), named by the environment
 * variable MUTATION_PART; `npm run mutation` (test/mutation/run.mjs) runs the parts one after another (not
 * part of `npm test`; it takes long). Each mutant of the part's files must make at least one of the part's
 * tests fail (test/mutation/vitest.config.ts reads the same variable), and of those only the tests that
 * cover the mutant run (perTest coverage). Reports: out/mutation/<part>/index.html; survivors that cannot be
 * killed because they do not change behaviour are listed with a reason in test/mutation/equivalent.md.
 * Incremental: results are kept in out/mutation/<part>/stryker-incremental.json, so a rerun only tests
 * mutants in changed code or covered by changed tests (`npm run mutation -- --force` for a full run).
 *
 * For the tests of these parts: call the code under test inside tests (or a describe's hooks), never in a
 * describe body or a file-level hook. A mutant that throws while vitest collects a file, or in a file-level
 * beforeAll, leaves every test unrun or skipped, which the vitest runner reports as no failure, so the mutant
 * is counted as a survivor (18 were, in two parts, until the tests changed).
 *
 * Versions: StrykerJS 9.6 (10.x needs Node ≥ 22; this package supports Node ≥ 18, and Node 20 is what it was set up with),
 * whose vitest runner accepts vitest ≥ 2 and runs with the installed vitest 4.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const part = PARTS.find((p) => p.name === process.env.MUTATION_PART);
if (!part) {
  throw new Error(`MUTATION_PART must name a part of test/mutation/parts.mjs (${PARTS.map((p) => p.name).join(", ")}); run it through \`npm run mutation\``);
}
const out = `out/mutation/${part.name}`;

export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "test/mutation/vitest.config.ts", related: true },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  coverageAnalysis: "perTest",
  mutate: part.mutate,
  // Not needed in the sandbox copy of the project.
  ignorePatterns: ["dist", "out", "site", "notebooks", ".ci", "*.log"],
  incremental: true,
  incrementalFile: `${out}/stryker-incremental.json`,
  reporters: ["progress", "clear-text", "html", "json"],
  htmlReporter: { fileName: `${out}/index.html` },
  jsonReporter: { fileName: `${out}/mutation.json` },
  thresholds: { high: 90, low: 80, break: null },
  // One test process: the statistical tests are CPU-bound, and two cores are shared with the rest.
  concurrency: 1,
  // A mutant that makes a test loop forever is killed by timeout: after 3× the test's time plus a minute.
  timeoutFactor: 3,
  timeoutMS: 60_000,
  // The first, unmutated run of all the tests above (with coverage) takes minutes on a busy machine.
  dryRunTimeoutMinutes: 60,
  tempDirName: `out/stryker-tmp-${part.name}`,
  cleanTempDir: true,
};
