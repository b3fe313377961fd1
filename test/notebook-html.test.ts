import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { notebookPage, notebookTitle, renderMarkdown } from "../src/notebook/html";
import { buildSite, summary } from "../src/notebook/site";

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
    expect(page).toContain("console.log(1 &lt; 2)");
    expect(page).toContain("true &lt;ok&gt;");
    expect(page).not.toContain("BUNDLE");
    expect(page).toContain('<div class="vae-lab-plot"></div>');
    expect(page).toContain('<script src="assets/plotly.js"></script>');
    expect(page).not.toMatch(/src="https?:/);
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
    fs.rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
