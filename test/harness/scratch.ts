/**
 * Temporary folders for tests, removed when the test file finishes.
 *
 * `scratchDir(prefix)` makes a fresh folder under the system temp dir (fs.mkdtempSync, so the name is
 * `<prefix>XXXXXX`) and remembers it; an `afterAll` hook removes every remembered folder. The hook is
 * registered once, when this module is first imported: vitest imports a test file (and so, statically, this
 * module) while collecting that file, when the current suite is the file's own, so the hook runs after all
 * of that file's tests and hooks. Each test file gets its own copy of this module (vitest's default
 * `isolate: true`), hence its own list and its own hook.
 *
 * Removal never fails a file: a folder already gone, still in use by a child process, or made unwritable by a
 * test is skipped silently (as root, rmSync with force removes read-only folders anyway).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll } from "vitest";

const made: string[] = [];

/** Remove every folder made by `scratchDir` so far (called by the afterAll hook below). */
export function removeScratchDirs(): void {
  for (const dir of made.splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // leave it: a cleanup problem is not a test failure
    }
  }
}

afterAll(removeScratchDirs);

/** A new empty folder `<os.tmpdir()>/<prefix>XXXXXX`, removed after the test file has run. */
export function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
