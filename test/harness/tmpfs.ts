/**
 * Small tmpfs file systems for the fault tests (a full disk, a read-only disk). Mounting needs root (CI
 * runs as root); elsewhere `tmpfsUnavailable` says why and the tests that need one are skipped.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/** Mount a tmpfs of `sizeKiB` KiB (extra mount options, e.g. "ro", after a comma). */
export function mountTmpfs(sizeKiB: number, extra = ""): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-tmpfs-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k${extra ? "," + extra : ""}`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    fs.rmdirSync(dir);
    throw new Error(`mount -t tmpfs failed: ${(r.stderr || String(r.error)).trim()}`);
  }
  return {
    dir,
    unmount() {
      spawnSync("umount", [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function probe(): string | undefined {
  try {
    mountTmpfs(64).unmount();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Why no tmpfs can be mounted here (undefined: it can). */
export const tmpfsUnavailable: string | undefined = probe();

/** Fill the file system holding `dir` until about `leaveKiB` KiB are free. */
export function fillUntilFree(dir: string, leaveKiB: number): void {
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  const fill = Math.max(0, free - leaveKiB * 1024);
  fs.writeFileSync(path.join(dir, "filler"), Buffer.alloc(fill));
}
