/**
 * The epoch checkpoint of `vae-lab train` (job-config.ts: OUT/checkpoint/ with model.json and
 * training-state.json, written after every epoch and removed with the run's outputs): what such a folder
 * holds, and the rule that keeps a run from replacing what is there by mistake.
 */
import * as fs from "fs";
import * as path from "path";
import { LOCK_NAME, lockHolder } from "../files/folder-lock";
import { recoverOutputSet } from "../files/output-set";
import { loadTrainingState } from "../vae/checkpoint";
import { CHECKPOINT_DIR, CHECKPOINT_FILES } from "./job-config";

/** What OUT/checkpoint holds: nothing of a run; an unfinished run (at `epoch` of `of`); or something else (`what`). */
export type CheckpointFolder =
  | { kind: "none"; dir: string }
  | { kind: "unfinished"; dir: string; epoch: number; of: number }
  | { kind: "other"; dir: string; what: string };

/** The epochs an unfinished run was to reach, as its training state records them (`extra.unfinished.epochs`). */
export function unfinishedGoal(extra: Record<string, unknown> | undefined): number | undefined {
  const of = (extra?.unfinished as { epochs?: unknown } | undefined)?.epochs;
  return Number.isSafeInteger(of) ? (of as number) : undefined;
}

/** The epoch and goal of the unfinished run whose training state is `file`; undefined for another run or an unreadable file. */
function unfinishedAt(file: string): { epoch: number; of: number } | undefined {
  try {
    const { state, extra } = loadTrainingState(file);
    const of = unfinishedGoal(extra);
    return of === undefined ? undefined : { epoch: state.epoch, of };
  } catch {
    return undefined;
  }
}

/**
 * Read OUT/checkpoint. An interrupted write of it is finished or undone first, so the caller must hold
 * OUT's lock. A checkpoint is a training state that records the epochs its run was to reach
 * (`extra.unfinished.epochs`); a finished run stored in a folder of that name is not one.
 */
export function epochCheckpoint(out: string): CheckpointFolder {
  const dir = path.join(out, CHECKPOINT_DIR);
  if (!fs.existsSync(dir)) return { kind: "none", dir };
  if (!fs.statSync(dir).isDirectory()) return { kind: "other", dir, what: "is a file, not a folder" };
  recoverOutputSet(dir, CHECKPOINT_FILES);
  if (!CHECKPOINT_FILES.some((f) => fs.existsSync(path.join(dir, f)))) return { kind: "none", dir };
  const other: CheckpointFolder = { kind: "other", dir, what: `holds ${CHECKPOINT_FILES.join(" or ")} of something other than an unfinished run` };
  const model = path.join(dir, "model.json");
  if (!(fs.existsSync(model) && fs.statSync(model).isFile())) return other;
  const run = unfinishedAt(path.join(dir, "training-state.json"));
  return run ? { kind: "unfinished", dir, ...run } : other;
}

/** `p` as a shell word: as it is where that is safe, else in single quotes. */
export function shellWord(p: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** Where `dir` itself holds an unfinished run's epoch checkpoint: its epoch and goal. */
function ownState(dir: string): { epoch: number; of: number } | undefined {
  const file = path.join(dir, "training-state.json");
  return fs.existsSync(file) ? unfinishedAt(file) : undefined;
}

/** The command that finishes the unfinished run whose checkpoint is `dir` (pasteable: quoted where needed). */
export function continueCommand(dir: string): string {
  return `vae-lab train --resume ${shellWord(dir)}`;
}

/** Whether `a` and `b` name the same folder (through links too), where both exist. */
export function sameFolder(a: string, b: string): boolean {
  try {
    const [sa, sb] = [fs.statSync(a), fs.statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/**
 * Refuse an --out that is the epoch checkpoint folder of a train running now (OUT/checkpoint while OUT is
 * locked), as written or where its links lead. This comes before anything touches --out: the probe that
 * checks it can be written, taking its lock, and the repair of interrupted writes that follows would put
 * files into that train's checkpoint folder and could remove the staging of the checkpoint it is writing.
 */
export function refuseRunningCheckpoint(out: string): void {
  const named = [path.resolve(out)];
  try {
    named.push(fs.realpathSync(out));
  } catch {
    // Not there yet: only the name as written.
  }
  for (const p of named) {
    if (path.basename(p) !== CHECKPOINT_DIR) continue;
    const run = path.dirname(p);
    const h = lockHolder(run);
    if (h) throw new Error(`--out: ${out} is the epoch checkpoint of a vae-lab train that is still running (process ${h.pid}); choose another --out (if no such run is going on, remove ${path.join(run, LOCK_NAME)})`);
  }
}

/**
 * Refuse a run into `out` that would replace what OUT/checkpoint holds (the caller holds OUT's lock):
 * another unfinished run, whose checkpoint this run's first epoch would replace (or, for a run that keeps no
 * checkpoint, `keepsCheckpoints` false, whose outputs would later replace this run's); or, for a run that
 * keeps checkpoints, anything else there named like a checkpoint file. Only the run that continues that
 * very checkpoint (`resume`) may write there. Returns what the folder holds.
 */
export function checkOutCheckpoint(out: string, resume: string | undefined, keepsCheckpoints: boolean): CheckpointFolder {
  // --out may itself be an epoch checkpoint's folder: of a train running now (refused before the lock was
  // taken, by refuseRunningCheckpoint; checked again here), or of an unfinished run.
  refuseRunningCheckpoint(out);
  // OUT/checkpoint may be the --out of another train running now, which holds its lock: nothing here is
  // this run's to repair or replace.
  const inner = lockHolder(path.join(out, CHECKPOINT_DIR));
  if (inner) {
    throw new Error(`--out: ${path.join(out, CHECKPOINT_DIR)}, where this run would keep its epoch checkpoint, is the output folder of a vae-lab train that is still running (process ${inner.pid}); choose another --out (if no such run is going on, remove ${path.join(out, CHECKPOINT_DIR, LOCK_NAME)})`);
  }
  const own = ownState(out);
  if (own !== undefined && !(resume !== undefined && sameFolder(resume, out))) {
    throw new Error(`--out: ${out} is the epoch checkpoint of an unfinished run (epoch ${own.epoch} of ${own.of}), which this run would replace; finish it with ${continueCommand(out)}, or choose another --out`);
  }
  const found = epochCheckpoint(out);
  if (found.kind === "unfinished" && !(resume !== undefined && sameFolder(resume, found.dir))) {
    const clash = keepsCheckpoints ? "which this run would replace" : `whose outputs go into ${out} too`;
    throw new Error(`--out: ${found.dir} holds an unfinished run (epoch ${found.epoch} of ${found.of}), ${clash}; finish it with ${continueCommand(found.dir)}, or delete ${found.dir} to start afresh`);
  }
  if (found.kind === "other" && keepsCheckpoints) {
    throw new Error(`--out: ${found.dir} ${found.what}; vae-lab train keeps its epoch checkpoint there (move it away, or choose another --out)`);
  }
  return found;
}
