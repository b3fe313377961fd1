import { fileURLToPath } from "url";
import { defineConfig } from "vitest/config";
import base from "../../vitest.config";

/**
 * The test files `npm run mutation` (test/mutation/stryker.config.mjs) runs against mutants of the core: the ones that
 * import the probability library, the estimators, the VAE's loss, backprop and evaluation, the optimizer,
 * seeded randomness and data parsing. The notebook, browser, Jupyter, CLI, plotting and benchmark-like
 * files test other modules and take minutes, so they are left out here (they still run in `npm test`).
 */
export const MUTATION_TESTS = [
  "test/bayes-elbo.test.ts",
  "test/gaussian-kl.test.ts",
  "test/estimators.test.ts",
  "test/random.test.ts",
  "test/optimizer.test.ts",
  "test/idx.test.ts",
  "test/mnist.test.ts",
  "test/vae.test.ts",
  "test/vae-backprop.test.ts",
];

// The shared settings (time budgets) of the project's config, with this list in place of its include.
export default defineConfig({
  test: {
    ...base.test,
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: MUTATION_TESTS,
  },
});
