/** Group 3 of the notebooks (test/harness/notebooks.ts): each runs top to bottom in quick mode without a cell error. */
import { NOTEBOOK_GROUPS, notebookTests } from "./harness/notebooks";

notebookTests(NOTEBOOK_GROUPS["3"]);
