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

notebookTests(OTHER_NOTEBOOKS);
