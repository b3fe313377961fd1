/**
 * The shape of an image — rows, columns and channels (1 grey, 3 colour: red, green, blue side by side in
 * each pixel) — and how messages name it. No imports, so that the command line's flag checks can use it
 * without loading the data readers.
 */

/** Rows, columns and channels of an image; channels 1 (grey) where not given. */
export interface ImageShape {
  rows: number;
  cols: number;
  /** 1 (grey) where not given. */
  channels?: number;
}

/** "28×28" for grey images, "32×32×3" for colour ones. */
export function imageSizeText(s: ImageShape): string {
  const channels = s.channels ?? 1;
  return `${s.rows}×${s.cols}${channels === 1 ? "" : `×${channels}`}`;
}

/** "12×12 colour images (432 values each)": what a model reads, or a set holds. */
export function imageKindText(s: ImageShape): string {
  const channels = s.channels ?? 1;
  return `${s.rows}×${s.cols} ${channels === 1 ? "grey" : "colour"} images (${s.rows * s.cols * channels} values each)`;
}
