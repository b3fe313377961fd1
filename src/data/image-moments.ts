/**
 * Simple stroke measures of a grey-level image from its moments, treating the intensities as ink mass:
 * how much ink, where its centre is, how far it spreads horizontally and vertically, and its slant.
 *
 * Coordinates: x is the column (0 at the left), y the row counted upwards (0 at the bottom row), both in
 * pixels, so a positive slant leans the top of the strokes to the right, as in italic handwriting. With the
 * central moments μ_pq = Σ w (x − x̄)^p (y − ȳ)^q / Σ w:
 *
 *   width = √μ20,  height = √μ02 (standard deviations of the ink, in pixels),
 *   slant = μ11 / μ02 (horizontal shift of the ink per pixel upwards: the regression of x on y; 0 upright).
 */
export interface ImageMoments {
  /** Σ of the intensities: total ink (for strokes of a fixed length, their thickness). */
  ink: number;
  /** Centre of the ink, in pixels (x from the left, y from the bottom). */
  centreX: number;
  centreY: number;
  /** Horizontal and vertical standard deviations of the ink, in pixels. */
  width: number;
  height: number;
  /** μ11 / μ02: pixels of rightward lean per pixel upwards (tan of the angle from the vertical). */
  slant: number;
}

/** The moments of one image of rows × cols grey values (row-major, row 0 at the top). An image without ink gives NaN for all but `ink`. */
export function imageMoments(image: ArrayLike<number>, rows: number, cols: number): ImageMoments {
  if (image.length !== rows * cols) throw new RangeError(`imageMoments: ${image.length} values for a ${rows}×${cols} image`);
  let ink = 0, sx = 0, sy = 0;
  for (let r = 0; r < rows; r++) {
    const y = rows - 1 - r;
    for (let c = 0; c < cols; c++) {
      const w = image[r * cols + c];
      ink += w;
      sx += w * c;
      sy += w * y;
    }
  }
  const cx = sx / ink, cy = sy / ink;
  let m20 = 0, m02 = 0, m11 = 0;
  for (let r = 0; r < rows; r++) {
    const dy = rows - 1 - r - cy;
    for (let c = 0; c < cols; c++) {
      const w = image[r * cols + c];
      const dx = c - cx;
      m20 += w * dx * dx;
      m02 += w * dy * dy;
      m11 += w * dx * dy;
    }
  }
  return { ink, centreX: cx, centreY: cy, width: Math.sqrt(m20 / ink), height: Math.sqrt(m02 / ink), slant: m11 / m02 };
}

/** imageMoments of each of the `images.length / (rows · cols)` images stored one after another. */
export function imageMomentsOfEach(images: ArrayLike<number>, rows: number, cols: number): ImageMoments[] {
  const p = rows * cols;
  if (images.length % p !== 0) throw new RangeError(`imageMomentsOfEach: ${images.length} values are not whole ${rows}×${cols} images`);
  // Each image copied once, from whatever array-like holds them (not the whole set into an array first).
  return Array.from({ length: images.length / p }, (_, i) => imageMoments(Array.prototype.slice.call(images, i * p, (i + 1) * p) as number[], rows, cols));
}
