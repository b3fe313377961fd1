/**
 * Issue 11, item 1: a full disk. A write to a nearly full file system can be short without an error; the
 * writer must write every byte (or fail), and a failure must leave the previous file as it was.
 */
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../src/files/atomic-write";
import { FileError } from "../src/files/file-error";
import { mountTmpfs, Tmpfs, tmpfsUnavailable } from "./harness/tmpfs";
import { scratchDir } from "./harness/scratch";

const skip = tmpfsUnavailable !== undefined;
const why = skip ? ` [skipped: ${tmpfsUnavailable}]` : "";

describe("writeFileAtomic on a full disk", () => {
  let fsys: Tmpfs | undefined;
  afterEach(() => {
    fsys?.unmount();
    fsys = undefined;
  });

  it.skipIf(skip)(`a write larger than the free space fails with one line naming the file; the old file is untouched${why}`, () => {
    fsys = mountTmpfs(256);
    const file = path.join(fsys.dir, "model.json");
    const old = "old contents\n".repeat(1000);
    writeFileAtomic(file, old);
    const big = Buffer.alloc(1024 * 1024, "x"); // 1 MiB onto a 256 KiB disk: the first write(2) is short
    let err: unknown;
    try {
      writeFileAtomic(file, big);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FileError);
    expect((err as Error).message).toBe(`${file}: cannot write: no space left on device (ENOSPC)`);
    expect(fs.readFileSync(file, "utf8")).toBe(old);
    expect(fs.readdirSync(fsys.dir)).toEqual(["model.json"]); // no temporary file left
  });

  it.skipIf(skip)(`a write that fits exactly is whole${why}`, () => {
    fsys = mountTmpfs(256);
    const file = path.join(fsys.dir, "a.bin");
    const data = Buffer.alloc(200 * 1024, 7);
    writeFileAtomic(file, data);
    expect(fs.readFileSync(file).equals(data)).toBe(true);
  });
});

describe("writeFileAtomic errors", () => {
  it("a folder in place of the target's folder: one line naming the file, nothing left behind", () => {
    const dir = scratchDir("vae-lab-aw-");
    fs.writeFileSync(path.join(dir, "f"), "x");
    const target = path.join(dir, "f", "out.json");
    expect(() => writeFileAtomic(target, "{}")).toThrow(new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot write`));
    expect(fs.readdirSync(dir)).toEqual(["f"]);
  });
});
