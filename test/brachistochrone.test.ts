import * as tf from "../src/engine/tf";
import * as math from "mathjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import {
  brachistochrone,
  cycloid,
  cycloidTheta,
  galileoArc,
  polygonTime,
  segmentTime,
  straightLineTime,
} from "../src/variational/brachistochrone";

beforeAll(async () => {
  await initBackend("cpu");
});

const g = 9.81;

/**
 * Travel time along a straight segment by quadrature, independent of the closed form: ∫ ds / √(2 g y(s)),
 * y linear in s, with the substitution s = s_end·w² near a zero-speed start handled by starting below 0.
 * Midpoint rule on a fine grid in w = √(s/L) (dt = 2 L w dw / v), which is smooth when y₀ = 0.
 */
function segmentTimeByQuadrature(x0: number, y0: number, x1: number, y1: number): number {
  const L = Math.hypot(x1 - x0, y1 - y0);
  const n = 200000;
  let t = 0;
  for (let i = 0; i < n; i++) {
    const w = (i + 0.5) / n;
    const y = y0 + (y1 - y0) * w * w;
    t += (2 * L * w) / n / Math.sqrt(2 * g * y);
  }
  return t;
}

describe("exact times of simple curves", () => {
  it("a straight segment takes 2L/(v₀ + v₁): free fall, and quadrature of ds/v for sloped, level and rising segments", () => {
    expect(segmentTime(0, 0, 0, 2, g)).toBeCloseTo(Math.sqrt((2 * 2) / g), 12);
    for (const [x0, y0, x1, y1] of [
      [0, 0, 1, 0.5],
      [0.2, 0.3, 1.5, 2],
      [0, 1, 2, 1],
      [0, 2, 1, 0.5],
    ]) {
      expect(segmentTime(x0, y0, x1, y1, g)).toBeCloseTo(segmentTimeByQuadrature(x0, y0, x1, y1), 6);
    }
  });

  it("the straight line's closed form L√(2/(gY)) equals the one-segment polygon time", () => {
    for (const end of [{ x: 1, y: 1 }, { x: 3, y: 0.5 }]) {
      expect(straightLineTime(end, g)).toBeCloseTo(polygonTime([0, end.x], [0, end.y], g), 12);
    }
    expect(straightLineTime({ x: 1, y: 1 }, g)).toBeCloseTo(Math.sqrt(2) * Math.sqrt(2 / g), 12);
  });

  it("Galileo's quarter circle takes √(R/(2g))·Γ(1/4)²/(2√(2π)) (a Beta integral)", () => {
    for (const R of [1, 2.5]) {
      const arc = galileoArc({ x: R, y: R }, { g });
      expect(arc.radius).toBeCloseTo(R, 12);
      expect(arc.angle).toBeCloseTo(Math.PI / 2, 12);
      const gamma = math.gamma(0.25) as number;
      expect(arc.time).toBeCloseTo(Math.sqrt(R / (2 * g)) * (gamma * gamma) / (2 * Math.sqrt(2 * Math.PI)), 9);
    }
  });

  it("the arc's points lie on its circle through both ends, and its time matches a fine inscribed polygon", () => {
    for (const end of [{ x: 2, y: 1 }, { x: 0.5, y: 1 }]) {
      const arc = galileoArc(end, { g, points: 40000 });
      const offCircle = Math.max(...arc.x.map((x, i) => Math.abs(Math.hypot(x - arc.radius, arc.y[i]) - arc.radius)));
      expect(offCircle).toBeLessThan(1e-9);
      expect(arc.x[arc.x.length - 1]).toBeCloseTo(end.x, 12);
      expect(arc.y[arc.y.length - 1]).toBeCloseTo(end.y, 12);
      expect(Math.abs(polygonTime(arc.x, arc.y, g) / arc.time - 1)).toBeLessThan(1e-3);
    }
  });
});

describe("the cycloid", () => {
  it("θ_end solves (θ − sin θ)/(1 − cos θ) = X/Y, and the curve ends at the end point", () => {
    for (const end of [{ x: 1, y: 1 }, { x: 3, y: 1 }, { x: 0.2, y: 1 }]) {
      const th = cycloidTheta(end);
      expect((th - Math.sin(th)) / (1 - Math.cos(th))).toBeCloseTo(end.x / end.y, 10);
      const c = cycloid(end, { g });
      expect(c.x[c.x.length - 1]).toBeCloseTo(end.x, 10);
      expect(c.y[c.y.length - 1]).toBeCloseTo(end.y, 10);
      expect(c.x[0]).toBe(0);
      expect(c.y[0]).toBe(0);
    }
  });

  it("its time θ_end√(R/g) is the limit of the times of fine inscribed polygons, and beats the line and the arc", () => {
    for (const end of [{ x: 1, y: 1 }, { x: 3, y: 1 }]) {
      const c = cycloid(end, { g, points: 40000 });
      expect(Math.abs(polygonTime(c.x, c.y, g) / c.time - 1)).toBeLessThan(1e-3);
      expect(c.time).toBeLessThan(galileoArc(end, { g }).time);
      expect(c.time).toBeLessThan(straightLineTime(end, g));
    }
  });

  it("dips below the end point exactly when X/Y > π/2", () => {
    const flat = cycloid({ x: 3, y: 1 }, { g });
    expect(flat.thetaEnd).toBeGreaterThan(Math.PI);
    expect(Math.max(...flat.y)).toBeGreaterThan(1.2);
    expect(flat.maxDepth).toBeCloseTo(2 * flat.radius, 12);
    const steep = cycloid({ x: 1.5, y: 1 }, { g });
    expect(steep.thetaEnd).toBeLessThan(Math.PI);
    expect(Math.max(...steep.y)).toBeCloseTo(1, 12);
    expect(cycloidTheta({ x: Math.PI / 2, y: 1 })).toBeCloseTo(Math.PI, 9);
  });

  it("rejects end points not below and to the right of the start", () => {
    expect(() => cycloid({ x: 1, y: 0 })).toThrow(/x > 0 and y > 0/);
    expect(() => galileoArc({ x: -1, y: 1 })).toThrow(/x > 0 and y > 0/);
  });
});

describe("brachistochrone (numerical)", () => {
  it("for N = 100 lands on the cycloid: never under its time, within 0.5% of it, with its own exact time", async () => {
    const end = { x: 1, y: 1 };
    const before = tf.memory().numTensors;
    const b = await brachistochrone(end, { points: 100, iterations: 1000 });
    expect(tf.memory().numTensors).toBe(before);
    const c = cycloid(end, { g });
    expect(b.x.length).toBe(102);
    expect([b.x[0], b.y[0], b.x[101], b.y[101]]).toEqual([0, 0, 1, 1]);
    expect(b.time).toBe(polygonTime(b.x, b.y, g));
    // Any polygon is a real curve: its exact time cannot beat the minimum (floating point aside).
    expect(b.time).toBeGreaterThanOrEqual(c.time * (1 - 1e-12));
    expect(b.time / c.time - 1).toBeLessThan(0.005);
    expect(b.time).toBeLessThan(galileoArc(end, { g }).time);
    // Pointwise: at each x the depth is the cycloid's there (found from the cycloid's parameter by bisection).
    for (let i = 1; i <= 100; i += 9) {
      let lo = 0;
      let hi = Math.PI;
      const R = c.radius;
      for (let k = 0; k < 100; k++) {
        const mid = (lo + hi) / 2;
        if (R * (mid - Math.sin(mid)) < b.x[i]) lo = mid;
        else hi = mid;
      }
      expect(Math.abs(b.y[i] - R * (1 - Math.cos(lo)))).toBeLessThan(0.02);
    }
  }, 60000);

  it("the optimum for X/Y = 3 > π/2 dips below the target like the cycloid; fewer points are further above it", async () => {
    const end = { x: 3, y: 1 };
    const c = cycloid(end, { g });
    const fine = await brachistochrone(end, { points: 60, iterations: 1000 });
    const coarse = await brachistochrone(end, { points: 8, iterations: 1000 });
    expect(Math.max(...fine.y)).toBeGreaterThan(1.2);
    expect(Math.abs(Math.max(...fine.y) / c.maxDepth - 1)).toBeLessThan(0.02);
    for (const b of [fine, coarse]) expect(b.time).toBeGreaterThanOrEqual(c.time * (1 - 1e-12));
    expect(fine.time / c.time - 1).toBeLessThan(0.005);
    expect(coarse.time).toBeGreaterThan(fine.time);
  }, 60000);

  it("times scale as 1/√g and the shape does not depend on g", async () => {
    const a = await brachistochrone({ x: 1, y: 0.5 }, { points: 20, iterations: 300 });
    const b = await brachistochrone({ x: 1, y: 0.5 }, { points: 20, iterations: 300, g: 1 });
    expect(b.time / a.time).toBeCloseTo(Math.sqrt(9.81), 9);
    expect(b.y).toEqual(a.y);
  }, 60000);

  it("rejects bad input with one line", async () => {
    await expect(brachistochrone({ x: 1, y: -1 })).rejects.toThrow(/x > 0 and y > 0/);
    await expect(brachistochrone({ x: 1, y: 1 }, { points: 0 })).rejects.toThrow(/points/);
    await expect(brachistochrone({ x: 1, y: 1 }, { g: 0 })).rejects.toThrow(/g must be/);
  });
});
