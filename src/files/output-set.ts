/**
 * Writing a set of files into a folder (a training run's model.json, report.html and metrics.json; an
 * export's encoder/ and decoder/ model.json and weights.bin) so that the folder holds either the whole old
 * set or the whole new set — never a new model beside an old report, or new weights beside an old topology.
 * A name is a file name or one subfolder and a file name ("encoder/model.json"). A set may also remove
 * files (an epoch checkpoint that the finished run replaces); a subfolder its removals leave empty goes too.
 *
 * One rename cannot replace several files, so the set goes through a small journal in the folder itself:
 *
 *   1. stage:  every new file is written in full and fsynced into a fresh `.vae-lab-stage-PID-RAND/`;
 *   2. commit: that folder is renamed to `.vae-lab-commit/` (one atomic rename: from here on the new set wins);
 *   3. move:   each staged file is renamed over its target (each rename atomic);
 *   4. finish: the empty `.vae-lab-commit/` is removed.
 *
 * A failure before the commit (a full disk, say) removes the stage and leaves the old set untouched. A
 * process killed at any point leaves either a stage (the old set is intact: the stage is deleted) or a commit
 * folder (the new set is complete on disk: the remaining moves are redone). `recoverOutputSet` does that
 * repair; `writeOutputSet` runs it first, and `vae-lab train` runs it before it trains, so
 * a kill during step 3 — the only moment a reader could see old and new files side by side — is healed by
 * the next run. Stray temporary files of writeFileAtomic for the set's names are removed too, and the lock of a
 * run that was killed (files/folder-lock.ts).
 * Two processes writing into the same folder at the same time are not supported (one's repair removes the
 * other's stage, which then fails with an error; neither leaves a mixed set).
 */
import * as fs from "fs";
import * as path from "path";
import { fsyncDir, isAtomicTempName, writeError, writeNewFileDurable } from "./atomic-write";
import { FileError } from "./file-error";
import { LOCK_NAME, removeStaleLock } from "./folder-lock";

const STAGE_PREFIX = ".vae-lab-stage-";
const COMMIT = ".vae-lab-commit";
/** In a stage or commit folder: the JSON list of the set's names to remove (a set's names never start with "."). */
const REMOVALS = ".vae-lab-remove";

/** Points where a test can stop the writer (to simulate a kill): after staging `name`, after the commit rename, after moving `name`, after removing `name`, at the end. */
export type OutputSetStep = `staged ${string}` | "committed" | `moved ${string}` | `removed ${string}` | "finished";

/**
 * Check, without writing anything there, that `dir` can be created or written: the nearest existing folder
 * on its path must be a folder we can create entries in (a probe folder is made and removed at once).
 */
export function checkWritableFolder(dir: string): void {
  const target = path.resolve(dir);
  // A symbolic link on the way that leads nowhere, or in a circle, is found now: existsSync would call it
  // missing, and creating the folder would fail only at the end, after the work.
  for (let p = target; path.dirname(p) !== p; p = path.dirname(p)) {
    let link: fs.Stats;
    try {
      link = fs.lstatSync(p);
    } catch {
      continue; // not there (yet)
    }
    if (!link.isSymbolicLink()) continue;
    try {
      fs.statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new FileError(p, code === "ELOOP" ? "is a symbolic link loop" : `is a symbolic link to ${fs.readlinkSync(p)}, which does not exist`);
    }
  }
  let existing = target;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (!fs.statSync(existing).isDirectory()) throw new FileError(existing === target ? dir : existing, "is not a folder");
  const probe = path.join(existing, `.vae-lab-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    fs.mkdirSync(probe);
  } catch (e) {
    throw writeError(dir, e);
  }
  fs.rmdirSync(probe);
}

/** The files below `dir`, as paths relative to it ("a", "sub/b"). */
function filesUnder(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

/** Move staged file `name` (which may be "sub/file") from `from` to its place in `dir`. */
function moveInto(from: string, dir: string, name: string): void {
  const target = path.join(dir, name);
  if (path.dirname(name) !== ".") fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.renameSync(path.join(from, name), target);
}

/** The folders of a set's names below `dir`: "." (itself) always, and "sub" for "sub/file". */
function setFolders(names: readonly string[]): string[] {
  return [...new Set([".", ...names.map((n) => path.dirname(n))])];
}

/**
 * Check that each of a set's names can be written in `dir`: where something is there already, it is a file,
 * not a folder (a folder named training-state.json would fail the move after the commit, and every later
 * repair with it). Nothing is written.
 */
export function checkSetTargets(dir: string, names: readonly string[]): void {
  for (const n of names) {
    const target = path.join(dir, n);
    let st: fs.Stats;
    try {
      st = fs.statSync(target);
    } catch {
      continue;
    }
    if (!st.isFile()) throw new FileError(target, `is ${st.isDirectory() ? "a folder" : "not a regular file"}; vae-lab writes a file there (move it away)`);
  }
}

/** Finish or undo an interrupted writeOutputSet in `dir`; returns what was done ("" when nothing was needed). */
export function recoverOutputSet(dir: string, names: readonly string[] = []): string {
  if (!fs.existsSync(dir)) return "";
  const done: string[] = [];
  const commit = path.join(dir, COMMIT);
  if (fs.existsSync(commit)) {
    const staged = filesUnder(commit).filter((n) => n !== REMOVALS);
    for (const name of staged) moveInto(commit, dir, name);
    const list = path.join(commit, REMOVALS);
    const removed = fs.existsSync(list) ? (JSON.parse(fs.readFileSync(list, "utf8")) as unknown[]).filter(checkSetNameOk) : [];
    for (const n of removed) fs.rmSync(path.join(dir, n), { force: true });
    fs.rmSync(commit, { recursive: true }); // only empty folders are left in it
    removeEmptiedFolders(dir, removed);
    for (const sub of setFolders(staged)) fsyncDir(path.join(dir, sub));
    done.push("completed an interrupted write");
  }
  if (removeStaleLock(dir)) done.push(`removed a stale ${LOCK_NAME}`);
  for (const sub of setFolders(names)) {
    const folder = path.join(dir, sub);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) continue;
    for (const entry of fs.readdirSync(folder)) {
      const stale = (sub === "." && entry.startsWith(STAGE_PREFIX)) || names.some((n) => path.dirname(n) === sub && isAtomicTempName(entry, path.basename(n)));
      if (stale) {
        fs.rmSync(path.join(folder, entry), { recursive: true, force: true });
        done.push(`removed ${path.join(sub, entry)}`);
      }
    }
  }
  return done.join("; ");
}

/**
 * Remove the subfolders of `dir` that a set's removals (`removed`, names like "checkpoint/model.json") left
 * empty; a folder with anything else in it stays. Then `dir` itself is synced.
 */
function removeEmptiedFolders(dir: string, removed: readonly string[]): void {
  for (const sub of setFolders(removed)) {
    if (sub === ".") continue;
    const folder = path.join(dir, sub);
    try {
      fs.rmdirSync(folder);
    } catch {
      // Something else is there (it stays, and the removals in it are synced), or the folder is gone already.
      if (fs.existsSync(folder)) fsyncDir(folder);
    }
  }
  fsyncDir(dir);
}

/** Whether `n` is a name a set may have: a plain file name, or one folder and a file name ("encoder/model.json"); no dot files. */
function checkSetNameOk(n: unknown): n is string {
  if (typeof n !== "string") return false;
  const parts = n.split("/");
  const plain = (p: string) => p !== "" && p === path.basename(p) && !p.startsWith(".");
  return parts.length <= 2 && parts.every(plain);
}

function checkSetName(n: string): void {
  if (!checkSetNameOk(n)) throw new Error(`writeOutputSet: "${n}" is not a plain file name or folder/file name`);
}

/**
 * Replace the files `files` (name → contents; null: remove that file with the set) in `dir` as one set (see
 * above). Errors are FileErrors naming the file that could not be written. `at` is called at each step
 * (tests stop the process there).
 */
export function writeOutputSet(dir: string, files: Record<string, string | Uint8Array | null>, at?: (step: OutputSetStep) => void): void {
  const names = Object.keys(files);
  const written = names.filter((n) => files[n] !== null);
  const removed = names.filter((n) => files[n] === null);
  names.forEach(checkSetName);
  checkSetTargets(dir, names);
  let made: string | undefined;
  try {
    made = fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw writeError(dir, e);
  }
  // Folders made here are recorded in their parents, so that a set that survives a power cut has a place too.
  if (made !== undefined) {
    for (let p = path.resolve(dir); ; p = path.dirname(p)) {
      fsyncDir(path.dirname(p));
      if (p === path.resolve(made) || path.dirname(p) === p) break;
    }
  }
  recoverOutputSet(dir, names);
  // A set's subfolder that exists as a file is found now, before anything is staged.
  for (const sub of setFolders(names)) {
    const folder = path.join(dir, sub);
    if (fs.existsSync(folder) && !fs.statSync(folder).isDirectory()) throw new FileError(folder, "is not a folder");
  }
  const stage = path.join(dir, `${STAGE_PREFIX}${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    fs.mkdirSync(stage);
  } catch (e) {
    throw writeError(dir, e);
  }
  try {
    for (const n of written) {
      try {
        if (path.dirname(n) !== ".") fs.mkdirSync(path.join(stage, path.dirname(n)), { recursive: true });
        writeNewFileDurable(path.join(stage, n), files[n]!);
      } catch (e) {
        throw writeError(path.join(dir, n), e);
      }
      at?.(`staged ${n}`);
    }
    // Files of an earlier set that this one does not have are listed, and removed with the moves.
    if (removed.length) writeNewFileDurable(path.join(stage, REMOVALS), JSON.stringify(removed));
    for (const sub of setFolders(written)) fsyncDir(path.join(stage, sub));
    fs.renameSync(stage, path.join(dir, COMMIT));
    fsyncDir(dir);
  } catch (e) {
    fs.rmSync(stage, { recursive: true, force: true });
    throw e instanceof FileError ? e : writeError(dir, e);
  }
  at?.("committed");
  const commit = path.join(dir, COMMIT);
  for (const n of written) {
    moveInto(commit, dir, n);
    at?.(`moved ${n}`);
  }
  for (const n of removed) {
    fs.rmSync(path.join(dir, n), { force: true });
    at?.(`removed ${n}`);
  }
  fs.rmSync(commit, { recursive: true }); // only empty folders (and the list of removals) are left in it
  removeEmptiedFolders(dir, removed);
  for (const sub of setFolders(written)) fsyncDir(path.join(dir, sub));
  at?.("finished");
}
