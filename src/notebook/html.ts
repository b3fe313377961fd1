/**
 * Rendering an executed notebook as an HTML page that works offline: Markdown through markdown-it, with
 * LaTeX left for MathJax (typeset in the browser from a local copy), code cells with their outputs
 * (syntax-highlighted here, at build time, by highlight.js: the pages need no script for it), and
 * the notebook's plotly charts. The plotly.js bundle that the first chart of a kernel session carries is
 * replaced by one shared copy beside the pages (`assets/plotly.js`).
 *
 * What raw HTML the published pages allow. The pages are built from this repository's own notebooks,
 * executed on the build machine: whoever can change a notebook can already run any code in that build, so
 * a notebook's content is trusted as much as the rest of the repository, and
 *  - raw HTML in Markdown cells is kept (the exercises fold their solutions in <details>);
 *  - text/html and image/svg+xml outputs are inserted as they are (plotly charts are HTML with scripts).
 * Everything else is data and never becomes markup: file names and the links made from them, titles, code,
 * stream, error and plain-text outputs, and math are HTML-escaped; image/png data are used only if they are
 * base64 (anything else is dropped with a note). A notebook from an untrusted source must be reviewed, like
 * any code, before it is published.
 */
import * as crypto from "crypto";
import MarkdownIt from "markdown-it";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import typescript from "highlight.js/lib/languages/typescript";

export interface NotebookJson {
  cells: { cell_type: string; source: string | string[]; outputs?: OutputJson[]; execution_count?: number | null }[];
  metadata?: Record<string, unknown>;
}

interface OutputJson {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
}

// Only the languages the notebooks hold (their code cells, and fenced blocks in their text): the core and
// five grammars, not highlight.js's 190.
for (const [name, grammar] of Object.entries({ bash, javascript, json, python, typescript })) hljs.registerLanguage(name, grammar);
hljs.registerAliases(["ts", "tslab"], { languageName: "typescript" });
hljs.registerAliases(["js"], { languageName: "javascript" });
hljs.registerAliases(["sh", "shell"], { languageName: "bash" });

/**
 * Code as highlighted HTML: highlight.js's spans (class hljs-…) around HTML-escaped text. A language it
 * does not know gives the escaped code as it is.
 */
export function highlightCode(code: string, language: string | undefined): string {
  if (!language || !hljs.getLanguage(language)) return escapeHtml(code);
  return hljs.highlight(code, { language, ignoreIllegals: true }).value;
}

const md = new MarkdownIt({
  html: true,
  linkify: false,
  typographer: false,
  // Fenced blocks with a language (```ts, ```python) are highlighted like code cells; "" lets markdown-it escape the rest.
  highlight: (code, language) => (language && hljs.getLanguage(language) ? highlightCode(code, language) : ""),
});

const join = (s: string | string[] | undefined) => (Array.isArray(s) ? s.join("") : (s ?? ""));

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** A relative link to a file name, for an href attribute: percent-encoded, then HTML-escaped. */
export function hrefTo(fileName: string): string {
  return escapeHtml(encodeURIComponent(fileName));
}

/** A token of letters and digits that does not occur in `text` (placeholders made from it cannot collide with it). */
function freshToken(text: string): string {
  for (;;) {
    const t = `q${crypto.randomBytes(6).toString("hex")}q`;
    if (!text.includes(t)) return t;
  }
}

/**
 * Markdown to HTML with math kept intact: $$…$$ and $…$ spans are set aside before markdown-it runs (so
 * `_`, `*` and `\\` inside them survive) and put back, HTML-escaped, for MathJax to typeset.
 */
export function renderMarkdown(source: string): string {
  // Placeholders are built from a token absent from the source, so text that looks like one stays text.
  const token = freshToken(source);
  const mathRe = new RegExp(`${token}M(\\d+)E`, "g");
  const codeRe = new RegExp(`${token}C(\\d+)E`, "g");
  const math: string[] = [];
  const protect = (m: string) => {
    math.push(m);
    return `${token}M${math.length - 1}E`;
  };
  // Fenced code first, so a $ inside code is not taken for math.
  const code: string[] = [];
  let text = source.replace(/```[\s\S]*?```/g, (m) => {
    code.push(m);
    return `${token}C${code.length - 1}E`;
  });
  text = text.replace(/\$\$[\s\S]+?\$\$/g, protect).replace(/(^|[^\\$])\$(?!\s)([^$\n]+?)\$/g, (_m, pre: string, body: string) => pre + protect(`$${body}$`));
  text = text.replace(codeRe, (_m, i: string) => code[Number(i)]);
  return md.render(text).replace(mathRe, (_m, i: string) => escapeHtml(math[Number(i)]));
}

function renderOutput(o: OutputJson): string {
  if (o.output_type === "stream") {
    return `<pre class="out ${o.name === "stderr" ? "stderr" : ""}">${escapeHtml(join(o.text))}</pre>`;
  }
  if (o.output_type === "error") return `<pre class="out stderr">${escapeHtml(`${o.ename}: ${o.evalue}`)}</pre>`;
  const data = o.data ?? {};
  if (data["text/html"] !== undefined) {
    const html = join(data["text/html"]);
    // The inlined plotly.js bundle: the page loads the shared copy instead.
    if (html.includes('data-vae-lab-plotly="1"')) return "";
    return `<div class="out html">${html}</div>`;
  }
  if (data["image/png"] !== undefined) {
    const b64 = join(data["image/png"]).replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return `<pre class="out stderr">[an image/png output whose data are not base64 was left out]</pre>`;
    return `<div class="out"><img src="data:image/png;base64,${b64}"></div>`;
  }
  if (data["image/svg+xml"] !== undefined) return `<div class="out">${join(data["image/svg+xml"])}</div>`;
  if (data["text/markdown"] !== undefined) return `<div class="out md">${renderMarkdown(join(data["text/markdown"]))}</div>`;
  if (data["text/plain"] !== undefined) return `<pre class="out">${escapeHtml(join(data["text/plain"]))}</pre>`;
  return "";
}

/** The first Markdown heading of a notebook (its title). */
export function notebookTitle(nb: NotebookJson, fallback: string): string {
  for (const c of nb.cells) {
    if (c.cell_type !== "markdown") continue;
    const m = join(c.source).match(/^#\s+(.+)$/m);
    if (m) return m[1].trim();
  }
  return fallback;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1000px;margin:0 auto;padding:1.5em;color:#222;line-height:1.55}
nav{font-size:.9em;margin-bottom:1em}nav a{margin-right:1em}
pre{overflow-x:auto}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
.cell.code{margin:1.2em 0}
.cell.code pre.src{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.9em 1.1em;font-size:14px;line-height:1.5;margin:.2em 0 .5em 0}
.cell.md pre{background:#f6f8fa;border-radius:6px;padding:.8em 1em;font-size:14px;line-height:1.5}
.cell.code .label{color:#888;font-size:12px;font-family:ui-monospace,monospace}
pre.out{font-size:13px;line-height:1.45;margin:.3em 0 .3em 0;padding:.3em .9em;border-left:3px solid #ddd}
.hljs-keyword,.hljs-doctag,.hljs-meta .hljs-keyword,.hljs-template-tag,.hljs-type,.hljs-variable.language_{color:#cf222e}
.hljs-title,.hljs-title.class_,.hljs-title.function_{color:#8250df}
.hljs-attr,.hljs-attribute,.hljs-literal,.hljs-meta,.hljs-number,.hljs-operator,.hljs-variable,.hljs-property{color:#0550ae}
.hljs-string,.hljs-regexp,.hljs-meta .hljs-string{color:#0a3069}
.hljs-built_in,.hljs-symbol{color:#953800}
.hljs-comment,.hljs-code,.hljs-formula{color:#6e7781;font-style:italic}
.hljs-params{color:#24292f}.hljs-subst{color:#24292f}
pre.out.stderr{border-left-color:#d33;color:#a00}
table{border-collapse:collapse;margin:.6em 0}th,td{padding:2px 10px;border-bottom:1px solid #eee}
blockquote{border-left:4px solid #ddd;margin-left:0;padding-left:1em;color:#444}
p code,li code,td code{font-size:.92em;background:#f2f3f5;padding:.1em .3em;border-radius:3px}
`;

export const MATHJAX_CONFIG = `window.MathJax={tex:{inlineMath:[["$","$"],["\\\\(","\\\\)"]],displayMath:[["$$","$$"],["\\\\[","\\\\]"]]},svg:{fontCache:"global"},options:{skipHtmlTags:["script","noscript","style","textarea","pre","code"]}};`;

/**
 * The language of a notebook's code cells, from its metadata; "typescript" where the metadata say nothing,
 * since every notebook here runs in tslab's TypeScript kernel.
 */
export function notebookLanguage(nb: NotebookJson): string {
  const meta = (nb.metadata ?? {}) as { language_info?: { name?: unknown }; kernelspec?: { language?: unknown } };
  const name = meta.language_info?.name ?? meta.kernelspec?.language;
  return typeof name === "string" && name ? name.toLowerCase() : "typescript";
}

/**
 * A whole page for one executed notebook. `assets` is the relative folder holding plotly.js and
 * tex-svg-full.js; `nav` is HTML for the navigation bar.
 */
export function notebookPage(nb: NotebookJson, options: { title: string; assets: string; nav?: string }): string {
  const language = notebookLanguage(nb);
  const body = nb.cells
    .map((c) => {
      if (c.cell_type === "markdown") return `<div class="cell md">${renderMarkdown(join(c.source))}</div>`;
      if (c.cell_type !== "code") return "";
      const label = `<div class="label">In [${c.execution_count ?? " "}]:</div>`;
      const outs = (c.outputs ?? []).map(renderOutput).join("\n");
      return `<div class="cell code">${label}<pre class="src"><code class="hljs language-${escapeHtml(language)}">${highlightCode(join(c.source), language)}</code></pre>${outs}</div>`;
    })
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>${STYLE}</style>
<script>${MATHJAX_CONFIG}</script>
<script src="${options.assets}/tex-svg-full.js" async></script>
<script src="${options.assets}/plotly.js"></script>
</head><body>
${options.nav ? `<nav>${options.nav}</nav>` : ""}
${body}
${options.nav ? `<nav>${options.nav}</nav>` : ""}
</body></html>
`;
}
