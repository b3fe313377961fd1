/**
 * Reading a file the user named, bounded before it is read: it must be a regular file (not a folder, a FIFO
 * that would block, or a device such as /dev/zero that never ends) and no larger than a limit stated by the
 * caller. The file is opened without blocking and checked through the open descriptor, so what is checked is
 * what is read; no more than the size found is ever read, even from a file that grows meanwhile.
 */
import * as fs from "fs";
import { FileError } from "./file-error";

/** What kind of non-regular file `st` is, in words. */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

/** "256 MiB", "1 KiB", "12 bytes". */
export function byteSize(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

/**
 * The contents of `file`, at most `maxBytes` of them; `what` names the file's role in the messages ("a
 * checkpoint"), `notFound` is the message for a missing file; with `prefix`, only the file's first `prefix`
 * bytes (a header). Throws a FileError naming the file: not found, not a regular file, too large, unreadable.
 */
export function readFileBounded(file: string, maxBytes: number, what: string, notFound = "file not found", prefix?: number): Buffer {
  let fd: number | undefined;
  try {
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new FileError(file, notFound);
      if (code === "EISDIR") throw new FileError(file, "not a regular file (a folder)");
      if (code === "ELOOP") throw new FileError(file, "a symbolic link loop");
      throw new FileError(file, `cannot read (${code ?? String(e)})`);
    }
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new FileError(file, `not a regular file (${fileKind(st)})`);
    if (st.size > maxBytes) throw new FileError(file, `${st.size} bytes, more than the ${byteSize(maxBytes)} ${what} may have`);
    // One byte more than the size found: a file that grows while it is read is noticed, and never read past it.
    const want = prefix === undefined ? st.size + 1 : Math.min(prefix, st.size);
    const buf = Buffer.alloc(want);
    let n = 0;
    for (let got = 1; got > 0 && n < buf.length; n += got) got = fs.readSync(fd, buf, n, buf.length - n, null);
    if (prefix === undefined && n > st.size) throw new FileError(file, "changed while it was read");
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
