/**
 * Writing files so that a reader (or a crash) never sees half of one: write a temporary file beside the
 * target, every byte of it (a write to a nearly full disk can be short without failing), flush it to disk,
 * rename it over the target (rename is atomic within a file system), then flush the folder so the rename
 * itself survives a power cut. Any failure removes the temporary file, leaves the target as it was, and is
 * reported as a FileError naming the target ("no space left on device" for a full disk).
 */
import * as fs from "fs";
import * as path from "path";
import { FileError } from "./file-error";

/** Names of the temporary files writeFileAtomic makes beside `file` (for cleaning up after a crash). */
export function isAtomicTempName(name: string, base: string): boolean {
  return name.startsWith(`.${base}.`) && name.endsWith(".tmp");
}

/** A FileError for `file` from a failed system call, in one line. */
export function writeError(file: string, e: unknown): FileError {
  if (e instanceof FileError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOSPC: "no space left on device",
    EDQUOT: "disk quota exceeded",
    EROFS: "read-only file system",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOTDIR: "a part of the path is not a folder",
    EISDIR: "is a folder",
  };
  return new FileError(file, `cannot write: ${code && why[code] ? `${why[code]} (${code})` : ((e as Error).message ?? String(e)).split("\n")[0]}`);
}

/** Write all of `bytes` to `fd`, looping over short writes; a write that makes no progress is a full disk. */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    const n = fs.writeSync(fd, bytes, off, bytes.length - off);
    if (n <= 0) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    off += n;
  }
}

/** Remove a file if it is there; a failure to remove it must not hide the error being reported. */
function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // nothing there, or the folder itself is the problem
  }
}

/** Flush a folder's entries (the renames and creations in it) to disk, where the platform allows it. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch (e) {
    // Windows cannot open folders; some file systems refuse to fsync them. Nothing more can be done there.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Create `file` (which must not exist), write all of `data`, fsync it. On failure the partial file is removed. */
export function writeNewFileDurable(file: string, data: string | Uint8Array): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "wx");
    writeFully(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    removeQuietly(file);
    throw e;
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    writeNewFileDurable(tmp, data);
    fs.renameSync(tmp, file);
    fsyncDir(dir);
  } catch (e) {
    removeQuietly(tmp);
    throw writeError(file, e);
  }
}
