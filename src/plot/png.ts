/**
 * Images as PNG: how the image grids (digits, reconstructions, samples, the decoded manifold) travel in
 * pages and notebooks. A 560×560 grid of grey levels (or RGB colours) is about 100 KB of PNG data against 1.5 MB as a JSON
 * array of numbers, and any browser draws it without plotly. Encoding is pngjs's (pure JavaScript, no
 * native build), at its strongest deflate level.
 */
import { PNG } from "pngjs";

/**
 * An 8-bit PNG of `width × height` pixels of `channels` bytes each, row-major: 1 a grey level (PNG colour
 * type 0), 3 red, green and blue (colour type 2).
 */
export function picturePng(bytes: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || bytes.length !== width * height * channels) {
    throw new Error(`picturePng: ${bytes.length} bytes are not a ${width}×${height} image of ${channels === 1 ? "grey levels" : "RGB pixels"}`);
  }
  const colorType = channels === 1 ? 0 : 2;
  const png = new PNG({ width, height, colorType, inputColorType: colorType, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false });
}

/** A PNG as a `data:` URL, for an `<img src>` or a plotly image trace's `source`. */
export function pngDataUrl(png: Buffer): string {
  return `data:image/png;base64,${png.toString("base64")}`;
}
