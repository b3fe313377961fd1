import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { notebookPage, notebookTitle, renderMarkdown } from "../src/notebook/html";
import { buildSite, indexItem, summary } from "../src/notebook/site";

/** The text of some HTML: tags dropped, the five escapes undone. */
const text = (html: string) => html.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");

describe("notebook → HTML", () => {
  it("keeps LaTeX intact through Markdown (underscores, stars, backslashes)", () => {
    const html = renderMarkdown("Let $z_d = \\mu_d + \\sigma_d \\varepsilon_d$ and *emphasis*:\n\n$$\\mathbb{E}_q[f] = \\int q_\\phi(z) f(z)\\, dz$$");
    expect(html).toContain("$z_d = \\mu_d + \\sigma_d \\varepsilon_d$");
    expect(html).toContain("$$\\mathbb{E}_q[f] = \\int q_\\phi(z) f(z)\\, dz$$");
    expect(html).toContain("<em>emphasis</em>");
  });

  it("escapes < inside math and leaves $ in code blocks alone", () => {
    expect(renderMarkdown("$a < b$")).toContain("$a &lt; b$");
    const html = renderMarkdown("```python\nx = '$not math$'\n```");
    expect(html).toContain("<code");
    expect(html).toContain("$not math$");
  });

  it("renders cells and outputs, drops the inlined plotly bundle, and finds the title", () => {
    const nb = {
      cells: [
        { cell_type: "markdown", source: ["# 09 · A title\n", "text"] },
        {
          cell_type: "code",
          source: "console.log(1 < 2)",
          execution_count: 3,
          outputs: [
            { output_type: "stream", name: "stdout", text: "true <ok>\n" },
            { output_type: "display_data", data: { "text/html": '<script data-vae-lab-plotly="1">BUNDLE</script>' } },
            { output_type: "display_data", data: { "text/html": '<div class="vae-lab-plot"></div>' } },
          ],
        },
      ],
    };
    expect(notebookTitle(nb, "x")).toBe("09 · A title");
    const page = notebookPage(nb, { title: "T", assets: "assets" });
    expect(page).toContain("In [3]:");
    expect(page).toContain("&lt;");
    expect(text(page)).toContain("console.log(1 < 2)");
    expect(page).toContain("true &lt;ok&gt;");
    expect(page).not.toContain("BUNDLE");
    expect(page).toContain('<div class="vae-lab-plot"></div>');
    expect(page).toContain('<script src="assets/plotly.js"></script>');
    expect(page).not.toMatch(/src="https?:/);
  });
});

describe("code cells", () => {
  const nb = (source: string) => ({ cells: [{ cell_type: "code", source, execution_count: 1, outputs: [] }], metadata: { language_info: { name: "typescript" } } });

  it("are syntax-highlighted when the site is built (highlight.js spans), with no script in the page for it", () => {
    const page = notebookPage(nb('const n: number = 1 < 2 ? f("a") : 3; // a comment'), { title: "T", assets: "assets" });
    expect(page).toContain('<span class="hljs-keyword">const</span>');
    expect(page).toContain('<span class="hljs-string">&quot;a&quot;</span>');
    expect(page).toContain('<span class="hljs-comment">// a comment</span>');
    expect(page).toMatch(/\.hljs-keyword[^{]*\{color:#/);
    expect(text(page)).toContain('const n: number = 1 < 2 ? f("a") : 3; // a comment');
    expect(page.match(/<script\b[^>]*>/g)).toEqual(["<script>", '<script src="assets/tex-svg-full.js" async>', '<script src="assets/plotly.js">']);
  });

  it("stay text: markup in code is escaped, highlighted or not", () => {
    const code = 'const s = "</code></pre><script>alert(1)</script>";';
    for (const metadata of [{ language_info: { name: "typescript" } }, { language_info: { name: "no-such-language" } }]) {
      const page = notebookPage({ ...nb(code), metadata }, { title: "T", assets: "assets" });
      expect(page).not.toContain("<script>alert");
      expect(text(page)).toContain(code);
    }
  });

  it("are set large enough to read (at least 13 px) with padding", () => {
    const page = notebookPage(nb("let x = 1"), { title: "T", assets: "assets" });
    const rule = /\.cell\.code pre\.src\{([^}]*)\}/.exec(page)?.[1] ?? "";
    expect(Number(/font-size:(\d+)px/.exec(rule)?.[1])).toBeGreaterThanOrEqual(13);
    expect(rule).toMatch(/padding:/);
  });

  it("fenced code in Markdown with a language is highlighted too", () => {
    expect(renderMarkdown("```ts\nconst x = 1;\n```")).toContain('<span class="hljs-keyword">const</span>');
  });
});

describe("site index summaries", () => {
  it("take the first paragraph and cut it after a whole sentence", () => {
    const nb = (text: string) => ({ cells: [{ cell_type: "markdown", source: `# Title\n\n${text}\n\nmore` }] });
    expect(summary(nb("Short one."))).toBe("Short one.");
    const long = "First sentence with $x_1$. " + "Second sentence goes on and on. ".repeat(20);
    expect(summary(nb(long), 80)).toBe("First sentence with $x_1$. Second sentence goes on and on.");
    expect(summary(nb("word ".repeat(100)), 50)).toMatch(/ …$/);
  });

  it("never end on a colon: a paragraph introducing a list is cut back to its last sentence", () => {
    const nb = (text: string) => ({ cells: [{ cell_type: "markdown", source: `# Title\n\n${text}` }] });
    expect(summary(nb("This notebook trains a VAE. It shows three things:"))).toBe("This notebook trains a VAE.");
    const long = "A first sentence that is long enough to count here. Then the reader meets the following: " + "x ".repeat(200);
    expect(summary(nb(long), 120)).toBe("A first sentence that is long enough to count here.");
    expect(summary(nb(long), 120)).not.toMatch(/:$/);
  });
});

describe("site index entries", () => {
  it("carry the notebook's own number (from its file name), not the place in the list, and the title without it", () => {
    const item = indexItem({ notebook: "07_vae_mnist.ipynb", page: "07_vae_mnist.html", title: "07 · A VAE on MNIST", seconds: 3, summary: "S." });
    expect(item).toContain('<span class="num">07</span>');
    expect(item).toContain(">A VAE on MNIST</a>");
    expect(indexItem({ notebook: "x.ipynb", page: "x.html", title: "X", seconds: 0, summary: "" })).toContain(">X</a>");
  });
});

describe("site", () => {
  it("copies notebooks/figures beside the pages, so markdown's figures/… links resolve", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-site-"));
    const notebooks = path.join(dir, "notebooks");
    fs.mkdirSync(path.join(notebooks, "figures"), { recursive: true });
    fs.writeFileSync(path.join(notebooks, "figures", "g.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    const nb = { cells: [{ cell_type: "markdown", metadata: {}, source: ["# 01 · T\n", "\n", "A figure. ![g](figures/g.svg)"] }], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    fs.writeFileSync(path.join(notebooks, "01_t.ipynb"), JSON.stringify(nb));
    const out = path.join(dir, "site");
    await buildSite({ notebooks, out, quick: true });
    expect(fs.readFileSync(path.join(out, "01_t.html"), "utf8")).toContain('src="figures/g.svg"');
    expect(fs.existsSync(path.join(out, "figures", "g.svg"))).toBe(true);
    // The index: one notebook is "1 notebook", numbered 01 as its file is, in a list that does not count from 0.
    const index = fs.readFileSync(path.join(out, "index.html"), "utf8");
    expect(index).toMatch(/; 1 notebook, \d+ s of computation/);
    expect(index).toContain('<span class="num">01</span>');
    expect(index).not.toMatch(/<ol/);
    expect(index).toContain("in quick mode");
    // A full-mode site says so as well (the pages' own first outputs say which mode ran them).
    const full = path.join(dir, "site-full");
    await buildSite({ notebooks, out: full, quick: false });
    expect(fs.readFileSync(path.join(full, "index.html"), "utf8")).toContain("in full mode");
    fs.rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
