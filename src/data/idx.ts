/**
 * The IDX file format of LeCun's MNIST distribution, plain or gzipped.
 *
 * Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type MNIST uses), the number of
 * dimensions, then each dimension as a big-endian uint32; the data follow in row-major order.
 * Every failure is an `IdxError` whose message names the file and what is wrong with it.
 */
import * as fs from "fs";
import * as zlib from "zlib";
import { FileError } from "../files/file-error";

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

/** Parse IDX bytes (already gunzipped). `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: number): IdxArray {
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
    raw = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IdxError(file, code === "ENOENT" ? "file not found" : `cannot read (${code ?? String(e)})`);
  }
  let bytes: Uint8Array = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(raw);
    } catch (e) {
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
