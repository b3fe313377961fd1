import * as os from "os";
import * as path from "path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

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

/**
 * One test file per core. vitest's default is one fewer than the cores (one file at a time on two cores),
 * which leaves a core idle: a test file keeps about one core busy — itself, or the CLI or kernel it waits for
 * (the library pins OpenBLAS to one thread, the wasm backend has none in Node, and the PyTorch references run
 * on one) — and vitest's own process only collects results.
 */
const WORKERS = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;

/**
 * The slowest test files, slowest first (their time in a full run on two cores). With the files shared
 * between workers, a long file started last would run alone at the end; started first, the short files fill
 * in around it and the workers finish together. vitest orders by the durations of its last run where it has
 * them, but a fresh clone has none (it then runs the largest files first, and the notebooks' files are
 * small), and a run of one file or one test overwrites a file's duration; so this order is fixed here. The
 * files not listed follow in vitest's own order.
 */
const SLOWEST_FIRST = [
  "notebooks-1", // 08_conv_vae alone
  "faults-commands",
  "notebooks", // the notebooks no group names (test/harness/notebooks.ts)
  "notebooks-2",
  "cli-model",
  "notebooks-3",
  "faults",
  "estimators",
  "categorical-vae",
  "cli",
  "harness",
  "vae-gradients",
  "vae",
  "conv-vae",
].map((name) => `test/${name}.test.ts`);

class SlowestFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SLOWEST_FIRST.indexOf(path.relative(f.project.config.root, f.moduleId).split(path.sep).join("/"));
      return i < 0 ? SLOWEST_FIRST.length : i;
    };
    const rest = await super.sort(files);
    return rest.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

/**
 * Test files that share a worker process instead of each starting its own (vitest's `isolate: false`): a
 * fresh process and its imports cost one to two seconds a file, more than most of these take. They keep no
 * state between files that another could trip on: no module mocks left in place (idx.test.ts restores its spy), no environment or working-directory
 * changes, and a file that uses TensorFlow.js sets its backend itself before its tests and counts tensors
 * only relative to its own start. Tests that count kernels or depend on a fresh tfjs engine
 * (vae-backprop, backend, determinism, blas-core, …) stay isolated.
 */
const SHARED_WORKER = [
  "atomic-write", "bayes-network", "folder-lock", "idx", "image-moments", "npy", "random", "progress", "plot",
  "image-folder", "output-set", "batch-norm", "optimizer", "prior-pairing", "library-inputs", "layers-load",
  "autoencoder", "bayes-elbo", "brachistochrone", "categorical", "categorical-vae", "estimators", "exercises",
  "fashion-mnist", "gaussian-kl", "iwae", "amortisation", "free-bits", "conditional-vae", "loss-conventions", "mnist", "pitfalls", "tf-namespace", "vae-gradients",
].map((name) => `test/${name}.test.ts`);

export default defineConfig({
  test: {
    testTimeout: HANG_BUDGET_MS,
    hookTimeout: HANG_BUDGET_MS,
    teardownTimeout: 60_000,
    maxWorkers: WORKERS,
    sequence: { sequencer: SlowestFirst },
    projects: [
      // Only the project's tests (not copies of them under out/, e.g. the mutation-testing sandbox).
      { extends: true, test: { name: "isolated", include: ["test/**/*.test.ts"], exclude: SHARED_WORKER } },
      { extends: true, test: { name: "shared-worker", include: SHARED_WORKER, isolate: false } },
    ],
  },
});
