/**
 * The backend names a user can ask for, and the parsing of that choice: apart from backend.ts, which loads
 * TensorFlow.js, so that the command line can check a --backend flag without loading it.
 */
export type BackendChoice = "auto" | "tensorflow" | "wasm" | "cpu";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "tensorflow", "wasm", "cpu"];

/** Thrown for a backend name that is not one of BACKEND_CHOICES, or an explicit choice that cannot load. */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

export function parseBackendChoice(value: string | undefined, source = "backend"): BackendChoice {
  if (value === undefined || value === "") return "auto";
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new BackendError(`${source}: unknown backend "${value}" (expected one of ${BACKEND_CHOICES.join(", ")})`);
}

/** The most threads the native kernels take (VAE_LAB_THREADS, setNativeThreads). */
export const MAX_NATIVE_THREADS = 64;

/**
 * The native kernels' thread count from VAE_LAB_THREADS: undefined where it is unset or empty (the count
 * stays as it is: 1, or what setNativeThreads set); otherwise an integer from 1 to 64, else a BackendError
 * naming the variable.
 */
export function parseThreadCount(value: string | undefined, source = "VAE_LAB_THREADS"): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!(/^[0-9]+$/.test(value) && n >= 1 && n <= MAX_NATIVE_THREADS)) throw new BackendError(`${source}: expected an integer from 1 to ${MAX_NATIVE_THREADS}, got "${value}"`);
  return n;
}
