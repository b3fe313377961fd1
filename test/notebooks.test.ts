/**
 * Every notebook in notebooks/ runs top to bottom through the tslab kernel, in quick mode, without a cell
 * error. Executed copies (with outputs) land in out/executed/ for inspection. The notebooks are split into
 * groups, one test file each, so that they can run on several cores at once (test/harness/notebooks.ts):
 * this file runs the notebooks that no group names and checks that the groups cover every notebook once.
 */
import { describe, expect, it } from "vitest";
import { NOTEBOOKS, NOTEBOOK_GROUPS, OTHER_NOTEBOOKS, notebookTests } from "./harness/notebooks";

describe("notebook groups", () => {
  it("finds the notebooks", () => {
    expect(NOTEBOOKS).toContain("00_setup.ipynb");
  });
  it("every notebook a group names exists and is in no other group; the groups and this file's together are every notebook once", () => {
    const named = Object.values(NOTEBOOK_GROUPS).flat();
    for (const name of named) expect(NOTEBOOKS).toContain(name);
    expect(new Set(named).size).toBe(named.length);
    expect([...named, ...OTHER_NOTEBOOKS].sort()).toEqual(NOTEBOOKS);
  });
});

describe("notebook files", () => {
  it("are stored as nbformat 4.5 wants them: every cell with an id, unique in its notebook, and no outputs", () => {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    for (const name of NOTEBOOKS) {
      const nb = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "notebooks", name), "utf8")) as { nbformat_minor: number; cells: { id?: string; cell_type: string; outputs?: unknown[]; execution_count?: unknown }[] };
      expect(nb.nbformat_minor, name).toBeGreaterThanOrEqual(5);
      const ids = nb.cells.map((c) => c.id);
      expect(ids.filter((id) => typeof id !== "string" || !/^[a-zA-Z0-9-_]{1,64}$/.test(id)), `${name}: cells without a valid id`).toEqual([]);
      expect(new Set(ids).size, `${name}: duplicate cell ids`).toBe(ids.length);
      const run = nb.cells.filter((c) => c.cell_type === "code" && ((c.outputs ?? []).length > 0 || c.execution_count != null));
      expect(run.length, `${name}: code cells stored with outputs`).toBe(0);
    }
  });
});

notebookTests(OTHER_NOTEBOOKS);
