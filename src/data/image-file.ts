/**
 * One PNG or JPEG file: its kind and size from its header alone, then its pixels.
 *
 * The decoders are pure JavaScript, so nothing native has to build where vae-lab is installed: pngjs (already
 * used to write the report's pictures) and jpeg-js, both maintained and used widely. What a file is comes
 * from its first bytes, not its name. Before anything is decoded, the header's width and height (PNG's IHDR
 * chunk, JPEG's start-of-frame segment, parsed here) are checked against MAX_SOURCE_PIXELS, so a
 * 50 000 × 50 000 image is refused without allocating its pixels; the decoders are given the same limits
 * (pngjs inflates no more than the header's size; jpeg-js takes a resolution and a memory cap).
 */
import * as zlib from "zlib";
import { PNG } from "pngjs";
import * as jpeg from "jpeg-js";
import { readFileBounded } from "../files/bounded-read";
import { FileError } from "../files/file-error";
import { DataError } from "./image-set";

/** The most pixels an image file may have to be decoded (2²⁵, e.g. 8192 × 4096): 128 MiB as RGBA bytes. */
export const MAX_SOURCE_PIXELS = 1 << 25;
/** The largest image file read: 256 MiB. */
export const MAX_IMAGE_FILE_BYTES = 1 << 28;
/** Bytes read to find a header: a PNG's IHDR is in its first 33; a JPEG's frame header follows its metadata segments (EXIF, ICC), usually within the first 64 KiB. */
const HEADER_PROBE = 1 << 16;

export type ImageFormat = "png" | "jpeg";

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** Whether the file stores colour (PNG colour types 2, 3, 6; JPEG with 3 or 4 components) or grey. */
  colour: boolean;
}

export interface DecodedImage extends ImageHeader {
  /** height × width × 3 bytes (RGB; a grey image's three channels are equal), row-major. Alpha is dropped, as PIL's convert("RGB") does. */
  rgb: Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** "png", "jpeg" or undefined, from the first bytes. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return undefined;
}

function notAnImage(file: string, bytes: Uint8Array): DataError {
  const text = bytes.length === 0 ? "it is empty" : `it starts with ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ")}`;
  return new DataError(file, `not a PNG or JPEG image (${text}); an image folder holds .png and .jpg files only`);
}

/** The PNG header: width, height and colour type from the IHDR chunk that must come first. */
function pngHeader(bytes: Uint8Array, file: string): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (bytes.length < 26 || type !== "IHDR") throw new DataError(file, "corrupt PNG: no IHDR chunk after the signature");
  const width = view.getUint32(16, false);
  const height = view.getUint32(20, false);
  const colourType = bytes[25];
  if (![0, 2, 3, 4, 6].includes(colourType)) throw new DataError(file, `corrupt PNG: unknown colour type ${colourType}`);
  return { format: "png", width, height, colour: colourType === 2 || colourType === 3 || colourType === 6 };
}

/** The JPEG header: the first start-of-frame segment's size and component count, walking the segments before it. */
function jpegHeader(bytes: Uint8Array, file: string): ImageHeader | undefined {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) throw new DataError(file, `corrupt JPEG: no segment marker at byte ${i}`);
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) throw new DataError(file, "corrupt JPEG: image data before a frame header (no size)");
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (length < 2) throw new DataError(file, `corrupt JPEG: segment of length ${length} at byte ${i}`);
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (i + 10 > bytes.length) return undefined;
      const height = (bytes[i + 5] << 8) | bytes[i + 6];
      const width = (bytes[i + 7] << 8) | bytes[i + 8];
      const components = bytes[i + 9];
      if (components !== 1 && components !== 3 && components !== 4) throw new DataError(file, `corrupt JPEG: ${components} colour components`);
      return { format: "jpeg", width, height, colour: components !== 1 };
    }
    i += 2 + length;
  }
  return undefined;
}

/** The kind and size of an image held in `bytes` (the whole file, or its start where `complete` is false). */
export function parseImageHeader(bytes: Uint8Array, file: string, complete = true): ImageHeader | undefined {
  const format = sniffImageFormat(bytes);
  if (format === undefined) throw notAnImage(file, bytes);
  const header = format === "png" ? pngHeader(bytes, file) : jpegHeader(bytes, file);
  if (header === undefined) {
    if (complete) throw new DataError(file, "corrupt JPEG: no frame header (no size) before the end of the file");
    return undefined;
  }
  if (header.width === 0 || header.height === 0) throw new DataError(file, `corrupt ${format.toUpperCase()}: its header gives a size of ${header.width}×${header.height}`);
  if (header.width * header.height > MAX_SOURCE_PIXELS) {
    throw new DataError(file, `a ${header.width}×${header.height} image (${header.width * header.height} pixels, from its header): more than the ${MAX_SOURCE_PIXELS} pixels vae-lab decodes; shrink it first`);
  }
  return header;
}

function readImageFile(file: string, prefix?: number): Buffer {
  try {
    return readFileBounded(file, MAX_IMAGE_FILE_BYTES, "an image file", "file not found", prefix);
  } catch (e) {
    throw e instanceof FileError ? new DataError(e.file, e.problem) : e;
  }
}

/** A file's image header, reading as little of it as it can (never decoding): PNG or JPEG, size, grey or colour. */
export function readImageHeader(file: string): ImageHeader {
  const head = readImageFile(file, HEADER_PROBE);
  return parseImageHeader(head, file, head.length < HEADER_PROBE) ?? parseImageHeader(readImageFile(file), file)!;
}

/** The IDAT data of a PNG inflate to at most this many bytes (the header's size, with room for Adam7's extra filter bytes). */
function checkPngInflatedSize(bytes: Buffer, header: ImageHeader, file: string): void {
  if (bytes[28] !== 1) return; // pngjs bounds a non-interlaced image's inflation itself
  const chunks: Buffer[] = [];
  for (let i = 8; i + 8 <= bytes.length; ) {
    const length = bytes.readUInt32BE(i);
    const type = bytes.toString("latin1", i + 4, i + 8);
    if (type === "IDAT") chunks.push(bytes.subarray(i + 8, i + 8 + length));
    if (type === "IEND") break;
    i += 12 + length;
  }
  const bound = header.height * (Math.ceil((header.width * 64) / 8) + 8) + 64;
  try {
    zlib.inflateSync(Buffer.concat(chunks), { maxOutputLength: bound });
  } catch (e) {
    const big = (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
    throw new DataError(file, big ? `corrupt PNG: its data inflate to more than a ${header.width}×${header.height} image holds` : `corrupt PNG (${(e as Error).message})`);
  }
}

/** Decode a PNG or JPEG file to RGB bytes, its header checked first (see the module's comment). */
export function decodeImageFile(file: string): DecodedImage {
  const bytes = readImageFile(file);
  const header = parseImageHeader(bytes, file)!;
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  let stride: number;
  try {
    if (header.format === "png") {
      checkPngInflatedSize(bytes, header, file);
      const png = PNG.sync.read(bytes);
      ({ width, height } = png);
      rgba = png.data;
      stride = 4;
    } else {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false,
        // A damaged file is an error, not a picture with grey blocks in it.
        tolerantDecoding: false,
        maxResolutionInMP: MAX_SOURCE_PIXELS / 1e6,
        maxMemoryUsageInMB: 1024,
      });
      ({ width, height } = img);
      rgba = img.data;
      stride = 3;
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    const why = ((e as Error).message ?? String(e)).split("\n")[0];
    throw new DataError(file, `corrupt ${header.format === "png" ? "PNG" : "JPEG"} (${why})`);
  }
  if (width !== header.width || height !== header.height) {
    throw new DataError(file, `corrupt ${header.format.toUpperCase()}: decoded to ${width}×${height}, its header says ${header.width}×${header.height}`);
  }
  let rgb: Uint8Array;
  if (stride === 3) rgb = rgba;
  else {
    rgb = new Uint8Array(width * height * 3);
    for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
      rgb[p] = rgba[q];
      rgb[p + 1] = rgba[q + 1];
      rgb[p + 2] = rgba[q + 2];
    }
  }
  return { ...header, rgb };
}
