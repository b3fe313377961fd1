/**
 * The brachistochrone — the curve of fastest descent — the problem the calculus of variations was born
 * from, solved three ways: numerically (the curve as N free heights, its exact travel time minimised by
 * gradient descent in TensorFlow.js), exactly (the cycloid), and by the two wrong guesses (the straight line
 * and Galileo's circular arc).
 *
 * Coordinates: the bead starts at rest at (0, 0); x is horizontal and y is measured DOWNWARD, so a curve is
 * a function y(x) ≥ 0 and the speed at depth y is √(2 g y) (energy conservation, no friction).
 *
 * Travel time of a polygon, exactly. On a straight segment from depth y₀ to y₁ with length L the
 * acceleration along the segment is constant, a = g (y₁ − y₀)/L, so the speed changes linearly in time and
 * the time is distance over the MEAN of the end speeds:
 *
 *   t = (v₁ − v₀)/a = (v₁ − v₀) L / (g (y₁ − y₀)),  and  v₁² − v₀² = 2 g (y₁ − y₀)  ⇒  t = 2 L / (v₀ + v₁),
 *
 * with v = √(2 g y). The last form also holds for a level segment (t = L/v) and a rising one. Summing it
 * segment by segment gives the exact travel time of the polygon — a real curve — so no polygon can beat
 * the cycloid, and the optimiser's answer is an upper bound on the minimum.
 */
import * as tf from "../engine/tf";

/** A point; y is measured downward from the start. */
export interface Point {
  x: number;
  y: number;
}

/** A curve from (0, 0) to the end point and its travel time from rest (seconds). */
export interface DescentCurve {
  x: number[];
  y: number[];
  time: number;
}

export interface BrachistochroneOptions {
  /** Free interior heights N (the polygon has N + 1 segments). Default 100. */
  points?: number;
  /** Gravitational acceleration (m/s²). Default 9.81. */
  g?: number;
  /** Adam steps. Default 1500. */
  iterations?: number;
  /** Adam's initial learning rate on the log-heights (cosine-decayed to 1% of it). Default 0.05. */
  lr?: number;
}

export const STANDARD_GRAVITY = 9.81;

function checkEnd(end: Point, where: string): void {
  if (!(Number.isFinite(end.x) && end.x > 0 && Number.isFinite(end.y) && end.y > 0)) {
    throw new RangeError(`${where}: the end point must have x > 0 and y > 0 (below and to the right of the start), got (${end.x}, ${end.y})`);
  }
}

function checkG(g: number, where: string): void {
  if (!(Number.isFinite(g) && g > 0)) throw new RangeError(`${where}: g must be a positive number, got ${g}`);
}

/** Exact time (s) to slide along the straight segment (x0, y0) → (x1, y1) with speed √(2 g y) at depth y. */
export function segmentTime(x0: number, y0: number, x1: number, y1: number, g = STANDARD_GRAVITY): number {
  const L = Math.hypot(x1 - x0, y1 - y0);
  return (2 * L) / (Math.sqrt(2 * g * y0) + Math.sqrt(2 * g * y1));
}

/**
 * Exact travel time (s) from rest along the polygon through (x[i], y[i]) (x[0], y[0] = the start, at rest;
 * Infinity if the polygon rises back to the start height, where the bead stops).
 */
export function polygonTime(x: ArrayLike<number>, y: ArrayLike<number>, g = STANDARD_GRAVITY): number {
  if (x.length !== y.length || x.length < 2) throw new Error(`polygonTime: need x and y of the same length ≥ 2 (got ${x.length} and ${y.length})`);
  checkG(g, "polygonTime");
  let t = 0;
  for (let i = 0; i + 1 < x.length; i++) {
    if (y[i + 1] < 0 || (y[i + 1] <= 0 && y[i] <= 0)) return Infinity;
    t += segmentTime(x[i], y[i], x[i + 1], y[i + 1], g);
  }
  return t;
}

/** The straight line's time: constant acceleration g·Y/L along length L, so t = L·√(2/(g Y)). */
export function straightLineTime(end: Point, g = STANDARD_GRAVITY): number {
  checkEnd(end, "straightLineTime");
  checkG(g, "straightLineTime");
  return Math.hypot(end.x, end.y) * Math.sqrt(2 / (g * end.y));
}

/** The exact brachistochrone: a cycloid x = R(θ − sin θ), y = R(1 − cos θ), θ ∈ [0, θ_end]. */
export interface Cycloid extends DescentCurve {
  /** Radius of the rolling circle. */
  radius: number;
  /** Parameter at the end point; θ_end > π means the curve dips below the end point and climbs back. */
  thetaEnd: number;
  /** Deepest point of the curve (y = 2R if θ_end ≥ π, else the end point's depth). */
  maxDepth: number;
}

/**
 * θ_end of the cycloid through the end point: the root in (0, 2π) of (θ − sin θ)/(1 − cos θ) = X/Y (the
 * left side rises from 0 to ∞ on that interval, so bisection finds it to machine precision).
 */
export function cycloidTheta(end: Point): number {
  checkEnd(end, "cycloidTheta");
  const ratio = end.x / end.y;
  const f = (t: number) => t - Math.sin(t) - ratio * (1 - Math.cos(t));
  let lo = 0;
  let hi = 2 * Math.PI;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = 0.5 * (lo + hi);
    if (f(mid) > 0) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * The cycloid from (0, 0) to `end` sampled at `points` + 2 parameter values, and its exact time
 * θ_end·√(R/g) (along the cycloid ds = 2R sin(θ/2) dθ and v = 2 sin(θ/2) √(g R), so dt = √(R/g) dθ).
 */
export function cycloid(end: Point, options: { g?: number; points?: number } = {}): Cycloid {
  const { g = STANDARD_GRAVITY, points = 200 } = options;
  checkG(g, "cycloid");
  const theta = cycloidTheta(end);
  const R = end.y / (1 - Math.cos(theta));
  const x: number[] = [];
  const y: number[] = [];
  const n = points + 1;
  for (let i = 0; i <= n; i++) {
    const t = (theta * i) / n;
    x.push(R * (t - Math.sin(t)));
    y.push(R * (1 - Math.cos(t)));
  }
  return { x, y, time: theta * Math.sqrt(R / g), radius: R, thetaEnd: theta, maxDepth: theta >= Math.PI ? 2 * R : end.y };
}

/** Galileo's circular arc through the start and the end point, leaving the start vertically. */
export interface CircularArc extends DescentCurve {
  radius: number;
  /** Angle swept from the start, φ_end. */
  angle: number;
}

/**
 * The circular arc from (0, 0) to `end` that leaves the start vertically: centre (R, 0) on the start's
 * level, R = (X² + Y²)/(2X), points (R(1 − cos φ), R sin φ). For X = Y it is the quarter circle whose lowest
 * point is the end, the arc Galileo argued for. Its time from rest: ds = R dφ and v = √(2 g R sin φ), so
 *
 *   T = √(R/(2g)) ∫₀^{φ_end} dφ / √(sin φ),
 *
 * integrated numerically after the substitution φ = u² (which removes the 1/√φ singularity at the start:
 * the integrand becomes 2u/√(sin u²) → 2) by composite Gauss–Legendre quadrature. For the quarter circle
 * the integral is Γ(1/4)²/(2√(2π)) ≈ 2.62206 (a Beta function), the check of the tests.
 */
export function galileoArc(end: Point, options: { g?: number; points?: number } = {}): CircularArc {
  const { g = STANDARD_GRAVITY, points = 200 } = options;
  checkEnd(end, "galileoArc");
  checkG(g, "galileoArc");
  const R = (end.x * end.x + end.y * end.y) / (2 * end.x);
  const phiEnd = Math.atan2(end.y, R - end.x);
  const x: number[] = [];
  const y: number[] = [];
  const n = points + 1;
  for (let i = 0; i <= n; i++) {
    const p = (phiEnd * i) / n;
    x.push(R * (1 - Math.cos(p)));
    y.push(R * Math.sin(p));
  }
  const integral = gaussLegendre((u) => (2 * u) / Math.sqrt(Math.sin(u * u)), 0, Math.sqrt(phiEnd), 400);
  return { x, y, time: Math.sqrt(R / (2 * g)) * integral, radius: R, angle: phiEnd };
}

// 5-point Gauss–Legendre nodes and weights on [−1, 1].
const GL_NODES = [0, -0.5384693101056831, 0.5384693101056831, -0.906179845938664, 0.906179845938664];
const GL_WEIGHTS = [0.5688888888888889, 0.47862867049936647, 0.47862867049936647, 0.23692688505618908, 0.23692688505618908];

/** ∫_a^b f by composite 5-point Gauss–Legendre on `panels` equal panels (exact for degree-9 polynomials per panel). */
function gaussLegendre(f: (u: number) => number, a: number, b: number, panels: number): number {
  const h = (b - a) / panels;
  let s = 0;
  for (let p = 0; p < panels; p++) {
    const mid = a + (p + 0.5) * h;
    for (let k = 0; k < 5; k++) s += GL_WEIGHTS[k] * f(mid + 0.5 * h * GL_NODES[k]);
  }
  return 0.5 * h * s;
}

/**
 * The curve of fastest descent from (0, 0) to `end`, found numerically: a polygon over N + 1 equal
 * horizontal steps whose N interior depths are free. The depths are parameterised as y = e^u (so they stay
 * below the start, where the speed is real) and start on the straight line; the exact polygon time (above)
 * is minimised by Adam in TensorFlow.js with a cosine-decayed learning rate. `time` is the returned curve's
 * own travel time, recomputed in float64 from the returned points — an upper bound on the cycloid's.
 */
export async function brachistochrone(end: Point, options: BrachistochroneOptions = {}): Promise<DescentCurve> {
  const { points = 100, g = STANDARD_GRAVITY, iterations = 1500, lr = 0.05 } = options;
  checkEnd(end, "brachistochrone");
  checkG(g, "brachistochrone");
  if (!(Number.isInteger(points) && points >= 1)) throw new RangeError(`brachistochrone: points must be a positive integer, got ${points}`);
  if (!(Number.isInteger(iterations) && iterations >= 0)) throw new RangeError(`brachistochrone: iterations must be a non-negative integer, got ${iterations}`);
  if (!(lr > 0)) throw new RangeError(`brachistochrone: lr must be > 0, got ${lr}`);
  const N = points;
  const dx = end.x / (N + 1);
  const xs = Array.from({ length: N + 2 }, (_, i) => (i === N + 1 ? end.x : i * dx));
  // Start on the straight line.
  const u0 = Array.from({ length: N }, (_, i) => Math.log((end.y * (i + 1)) / (N + 1)));
  // tf.tidy frees the initial values; the variables are kept until the end.
  const [u, m, v] = tf.tidy(() => [tf.variable(tf.tensor1d(u0), true), tf.variable(tf.zeros([N]), false), tf.variable(tf.zeros([N]), false)]);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-12;
  // Work in units where the time scale is 1 (t·√(2g)): the optimum does not depend on g.
  const travelTime = (uu: tf.Tensor1D): tf.Scalar =>
    tf.tidy(() => {
      const y = tf.concat([tf.zeros([1]), tf.exp(uu), tf.tensor1d([end.y])]);
      const dy = tf.sub(y.slice(1), y.slice(0, N + 1));
      const len = tf.sqrt(tf.add(tf.square(dy), dx * dx));
      const speed = tf.sqrt(y);
      return tf.sum(tf.div(tf.mul(len, 2), tf.add(speed.slice(0, N + 1), speed.slice(1)))) as tf.Scalar;
    });
  const grad = tf.grad((uu: tf.Tensor) => travelTime(uu as tf.Tensor1D));
  try {
    for (let k = 1; k <= iterations; k++) {
      const rate = lr * (0.01 + 0.99 * 0.5 * (1 + Math.cos((Math.PI * (k - 1)) / Math.max(1, iterations - 1))));
      tf.tidy(() => {
        const gr = grad(u);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(gr, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(gr), 1 - beta2)));
        const mHat = tf.div(m, 1 - beta1 ** k);
        const vHat = tf.div(v, 1 - beta2 ** k);
        u.assign(tf.sub(u, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), rate)));
      });
      // Let other work (a notebook's display, a progress bar) run now and then.
      if (k % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    const heights = Array.from(await u.data()).map(Math.exp);
    const y = [0, ...heights, end.y];
    return { x: xs, y, time: polygonTime(xs, y, g) };
  } finally {
    tf.dispose([u, m, v]);
  }
}
