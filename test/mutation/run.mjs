// @ts-check
/**
 * `npm run mutation [-- part …] [-- stryker options]`: StrykerJS over each part of the core
 * (test/mutation/parts.mjs) in turn, or over the parts named; options such as `--force` go to Stryker.
 * `npm run mutation -- --summary` only prints the table from the reports there are.
 * Afterwards out/mutation/index.html and the table printed here give each module's score, its survivors,
 * and the equivalent mutants listed for it in test/mutation/equivalent.md, from the latest report of
 * every part that has one.
 */
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "fs";
import { PARTS } from "./parts.mjs";

/** Each part's last run time in seconds, by part name. */
const TIMES_FILE = "out/mutation/seconds.json";

const args = process.argv.slice(2);
const summaryOnly = args.includes("--summary");
const names = args.filter((a) => !a.startsWith("-"));
const strykerArgs = args.filter((a) => a.startsWith("-"));
for (const n of names) {
  if (!PARTS.some((p) => p.name === n)) {
    console.error(`npm run mutation: unknown part "${n}" (parts: ${PARTS.map((p) => p.name).join(", ")})`);
    process.exit(2);
  }
}
const chosen = summaryOnly ? [] : names.length ? PARTS.filter((p) => names.includes(p.name)) : PARTS;

for (const part of chosen) {
  console.log(`\n== mutation part ${part.name}: ${part.mutate.join(", ")} against ${part.tests.map((t) => `test/${t}.test.ts`).join(", ")}`);
  const start = Date.now();
  const r = spawnSync("npx", ["stryker", "run", "test/mutation/stryker.config.mjs", ...strykerArgs], {
    stdio: "inherit",
    env: { ...process.env, MUTATION_PART: part.name },
  });
  const took = (Date.now() - start) / 1000;
  if (r.status !== 0) {
    console.error(`npm run mutation: part ${part.name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
  const times = existsSync(TIMES_FILE) ? JSON.parse(readFileSync(TIMES_FILE, "utf8")) : {};
  times[part.name] = took;
  writeAtomically(TIMES_FILE, JSON.stringify(times, null, 2) + "\n");
}
summarise();

/** Number of equivalent mutants listed in equivalent.md under each "## file" heading (one bullet each). */
function equivalentsPerFile() {
  const counts = {};
  let file = null;
  for (const line of readFileSync("test/mutation/equivalent.md", "utf8").split("\n")) {
    const h = /^## (\S+)/.exec(line);
    if (h) file = h[1];
    else if (file && line.startsWith("- ")) counts[file] = (counts[file] ?? 0) + 1;
  }
  return counts;
}

function summarise() {
  const equivalents = equivalentsPerFile();
  const times = existsSync(TIMES_FILE) ? JSON.parse(readFileSync(TIMES_FILE, "utf8")) : {};
  const rows = [];
  for (const part of PARTS) {
    const report = `out/mutation/${part.name}/mutation.json`;
    if (!existsSync(report)) continue;
    const files = JSON.parse(readFileSync(report, "utf8")).files;
    for (const [file, { mutants }] of Object.entries(files)) {
      const count = (s) => mutants.filter((m) => m.status === s).length;
      const killed = count("Killed") + count("Timeout");
      const survived = count("Survived") + count("NoCoverage");
      const eq = equivalents[file] ?? 0;
      const valid = killed + survived;
      rows.push({
        part: part.name,
        file,
        mutants: mutants.length,
        compileErrors: count("CompileError"),
        killed,
        survived,
        equivalent: eq,
        score: valid ? (100 * killed) / valid : 100,
        scoreWithoutEquivalents: valid - eq > 0 ? (100 * killed) / (valid - eq) : 100,
        seconds: times[part.name],
      });
    }
  }
  if (!rows.length) return;
  const header = ["file", "mutants", "compile errors", "killed", "survived", "listed equivalent", "score", "score without equivalents", "part's run (s)"];
  const cells = rows.map((r) => [r.file, r.mutants, r.compileErrors, r.killed, r.survived, r.equivalent, r.score.toFixed(1) + "%", r.scoreWithoutEquivalents.toFixed(1) + "%", r.seconds?.toFixed(0) ?? "–"]);
  console.log("\n" + [header, ...cells].map((c) => c.map(String).join("\t")).join("\n"));
  console.log("(score = killed / (killed + survived): compile errors are left out, a mutant the tests do not reach counts as a survivor; timeouts count as killed)");
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const html = `<!doctype html><meta charset="utf-8"><title>vae-lab mutation testing</title>
<style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}td:first-child,th:first-child{text-align:left}</style>
<h1>Mutation testing of the core</h1>
<p>Score = killed / (killed + survived): compile errors (mutants the TypeScript checker rejects) are left out, a mutant no test reaches counts as a survivor, a timeout counts as killed.
The equivalent mutants (they change nothing observable) are listed with a reason in
<a href="../../test/mutation/equivalent.md">test/mutation/equivalent.md</a>. Each part's report: ${PARTS.filter((p) => existsSync(`out/mutation/${p.name}/index.html`))
    .map((p) => `<a href="${p.name}/index.html">${p.name}</a>`)
    .join(", ")}.</p>
<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>
${cells.map((c) => `<tr>${c.map((x) => `<td>${esc(x)}</td>`).join("")}</tr>`).join("\n")}</table>
`;
  writeAtomically("out/mutation/index.html", html);
  console.log("report: out/mutation/index.html");
}

function writeAtomically(file, text) {
  mkdirSync("out/mutation", { recursive: true });
  writeFileSync(file + ".tmp", text);
  renameSync(file + ".tmp", file);
}
