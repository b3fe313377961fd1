/** Small image files for the data tests: PNGs written with pngjs, JPEGs with jpeg-js, into scratch folders. */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { PNG } from "pngjs";
import * as jpeg from "jpeg-js";
import { expect } from "vitest";
import { DataError } from "../../src/data/image-set";

/** An image as rows × cols grey levels (0–255), or rows × cols × 3 RGB values where `colour`. */
export interface TestImage {
  rows: number;
  cols: number;
  colour?: boolean;
  /** The value at (y, x, channel). */
  at: (y: number, x: number, c: number) => number;
}

function rgba(img: TestImage): Buffer {
  const data = Buffer.alloc(img.rows * img.cols * 4);
  for (let y = 0; y < img.rows; y++) {
    for (let x = 0; x < img.cols; x++) {
      const o = 4 * (y * img.cols + x);
      for (let c = 0; c < 3; c++) data[o + c] = img.colour ? img.at(y, x, c) : img.at(y, x, 0);
      data[o + 3] = 255;
    }
  }
  return data;
}

/** Write `img` as a PNG: grey (colour type 0) or RGB (colour type 2). */
export function writePng(file: string, img: TestImage): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = new PNG({ width: img.cols, height: img.rows });
  png.data = rgba(img);
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: img.colour ? 2 : 0 }));
  return file;
}

/** Write `img` as a baseline JPEG (jpeg-js writes three components, so it reads as colour), at quality 100. */
export function writeJpeg(file: string, img: TestImage): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, jpeg.encode({ width: img.cols, height: img.rows, data: rgba(img) }, 100).data);
  return file;
}

/** An image of one grey level (or one colour). */
export function flat(rows: number, cols: number, value: number | [number, number, number]): TestImage {
  return typeof value === "number" ? { rows, cols, at: () => value } : { rows, cols, colour: true, at: (_y, _x, c) => value[c] };
}

function crc32(bytes: Buffer): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A PNG made by hand: the signature, an IHDR of the given size (8-bit grey, `interlace` 0 or 1), `idat` as
 * its compressed data, IEND. A huge size with a few bytes of data is a file whose header alone must refuse it.
 */
export function handMadePng(width: number, height: number, idat: Buffer = zlib.deflateSync(Buffer.alloc(0)), interlace = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  ihdr[12] = interlace;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}

/** A folder of class folders, `perClass` PNGs of `rows` × `cols` in each; class k's images have grey level 40·k + i. */
export function classFolder(dir: string, classes: string[], perClass: number, rows: number, cols: number): string {
  classes.forEach((name, k) => {
    for (let i = 0; i < perClass; i++) writePng(path.join(dir, name, `${String(i).padStart(3, "0")}.png`), flat(rows, cols, (40 * k + i) % 256));
  });
  return dir;
}

/** The DataError `f` throws: its message, one line, naming `file` (the test fails if nothing is thrown). */
export function refusal(f: () => unknown, file: string): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    expect((e as DataError).file).toBe(file);
    expect((e as Error).message.split("\n")).toHaveLength(1);
    return (e as Error).message;
  }
  throw new Error(`expected a refusal naming ${file}, but nothing was thrown`);
}
