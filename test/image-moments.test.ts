import { describe, expect, it } from "vitest";
import { imageMoments, imageMomentsOfEach } from "../src/data/image-moments";

/** A bar one pixel wide from row 4 to row 23 of a 28×28 image, its column shifted by `slant` per row upwards. */
function bar(slant: number, thickness = 1): Float32Array {
  const img = new Float32Array(28 * 28);
  for (let r = 4; r <= 23; r++) {
    const y = 27 - r;
    const c = Math.round(14 + slant * (y - 13.5));
    for (let t = 0; t < thickness; t++) img[r * 28 + c + t] = 1;
  }
  return img;
}

describe("imageMoments", () => {
  it("an upright bar: no slant, height of a uniform segment of 20 pixels, width 0", () => {
    const m = imageMoments(bar(0), 28, 28);
    expect(m.ink).toBe(20);
    expect(m.slant).toBeCloseTo(0, 12);
    expect(m.width).toBeCloseTo(0, 12);
    // Standard deviation of 20 consecutive integers: √((20² − 1)/12).
    expect(m.height).toBeCloseTo(Math.sqrt((20 * 20 - 1) / 12), 10);
    expect(m.centreY).toBeCloseTo(27 - 13.5, 10);
  });

  it("a bar leaning right has the slant it was drawn with (up to the rounding of its columns), leaning left the opposite", () => {
    for (const s of [0.25, 0.5]) {
      expect(imageMoments(bar(s), 28, 28).slant).toBeCloseTo(s, 1);
      expect(imageMoments(bar(-s), 28, 28).slant).toBeCloseTo(-s, 1);
    }
    expect(imageMoments(bar(0.5), 28, 28).slant).toBeGreaterThan(imageMoments(bar(0.25), 28, 28).slant);
  });

  it("a thicker bar has more ink and more width, the same slant", () => {
    const thin = imageMoments(bar(0.3), 28, 28), thick = imageMoments(bar(0.3, 3), 28, 28);
    expect(thick.ink).toBe(3 * thin.ink);
    expect(thick.width).toBeGreaterThan(thin.width);
    expect(thick.slant).toBeCloseTo(thin.slant, 6);
  });

  it("y counts upwards: ink in the top row has a larger centreY than ink in the bottom row", () => {
    const top = new Float32Array(28 * 28), bottom = new Float32Array(28 * 28);
    top[3] = 1;
    bottom[27 * 28 + 3] = 1;
    expect(imageMoments(top, 28, 28).centreY).toBe(27);
    expect(imageMoments(bottom, 28, 28).centreY).toBe(0);
    expect(imageMoments(top, 28, 28).centreX).toBe(3);
  });

  it("imageMomentsOfEach splits a block of images; wrong sizes throw", () => {
    const two = new Float32Array(2 * 784);
    two.set(bar(0.5), 0);
    two.set(bar(-0.5), 784);
    const ms = imageMomentsOfEach(two, 28, 28);
    expect(ms.length).toBe(2);
    expect(ms[0].slant).toBeCloseTo(-ms[1].slant, 6);
    expect(() => imageMomentsOfEach(new Float32Array(785), 28, 28)).toThrow(RangeError);
    expect(() => imageMoments(new Float32Array(10), 28, 28)).toThrow(RangeError);
  });
});
