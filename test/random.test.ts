import { describe, expect, it } from "vitest";
import { Rng, tfSeed } from "../src/engine/random";

describe("Rng", () => {
  it("same seed, same stream; other seed, other stream", () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const draw = (r: Rng) => [r.uniform(), r.normal(), r.int(10), r.nextSeed()];
    const da = draw(a);
    expect(draw(b)).toEqual(da);
    expect(draw(c)).not.toEqual(da);
  });

  it("without a seed, each Rng draws its own (a non-negative 31-bit integer) and its own stream", () => {
    const seeds = Array.from({ length: 20 }, () => new Rng().seed);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    expect(new Set(seeds).size).toBeGreaterThan(15);
    expect(new Rng().uniform()).not.toBe(new Rng().uniform());
  });

  it("nextSeed gives unsigned 32-bit integers, spread over the whole range", () => {
    const r = new Rng(5);
    const seeds = Array.from({ length: 4000 }, () => r.nextSeed());
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    // About half of them at or above 2³¹ (Binomial(4000, ½): sd 32).
    expect(Math.abs(seeds.filter((s) => s >= 2 ** 31).length - 2000)).toBeLessThan(5 * 32);
  });

  it("int(n) covers 0..n−1 evenly", () => {
    const r = new Rng(6);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.int(7)]++;
    // Each ~ Binomial(70 000, 1/7): sd 92.6.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(5 * 93);
  });

  it("normal() uses both halves of each Box–Muller pair: two draws per two uniforms", () => {
    const r = new Rng(12);
    const u = new Rng(12);
    for (let i = 0; i < 5; i++) {
      const [a, b] = [u.uniform(), u.uniform()];
      const radius = Math.sqrt(-2 * Math.log(a));
      expect(r.normal()).toBeCloseTo(radius * Math.cos(2 * Math.PI * b), 12);
      expect(r.normal()).toBeCloseTo(radius * Math.sin(2 * Math.PI * b), 12);
    }
  });

  it("normal draws have mean 0 and variance 1 (within 5 standard errors)", () => {
    const r = new Rng(1);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
      s4 += z ** 4;
    }
    expect(Math.abs(s / n)).toBeLessThan(5 / Math.sqrt(n));
    // Var(z²) = 2 for a standard normal, so the sample mean of z² has standard error sqrt(2/n).
    expect(Math.abs(s2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    // E z⁴ = 3 (Var z⁴ = 96).
    expect(Math.abs(s4 / n - 3)).toBeLessThan(5 * Math.sqrt(96 / n));
  });

  it("uniform draws fill [0,1) evenly", () => {
    const r = new Rng(2);
    const bins = new Array(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) bins[Math.floor(r.uniform() * 10)]++;
    // Each bin ~ Binomial(n, 0.1): sd = 95.
    for (const b of bins) expect(Math.abs(b - n / 10)).toBeLessThan(5 * 95);
  });

  it("shuffle draws every permutation equally often (Fisher–Yates, not Sattolo's cycles-only variant)", () => {
    const r = new Rng(4);
    const counts = new Map<string, number>();
    const n = 24_000;
    for (let i = 0; i < n; i++) {
      const key = Array.from(r.shuffle([0, 1, 2, 3])).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // All 4! = 24 orders, each ~ Binomial(n, 1/24): mean 1000, sd 31.
    expect(counts.size).toBe(24);
    for (const c of counts.values()) expect(Math.abs(c - n / 24)).toBeLessThan(5 * 31);
  });

  it("permutation is a permutation, and seeded", () => {
    const p = new Rng(3).permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(new Rng(3).permutation(1000))).toEqual(Array.from(p));
    expect(Array.from(p.subarray(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe("tfSeed", () => {
  it("passes every seed unchanged except 0, which tfjs would read as 'unseeded' and so becomes 2³²", () => {
    expect(tfSeed(0)).toBe(2 ** 32);
    for (const seed of [1, 5, 12345, 2 ** 32 - 1]) expect(tfSeed(seed)).toBe(seed);
  });
});
