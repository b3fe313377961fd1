/**
 * Quick mode: `VAE_LAB_QUICK=1` asks notebooks and examples to shrink epochs and sample counts so the
 * whole set runs in minutes (the test suite and CI use it). Numbers a notebook prints in quick mode are
 * smaller-sample versions of the real ones.
 */
export function quickMode(): boolean {
  const v = process.env.VAE_LAB_QUICK;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

/** `full` normally, `quick` in quick mode: `const epochs = pick(10, 1)`. */
export function pick<T>(full: T, quick: T): T {
  return quickMode() ? quick : full;
}
