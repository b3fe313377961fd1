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
