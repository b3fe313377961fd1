/**
 * Issue 11, item 2: model.json, report.html and metrics.json are replaced as one set. A process killed
 * (SIGKILL) at every step of writeOutputSet leaves every file whole, and after the repair the next run
 * makes (recoverOutputSet) the folder holds exactly one run's set — the old one if the kill came before the
 * commit, the new one after — and nothing else.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { recoverOutputSet, writeOutputSet } from "../src/files/output-set";
import { scratchDir } from "./harness/scratch";

const NAMES = ["model.json", "report.html", "metrics.json"];
const set = (tag: string) => Object.fromEntries(NAMES.map((n) => [n, `${tag} ${n} `.repeat(5000)]));
const OLD = set("old");
const NEW = set("new");
const STEPS = [...NAMES.map((n) => `staged ${n}`), "committed", ...NAMES.map((n) => `moved ${n}`), "finished"];
const dist = path.resolve(__dirname, "../dist/files/output-set.js");

function read(dir: string): Record<string, string> {
  return Object.fromEntries(NAMES.map((n) => [n, fs.readFileSync(path.join(dir, n), "utf8")]));
}

/** Write NEW over OLD in a child process that SIGKILLs itself at `step`. */
function killedWrite(dir: string, step: string) {
  const script = `
    const { writeOutputSet } = require(${JSON.stringify(dist)});
    writeOutputSet(${JSON.stringify(dir)}, ${JSON.stringify(NEW)}, (s) => { if (s === ${JSON.stringify(step)}) process.kill(process.pid, "SIGKILL"); });`;
  const file = path.join(scratchDir("vae-lab-kill-"), "write.js");
  fs.writeFileSync(file, script); // too long for one command-line argument
  return spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 60_000 });
}

describe("writeOutputSet", () => {
  it.each(STEPS)("killed at %s: files whole, then one whole set and no temporary files", (step) => {
    const dir = scratchDir("vae-lab-set-");
    writeOutputSet(dir, OLD);
    fs.writeFileSync(path.join(dir, "notes.txt"), "a file of the user's"); // left alone
    const r = killedWrite(dir, step);
    expect(r.signal).toBe("SIGKILL");
    // Right after the kill each file is whole: old or new, never cut.
    for (const [n, text] of Object.entries(read(dir))) expect([OLD[n], NEW[n]]).toContain(text);
    recoverOutputSet(dir, NAMES);
    const afterCommit = STEPS.indexOf(step) >= STEPS.indexOf("committed");
    expect(read(dir)).toEqual(afterCommit ? NEW : OLD);
    expect(fs.readdirSync(dir).sort()).toEqual([...NAMES, "notes.txt"].sort());
  });

  it("a failure while staging (a full disk, say) leaves the old set and nothing else", () => {
    const dir = scratchDir("vae-lab-set-");
    writeOutputSet(dir, OLD);
    expect(() =>
      writeOutputSet(dir, NEW, (s) => {
        if (s === "staged report.html") throw new Error("disk full");
      }),
    ).toThrow(/disk full/);
    expect(read(dir)).toEqual(OLD);
    expect(fs.readdirSync(dir).sort()).toEqual([...NAMES].sort());
  });

  it("removes writeFileAtomic's stray temporary files of the set's names", () => {
    const dir = scratchDir("vae-lab-set-");
    fs.writeFileSync(path.join(dir, ".report.html.1234.abc.tmp"), "half a report");
    fs.writeFileSync(path.join(dir, ".other.tmp"), "not ours");
    writeOutputSet(dir, NEW);
    expect(fs.readdirSync(dir).sort()).toEqual([".other.tmp", ...NAMES].sort());
  });
});

describe("writeOutputSet with subfolders (an export's encoder/ and decoder/)", () => {
  const NESTED = ["encoder/model.json", "encoder/weights.bin", "decoder/model.json", "decoder/weights.bin"];
  const nested = (tag: string) => Object.fromEntries(NESTED.map((n) => [n, `${tag} ${n}`]));
  const readNested = (dir: string) => Object.fromEntries(NESTED.map((n) => [n, fs.readFileSync(path.join(dir, n), "utf8")]));

  it("writes each file into its subfolder, replaces an earlier set, and leaves other files and folders alone", () => {
    const dir = scratchDir("vae-lab-set-");
    writeOutputSet(dir, nested("old"));
    fs.writeFileSync(path.join(dir, "encoder", "notes.txt"), "mine");
    writeOutputSet(dir, nested("new"));
    expect(readNested(dir)).toEqual(nested("new"));
    expect(fs.readdirSync(dir).sort()).toEqual(["decoder", "encoder"]);
    expect(fs.readdirSync(path.join(dir, "encoder")).sort()).toEqual(["model.json", "notes.txt", "weights.bin"]);
  });

  it("a repair after a kill in the middle of the moves finishes the new set in both subfolders", () => {
    const dir = scratchDir("vae-lab-set-");
    writeOutputSet(dir, nested("old"));
    expect(() =>
      writeOutputSet(dir, nested("new"), (s) => {
        if (s === "moved encoder/weights.bin") throw new Error("killed");
      }),
    ).toThrow(/killed/);
    expect(fs.readFileSync(path.join(dir, "decoder/model.json"), "utf8")).toBe("old decoder/model.json"); // mixed until the repair
    expect(recoverOutputSet(dir, NESTED)).toBe("completed an interrupted write");
    expect(readNested(dir)).toEqual(nested("new"));
    expect(fs.readdirSync(dir).sort()).toEqual(["decoder", "encoder"]);
  });

  it("removes stray temporary files in the subfolders, and refuses a subfolder that is a file before staging", () => {
    const dir = scratchDir("vae-lab-set-");
    fs.mkdirSync(path.join(dir, "encoder"));
    fs.writeFileSync(path.join(dir, "encoder", ".weights.bin.99.x.tmp"), "half");
    fs.writeFileSync(path.join(dir, "decoder"), "a file");
    expect(() => writeOutputSet(dir, nested("new"))).toThrow(`${path.join(dir, "decoder")}: is not a folder`);
    expect(fs.readdirSync(path.join(dir, "encoder"))).toEqual([]);
    expect(fs.readdirSync(dir).sort()).toEqual(["decoder", "encoder"]);
  });

  it.each(["a/b/c", "../x", ".hidden/x", "a/.x", "a//b", "/abs", ""])("refuses the name %j", (name) => {
    expect(() => writeOutputSet(scratchDir("vae-lab-set-"), { [name]: "x" })).toThrow(`writeOutputSet: "${name}" is not a plain file name or folder/file name`);
  });
});

describe("writeOutputSet removing a file with the set (null)", () => {
  it("the new set replaces the old and the file it lacks is gone; killed after the commit, the repair removes it too", () => {
    const dir = scratchDir("vae-lab-set-");
    writeOutputSet(dir, { "a.json": "old a", "state.json": "old state" });
    writeOutputSet(dir, { "a.json": "new a", "state.json": null });
    expect(fs.readdirSync(dir)).toEqual(["a.json"]);
    expect(fs.readFileSync(path.join(dir, "a.json"), "utf8")).toBe("new a");

    const again = scratchDir("vae-lab-set-");
    writeOutputSet(again, { "a.json": "old a", "state.json": "old state" });
    expect(() =>
      writeOutputSet(again, { "a.json": "new a", "state.json": null }, (s) => {
        if (s === "moved a.json") throw new Error("killed");
      }),
    ).toThrow(/killed/);
    expect(fs.existsSync(path.join(again, "state.json"))).toBe(true); // the removal had not happened yet
    recoverOutputSet(again, ["a.json", "state.json"]);
    expect(fs.readdirSync(again)).toEqual(["a.json"]);
  });

  it("killed before the commit, the old set is whole, the file to be removed included", () => {
    const dir = scratchDir("vae-lab-set-");
    writeOutputSet(dir, { "a.json": "old a", "state.json": "old state" });
    expect(() =>
      writeOutputSet(dir, { "a.json": "new a", "state.json": null }, (s) => {
        if (s === "staged a.json") throw new Error("disk full");
      }),
    ).toThrow(/disk full/);
    expect(fs.readdirSync(dir).sort()).toEqual(["a.json", "state.json"]);
    expect(fs.readFileSync(path.join(dir, "state.json"), "utf8")).toBe("old state");
  });
});
