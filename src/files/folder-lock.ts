/**
 * One writer per output folder: `vae-lab train` takes the folder's lock before it trains, so a second train
 * into the same --out is refused at once (naming the process that holds it) instead of failing after a whole
 * training when the two runs' output sets collide.
 *
 * The lock is a file, `.vae-lab-lock`, created with O_EXCL (so exactly one process can make it) and holding
 * the owner's process id and host name. A lock whose process is gone (killed with SIGKILL, a machine that
 * restarted) is stale: it is taken over. Releasing removes the file, and the folder too if taking the lock
 * created it and it is still empty.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeError } from "./atomic-write";
import { FileError } from "./file-error";

export const LOCK_NAME = ".vae-lab-lock";

/** The locks this process holds (absolute paths). */
const held = new Set<string>();

/** Whether process `pid` is alive on this machine (EPERM: alive, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The holder of an existing lock file, or undefined if it is stale (or unreadable as a lock). */
function holder(lock: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = fs.readFileSync(lock, "utf8").trim().split(" ");
    const n = Number(pid);
    if (!Number.isSafeInteger(n) || n <= 0) return undefined;
    // Our own pid in a lock this process does not hold: a run killed in a container where pids repeat (node as pid 1).
    if (host === os.hostname() && ((n === process.pid && !held.has(path.resolve(lock))) || !alive(n))) return undefined;
    return { pid: n, host };
  } catch {
    return undefined;
  }
}

/** The process holding `dir`'s lock now, or undefined (no lock, or a stale one). Nothing is taken or removed. */
export function lockHolder(dir: string): { pid: number; host: string } | undefined {
  const lock = path.join(dir, LOCK_NAME);
  return fs.existsSync(lock) ? holder(lock) : undefined;
}

/** Remove the lock of `dir` if its process is gone (a run killed with SIGKILL); whether it did. */
export function removeStaleLock(dir: string): boolean {
  // A lock's own file before it was linked into place (.vae-lab-lock.PID.RAND), left by a kill, goes too.
  for (const entry of fs.readdirSync(dir)) {
    const pid = Number(entry.startsWith(`${LOCK_NAME}.`) ? entry.split(".")[2] : NaN);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) fs.rmSync(path.join(dir, entry), { force: true });
  }
  const lock = path.join(dir, LOCK_NAME);
  if (!fs.existsSync(lock) || holder(lock)) return false;
  fs.rmSync(lock, { force: true });
  return true;
}

/**
 * Take the lock of folder `dir` (made if missing); returns the function that releases it. `flag` names the
 * command-line flag the folder came from, for the message when another run holds it.
 */
export function lockFolder(dir: string, flag = "--out"): () => void {
  const existed = fs.existsSync(dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw writeError(dir, e);
  }
  const lock = path.join(dir, LOCK_NAME);
  // The lock appears with its contents in one step (a hard link to a file written in full), so no other
  // process ever reads it empty and takes it for stale.
  const mine = path.join(dir, `${LOCK_NAME}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  try {
    fs.writeFileSync(mine, `${process.pid} ${os.hostname()}\n`, { flag: "wx" });
  } catch (e) {
    throw writeError(dir, e);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(mine, lock);
        held.add(path.resolve(lock));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw writeError(dir, e);
        const h = holder(lock);
        if (h || attempt > 0) {
          const who = h ? `process ${h.pid}${h.host === os.hostname() ? "" : ` on ${h.host}`}` : "another process";
          throw new FileError(dir, `is in use by another vae-lab train (${who}); wait for it to finish or choose another ${flag} (if no such run is going on, remove ${lock})`);
        }
        fs.rmSync(lock, { force: true }); // stale: its process is gone
      }
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    held.delete(path.resolve(lock));
    fs.rmSync(lock, { force: true });
    if (!existed) {
      try {
        fs.rmdirSync(dir); // only if still empty
      } catch {
        // it holds the run's files
      }
    }
  };
  process.on("exit", release);
  return release;
}
