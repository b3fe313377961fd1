/**
 * The IDX file format of LeCun's MNIST distribution, plain or gzipped.
 *
 * Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type MNIST uses), the number of
 * dimensions, then each dimension as a big-endian uint32; the data follow in row-major order.
 * Every failure is an `IdxError` whose message names the file and what is wrong with it.
 *
 * Reading is bounded: only regular files are read (not FIFOs or devices such as /dev/zero), a file or a
 * header describing more than MAX_IDX_BYTES is refused before its data are read, and gzip data are
 * decompressed in two steps — the first few kilobytes to read the header, then the whole stream capped at
 * the size that header describes — so a gzip bomb fails at that size instead of filling memory.
 */
import * as fs from "fs";
import * as zlib from "zlib";
import { FileError } from "../files/file-error";
import { fileKind, readFileBounded } from "../files/bounded-read";

/** A problem with an IDX file (or the folder that should hold it). */
export class IdxError extends FileError {
  constructor(file: string, problem: string) {
    super(file, problem);
    this.name = "IdxError";
  }
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** The largest IDX file (header and data, after decompression) read: 1 GiB, 22 times MNIST's training images. */
export const MAX_IDX_BYTES = 2 ** 30;

/** Compressed bytes decompressed to find the header of a gzipped file. */
const GZIP_HEADER_PROBE = 4096;

/** Check an IDX header; returns its dimensions and header length. `bytes` may hold only the header's part. */
export function parseIdxHeader(bytes: Uint8Array, file: string, expectedDims?: number): { dims: number[]; headerLen: number; size: number } {
  if (bytes.length < 4) throw new IdxError(file, `truncated: ${bytes.length} bytes, too short for an IDX header`);
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const magicHex = "0x" + magic.toString(16).padStart(8, "0");
  const ndim = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndim === 0) {
    const want = expectedDims ? ` (expected 0x000008${expectedDims.toString(16).padStart(2, "0")})` : "";
    throw new IdxError(file, `wrong magic number ${magicHex}${want}: not an IDX file`);
  }
  if (bytes[2] !== UBYTE) {
    throw new IdxError(file, `unsupported IDX data type 0x${bytes[2].toString(16)} in magic ${magicHex} (only unsigned bytes, 0x08)`);
  }
  if (expectedDims !== undefined && ndim !== expectedDims) {
    throw new IdxError(file, `wrong magic number ${magicHex}: ${ndim} dimensions, expected ${expectedDims}`);
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) throw new IdxError(file, `truncated: header needs ${headerLen} bytes, file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (headerLen + size > MAX_IDX_BYTES) {
    throw new IdxError(file, `header describes ${dims.join("×")} = ${size} bytes of data, more than the ${MAX_IDX_BYTES} bytes an IDX file may have here`);
  }
  return { dims, headerLen, size };
}

/**
 * An IDX file's dimensions from its header alone: the first few KB are read (and, for gzip, decompressed),
 * never the data, however many images the header announces. The data are not checked (readIdx does that).
 */
export function readIdxHeader(file: string, expectedDims?: number): number[] {
  let head: Buffer;
  try {
    head = readFileBounded(file, MAX_IDX_BYTES, "an IDX file", "file not found", GZIP_HEADER_PROBE);
  } catch (e) {
    throw e instanceof FileError ? new IdxError(e.file, e.problem) : e;
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzipStart = (bytes: Buffer) => {
      try {
        return zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (e) {
        throw new IdxError(file, `corrupt gzip data (${(e as Error).message})`);
      }
    };
    let out = gunzipStart(head);
    // A long gzip header (a file name field, say) can hide the IDX header past the first 4 KB: look at 1 MiB.
    if (out.length < 4 || out.length < 4 + 4 * out[3]) out = gunzipStart(readFileBounded(file, MAX_IDX_BYTES, "an IDX file", "file not found", 1 << 20));
    head = out;
  }
  return parseIdxHeader(head, file, expectedDims).dims;
}

/** Parse IDX bytes (already gunzipped). `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: number): IdxArray {
  const { dims, headerLen, size } = parseIdxHeader(bytes, file, expectedDims);
  const have = bytes.length - headerLen;
  if (have < size) {
    throw new IdxError(file, `truncated: header promises ${dims.join("×")} = ${size} bytes of data, file has ${have}`);
  }
  if (have > size) {
    throw new IdxError(file, `${have - size} unexpected bytes after the ${dims.join("×")} data the header describes`);
  }
  return { dims, data: bytes.subarray(headerLen) };
}

/** Read an IDX file from disk; gzip is detected from the content, not the name. */
export function readIdx(file: string, expectedDims?: number): IdxArray {
  let raw: Buffer;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new IdxError(file, `not a regular file (${fileKind(st)})`);
    if (st.size > MAX_IDX_BYTES) throw new IdxError(file, `${st.size} bytes, more than the ${MAX_IDX_BYTES} bytes an IDX file may have here`);
    raw = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof IdxError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new IdxError(file, code === "ENOENT" ? "file not found" : `cannot read (${code ?? String(e)})`);
  }
  let bytes: Uint8Array = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    let head: Buffer;
    try {
      // The stream's start, without requiring its end: enough for the header, at most a few MB even for a bomb.
      head = zlib.gunzipSync(raw.subarray(0, GZIP_HEADER_PROBE), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new IdxError(file, `corrupt gzip data (${(e as Error).message})`);
    }
    if (head.length < 4 || head.length < 4 + 4 * head[3]) {
      // Too little came out of the probe: decompress the whole stream, capped, to find out why.
      try {
        head = zlib.gunzipSync(raw, { maxOutputLength: 1 << 16 });
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" ? "no IDX header at the start of the stream" : (e as Error).message;
        throw new IdxError(file, `corrupt gzip data (${why})`);
      }
    }
    const { headerLen, size } = parseIdxHeader(head, file, expectedDims);
    try {
      bytes = zlib.gunzipSync(raw, { maxOutputLength: headerLen + size + 1 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        throw new IdxError(file, `gzip data decompress to more than the ${headerLen + size} bytes the header describes`);
      }
      throw new IdxError(file, `corrupt gzip data (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, file, expectedDims);
}


/** Encode an array as IDX bytes (unsigned bytes); used to write test fixtures. */
export function encodeIdx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = UBYTE;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}
