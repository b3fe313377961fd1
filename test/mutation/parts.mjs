// @ts-check
/**
 * The core, split into parts that `npm run mutation` (test/mutation/run.mjs) runs one after another: each part's
 * source files are mutated and tested against the test files that exercise them, and no others. A mutant
 * runs only the tests that cover it (perTest coverage), but a covering test from another module can be a
 * slow statistical study (two million draws in estimators.test.ts cover gaussian.ts too); leaving those out
 * keeps a part's run short, and a mutant only counts as killed by a test written for its module.
 */
export const PARTS = [
  { name: "random-optimizer", mutate: ["src/engine/random.ts", "src/engine/optimizer.ts"], tests: ["random", "optimizer"] },
  { name: "data", mutate: ["src/data/idx.ts", "src/data/mnist.ts"], tests: ["idx", "mnist"] },
  { name: "gaussian-kl", mutate: ["src/prob/gaussian.ts", "src/prob/kl.ts"], tests: ["gaussian-kl"] },
  { name: "bayes-elbo", mutate: ["src/prob/bayes.ts", "src/prob/elbo.ts"], tests: ["bayes-elbo"] },
  { name: "bayes-network", mutate: ["src/prob/bayes-network.ts"], tests: ["bayes-network"] },
  { name: "estimators", mutate: ["src/prob/estimators.ts", "src/prob/costs.ts"], tests: ["estimators"] },
  { name: "categorical", mutate: ["src/prob/categorical.ts"], tests: ["categorical"] },
  { name: "vae", mutate: ["src/vae/model.ts", "src/vae/evaluate.ts"], tests: ["vae", "free-bits"] },
  { name: "backprop", mutate: ["src/vae/backprop.ts"], tests: ["vae-backprop"] },
  { name: "fused-gradients", mutate: ["src/vae/fused-gradients.ts"], tests: ["vae-fused-gradients"] },
  { name: "conditional", mutate: ["src/vae/conditional.ts"], tests: ["conditional-vae"] },
  { name: "iwae", mutate: ["src/vae/iwae.ts", "src/vae/schedule.ts"], tests: ["iwae"] },
  { name: "loss-conventions", mutate: ["src/vae/loss-conventions.ts"], tests: ["loss-conventions"] },
  { name: "bias", mutate: ["src/engine/bias.ts", "src/engine/wasm-identity.ts"], tests: ["bias"] },
  { name: "amortisation", mutate: ["src/vae/amortisation.ts"], tests: ["amortisation"] },
];

/** test/<name>.test.ts for each test name. */
export const testFiles = (part) => part.tests.map((t) => `test/${t}.test.ts`);
