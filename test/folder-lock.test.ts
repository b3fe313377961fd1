/** The output folder's lock (src/files/folder-lock.ts): one holder, stale locks taken over, nothing left behind. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { lockFolder, LOCK_NAME, removeStaleLock } from "../src/files/folder-lock";
import { scratchDir } from "./harness/scratch";

describe("lockFolder", () => {
  it("a second lock of a held folder is refused naming the holder; release removes the lock and a folder it made", () => {
    const dir = path.join(scratchDir("vae-lab-lock-"), "out");
    const release = lockFolder(dir);
    expect(fs.readdirSync(dir)).toEqual([LOCK_NAME]);
    expect(() => lockFolder(dir)).toThrow(`${dir}: is in use by another vae-lab train (process ${process.pid}); wait for it to finish or choose another --out`);
    expect(removeStaleLock(dir)).toBe(false); // a held lock is not stale, even though it names this process
    release();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("an empty lock file or one naming a dead process is stale and taken over; so is one naming this pid that this process does not hold", () => {
    const dir = scratchDir("vae-lab-lock-");
    const lock = path.join(dir, LOCK_NAME);
    for (const content of ["", "999999999 " + os.hostname() + "\n", `${process.pid} ${os.hostname()}\n`]) {
      fs.writeFileSync(lock, content);
      const release = lockFolder(dir);
      expect(fs.readFileSync(lock, "utf8")).toBe(`${process.pid} ${os.hostname()}\n`);
      release();
      expect(fs.readdirSync(dir)).toEqual([]);
    }
  });

  it("a lock held on another host is respected (its process cannot be checked from here)", () => {
    const dir = scratchDir("vae-lab-lock-");
    fs.writeFileSync(path.join(dir, LOCK_NAME), "1 some-other-host\n");
    expect(() => lockFolder(dir, "--resume folder")).toThrow("is in use by another vae-lab train (process 1 on some-other-host); wait for it to finish or choose another --resume folder");
    expect(removeStaleLock(dir)).toBe(false);
  });

  it("removeStaleLock removes a dead process's lock and its unlinked lock file", () => {
    const dir = scratchDir("vae-lab-lock-");
    fs.writeFileSync(path.join(dir, LOCK_NAME), `999999999 ${os.hostname()}\n`);
    fs.writeFileSync(path.join(dir, `${LOCK_NAME}.999999999.abc`), "x");
    fs.writeFileSync(path.join(dir, "model.json"), "mine");
    expect(removeStaleLock(dir)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(["model.json"]);
  });
});
