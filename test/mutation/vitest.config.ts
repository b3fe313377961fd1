import { fileURLToPath } from "url";
import { defineConfig } from "vitest/config";
import base from "../../vitest.config";
import { PARTS, testFiles } from "./parts.mjs";

/**
 * The test files that run against mutants of the core (test/mutation/stryker.config.mjs): those of the part of
 * test/mutation/parts.mjs named by MUTATION_PART, or of every part when it is unset. The notebook, browser,
 * Jupyter, CLI, plotting and benchmark-like files test other modules and take minutes, so they are left out
 * here (they still run in `npm test`).
 */
type Part = { name: string; mutate: string[]; tests: string[] };
const parts = (PARTS as Part[]).filter((p) => !process.env.MUTATION_PART || p.name === process.env.MUTATION_PART);
export const MUTATION_TESTS: string[] = parts.flatMap((p) => testFiles(p) as string[]);

// The shared settings (time budgets) of the project's config, with this list in place of its include. Its
// projects (the isolated files and those sharing a worker) are left out: each has an include of its own,
// which would bring back every test file, the CLI's among them (which run dist/, absent from the sandbox).
const { projects: _projects, ...shared } = base.test ?? {};
export default defineConfig({
  test: {
    ...shared,
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: MUTATION_TESTS,
  },
});
