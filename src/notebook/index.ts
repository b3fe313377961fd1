/**
 * `vae-lab/notebook`: what the notebooks use besides the library — showing charts and tables in tslab,
 * quick mode, running notebooks through the tslab kernel without Jupyter, and publishing them as a site.
 * The runner and site builder need the notebook tooling (tslab, zeromq, markdown-it, mathjax, highlight.js), which the
 * repository installs and a library user may not: they are loaded on first use.
 */
export * from "./display";
export { quickMode, pick } from "./quick";
export type { Output, CellResult, NotebookRun } from "./runner";
export type { SiteOptions, SitePage } from "./site";

/** Execute a notebook top to bottom in a fresh tslab kernel (see `runner.ts`). */
export const runNotebook: typeof import("./runner").runNotebook = (...args) => require("./runner").runNotebook(...args);
/** Execute every notebook and publish them as HTML pages with an index (see `site.ts`). */
export const buildSite: typeof import("./site").buildSite = (...args) => require("./site").buildSite(...args);
