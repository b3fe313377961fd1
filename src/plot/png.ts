/**
 * Images as PNG: how the image grids (digits, reconstructions, samples, the decoded manifold) travel in
 * pages and notebooks. A 560×560 grid of grey levels is about 100 KB of PNG data against 1.5 MB as a JSON
 * array of numbers, and any browser draws it without plotly. Encoding is pngjs's (pure JavaScript, no
 * native build), at its strongest deflate level.
 */
import { PNG } from "pngjs";

/** An 8-bit greyscale PNG of `width × height` grey levels (0 black … 255 white, row-major). */
export function greyPng(grey: Uint8Array, width: number, height: number): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || grey.length !== width * height) {
    throw new Error(`greyPng: ${grey.length} grey levels are not a ${width}×${height} image`);
  }
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(grey.buffer, grey.byteOffset, grey.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/** A PNG as a `data:` URL, for an `<img src>` or a plotly image trace's `source`. */
export function pngDataUrl(png: Buffer): string {
  return `data:image/png;base64,${png.toString("base64")}`;
}
